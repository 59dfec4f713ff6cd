"""Located problems in user input.

Every entry point that reads user data reports problems as `FILE:LINE: field.path: what is wrong`, so a
user can jump straight to the spot. Loaders collect all problems of a file before failing, instead of
stopping at the first, and never drop a case silently.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.field or '-'}: {self.message}"


class InputError(Exception):
    """Raised when user input has problems; carries every problem found, each located."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def pydantic_problems(file: str, line: int | None, error, prefix: str = "") -> list[Problem]:
    """Turn a pydantic ValidationError into located problems with dotted field paths."""
    problems = []
    for item in error.errors():
        path = ".".join(str(part) for part in item.get("loc", ()))
        if prefix:
            path = f"{prefix}.{path}" if path else prefix
        message = item.get("msg", "invalid").removeprefix("Value error, ")  # a validator's own words need none
        if item.get("type") == "missing":
            message = "required field is missing"
        problems.append(Problem(file, line, path, message))
    return problems
