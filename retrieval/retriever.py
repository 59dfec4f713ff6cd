"""The doctor's retrieval step: images the measurement agent just returned -> similar archived cases.

`CaseRetriever` is the encounter graph's `Retriever` callable: it embeds each returned image, searches
the image collection for the top-k neighbours, never from the current case, and returns a short text
for the doctor plus one item per neighbour for the episode record. When an image is out of
distribution the doctor is told that nothing similar exists instead of being shown weak matches (the
items are still recorded, flagged).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from retrieval.items import conclusion_first, excerpt
from retrieval.search import ImageIndex, SearchResult
from retrieval.store import StoreError
from retrieval.wiring import Embedders, embedders_for, open_store, store_exists, store_label
from sim.core.case import Case
from sim.core.config import Settings

DOCTOR_EXCERPT_CHARS = 200
NOTHING_SIMILAR = "No similar case in the archive: this image is unlike anything stored."
INGEST_HINT = "fill it with `clinsim store ingest DATA_DIR/bank --kind bank`"


def _items(result: SearchResult, image: str) -> list[dict]:
    return [{**n.record(), **result.ood.record(), "query_image": image} for n in result.neighbours]


def doctor_text(result: SearchResult, label: str = "") -> str:
    """What the doctor reads for one image."""
    prefix = f"{label}: " if label else ""
    if result.ood.ood:
        return prefix + NOTHING_SIMILAR
    if not result.neighbours:
        return prefix + "No similar case in the archive."
    lines = [f"{prefix}Similar cases from the archive (most similar first):"]
    for rank, n in enumerate(result.neighbours, start=1):
        # A teaching file shows the patient beside the film: compare the stories, not only the pictures.
        patient = f" Patient: {n.context}. Film:" if n.context else ""
        lines.append(
            f"{rank}. {n.diagnosis or 'no diagnosis recorded'} (similarity {n.similarity:.2f}):{patient} "
            f"{excerpt(conclusion_first(n.report), DOCTOR_EXCERPT_CHARS)}"
        )
    return "\n".join(lines)


class CaseRetriever:
    """Callable as `retriever(case, image_paths) -> (text_for_doctor, items_for_record)`."""

    def __init__(self, index: ImageIndex, embedders: Embedders, k: int):
        self.index = index
        self.embedders = embedders
        self.k = k

    def search_images(self, case_id: str | None, image_paths: list[str]) -> list[SearchResult]:
        return self.index.search([Path(p) for p in image_paths], self.k, exclude=case_id)

    def __call__(self, case: Case, image_paths: list[str]) -> tuple[str, list[dict]]:
        if not image_paths:
            return "", []
        results = self.search_images(case.id, image_paths)
        several = len(image_paths) > 1
        texts = [doctor_text(result, Path(path).name if several else "") for path, result in zip(image_paths, results)]
        items = [item for path, result in zip(image_paths, results) for item in _items(result, path)]
        return "\n\n".join(texts), items


def make_retriever(settings: Settings, notify: Callable[[str], None] | None = None) -> CaseRetriever | None:
    """The retrieval step for these settings, or None (with one line to `notify` saying why) when retrieval
    is off, or the store is missing, unreachable or empty for the configured embedder."""
    say = notify or (lambda message: None)
    if not settings.retrieval.enabled:
        return None
    where = store_label(settings)
    if not store_exists(settings):
        say(f"retrieval is off: the case store {where} is empty; {INGEST_HINT}")
        return None
    try:
        store = open_store(settings)
        if not any(c.meta.get("kind") == "image" and c.count() for c in store.collections()):
            say(f"retrieval is off: the case store {where} holds no images; {INGEST_HINT}")
            return None
        embedders = embedders_for(settings)
        index = ImageIndex.open(store, embedders.image)
    except (StoreError, RuntimeError, OSError, ImportError) as error:
        say(f"retrieval is off: {error}")
        return None
    if index is None:
        say(
            f"retrieval is off: the case store {where} has no images embedded with {embedders.image.name}; "
            f"{INGEST_HINT}"
        )
        return None
    return CaseRetriever(index, embedders, settings.retrieval.k)
