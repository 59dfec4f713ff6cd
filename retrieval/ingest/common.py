"""What every ingest source shares: the result of reading a source, and checking one image file."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from retrieval.items import StoreItem, content_hash
from sim.core.errors import Problem

# progress(stage, done, total): the CLI draws it as a rich progress bar; None = silent.
Progress = Callable[[str, int, int], None] | None
PROGRESS_EVERY = 25


@dataclass
class SourceRead:
    """Every item a source yielded and every located problem; `rows` counts what was looked at."""

    items: list[StoreItem] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rows: int = 0


def tick(progress: Progress, stage: str, done: int, total: int) -> None:
    if progress is not None and (done == total or done % PROGRESS_EVERY == 0):
        progress(stage, done, total)


def check_image(path: Path, where: str, line: int | None, field_name: str) -> tuple[str, Problem | None]:
    """(content hash, None) for a readable image; ("", located problem) otherwise."""
    if not path.is_file():
        return "", Problem(where, line, field_name, f"image file not found: {path}")
    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # decode fully: a truncated file opens fine and fails only here
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        return "", Problem(where, line, field_name, f"unreadable image {path}: {error}")
    return content_hash(data), None


def decoding_threads() -> int:
    """Threads for decoding images: PIL and hashlib release the GIL while they work, so each core helps."""
    return max(1, min(4, os.cpu_count() or 1))


def check_images(requests: Iterable[tuple[Path, str, int | None, str]]) -> Iterator[tuple[str, Problem | None]]:
    """check_image over (path, where, line, field) requests in decoding threads, answers in request order."""
    with ThreadPoolExecutor(decoding_threads()) as pool:
        yield from pool.map(lambda request: check_image(*request), requests)
