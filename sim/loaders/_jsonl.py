"""Reading JSONL case files line by line, shared by every loader.

Each loader only knows how to turn one parsed row into a `Case`; everything about the file itself
(missing, binary, not UTF-8, broken JSON, a row that is not an object, absurdly long text, duplicate ids)
is handled here once, so every format reports the same problems the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.core.case import Case
from sim.core.errors import Problem

# One string longer than this would flood an agent's context window; it is almost certainly a broken
# export (a base64 image pasted into a field, a whole document in one cell), not a case.
MAX_TEXT_CHARS = 100_000
# A whole line over this size is refused before parsing, for the same reason and to bound memory.
MAX_LINE_BYTES = 5_000_000
# A NUL byte this early means the user pointed us at an image or archive, not at text.
BINARY_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Record:
    """One non-blank line of a JSONL file, parsed."""

    line: int
    value: Any


@dataclass(frozen=True)
class RowContext:
    """Where a row came from; converters use it to locate their problems."""

    file: str
    line: int
    path: Path

    def problem(self, field_path: str, message: str) -> Problem:
        return Problem(self.file, self.line, field_path, message)


class RowError(Exception):
    """Raised by a converter when a row cannot become a case; carries every problem found in it."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class Skipped:
    """A row that is a case but was left out on request (its image file is missing, with `missing_images="skip"`),
    where it is and why: not a problem of the file, and not dropped silently either."""

    case_id: str
    file: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field or '-'}: case {self.case_id} skipped: {self.reason}"


class SkipRow(Exception):
    """Raised by a converter for a row to leave out (see Skipped)."""

    def __init__(self, case_id: str, field: str, reason: str):
        super().__init__(reason)
        self.case_id, self.field, self.reason = case_id, field, reason


Converter = Callable[[dict[str, Any], RowContext], Case]


@dataclass
class ParsedFile:
    label: str
    path: Path
    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    n_rows: int = 0  # non-blank lines: every one is either a case, a problem or a skipped case
    skipped: list[Skipped] = field(default_factory=list)


def json_type(value: Any) -> str:
    """The JSON name of a Python value's type, for messages in the source's own terms."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def read_jsonl(path: Path, label: str) -> ParsedFile:
    """Parse every non-blank line; undecodable or unparsable lines become located problems."""
    parsed = ParsedFile(label=label, path=path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        parsed.problems.append(Problem(label, None, "", "file not found"))
        return parsed
    except IsADirectoryError:
        parsed.problems.append(Problem(label, None, "", "is a directory, expected a JSONL file"))
        return parsed
    except OSError as exc:
        parsed.problems.append(Problem(label, None, "", f"cannot read file: {exc.strerror or exc}"))
        return parsed

    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        parsed.problems.append(Problem(label, None, "", "looks like a binary file, not JSONL text"))
        return parsed

    # Split on \n only: str.splitlines would also split on U+2028 and friends, which are legal
    # unescaped inside JSON strings and would shift every later line number.
    for number, raw in enumerate(data.split(b"\n"), start=1):
        raw = raw.rstrip(b"\r")
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a UTF-8 byte-order mark is harmless; editors on Windows add it
        if not raw.strip():
            continue
        parsed.n_rows += 1
        value = _parse_line(raw, label, number, parsed.problems)
        if value is not _FAILED:
            parsed.records.append(Record(number, value))

    if parsed.n_rows == 0:
        parsed.problems.append(Problem(label, None, "", "file is empty (no cases)"))
    return parsed


_FAILED = object()


def _parse_line(raw: bytes, label: str, number: int, problems: list[Problem]) -> Any:
    if len(raw) > MAX_LINE_BYTES:
        problems.append(Problem(label, number, "", f"line is {len(raw):,} bytes; the limit is {MAX_LINE_BYTES:,}"))
        return _FAILED
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(
            Problem(
                label, number, "", f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at byte {exc.start + 1} of the line"
            )
        )
        return _FAILED
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        problems.append(Problem(label, number, "", f"invalid JSON: {exc.msg} (column {exc.colno})"))
    except ValueError as exc:
        problems.append(Problem(label, number, "", f"invalid JSON: {exc}"))
    except RecursionError:
        problems.append(Problem(label, number, "", "invalid JSON: nested too deeply"))
    return _FAILED


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; strict JSON, and so every other tool, does not.
    raise ValueError(f"{name} is not a JSON value")


def oversized_strings(value: Any, path: str = "") -> list[tuple[str, int]]:
    """(dotted path, length) of every string, key included, longer than MAX_TEXT_CHARS."""
    found: list[tuple[str, int]] = []
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:  # iterative: a deeply nested row must not blow the Python stack here
        where, item = stack.pop()
        if isinstance(item, str):
            if len(item) > MAX_TEXT_CHARS:
                found.append((where, len(item)))
        elif isinstance(item, dict):
            for key, child in item.items():
                if len(key) > MAX_TEXT_CHARS:  # a key that long cannot be named in the message either
                    found.append((f"{where}.<key>" if where else "<key>", len(key)))
                    continue
                stack.append((f"{where}.{key}" if where else key, child))
        elif isinstance(item, list):
            stack.extend((f"{where}.{i}" if where else str(i), child) for i, child in enumerate(item))
    return sorted(found)


def convert_records(parsed: ParsedFile, convert: Converter) -> list[Case]:
    """Turn parsed rows into cases, appending a located problem for every row that cannot be one."""
    cases: list[Case] = []
    first_line_of_id: dict[str, int] = {}
    for record in parsed.records:
        where = RowContext(parsed.label, record.line, parsed.path)
        if not isinstance(record.value, dict):
            parsed.problems.append(where.problem("", f"expected a JSON object, got {json_type(record.value)}"))
            continue
        oversized = oversized_strings(record.value)
        if oversized:
            parsed.problems.extend(
                where.problem(p, f"text is {n:,} characters; the limit is {MAX_TEXT_CHARS:,}") for p, n in oversized
            )
            continue
        try:
            case = convert(record.value, where)
        except RowError as exc:
            parsed.problems.extend(exc.problems)
            continue
        except SkipRow as skip:
            parsed.skipped.append(Skipped(skip.case_id, where.file, where.line, skip.field, skip.reason))
            continue
        if case.id in first_line_of_id:
            parsed.problems.append(
                where.problem("id", f"duplicate id '{case.id}' (first seen on line {first_line_of_id[case.id]})")
            )
            continue
        first_line_of_id[case.id] = record.line
        cases.append(case)
    return cases
