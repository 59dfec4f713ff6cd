"""Out-of-distribution scoring: is a query unlike anything in the collection?

The score is the cosine distance from the query to its k-th nearest neighbour (other cases only): a
radiograph of a kind the store holds has k close neighbours; noise or a photograph has none. The threshold
is calibrated after each ingest on in-distribution queries held out one case at a time (each sampled item
queries the collection with its own case excluded, exactly as the doctor's retrieval step queries): the
chosen percentile of their k-th-neighbour distances plus a margin of half its distance above the median.
The margin is there because a percentile from a few dozen or hundred queries is itself uncertain (with
44 cases the 99th percentile sits just under the largest distance, so the most isolated genuine case would
be flagged), and a false "nothing similar" hides useful cases from the doctor; noise and photographs lie
far beyond it. The calibration is kept in the collection's metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from retrieval.store import Hit, StoreCollection

OOD_K = 5
CALIBRATION_QUERIES = 400
PERCENTILE = 99.0
MARGIN = 0.5  # of (percentile - median), added above the percentile


@dataclass(frozen=True)
class OODVerdict:
    ood: bool | None  # None: the collection is not calibrated (too small)
    score: float | None  # cosine distance to the k-th neighbour
    threshold: float | None


def exclude_case(case_id: str | None) -> dict | None:
    return {"case_id": {"$ne": case_id}} if case_id else None


def calibrate(collection: StoreCollection, k: int = OOD_K, queries: int = CALIBRATION_QUERIES,
              percentile: float = PERCENTILE, seed: int = 0) -> dict | None:
    """Compute and store the threshold; None (and nothing stored) when there are too few cases."""
    vectors, metadatas = collection.sample(queries, seed)
    if len(vectors) < 2:
        return None
    k = min(k, collection.count() - 1)
    distances = []
    for vector, meta in zip(vectors, metadatas):
        hits = collection.query(vector[None, :], k, exclude_case(meta.get("case_id")))[0]
        if len(hits) >= k:
            distances.append(hits[k - 1].distance)
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


def judge(hits: list[Hit], calibration: dict | None) -> OODVerdict:
    """The verdict for one query from its unfiltered neighbours (nearest first, own case excluded)."""
    if not calibration or len(hits) < calibration["k"]:
        return OODVerdict(None, None, calibration["threshold"] if calibration else None)
    score = hits[calibration["k"] - 1].distance
    return OODVerdict(score > calibration["threshold"], score, calibration["threshold"])
