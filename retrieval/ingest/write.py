"""Writing checked items: skip what the store already holds (ids are content hashes), embed the rest in
batches (each image decoded once for the image and appearance collections), add them in writes of up to
WRITE_BATCH records, then recalibrate the OOD thresholds. Ids are content hashes, so an ingest cut short
leaves nothing half-written that a second run would duplicate: it adds what is missing."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retrieval.embedders.base import Embedder
from retrieval.ingest.common import Progress, decoding_threads
from retrieval.items import StoreItem
from retrieval.ood import appearance_embedder, calibrate
from retrieval.store import WRITE_BATCH, CaseStore, StoreCollection

Embed = Callable[[list], np.ndarray]

EMBED_BATCH = 64
# Template reports repeat thousands of times (PneumoniaMNIST has two texts for 2,428 images; IU has
# hundreds of identical normal reports). Identical vectors add nothing to a search, and many of them break
# Chroma's HNSW graph: measured with 2,428 template reports beside 220 bank reports, the bank reports' 5th
# neighbour came back 0.35 further (cosine distance) than the true one on average. So a collection keeps
# at most this many records of one (diagnosis, report) pair.
MAX_IDENTICAL_REPORTS = 8


@dataclass
class CollectionSummary:
    name: str
    embedder: str
    offered: int = 0  # distinct records in the source
    added: int = 0
    duplicates: int = 0  # identical reports beyond MAX_IDENTICAL_REPORTS, not stored
    total: int = 0  # records in the collection afterwards
    calibration: dict | None = None


@dataclass
class IngestSummary:
    collections: list[CollectionSummary] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def added(self) -> int:
        return sum(c.added for c in self.collections)


def _report(progress: Progress, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


class _BatchedWriter:
    """Collects embedded records and adds them to the collection in writes of up to WRITE_BATCH records:
    each Chroma add has a fixed cost (measured: 24 adds of 64 records took 2.3 s, 3 adds of 500 far less)."""

    def __init__(self, collection: StoreCollection):
        self.collection = collection
        self.ids: list[str] = []
        self.vectors: list[np.ndarray] = []
        self.metadatas: list[dict] = []
        self.documents: list[str] = []

    def add(self, ids: list[str], vectors: np.ndarray, items: list[StoreItem]) -> None:
        self.ids += ids
        self.vectors.append(np.asarray(vectors, dtype=np.float32))
        self.metadatas += [item.metadata() for item in items]
        self.documents += [item.report for item in items]
        if len(self.ids) >= WRITE_BATCH:  # StoreCollection.add splits it further if the client needs
            self.flush()

    def flush(self) -> None:
        if self.ids:
            self.collection.add(self.ids, np.vstack(self.vectors), self.metadatas, self.documents)
        self.ids, self.vectors, self.metadatas, self.documents = [], [], [], []


def _embed_and_add(
    collections: list[StoreCollection],
    embeds: list[Embed],
    records: dict[str, StoreItem],
    load: Callable[[StoreItem], Any] | None,
    stage: str,
    progress: Progress,
) -> list[int]:
    """Embed and add the records each collection lacks; returns how many each collection gained.

    Collections that hold vectors of the same inputs (an image collection and its appearance twin) go
    through together, so each image is decoded once (`load`) for both embedders."""
    wanted = list(records)
    missing = [set(wanted) - collection.existing_ids(wanted) for collection in collections]
    todo = [(record_id, item) for record_id, item in records.items() if any(record_id in m for m in missing)]
    writers = [_BatchedWriter(collection) for collection in collections]
    _report(progress, stage, 0, len(todo))
    with ThreadPoolExecutor(decoding_threads()) as decoder:
        for start in range(0, len(todo), EMBED_BATCH):
            chunk = todo[start : start + EMBED_BATCH]
            inputs = list(decoder.map(load, [item for _, item in chunk])) if load else [item for _, item in chunk]
            for writer, embed, lacking in zip(writers, embeds, missing):
                rows = [row for row, (record_id, _) in enumerate(chunk) if record_id in lacking]
                if rows:
                    writer.add(
                        [chunk[row][0] for row in rows],
                        embed([inputs[row] for row in rows]),
                        [chunk[row][1] for row in rows],
                    )
            _report(progress, stage, start + len(chunk), len(todo))
    for writer in writers:
        writer.flush()
    return [len(m) for m in missing]


def report_records(items: list[StoreItem]) -> tuple[dict[str, StoreItem], int]:
    """Report records by id, at most MAX_IDENTICAL_REPORTS per (diagnosis, report); and how many were left out."""
    seen: Counter[tuple[str, str]] = Counter()
    records: dict[str, StoreItem] = {}
    left_out = 0
    for item in {(i.case_id, i.diagnosis, i.report): i for i in items if i.report}.values():  # one per case
        key = (item.diagnosis, item.report)
        if seen[key] >= MAX_IDENTICAL_REPORTS:
            left_out += 1
            continue
        records[item.report_id(seen[key])] = item
        seen[key] += 1
    return records, left_out


def _embed_reports(embedder: Embedder) -> Embed:
    def embed(items: list[StoreItem]) -> np.ndarray:
        unique = list(dict.fromkeys(item.report for item in items))  # template reports repeat a lot
        vectors = embedder.embed_texts(unique)
        row = {text: index for index, text in enumerate(unique)}
        return vectors[[row[item.report] for item in items]]

    return embed


def write_items(
    items: list[StoreItem],
    store: CaseStore,
    image_embedder: Embedder,
    text_embedder: Embedder | None,
    progress: Progress = None,
) -> IngestSummary:
    """Add the items' images (and their pixel vectors, for the OOD check) and reports; reports are skipped
    when there is no text embedder."""
    started = time.perf_counter()
    summary = IngestSummary()
    images = {item.image_id(): item for item in items if item.has_image}
    pixels = appearance_embedder()
    # (records, how an input is loaded, records left out, progress label, [(kind, named after, vectors by, embed)])
    groups: list[tuple[dict[str, StoreItem], Callable | None, int, str, list]] = []
    if images:
        # inputs: images decoded once by StoreItem.load_image, then given to both embedders
        groups.append(
            (
                images,
                StoreItem.load_image,
                0,
                "embedding images",
                [
                    ("image", image_embedder, image_embedder, image_embedder.embed_images),
                    ("appearance", image_embedder, pixels, pixels.embed_images),
                ],
            )
        )
    if text_embedder is not None:
        reports, left_out = report_records(items)
        if reports:
            groups.append(
                (
                    reports,
                    None,
                    left_out,
                    "embedding reports",
                    [("report", text_embedder, text_embedder, _embed_reports(text_embedder))],
                )
            )
    with store.writing():
        for records, load, left_out, stage, targets in groups:
            collections = [
                store.collection(kind, owner.name, embedder.dim, create=True, vectors=embedder.name)
                for kind, owner, embedder, _ in targets
            ]
            added = _embed_and_add(collections, [embed for *_, embed in targets], records, load, stage, progress)
            offered_regions = {region for item in records.values() for region in item.regions}
            for collection, (_, _, embedder, _), gained in zip(collections, targets, added):
                regions = sorted(set(collection.regions) | offered_regions)
                if gained or collection.calibration is None:
                    collection.update_meta(regions="|".join(regions))
                    _report(progress, "calibrating OOD", 0, 1)
                    calibrate(collection)
                    _report(progress, "calibrating OOD", 1, 1)
                summary.collections.append(
                    CollectionSummary(
                        collection.name,
                        embedder.name,
                        len(records),
                        gained,
                        left_out,
                        collection.count(),
                        collection.calibration,
                    )
                )
    summary.seconds = time.perf_counter() - started
    return summary
