"""Validate case files: every problem located, plus how many cases are usable."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sim.core.errors import Problem
from sim.loaders import Format, read_cases


@dataclass
class ValidationReport:
    n_valid: int = 0
    n_total: int = 0  # non-blank lines (records) across the files
    problems: list[Problem] = field(default_factory=list)
    n_files: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return f"{self.n_valid} valid cases of {self.n_total} in {self.n_files} file(s)"


def validate_files(paths: Iterable[str | Path], format: Format | None = None) -> ValidationReport:
    """Load each file (or bank folder) without network access and collect every problem.

    Ids must be unique within a file; the same case in two files is allowed (a split and its parent).
    """
    report = ValidationReport()
    for path in paths:
        result = read_cases(path, format)
        report.n_files += 1
        report.n_valid += len(result.cases)
        report.n_total += result.n_records
        report.problems.extend(result.problems)
    return report
