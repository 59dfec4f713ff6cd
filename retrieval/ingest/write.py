"""Writing checked items: skip what the store already holds (ids are content hashes), embed the rest in
batches, add them in batches below Chroma's limit, then recalibrate the OOD thresholds."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from retrieval.embedders.base import Embedder
from retrieval.ingest.common import Progress
from retrieval.items import StoreItem
from retrieval.ood import appearance_embedder, calibrate
from retrieval.store import CaseStore, StoreCollection

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


def _embed_and_add(collection: StoreCollection, records: dict[str, StoreItem], embed, stage: str,
                   progress: Progress) -> int:
    existing = collection.existing_ids(list(records))
    new = [(record_id, item) for record_id, item in records.items() if record_id not in existing]
    _report(progress, stage, 0, len(new))
    for start in range(0, len(new), EMBED_BATCH):
        chunk = new[start : start + EMBED_BATCH]
        vectors = embed([item for _, item in chunk])
        collection.add([record_id for record_id, _ in chunk], vectors, [item.metadata() for _, item in chunk],
                       [item.report for _, item in chunk])
        _report(progress, stage, start + len(chunk), len(new))
    return len(new)


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


def _embed_images(embedder: Embedder):
    def embed(items: list[StoreItem]) -> np.ndarray:
        return embedder.embed_images([item.image_path if item.image_path else item.load_image() for item in items])

    return embed


def _embed_reports(embedder: Embedder):
    def embed(items: list[StoreItem]) -> np.ndarray:
        unique = list(dict.fromkeys(item.report for item in items))  # template reports repeat a lot
        vectors = embedder.embed_texts(unique)
        row = {text: index for index, text in enumerate(unique)}
        return vectors[[row[item.report] for item in items]]

    return embed


def write_items(items: list[StoreItem], store: CaseStore, image_embedder: Embedder, text_embedder: Embedder | None,
                progress: Progress = None) -> IngestSummary:
    """Add the items' images (and their pixel vectors, for the OOD check) and reports; reports are skipped
    when there is no text embedder."""
    started = time.perf_counter()
    summary = IngestSummary()
    images = {item.image_id(): item for item in items if item.has_image}
    pixels = appearance_embedder()
    # (kind, collection named after, vectors computed by, records, records left out, embed, progress label)
    plan = [("image", image_embedder, image_embedder, images, 0, _embed_images(image_embedder), "embedding images"),
            ("appearance", image_embedder, pixels, images, 0, _embed_images(pixels), "pixel vectors (OOD)")]
    if text_embedder is not None:
        reports, left_out = report_records(items)
        plan.append(("report", text_embedder, text_embedder, reports, left_out, _embed_reports(text_embedder),
                     "embedding reports"))
    with store.writing():
        for kind, owner, embedder, records, left_out, embed, stage in plan:
            if not records:
                continue
            collection = store.collection(kind, owner.name, embedder.dim, create=True, vectors=embedder.name)
            added = _embed_and_add(collection, records, embed, stage, progress)
            regions = sorted(set(collection.regions) | {r for item in records.values() for r in item.regions})
            if added or collection.calibration is None:
                collection.update_meta(regions="|".join(regions))
                _report(progress, "calibrating OOD", 0, 1)
                calibrate(collection)
                _report(progress, "calibrating OOD", 1, 1)
            summary.collections.append(CollectionSummary(collection.name, embedder.name, len(records), added,
                                                         left_out, collection.count(), collection.calibration))
    summary.seconds = time.perf_counter() - started
    return summary
