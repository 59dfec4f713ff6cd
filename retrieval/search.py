"""Similar-case search: nearest neighbours, optional anatomical conditioning, and the OOD verdict.

Anatomical conditioning (`region`) first restricts the search to items labelled with that region, then
re-ranks the candidates: an item whose report is about the region (the region is its first, most
prominent label, and report sentences name it) moves up. When the query lives in the text space, the
region's own report sentences are embedded and compared with the query, so "a right basal opacity"
prefers reports whose right-lower-zone sentence says so, not reports that merely mention it.
Similarity stays the main signal; the region terms only reorder near-ties (REGION_WEIGHT).

Every result carries the OOD verdict (see ood.py). `ImageIndex` bundles an image collection with its
appearance twin, so an image query gets both detectors.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np

from retrieval.embedders.base import Embedder, ImageInput
from retrieval.items import excerpt, region_key, split_regions
from retrieval.ood import OOD_K, OODVerdict, appearance_embedder, combine, detect, kth_distance
from retrieval.store import CaseStore, Hit, StoreCollection

REGION_WEIGHT = 0.1
CANDIDATES_PER_RESULT = 4
MIN_CANDIDATES = 20
_STOP_WORDS = {"the", "of", "and", "zone", "a"}


@dataclass
class Neighbour:
    item_id: str
    case_id: str
    diagnosis: str
    similarity: float  # cosine similarity of the query and the item
    score: float  # what the ranking used: similarity, plus the region terms when conditioned
    regions: list[str]
    source: str
    image: str
    report: str
    context: str = ""  # age, sex and key history of the archived case, when its source has them

    def record(self) -> dict:
        """The compact form kept in episode records and shown by the CLI."""
        data = asdict(self)
        data["report"] = excerpt(self.report)
        data["similarity"] = round(self.similarity, 4)
        data["score"] = round(self.score, 4)
        return data


@dataclass
class SearchResult:
    neighbours: list[Neighbour]
    ood: OODVerdict
    region: str | None = None


def _neighbour(hit: Hit, score: float | None = None) -> Neighbour:
    meta = hit.metadata
    return Neighbour(
        item_id=hit.id,
        case_id=str(meta.get("case_id", "")),
        diagnosis=str(meta.get("diagnosis", "")),
        similarity=hit.similarity,
        score=hit.similarity if score is None else score,
        regions=split_regions(str(meta.get("regions", ""))),
        source=str(meta.get("source", "")),
        image=str(meta.get("image", "")),
        report=hit.document,
        context=str(meta.get("context", "")),
    )


def region_sentences(report: str, region: str) -> list[str]:
    """Sentences of a report that name the region (all its distinctive words appear)."""
    words = [w for w in re.findall(r"[a-z]+", region.lower()) if w not in _STOP_WORDS] or region.lower().split()
    sentences = re.split(r"(?<=[.!?])\s+|\n+", report)
    return [s.strip() for s in sentences if s.strip() and all(w in s.lower() for w in words)]


def _prominence(regions: list[str], region: str) -> float:
    """1 when the region is the item's first label (where its sign is strongest), less further down."""
    lowered = [r.lower() for r in regions]
    return 1.0 / (1 + lowered.index(region.lower())) if region.lower() in lowered else 0.0


def rerank_by_region(query: np.ndarray, hits: list[Hit], region: str, text_space: Embedder | None) -> list[Neighbour]:
    sentences = [region_sentences(hit.document, region) for hit in hits]
    affinity = [1.0 if found else 0.0 for found in sentences]
    if text_space is not None and any(sentences):
        flat = [s for group in sentences for s in group]
        vectors = text_space.embed_texts(flat)
        position = 0
        for index, group in enumerate(sentences):
            if group:
                affinity[index] = float(np.max(vectors[position : position + len(group)] @ query))
                position += len(group)
    ranked = []
    for hit, text_term in zip(hits, affinity):
        regions = split_regions(str(hit.metadata.get("regions", "")))
        region_term = 0.5 * _prominence(regions, region) + 0.5 * text_term
        ranked.append(_neighbour(hit, hit.similarity + REGION_WEIGHT * region_term))
    return sorted(ranked, key=lambda n: (-n.score, n.item_id))


def search(
    collection: StoreCollection,
    query: np.ndarray,
    k: int,
    *,
    region: str | None = None,
    exclude: str | None = None,
    text_space: Embedder | None = None,
    appearance: tuple[StoreCollection, np.ndarray] | None = None,
) -> SearchResult:
    """Top-k neighbours of one query vector (unit norm), never from case `exclude`.

    `text_space`: an embedder whose TEXT vectors are comparable with the query (the text embedder for a
    text query, a CLIP-style image embedder for an image query); None = region sentences only count as
    present or absent. `appearance`: the appearance collection and the query's pixel vector, for the
    second OOD detector (image queries).
    """
    query = np.asarray(query, dtype=np.float32).reshape(-1)
    calibration = collection.calibration
    ood_k = calibration["k"] if calibration else OOD_K
    unconditioned = collection.query_other_cases(query[None, :], max(k, ood_k), [exclude])[0]
    readings = {
        "embedding": (kth_distance(unconditioned, calibration), calibration["threshold"] if calibration else None)
    }
    if appearance is not None:
        readings["appearance"] = detect(appearance[0], appearance[1], exclude)
    verdict = combine(readings)
    if not region:
        return SearchResult([_neighbour(hit) for hit in unconditioned[:k]], verdict)
    candidates = collection.query_other_cases(
        query[None, :], max(k * CANDIDATES_PER_RESULT, MIN_CANDIDATES), [exclude], where={region_key(region): True}
    )[0]
    return SearchResult(rerank_by_region(query, candidates, region, text_space)[:k], verdict, region)


class ImageIndex:
    """What an image query searches: the embedder's image collection and its appearance twin (OOD)."""

    def __init__(self, images: StoreCollection, appearance: StoreCollection | None, embedder: Embedder):
        self.images = images
        self.appearance = appearance
        self.embedder = embedder
        self.pixels = appearance_embedder()

    @classmethod
    def open(cls, store: CaseStore, embedder: Embedder) -> ImageIndex | None:
        """None when the store has no images embedded with this embedder."""
        images = store.collection("image", embedder.name)
        if images is None or images.count() == 0:
            return None
        return cls(images, store.collection("appearance", embedder.name), embedder)

    def search(
        self,
        images: list[ImageInput],
        k: int,
        *,
        region: str | None = None,
        exclude: str | None = None,
        text_space: Embedder | None = None,
    ) -> list[SearchResult]:
        vectors = self.embedder.embed_images(images)
        pixels = self.pixels.embed_images(images) if self.appearance is not None else [None] * len(images)
        return [
            search(
                self.images,
                vector,
                k,
                region=region,
                exclude=exclude,
                text_space=text_space,
                appearance=(self.appearance, pixel) if self.appearance is not None else None,
            )
            for vector, pixel in zip(vectors, pixels)
        ]
