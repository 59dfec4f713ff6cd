"""Crash-safe JSON Lines: one `write` per complete line (then fsync), and readers that ignore a trailing
line without its newline, which is all a crash in the middle of a write can leave behind."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

_lock = threading.Lock()


def append_lines(path: Path, lines: list[str], sync: bool = True) -> None:
    """Append whole lines (each given without its newline) with a single write."""
    if not lines:
        return
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            if sync:
                os.fsync(fd)
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
