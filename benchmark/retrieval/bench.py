"""The retrieval benchmark: every method on every task it can do, exact search with numpy.

It measures embedders, not the vector store: scores are full query x gallery cosine matrices, so the
figures do not depend on HNSW settings. Results are one JSON document (see `run_benchmark`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmark.retrieval.data import BenchData, Kind, Task
from benchmark.retrieval.metrics import auroc, kth_neighbour_distance, percentile_ms, ranking_metrics
from retrieval.embedders.base import Embedder

REGION_SUFFIX = " +region"
OOD_K = 5
OOD_CALIBRATION_QUANTILE = 0.95  # threshold: 95% of held-out in-distribution queries are in-distribution


@dataclass
class Method:
    """A named way of scoring; `embedder=None` is the random baseline."""

    name: str
    embedder: Embedder | None
    kinds: frozenset[str] = frozenset({"image", "text"})
    note: str = ""

    def supports(self, task: Task) -> bool:
        return {task.query_kind, task.gallery_kind} <= self.kinds

    def describe(self) -> dict[str, Any]:
        return {"embedder": self.embedder.name if self.embedder else "random", "kinds": sorted(self.kinds),
                "note": self.note}  # fmt: skip


@dataclass
class _Vectors:
    """Embeddings computed once per (method, item list) within a run."""

    memo: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)

    def get(self, method: Method, kind: Kind, items: list) -> np.ndarray:
        key = (method.name, id(items))
        if key not in self.memo:
            assert method.embedder is not None
            embed = method.embedder.embed_images if kind == "image" else method.embedder.embed_texts
            self.memo[key] = embed(items)
        return self.memo[key]


def run_benchmark(
    data: BenchData,
    methods: list[Method],
    *,
    latency_samples: int = 20,
    seed: int = 0,
    on_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Metrics per task and method, and OOD AUROC per image method, as a JSON-ready dict."""
    started = time.perf_counter()
    vectors = _Vectors()
    report: dict[str, Any] = {
        "dataset": data.name,
        "methods": {method.name: method.describe() for method in methods},
        "tasks": {},
    }
    for task in data.tasks:
        entry: dict[str, Any] = {"relevance": task.relevance, "n_queries": len(task.queries),
                                 "n_gallery": len(task.gallery), "methods": {}}  # fmt: skip
        for method in methods:
            if not method.supports(task):
                continue
            if on_step:
                on_step(f"{task.name}: {method.name}")
            scores = _scores(method, task, vectors, seed)
            gallery = None if method.embedder is None else vectors.get(method, task.gallery_kind, task.gallery)
            latency = _latency(method, task, gallery, latency_samples, seed)
            entry["methods"][method.name] = ranking_metrics(scores, task.relevant).as_dict() | latency
            if task.region_match is not None:
                # Conditioning: items labelled with the query's region first, each group in score order.
                conditioned = scores + 4.0 * task.region_match
                entry["methods"][method.name + REGION_SUFFIX] = ranking_metrics(conditioned, task.relevant).as_dict()
        report["tasks"][task.name] = entry
    if data.ood is not None:
        report["ood"] = _ood(data, [m for m in methods if m.embedder is not None and "image" in m.kinds], vectors,
                             on_step)  # fmt: skip
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def _scores(method: Method, task: Task, vectors: _Vectors, seed: int) -> np.ndarray:
    if method.embedder is None:
        scores = np.random.default_rng(seed).random(task.relevant.shape)
    else:
        queries = vectors.get(method, task.query_kind, task.queries)
        scores = queries @ vectors.get(method, task.gallery_kind, task.gallery).T
    if task.self_index is not None:
        scores = scores.astype(np.float64)
        scores[np.arange(len(task.queries)), task.self_index] = -np.inf
    return scores


def _latency(method: Method, task: Task, gallery: np.ndarray | None, samples: int, seed: int) -> dict[str, float]:
    """Per query, from raw input: embed it (uncached), score the whole gallery, take the top 10."""
    inner = getattr(method.embedder, "inner", method.embedder)  # bypass the content cache
    rng = np.random.default_rng(seed)
    seconds = []
    for query in task.queries[:samples]:
        begin = time.perf_counter()
        if inner is None:
            similarity = rng.random(len(task.gallery))
        else:
            assert gallery is not None  # embedded for every method but the random baseline
            embed = inner.embed_images if task.query_kind == "image" else inner.embed_texts
            similarity = embed([query])[0] @ gallery.T
        np.argpartition(-similarity, min(10, len(similarity) - 1))[:10]
        seconds.append(time.perf_counter() - begin)
    return {
        "latency_ms_p50": round(percentile_ms(seconds, 50), 2),
        "latency_ms_p95": round(percentile_ms(seconds, 95), 2),
    }


def _ood(data: BenchData, methods: list[Method], vectors: _Vectors, on_step) -> dict[str, Any]:
    """OOD score = cosine distance to the k-th nearest gallery image; threshold from held-out queries."""
    setup = data.ood
    assert setup is not None
    out: dict[str, Any] = {"k": OOD_K, "calibration_quantile": OOD_CALIBRATION_QUANTILE,
                           "n_in_distribution": len(setup.in_distribution),
                           "outlier_sets": {name: len(items) for name, items in setup.outliers.items()},
                           "methods": {}}  # fmt: skip
    for method in methods:
        if on_step:
            on_step(f"OOD: {method.name}")
        gallery = vectors.get(method, "image", setup.gallery)

        def distance(items, method=method, gallery=gallery):
            return kth_neighbour_distance(vectors.get(method, "image", items), gallery, OOD_K)

        threshold = float(np.quantile(distance(setup.calibration), OOD_CALIBRATION_QUANTILE))
        inside = distance(setup.in_distribution)
        result: dict[str, Any] = {"threshold": round(threshold, 4),
                                  "in_distribution_flagged": round(float((inside > threshold).mean()), 4)}  # fmt: skip
        for name, items in setup.outliers.items():
            outside = distance(items)
            result[name] = {
                "auroc": round(auroc(inside, outside), 4),
                "flagged": round(float((outside > threshold).mean()), 4),
            }
        out["methods"][method.name] = result
    return out
