"""Ingest throughput: images per second through the project's ingest code (`retrieval.ingest`: read and
check the source, then `write_items`: embed images, pixel vectors and reports, add them to Chroma,
calibrate the OOD thresholds), into a fresh persistent store with a fresh embedding cache, so nothing is
skipped as already done.

Wall-clock images/s is the figure the target is about; images per CPU-second is also given because on a
shared machine the wall figure mostly measures the other processes. Stage times come from the ingest's
own progress reports; `model_s` is the time inside the embedder's model (the rest of a stage is the
cache, Chroma writes and bookkeeping).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retrieval.embedders.base import Embedder

if TYPE_CHECKING:
    from retrieval.ingest import SourceKind


class TimedEmbedder:
    """Wraps an embedder and adds up the time spent in it."""

    def __init__(self, inner: Embedder):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.seconds = 0.0

    def _timed(self, embed: Callable[[list], np.ndarray], items: list) -> np.ndarray:
        started = time.perf_counter()
        try:
            return embed(items)
        finally:
            self.seconds += time.perf_counter() - started

    def embed_images(self, images: list) -> np.ndarray:
        return self._timed(self.inner.embed_images, images)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        return self._timed(self.inner.embed_texts, texts)


def default_image_embedder(data_dir: Path, train: bool) -> tuple[Embedder, str]:
    """The default 'bank' embedder without its cache: its trained checkpoint when there is one (or when
    `train`), else the same architecture with random weights, which costs exactly as much to run."""
    from retrieval.embedder_registry import bank_checkpoint_path, ensure_bank_checkpoint
    from retrieval.embedders.open_clip_embedder import OpenClipEmbedder
    from retrieval.training import ARCHITECTURES, read_sidecar

    checkpoint = bank_checkpoint_path(data_dir)
    if train or checkpoint.is_file():
        checkpoint = ensure_bank_checkpoint(data_dir)
        architecture = str(read_sidecar(checkpoint).get("architecture", ARCHITECTURES["clip"]))
        return OpenClipEmbedder.load(architecture, checkpoint), f"the trained 'bank' checkpoint {checkpoint}"
    logging.disable(logging.WARNING)  # open_clip warns that the weights are random: that is the point here
    try:
        untrained = OpenClipEmbedder.load(ARCHITECTURES["clip"])
    finally:
        logging.disable(logging.NOTSET)
    return untrained, (
        f"the 'bank' architecture ({ARCHITECTURES['clip']}) with random weights (no checkpoint in "
        f"{data_dir}): the same cost to run"
    )


def measure_ingest(
    kind: SourceKind, source: Path, embedder: Embedder, work_dir: Path, limit: int | None = None, **options
) -> dict:
    from retrieval.embedders.cache import CachedEmbedder, EmbeddingCache
    from retrieval.ingest import read_source, write_items
    from retrieval.store import CaseStore

    timed = TimedEmbedder(embedder)
    cached = CachedEmbedder(timed, EmbeddingCache(work_dir / "embeddings.sqlite"))
    marks: list[tuple[float, str]] = []

    def progress(stage: str, done: int, total: int) -> None:
        if not marks or marks[-1][1] != stage:
            marks.append((time.perf_counter(), stage))

    cpu, started = time.process_time(), time.perf_counter()
    read = read_source(kind, source, limit=limit, **options)
    if read.problems:
        raise RuntimeError(f"{source}: {len(read.problems)} problem(s), e.g. {read.problems[0]}")
    marks.append((time.perf_counter(), "opening the store"))
    store = CaseStore.open(work_dir / "chroma")
    # Reports are embedded with the image embedder's text tower (text_embedder 'same', the default).
    summary = write_items(read.items, store, cached, cached, progress=progress)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    images = sum(1 for item in read.items if item.has_image)
    return {
        "source": str(source),
        "images": images,
        "records_added": summary.added,
        "seconds": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "images_per_s": round(images / wall, 1),
        "images_per_cpu_s": round(images / cpu, 1) if cpu else None,
        "model_s": round(timed.seconds, 2),
        "stages_s": _stage_seconds([(started, "reading and checking"), *marks, (started + wall, "")]),
    }


def _stage_seconds(marks: list[tuple[float, str]]) -> dict[str, float]:
    """Seconds per stage from the times each stage began (a stage runs until the next one begins; a stage
    that comes back, e.g. one OOD calibration per collection, adds up)."""
    stages: dict[str, float] = {}
    for (begin, name), (end, _) in itertools.pairwise(marks):
        stages[name] = round(stages.get(name, 0.0) + end - begin, 2)
    return stages
