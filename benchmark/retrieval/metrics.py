"""Ranking metrics for exact (brute-force) retrieval, on a score matrix and a relevance matrix.

Conventions, kept identical for every method so they compare:
- ties are broken against the query: among equal scores, irrelevant items rank first (so a method that
  scores everything the same gets no credit for the gallery's order);
- R@k is the hit rate: the fraction of queries with at least one relevant item in the top k;
- P@k is the mean fraction of relevant items in the top k; mAP the mean average precision over the full
  ranking; nDCG@k uses binary gains with the ideal ranking of min(#relevant, k) hits;
- a query with no relevant gallery item (IU: a head set no other report has) scores 0 on every metric,
  as in ../shared/data/README.md's protocol; their count is reported as `n_without_relevant`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RankingMetrics:
    n_queries: int
    n_without_relevant: int  # queries with no relevant item in the gallery (they score 0)
    recall_at: dict[int, float]
    precision_at_10: float
    mean_average_precision: float
    ndcg_at_10: float

    def as_dict(self) -> dict[str, float | int]:
        out: dict[str, float | int] = {f"R@{k}": round(v, 4) for k, v in self.recall_at.items()}
        out |= {"P@10": round(self.precision_at_10, 4), "mAP": round(self.mean_average_precision, 4),
                "nDCG@10": round(self.ndcg_at_10, 4), "n_queries": self.n_queries,
                "n_without_relevant": self.n_without_relevant}  # fmt: skip
        return out


def ranked_relevance(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """Relevance (bool) of each query's gallery items in ranked order, ties broken against the query."""
    scores = np.asarray(scores, dtype=np.float64)
    relevant = np.asarray(relevant, dtype=bool)
    if scores.shape != relevant.shape:
        raise ValueError(f"scores {scores.shape} and relevance {relevant.shape} differ in shape")
    # lexsort sorts by the last key first: descending score, then irrelevant (False) before relevant.
    order = np.lexsort((relevant, -scores), axis=-1)
    return np.take_along_axis(relevant, order, axis=-1)


def ranking_metrics(scores: np.ndarray, relevant: np.ndarray, ks: tuple[int, ...] = (1, 5, 10)) -> RankingMetrics:
    ranked = ranked_relevance(scores, relevant)
    n_relevant = ranked.sum(axis=1)
    if not len(ranked):
        nan = float("nan")
        return RankingMetrics(0, 0, {k: nan for k in ks}, nan, nan, nan)
    positions = np.arange(1, ranked.shape[1] + 1)
    hits_so_far = np.cumsum(ranked, axis=1)
    average_precision = (ranked * hits_so_far / positions).sum(axis=1) / np.maximum(n_relevant, 1)
    top = ranked[:, :10]
    discounts = 1 / np.log2(np.arange(2, top.shape[1] + 2))
    dcg = (top * discounts).sum(axis=1)
    ideal = np.array([discounts[: min(int(n), top.shape[1])].sum() for n in n_relevant])
    return RankingMetrics(
        n_queries=len(ranked),
        n_without_relevant=int((n_relevant == 0).sum()),
        recall_at={k: float(ranked[:, :k].any(axis=1).mean()) for k in ks},
        precision_at_10=float(top.sum(axis=1).mean() / 10),
        mean_average_precision=float(average_precision.mean()),
        ndcg_at_10=float((dcg / np.maximum(ideal, 1e-12)).mean()),
    )


def auroc(in_distribution: np.ndarray, out_of_distribution: np.ndarray) -> float:
    """Probability that an OOD item scores higher than an in-distribution one (ties count half)."""
    inside = np.asarray(in_distribution, dtype=np.float64)
    outside = np.asarray(out_of_distribution, dtype=np.float64)
    if not len(inside) or not len(outside):
        return float("nan")
    combined = np.concatenate([inside, outside])
    ranks = _average_ranks(combined)
    rank_sum = ranks[len(inside) :].sum()
    return float((rank_sum - len(outside) * (len(outside) + 1) / 2) / (len(inside) * len(outside)))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(values, method="average")


def kth_neighbour_distance(queries: np.ndarray, gallery: np.ndarray, k: int) -> np.ndarray:
    """Cosine distance (1 - similarity) from each unit-row query to its k-th most similar gallery row."""
    similarity = queries @ gallery.T
    k = min(k, gallery.shape[0])
    kth = -np.partition(-similarity, k - 1, axis=1)[:, k - 1]
    return 1.0 - kth


def percentile_ms(seconds: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1000, q)) if seconds else float("nan")
