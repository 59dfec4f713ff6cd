"""Keeping the answer out of what the patient and measurement agents say.

Two defences. Before the encounter, the diagnosis and its aliases are redacted from the text those
agents are given (the patient script, exam and test results), and what was redacted is reported. During
the encounter every patient and measurement output is checked with the audit's rules (exact, all-tokens,
fuzzy); a hit is flagged in the record and, by default, the matched words are masked before the doctor
sees them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import JsonValue

from sim.core.case import Case, Diagnosis
from sim.loaders.audit import DiagnosisMatcher

MASK = "[withheld]"
_ACRONYM = re.compile(r"^[A-Z0-9]{2,6}$")


def _pattern(name: str) -> re.Pattern | None:
    words = [w for w in re.split(r"[\s\-_/,]+", name.strip()) if w]
    if not words:
        return None
    body = r"[\s\-_/,]+".join(re.escape(w) for w in words)
    flags = 0 if _ACRONYM.match(name.strip()) else re.IGNORECASE  # "ALL" the leukaemia, not "all"
    # Optional possessive/plural endings: "Hirschsprung's disease", "hernias".
    return re.compile(rf"(?<![A-Za-z0-9]){body}(?:'s|’s|s|es)?(?![A-Za-z0-9])", flags)


@dataclass
class Redactor:
    diagnosis: Diagnosis
    patterns: list[tuple[str, re.Pattern]] = field(init=False)

    def __post_init__(self) -> None:
        names = sorted(set(self.diagnosis.all_names()), key=len, reverse=True)  # longest first
        self.patterns = [(n, p) for n in names if (p := _pattern(n)) is not None]

    def redact(self, text: str) -> tuple[str, list[str]]:
        found = []
        for name, pattern in self.patterns:
            text, count = pattern.subn(MASK, text)
            if count:
                found.append(name)
        return text, found


def redact_case(case: Case) -> tuple[Case, list[dict]]:
    """A copy of the case whose patient script, exam and tests no longer name the diagnosis, and the list
    of what was redacted where ({"field", "name"})."""
    redactor = Redactor(case.diagnosis)
    report: list[dict] = []

    def clean(value: JsonValue, path: str) -> JsonValue:
        if isinstance(value, str):
            text, names = redactor.redact(value)
            report.extend({"field": path, "name": n} for n in names)
            return text
        if isinstance(value, dict):
            cleaned = {}
            for key, sub in value.items():
                new_key, names = redactor.redact(str(key))
                report.extend({"field": f"{path}.{key} (key)", "name": n} for n in names)
                cleaned[new_key] = clean(sub, f"{path}.{key}")
            return cleaned
        if isinstance(value, list):
            return [clean(item, f"{path}.{i}") for i, item in enumerate(value)]
        return value

    patient = clean(case.patient.model_dump(), "patient")
    exam = clean(case.exam, "exam")
    tests = clean(case.tests, "tests")
    images = [
        image.model_copy(update={"report": clean(image.report, f"images.{i}.report")})
        for i, image in enumerate(case.images)
    ]
    redacted = case.model_copy(
        update={"patient": type(case.patient).model_validate(patient), "exam": exam, "tests": tests, "images": images}
    )
    return redacted, report


class LeakCheck:
    """The audit's rules applied to one agent output."""

    def __init__(self, diagnosis: Diagnosis):
        self.matcher = DiagnosisMatcher(diagnosis.all_names())
        self.redactor = Redactor(diagnosis)

    def check(self, text: str) -> dict | None:
        hit = self.matcher.find_in(text)
        if hit is None:
            return None
        rule, name, matched, score = hit
        return {"rule": rule, "name": name, "matched": matched, "score": score}

    def mask(self, text: str) -> str:
        return self.redactor.redact(text)[0]
