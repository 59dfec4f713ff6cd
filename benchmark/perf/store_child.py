"""The store benchmark's child processes: one fills a collection, a fresh one opens it and queries it.

A fresh process per query pass measures what a reader of the store pays (loading the index included) and
its peak memory, and never has two processes holding one persistent folder at once. Run as
`python -m benchmark.perf.store_child SPEC_JSON`; prints one JSON line.

Beside the store, the same child answers the same queries from the index alone: a raw HNSW index
(`chroma-hnswlib`, the hnswlib fork Chroma's index comes from, with the store's settings, in memory) and
exact numpy search. The store's p95 over the raw index's is the store's own overhead (client, SQLite
metadata, documents, the process boundary of a persistent client), a ratio that holds across machines.

Records look like the case store's: the same metadata keys and a report-sized document, queried through
`StoreCollection.query` (distances, metadata and documents), unfiltered and with the retriever's
"not this case" filter.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPORT = (
    "FINDINGS: PA chest radiograph. Patchy airspace opacification in the right lower zone with air "
    "bronchograms. No pleural effusion or pneumothorax. Heart size normal. Mediastinum central.\n\n"
    "IMPRESSION: Right lower zone consolidation, in keeping with pneumonia."
)


def case_id(index: int) -> str:
    return f"case-{index:06d}"


def record_metadata(index: int) -> dict:
    return {
        "case_id": case_id(index),
        "diagnosis": "Community-acquired pneumonia",
        "condition": "pneumonia",
        "modality": "X-ray",
        "body_region": "chest",
        "regions": "right lower zone",
        "source": "perf",
        "image": f"images/{case_id(index)}.png",
        "region_right_lower_zone": True,
    }


def _open(spec: dict):
    from retrieval.store import CaseStore

    return CaseStore.open(path=Path(spec["path"]) if spec.get("path") else None, url=spec.get("url", ""))


def build(spec: dict) -> dict:
    from retrieval.store import StoreCollection

    data = np.load(spec["data"])
    store = _open(spec)
    collection = StoreCollection(
        store.client.create_collection(
            spec["collection"],
            embedding_function=None,
            configuration={"hnsw": spec["hnsw"]},
            metadata={"kind": "image", "embedder": "perf", "dim": int(data.shape[1])},
        ),
        store.max_batch,
    )
    ids = [case_id(i) for i in range(len(data))]
    started = time.perf_counter()
    collection.add(ids, data, [record_metadata(i) for i in range(len(data))], [REPORT] * len(data))
    seconds = time.perf_counter() - started
    return {"insert_s": round(seconds, 3), "inserts_per_s": round(len(data) / seconds, 1), "batch": store.max_batch}


def _pass(
    collection, queries: np.ndarray, truth: np.ndarray, k: int, exclude: list[str | None], chroma_filter: bool = False
) -> dict:
    """Latency and recall of one pass. With `exclude`, each query leaves one case out: by the store's own
    method (unfiltered query, own items dropped), or with `chroma_filter` by a Chroma `$ne` filter, the
    way it was done before, measured beside it."""
    from benchmark.perf.stats import distribution

    latencies, recalls = [], []
    for row, query in enumerate(queries):
        started = time.perf_counter()
        if chroma_filter:
            hits = collection.query(query[None, :], k, {"case_id": {"$ne": exclude[row]}})[0]
        else:  # with no case to leave out this is a plain query for k
            hits = collection.query_other_cases(query[None, :], k, [exclude[row]])[0]
        latencies.append(1000 * (time.perf_counter() - started))
        wanted = {case_id(int(i)) for i in truth[row]}
        recalls.append(len(wanted & {hit.id for hit in hits}) / k)
    return {"latency_ms": distribution(latencies), "recall_at_10": round(float(np.mean(recalls)), 4)}


def raw_index(data: np.ndarray, queries: np.ndarray, truth: np.ndarray, k: int, hnsw: dict) -> dict:
    """The same single queries answered by a raw HNSW index (the store's HNSW settings) and by exact numpy
    search over the same vectors; {"skipped": ...} for the HNSW part when `chroma-hnswlib` is not installed."""
    from benchmark.perf.stats import distribution
    from benchmark.perf.vectors import exact_top_k

    result: dict = {}
    latencies = []
    for query in queries:
        started = time.perf_counter()
        exact_top_k(data, query[None, :], k)
        latencies.append(1000 * (time.perf_counter() - started))
    result["exact_numpy"] = {"latency_ms": distribution(latencies)}
    try:
        import hnswlib
    except ImportError:
        result["raw_hnsw"] = {"skipped": "chroma-hnswlib is not installed (pip install 'clinsim[bench]')"}
        return result
    index = hnswlib.Index(space=hnsw.get("space", "cosine"), dim=int(data.shape[1]))
    started = time.perf_counter()
    index.init_index(max_elements=len(data), ef_construction=int(hnsw["ef_construction"]), M=int(hnsw["max_neighbors"]))
    index.add_items(data, np.arange(len(data)))
    index.set_ef(int(hnsw["ef_search"]))
    build_s = time.perf_counter() - started
    latencies, recalls = [], []
    for row, query in enumerate(queries):
        started = time.perf_counter()
        labels, _ = index.knn_query(query[None, :], k=k)
        latencies.append(1000 * (time.perf_counter() - started))
        recalls.append(len(set(truth[row].tolist()) & set(labels[0].tolist())) / k)
    result["raw_hnsw"] = {
        "build_s": round(build_s, 3),
        "latency_ms": distribution(latencies),
        "recall_at_10": round(float(np.mean(recalls)), 4),
    }
    return result


def _ids_only(collection, queries: np.ndarray, k: int) -> dict:
    """Chroma's own floor: the same queries asking for ids and distances only (no metadata, no documents),
    which splits the store's time into Chroma's query path and the fetching of what a hit carries."""
    from benchmark.perf.stats import distribution

    latencies = []
    for query in queries:
        started = time.perf_counter()
        collection.chroma.query(query_embeddings=query[None, :], n_results=k, include=["distances"])
        latencies.append(1000 * (time.perf_counter() - started))
    return {"latency_ms": distribution(latencies)}


def reset_peak_rss() -> bool:
    """Start the process's peak resident memory (VmHWM) afresh, so the next `peak_rss_mb` is the peak of
    what ran since, not of everything the process did before (Linux: "5" to /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """The process's peak resident memory so far (VmHWM; ru_maxrss where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def query(spec: dict) -> dict:
    import chromadb

    from retrieval.store import StoreCollection

    queries, truth = np.load(spec["queries"]), np.load(spec["truth"])
    k = int(spec.get("k", 10))
    started = time.perf_counter()
    store = _open(spec)
    collection = StoreCollection(store.client.get_collection(spec["collection"]), store.max_batch)
    first = time.perf_counter()
    collection.query(queries[:1], k)  # the first query loads the index
    result: dict[str, Any] = {
        "open_s": round(first - started, 3),
        "first_query_ms": round(1000 * (time.perf_counter() - first), 2),
    }
    result.update(_pass(collection, queries, truth, k, [None] * len(queries)))
    if spec.get("filtered_truth"):
        excluded: list[str | None] = [case_id(int(i)) for i in np.load(spec["excluded"])]
        filtered_truth = np.load(spec["filtered_truth"])
        result["filtered"] = _pass(collection, queries, filtered_truth, k, excluded)
        result["filtered_chroma_where"] = _pass(collection, queries, filtered_truth, k, excluded, chroma_filter=True)
    result["peak_rss_mb"] = peak_rss_mb()
    sweep = []
    for ef in spec.get("ef_search", []):
        # ef_search is read when the index is loaded: change it, then reopen the client.
        collection.chroma.modify(configuration={"hnsw": {"ef_search": int(ef)}})
        chromadb.api.client.SharedSystemClient.clear_system_cache()
        store = _open(spec)
        collection = StoreCollection(store.client.get_collection(spec["collection"]), store.max_batch)
        collection.query(queries[:1], k)
        sweep.append({"ef_search": int(ef), **_pass(collection, queries, truth, k, [None] * len(queries))})
    if sweep:
        result["ef_search_sweep"] = sweep
    if spec.get("data") and spec.get("hnsw"):  # after peak_rss_mb: the raw index's memory is not the store's
        result["index_alone"] = raw_index(np.load(spec["data"]), queries, truth, k, spec["hnsw"])
        alone = result["index_alone"]
        alone["chroma_ids_only"] = _ids_only(collection, queries, k)
        raw_p95 = alone["raw_hnsw"].get("latency_ms", {}).get("p95")
        if raw_p95:  # the store's own overhead, as a ratio that carries across machines
            alone["store_over_raw_p95"] = round(result["latency_ms"]["p95"] / raw_p95, 2)
    return result


def main() -> None:
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    spec = json.loads(sys.argv[1])
    result = build(spec) if spec["action"] == "build" else query(spec)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
