"""Out-of-distribution scoring: is a query unlike anything in the collection?

A detector is a collection plus its calibration; its raw score is the cosine distance from the query to
its k-th nearest neighbour (other cases only). A radiograph of a kind the store holds has k close
neighbours; noise or a photograph has none. Image queries are checked by two detectors:
- the embedding detector, in the image embedder's space;
- the appearance detector, in raw-pixel space (32x32, mean-centred), over the same images.
The second exists because a contrastive embedder trained on radiographs only maps whatever it is shown
into the radiograph region of its space: measured with the bank embedder, noise and photographs landed
closer to bank images than some bank images are to each other (none flagged), while in pixel space they
are far from every radiograph. Text queries only have the embedding detector.

Calibration runs after each ingest on in-distribution queries held out one case at a time (each sampled
item queries the collection with its own case excluded, exactly as the doctor's retrieval step does):
the threshold is the chosen percentile of their k-th-neighbour distances plus half its distance above
the median. The margin is there because a percentile from a few dozen or hundred queries is itself
uncertain (with 44 cases the 99th percentile sits just under the largest distance, so the most isolated
genuine case would be flagged), and a false "nothing similar" hides useful cases from the doctor.

The verdict's score is the largest distance/threshold ratio over the detectors, so one scale serves
every embedder: above 1 means out of distribution.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from retrieval.embedders.base import Embedder
from retrieval.store import Hit, StoreCollection

OOD_K = 5
CALIBRATION_QUERIES = 400
PERCENTILE = 99.0
MARGIN = 0.5  # of (percentile - median), added above the percentile


def appearance_embedder() -> Embedder:
    """The pixel space of the appearance detector."""
    from retrieval.embedders.pixels import RawPixelEmbedder

    return RawPixelEmbedder(size=32, centre=True)


@dataclass(frozen=True)
class OODVerdict:
    ood: bool | None  # None: no detector is calibrated (too few cases)
    score: float | None  # max over detectors of k-th-neighbour distance / threshold; > 1 = out of distribution
    distances: dict[str, float] = field(default_factory=dict)  # detector -> k-th-neighbour distance
    thresholds: dict[str, float] = field(default_factory=dict)

    def record(self) -> dict:
        return {
            "ood": self.ood,
            "ood_score": None if self.score is None else round(self.score, 4),
            "ood_distances": {k: round(v, 4) for k, v in self.distances.items()},
        }


def calibrate(
    collection: StoreCollection,
    k: int = OOD_K,
    queries: int = CALIBRATION_QUERIES,
    percentile: float = PERCENTILE,
    seed: int = 0,
) -> dict | None:
    """Compute and store the threshold; None (and nothing stored) when there are too few cases."""
    vectors, metadatas = collection.sample(queries, seed)
    if len(vectors) < 2:
        return None
    k = min(k, collection.count() - 1)
    # One batched query for every sampled item (each with its own case left out).
    neighbours = collection.query_other_cases(vectors, k, [meta.get("case_id") for meta in metadatas], documents=False)
    distances = [hits[k - 1].distance for hits in neighbours if len(hits) >= k]
    if len(distances) < 2:
        return None
    high, median = float(np.percentile(distances, percentile)), float(np.median(distances))
    calibration = {
        "k": k,
        "threshold": high + MARGIN * (high - median),
        "percentile": percentile,
        "percentile_distance": high,
        "median": median,
        "queries": len(distances),
    }
    collection.update_meta(ood=json.dumps(calibration))
    return calibration


def kth_distance(hits: list[Hit], calibration: dict | None) -> float | None:
    """The k-th neighbour's distance from unfiltered neighbours (nearest first, own case excluded)."""
    if not calibration or len(hits) < calibration["k"]:
        return None
    return hits[calibration["k"] - 1].distance


def detect(collection: StoreCollection, vector: np.ndarray, exclude: str | None) -> tuple[float | None, float | None]:
    """(k-th neighbour distance, threshold) of one query against one calibrated collection."""
    calibration = collection.calibration
    if not calibration:
        return None, None
    hits = collection.query_other_cases(
        np.asarray(vector, dtype=np.float32).reshape(1, -1), calibration["k"], [exclude], documents=False
    )[0]
    return kth_distance(hits, calibration), calibration["threshold"]


def combine(readings: dict[str, tuple[float | None, float | None]]) -> OODVerdict:
    """One verdict from several detectors' (distance, threshold) readings; uncalibrated ones are ignored."""
    usable = {name: (d, t) for name, (d, t) in readings.items() if d is not None and t}
    if not usable:
        return OODVerdict(None, None)
    score = max(d / t for d, t in usable.values())
    return OODVerdict(
        score > 1.0, score, {n: d for n, (d, _) in usable.items()}, {n: t for n, (_, t) in usable.items()}
    )
