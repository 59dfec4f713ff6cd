"""How well the measurement desk hears requests: a hand-labelled set of (case, request, acceptable answers).

One row of the labelled JSONL file (tests/data/desk_requests.jsonl):
    {"line": 12, "kind": "test", "request": "examine the abdomen", "expect": ["exam.Abdominal_Examination"],
     "why": "abdominal exam recorded"}
`line` is the case's 1-based line in the case file; `expect` lists every acceptable answer as a path into
the case's trees (`exam`, `exam.Vital_Signs.Blood_Pressure`, `tests.Imaging.Chest_CT`), or is empty when the
case does not hold what is asked (the desk must then say "not available").

Each answer falls in exactly one class:
- `right`: every returned path equals or lies inside an acceptable path, and one of them is exactly acceptable;
- `wrong`: a returned path lies outside every acceptable path and is not an ancestor of one (a wrong section,
  or anything at all returned for an absent request);
- `partial`: only related paths came back, but none at an acceptable granularity (a whole section for a
  sub-part, or a sub-part of the section asked for);
- `missed`: "not available" although the case holds it.
The desk only ever returns the case's own result text, so "invented" is structurally zero: it is checked
here too (every returned line comes from the case's trees).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.measurement import LookupMeasurement, MeasurementResult
from sim.core.case import Case
from sim.core.errors import InputError, Problem
from sim.core.jsonlines import read_models

Outcome = Literal["right", "wrong", "partial", "missed"]
OUTCOMES: tuple[Outcome, ...] = ("right", "wrong", "partial", "missed")


class LabelledRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line: int = Field(ge=1)
    kind: Literal["test", "image"] = "test"
    request: str = Field(min_length=1)
    expect: list[str]
    why: str = ""


@dataclass
class Scored:
    row: LabelledRequest
    outcome: Outcome
    returned: list[str]
    text: str
    method: str


@dataclass
class DeskReport:
    scored: list[Scored] = field(default_factory=list)

    def counts(self, present: bool | None = None) -> Counter:
        rows = [s for s in self.scored if present is None or bool(s.row.expect) == present]
        return Counter(s.outcome for s in rows)

    def figures(self) -> dict:
        """Shares over all rows, over rows whose answer is in the case, and over rows for absent things."""
        out: dict = {"rows": len(self.scored)}
        for name, present in (("all", None), ("present", True), ("absent", False)):
            counts = self.counts(present)
            total = sum(counts.values())
            out[name] = {
                "rows": total,
                **{o: counts[o] for o in OUTCOMES},
                **{f"{o}_share": (counts[o] / total if total else None) for o in OUTCOMES},
            }
        return out


def read_labelled(path: Path) -> list[LabelledRequest]:
    return read_models(Path(path), LabelledRequest, "labelled requests")


def check_paths(rows: list[LabelledRequest], cases_by_line: dict[int, Case], label: str) -> None:
    """Every row names a case that exists and acceptable paths that exist in it (located problems)."""
    problems = []
    for number, row in enumerate(rows, start=1):
        case = cases_by_line.get(row.line)
        if case is None:
            problems.append(Problem(label, number, "line", f"no case on line {row.line} of the case file"))
            continue
        known = case_paths(case)
        for index, path in enumerate(row.expect):
            if path not in known:
                problems.append(Problem(label, number, f"expect.{index}", f"{path!r} is not a path of that case"))
    if problems:
        raise InputError(problems)


def case_paths(case: Case) -> set[str]:
    paths = {"exam", "tests"}

    def walk(prefix: str, tree: object) -> None:
        if isinstance(tree, dict):
            for key, value in tree.items():
                paths.add(f"{prefix}.{key}")
                walk(f"{prefix}.{key}", value)

    walk("exam", case.exam)
    walk("tests", case.tests)
    return paths


def classify(expect: list[str], returned: list[str]) -> Outcome:
    if not returned:
        return "missed" if expect else "right"
    if not expect:
        return "wrong"

    def inside(path: str, outer: str) -> bool:
        return path == outer or path.startswith(outer + ".")

    if any(not any(inside(p, e) or inside(e, p) for e in expect) for p in returned):
        return "wrong"
    if all(any(inside(p, e) for e in expect) for p in returned) and any(p in expect for p in returned):
        return "right"
    return "partial"


def evaluate(
    rows: list[LabelledRequest],
    cases_by_line: dict[int, Case],
    desk_for: Callable[[Case], LookupMeasurement],
    progress: Callable[[int], None] | None = None,
) -> DeskReport:
    report = DeskReport()
    desks: dict[int, LookupMeasurement] = {}
    for done, row in enumerate(rows, start=1):
        case = cases_by_line[row.line]
        desk = desks.get(row.line)
        if desk is None:
            desk = desks[row.line] = desk_for(case)
        result: MeasurementResult = desk.request(row.kind, row.request)
        returned = result.matched_paths if result.found else []
        report.scored.append(Scored(row, classify(row.expect, returned), returned, result.text, result.method))
        if progress is not None:
            progress(done)
    return report


def cases_by_source_line(cases: list[Case]) -> dict[int, Case]:
    by_line: dict[int, Case] = {}
    for case in cases:
        line = case.metadata.get("source_line")
        if isinstance(line, int):
            by_line[line] = case
    return by_line
