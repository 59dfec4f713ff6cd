"""Case loaders: JSONL files in any supported format -> `Case` objects, with located problems.

Formats:
- "native": the project's own JSONL, one `Case` per line (also a bank folder `DIR/cases.jsonl`);
- "agentclinic": AgentClinic OSCE JSONL (MedQA and its extended variants);
- "nejm": AgentClinic-NEJM image-challenge JSONL.

`read_cases` never drops a case silently: every non-blank line becomes a case or at least one problem.
`load_cases` is the strict form for callers that cannot run on partial input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sim.core.case import Case
from sim.core.errors import InputError, Problem
from sim.loaders import agentclinic, native, nejm
from sim.loaders._jsonl import ParsedFile, Skipped, convert_records, read_jsonl

Format = Literal["native", "agentclinic", "nejm"]
# The case-format registry: each module has detects(keys), make_converter(path, **options), OPTIONS, LABEL
# and EXPECTED_KEYS. Detection asks them in this order (the most specific keys first).
FORMATS: dict[Format, Any] = {"agentclinic": agentclinic, "nejm": nejm, "native": native}
BANK_FILE_NAME = "cases.jsonl"

__all__ = ["FORMATS", "Format", "LoadResult", "Skipped", "detect_format", "load_cases", "read_cases"]


@dataclass
class LoadResult:
    cases: list[Case] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    n_records: int = 0  # non-blank lines seen: the cases a clean file would have given
    file: str = ""
    skipped: list[Skipped] = field(default_factory=list)  # cases left out on request, each with where and why

    @property
    def ok(self) -> bool:
        return not self.problems


def detect_format(path: str | Path) -> Format:
    """The format of a case file (or bank folder), from the keys of its first JSON object line.

    Raises InputError, located at the line that was looked at, when no line tells.
    """
    case_file, problem = _case_file(Path(path))
    if problem:
        raise InputError([problem])
    parsed = read_jsonl(case_file, str(case_file))
    detected = _sniff(parsed)
    if detected is None:
        # The reading problems (missing, empty, broken lines) already say why; add ours only if none do.
        raise InputError(
            parsed.problems or [Problem(parsed.label, None, "", "no JSON object line to tell the case format from")]
        )
    if isinstance(detected, Problem):
        raise InputError([*parsed.problems, detected])
    return detected


def read_cases(path: str | Path, format: Format | None = None, **opts: Any) -> LoadResult:
    """Every case of a file or bank folder, plus a located problem for anything that is not a case.

    Options: `source` (agentclinic, nejm: override the source name the ids are prefixed with),
    `fetch_images`, `image_cache`, `image_timeout` (nejm: network use for remote images, off by default),
    `image_dir` (nejm: a folder holding the cases' image files, matched by case id or the image URL's file
    name; a case whose file is missing is a problem, or with `missing_images="skip"` a `skipped` case).
    Options that do not apply to the detected format are ignored. An `image_dir` that is not a folder raises
    InputError.
    """
    if format is not None and format not in FORMATS:
        raise ValueError(f"unknown case format {format!r}; expected one of {', '.join(FORMATS)}")
    _check_options(opts)
    case_file, problem = _case_file(Path(path))
    if problem:
        return LoadResult(problems=[problem], file=problem.file)

    parsed = read_jsonl(case_file, str(case_file))
    result = LoadResult(n_records=parsed.n_rows, file=parsed.label)
    # No object line at all: every line is already a problem or not a case; "native" then only
    # reports the non-object lines, which is all there is to say.
    detected = format or _sniff(parsed) or "native"
    if isinstance(detected, Problem):
        result.problems = _in_file_order([*parsed.problems, detected])
        return result
    loader = FORMATS[detected]
    converter = loader.make_converter(case_file, **{k: v for k, v in opts.items() if k in loader.OPTIONS})
    result.cases = convert_records(parsed, converter)
    result.problems = _in_file_order(parsed.problems)
    result.skipped = parsed.skipped
    return result


def load_cases(path: str | Path, format: Format | None = None, **opts: Any) -> list[Case]:
    """Every case of a file or bank folder; raises InputError listing every problem if there is any. Cases
    skipped on request are left out (`read_cases` says which and why)."""
    result = read_cases(path, format, **opts)
    if result.problems:
        raise InputError(result.problems)
    return result.cases


def _case_file(path: Path) -> tuple[Path, Problem | None]:
    if path.is_dir():
        case_file = path / BANK_FILE_NAME
        if not case_file.is_file():
            return case_file, Problem(str(path), None, "", f"directory has no {BANK_FILE_NAME}")
        return case_file, None
    return path, None


def _sniff(parsed: ParsedFile) -> Format | Problem | None:
    """The format told by the first object line that tells one: a broken first line must not hide it."""
    first_object = None
    for record in parsed.records:
        if not isinstance(record.value, dict):
            continue
        first_object = first_object or record
        keys = set(record.value)
        detected = next((name for name, loader in FORMATS.items() if loader.detects(keys)), None)
        if detected is not None:
            return detected
    if first_object is None:
        return None
    shown = ", ".join(sorted(first_object.value)[:6]) or "none"
    labels = [f"{loader.LABEL} ({loader.EXPECTED_KEYS})" for loader in FORMATS.values()]
    expected = ", ".join(labels[:-1]) + f" or {labels[-1]}"
    return Problem(
        parsed.label, first_object.line, "", f"cannot tell the case format from the keys ({shown}); expected {expected}"
    )


def _check_options(opts: dict[str, Any]) -> None:
    known = set().union(*(loader.OPTIONS for loader in FORMATS.values()))
    unknown = sorted(set(opts) - known)
    if unknown:
        raise TypeError(f"unknown loader option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")


def _in_file_order(problems: list[Problem]) -> list[Problem]:
    # Reading problems are found in one pass and conversion problems in a second; users read top-down.
    return sorted(problems, key=lambda p: p.line or 0)
