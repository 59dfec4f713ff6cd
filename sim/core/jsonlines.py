"""Crash-safe JSON Lines: one `write` per complete line (then fsync), and readers that ignore a trailing
line without its newline, which is all a crash in the middle of a write can leave behind. A write that fails
(a full disk) is undone: the file is cut back to its whole lines before the error is raised."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from sim.core.errors import InputError, Problem

Model = TypeVar("Model", bound=BaseModel)

_lock = threading.Lock()


def append_lines(path: Path, lines: list[str], sync: bool = True) -> None:
    """Append whole lines (each given without its newline). On a full disk (or any failed write) the file is
    cut back to what it held and OSError is raised naming the file: never a partial line."""
    if not lines:
        return
    data = memoryview("".join(line + "\n" for line in lines).encode("utf-8"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            try:
                while data:  # a write may take only part of the data (a disk filling up) before it fails
                    data = data[os.write(fd, data) :]
                if sync:
                    os.fsync(fd)
            except OSError as error:
                try:
                    os.ftruncate(fd, size)
                except OSError:
                    pass  # what stays is a partial last line, which every reader ignores
                raise OSError(
                    error.errno,
                    f"{path}: could not append {len(lines)} line(s) ({error.strerror}); the file keeps its whole lines",
                ) from error
        finally:
            os.close(fd)


def complete_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, content) of every complete, non-blank line."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    if not data.endswith(b"\n"):
        lines = lines[:-1]  # partial last line from a crash: not a record yet
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            yield number, raw


def read_models(path: Path, model: type[Model], what: str) -> list[Model]:
    """Every complete line of a JSONL file as `model`. Problems are located (FILE:LINE: field: message) and
    raised together as InputError; a partial last line (a crash mid-write) is not a record yet."""
    if not path.is_file():
        raise InputError([Problem(str(path), None, "-", f"{what} file not found")])
    found, problems = [], []
    for number, raw in complete_lines(path):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as error:
            problems.append(
                Problem(
                    str(path),
                    number,
                    "-",
                    f"not valid UTF-8: byte 0x{raw[error.start]:02x} at byte {error.start} of the line",
                )
            )
            continue
        try:
            found.append(model.model_validate_json(raw))
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or "-"
            problems.append(Problem(str(path), number, field, _readable(first)))
    if problems:
        raise InputError(problems)
    return found


def _readable(error: ErrorDetails) -> str:
    """pydantic's message, with the position inside the line for JSON errors ("at line 1 column 9" would
    contradict the file line the problem is reported at)."""
    message = error.get("msg", "invalid record")
    if error.get("type") == "json_invalid":
        message = re.sub(r"^Invalid JSON: (.*) at line \d+ column (\d+)$", r"invalid JSON: \1 (column \2)", message)
    elif error.get("type") == "missing":
        message = "required field is missing"
    return message
