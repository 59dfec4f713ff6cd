"""Store latency and recall: N vectors of the default embedding dimension in Chroma, queried one at a
time at k=10, scored against exact numpy search of the same vectors.

For each size and vector kind (see `vectors.py`): a child process fills a persistent collection with the
store's HNSW settings (`retrieval.store.HNSW`), a fresh child queries it (p50/p95 latency, recall@10,
unfiltered and with the retriever's "not this case" filter, the query process's peak memory), then
optionally re-queries it at other `ef_search` values (the accuracy/latency trade-off), then answers the
same queries from a raw HNSW index and exact numpy search (`index_alone`: the store's overhead as a ratio). The same is done
through a Chroma server on loopback (`chroma run`, started and stopped here) for the clustered vectors.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmark.perf.vectors import Kind, exact_top_k, sample
from retrieval.chroma_server import chroma_server

K = 10
SEED = 0


def _child(spec: dict, timeout_s: float = 3600) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "benchmark.perf.store_child", json.dumps(spec)],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"store child ({spec['action']}) failed: {tail}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _write_vectors(folder: Path, kind: Kind, n: int, dim: int, queries: int) -> dict:
    """Data, queries, exact answers (plain, and with each query's nearest case excluded) as .npy files."""
    folder.mkdir(parents=True, exist_ok=True)
    data, probe = sample(kind, n, dim, SEED, 1), sample(kind, queries, dim, SEED, 2)
    truth = exact_top_k(data, probe, K + 1)
    # The filtered query excludes the nearest case, as a case's own image is excluded when it queries.
    excluded = truth[:, 0]
    paths = {
        "data": folder / "data.npy",
        "queries": folder / "queries.npy",
        "truth": folder / "truth.npy",
        "filtered_truth": folder / "filtered_truth.npy",
        "excluded": folder / "excluded.npy",
    }
    np.save(paths["data"], data)
    np.save(paths["queries"], probe)
    np.save(paths["truth"], truth[:, :K])
    np.save(paths["filtered_truth"], truth[:, 1 : K + 1])
    np.save(paths["excluded"], excluded)
    return {name: str(path) for name, path in paths.items()}


def _measure(files: dict, where: dict, collection: str, hnsw: dict, ef_sweep: list[int]) -> dict:
    built = _child({"action": "build", **where, "collection": collection, "data": files["data"], "hnsw": hnsw})
    queried = _child(
        {
            "action": "query",
            **where,
            "collection": collection,
            "k": K,
            "ef_search": ef_sweep,
            "data": files["data"],
            "hnsw": hnsw,
            **{key: files[key] for key in ("queries", "truth", "filtered_truth", "excluded")},
        }
    )
    return {**built, **queried}


def measure_store(
    work_dir: Path,
    sizes: list[int],
    kinds: list[Kind],
    dim: int,
    queries: int,
    hnsw: dict,
    ef_sweep: list[int],
    server: bool,
    step: Callable[[str], None] = lambda _: None,
) -> dict:
    result: dict = {"dim": dim, "k": K, "queries": queries, "hnsw": dict(hnsw), "persistent": {}, "server": {}}
    vector_files = {}
    for kind in kinds:
        for n in sizes:
            step(f"store: {n:,} {kind} vectors, persistent")
            vector_files[(kind, n)] = files = _write_vectors(
                work_dir / "vectors" / f"{kind}-{n}", kind, n, dim, queries
            )
            where = {"path": str(work_dir / "persistent" / f"{kind}-{n}")}
            result["persistent"].setdefault(kind, {})[str(n)] = _measure(files, where, "perf-vectors", hnsw, ef_sweep)
    if server:
        with chroma_server(work_dir / "server-data", work_dir / "chroma-server.log") as url:
            for n in sizes:
                step(f"store: {n:,} clustered vectors, server")
                files = vector_files.get(("clustered", n)) or _write_vectors(
                    work_dir / "vectors" / f"clustered-{n}", "clustered", n, dim, queries
                )
                result["server"].setdefault("clustered", {})[str(n)] = _measure(
                    files, {"url": url}, f"perf-clustered-{n}", hnsw, []
                )
    return result
