"""The Chroma case store: one image collection and one report collection per embedder.

Vectors are always ours (collections are created with `embedding_function=None`, so Chroma never loads
its default model, which would need the network). Collection names carry the embedder's name, so vectors
of two embedders never share a collection. The store is a `PersistentClient` folder (default
DATA_DIR/chroma) or a Chroma server reached with `HttpClient`. A persistent folder must not be written by
two processes at once, so writers hold an exclusive file lock.

Collection metadata keeps what a reader needs without the embedder: its name and dimension, the regions
seen, and the OOD calibration (see `ood.py`), so the calibration travels with the collection, whether
it lives in a folder or on a server.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np

# image: vectors of the image embedder; report: of the text embedder; appearance: raw pixels of the same
# images as an image collection (named after its embedder), which the OOD check uses (see ood.py).
Kind = Literal["image", "report", "appearance"]
COLLECTION_PREFIX = "cases"
HNSW = {"space": "cosine", "ef_construction": 128, "ef_search": 128, "max_neighbors": 32}
LOCK_FILE = ".writer.lock"
# Chroma's own limit is 5,461 records per call; smaller writes keep each request and its memory modest.
WRITE_BATCH = 1000
# How many extra neighbours a "not this case" query asks for, to drop the case's own items afterwards
# (a case holds a few images at most). See StoreCollection.query_other_cases.
EXCLUDE_SLACK = 8


class StoreError(RuntimeError):
    """A store that cannot be opened or written (busy, unreachable, wrong embedder); shown without traceback."""


def collection_name(kind: Kind, embedder_name: str) -> str:
    """`cases-image-NAME`; names Chroma would refuse (characters, length) get a slug plus a short hash."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", embedder_name).strip("-._") or "embedder"
    name = f"{COLLECTION_PREFIX}-{kind}-{slug}"
    if slug != embedder_name or len(name) > 60:
        digest = hashlib.sha256(embedder_name.encode("utf-8")).hexdigest()[:8]
        name = f"{COLLECTION_PREFIX}-{kind}-{slug[:40].rstrip('-._')}-{digest}"
    return name


@dataclass(frozen=True)
class Hit:
    """One raw nearest neighbour as Chroma returns it (distance is cosine distance, 1 - similarity)."""

    id: str
    distance: float
    metadata: dict[str, Any]
    document: str

    @property
    def similarity(self) -> float:
        return 1.0 - self.distance


class StoreCollection:
    """One Chroma collection plus what we keep in its metadata."""

    def __init__(self, collection: Any, max_batch: int = WRITE_BATCH):
        self.chroma = collection
        self.max_batch = max_batch  # the client's limit per write (Chroma 1.5.9: 5,461)

    @property
    def name(self) -> str:
        return self.chroma.name

    @property
    def meta(self) -> dict[str, Any]:
        return dict(self.chroma.metadata or {})

    @property
    def embedder_name(self) -> str:
        return str(self.meta.get("embedder", ""))

    def count(self) -> int:
        return self.chroma.count()

    def existing_ids(self, ids: list[str], batch: int = WRITE_BATCH) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), batch):
            found.update(self.chroma.get(ids=ids[start : start + batch], include=[])["ids"])
        return found

    def add(
        self, ids: list[str], vectors: np.ndarray, metadatas: list[dict], documents: list[str], batch: int = WRITE_BATCH
    ) -> None:
        batch = min(batch, self.max_batch)
        for start in range(0, len(ids), batch):
            stop = start + batch
            self.chroma.add(
                ids=ids[start:stop],
                embeddings=np.asarray(vectors[start:stop], dtype=np.float32),
                metadatas=metadatas[start:stop],
                documents=documents[start:stop],
            )

    def query(self, vectors: np.ndarray, n: int, where: dict | None = None, documents: bool = True) -> list[list[Hit]]:
        """Nearest neighbours of each row of `vectors`, nearest first (fewer than n when fewer match);
        `documents=False` leaves each hit's document empty (cheaper when only distances and metadata count)."""
        if n <= 0:
            return [[] for _ in range(len(vectors))]
        include = ["distances", "metadatas", *(["documents"] if documents else [])]
        result = self.chroma.query(
            query_embeddings=np.asarray(vectors, dtype=np.float32), n_results=n, where=where, include=include
        )
        texts = result["documents"] if documents else [[""] * len(ids) for ids in result["ids"]]
        return [
            [
                Hit(id=i, distance=float(d), metadata=dict(m or {}), document=doc or "")
                for i, d, m, doc in zip(ids, dists, metas, docs)
            ]
            for ids, dists, metas, docs in zip(result["ids"], result["distances"], result["metadatas"], texts)
        ]

    def query_other_cases(
        self, vectors: np.ndarray, n: int, exclude: list[str | None], where: dict | None = None, documents: bool = True
    ) -> list[list[Hit]]:
        """Nearest neighbours of each row of `vectors` outside the case `exclude[row]` (None: any case).

        Chroma evaluates a metadata filter over the whole collection before the vector search, so a
        `{"case_id": {"$ne": ...}}` filter made each query cost p95 240 ms at 100k records against 2 ms
        unfiltered. Instead all rows go in one query for n + EXCLUDE_SLACK neighbours, and the excluded
        case's own items are dropped here; a row that comes up short while more records exist (its case
        fills the slack) is asked again with the filter.
        """
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(exclude), -1)
        if n <= 0 or len(exclude) == 0:
            return [[] for _ in exclude]
        wanted = n + (EXCLUDE_SLACK if any(exclude) else 0)
        results = []
        for row, (hits, case) in enumerate(zip(self.query(vectors, wanted, where, documents), exclude)):
            kept = [hit for hit in hits if not case or hit.metadata.get("case_id") != case]
            if len(kept) < n and len(hits) == wanted:
                kept = self.query(vectors[row : row + 1], n, all_of(where, {"case_id": {"$ne": case}}), documents)[0]
            results.append(kept[:n])
        return results

    def sample(self, limit: int, seed: int = 0) -> tuple[np.ndarray, list[dict]]:
        """Up to `limit` stored vectors with their metadata, drawn evenly over the collection."""
        total = self.count()
        if total == 0:
            return np.zeros((0, int(self.meta.get("dim", 0))), dtype=np.float32), []
        all_ids: list[str] = []
        for offset in range(0, total, WRITE_BATCH * 5):
            all_ids += self.chroma.get(offset=offset, limit=WRITE_BATCH * 5, include=[])["ids"]
        rng = np.random.default_rng(seed)
        chosen = sorted(rng.choice(len(all_ids), size=min(limit, len(all_ids)), replace=False).tolist())
        got = self.chroma.get(ids=[all_ids[i] for i in chosen], include=["embeddings", "metadatas"])
        return np.asarray(got["embeddings"], dtype=np.float32), [dict(m or {}) for m in got["metadatas"]]

    def update_meta(self, **values: Any) -> None:
        meta = self.meta
        meta.update({k: v for k, v in values.items() if v is not None})
        self.chroma.modify(metadata=meta)

    @property
    def regions(self) -> list[str]:
        return [r for r in str(self.meta.get("regions", "")).split("|") if r]

    @property
    def calibration(self) -> dict[str, Any] | None:
        raw = self.meta.get("ood")
        return json.loads(raw) if raw else None


class CaseStore:
    """A Chroma client (persistent folder or server) and the case collections in it."""

    def __init__(self, client: Any, location: str, lock_path: Path | None = None):
        self.client = client
        self.location = location
        self._lock_path = lock_path
        self.max_batch = min(WRITE_BATCH, int(client.get_max_batch_size()))

    @classmethod
    def open(cls, path: Path | None = None, url: str = "") -> CaseStore:
        """A server when `url` is given, else the persistent folder `path` (created if missing)."""
        import chromadb

        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        chroma_settings = chromadb.Settings(anonymized_telemetry=False)
        if url:
            host, port, ssl = _parse_url(url)
            try:
                client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=chroma_settings)
                client.heartbeat()
            except Exception as error:  # noqa: BLE001 - connection errors come in many types
                raise StoreError(f"cannot reach the Chroma server at {url}: {error}") from None
            return cls(client, url)
        if path is None:
            raise ValueError("a store needs a folder or a server URL")
        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        return cls(client, str(path), lock_path=path / LOCK_FILE)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the single-writer lock of a persistent folder (a server serialises writes itself)."""
        if self._lock_path is None:
            yield
            return
        with open(self._lock_path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise StoreError(
                    f"{self.location}: another process ({holder}) is writing to this store; "
                    "wait for it to finish (one writer at a time)"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}")
            handle.flush()
            try:
                yield
            finally:
                handle.seek(0)
                handle.truncate()
                fcntl.flock(handle, fcntl.LOCK_UN)

    @overload
    def collection(
        self, kind: Kind, embedder_name: str, dim: int | None = None, *, create: Literal[True], vectors: str = ""
    ) -> StoreCollection: ...

    @overload
    def collection(
        self, kind: Kind, embedder_name: str, dim: int | None = None, create: bool = False, vectors: str = ""
    ) -> StoreCollection | None: ...

    def collection(
        self, kind: Kind, embedder_name: str, dim: int | None = None, create: bool = False, vectors: str = ""
    ) -> StoreCollection | None:
        """The collection of `kind` for this embedder; None if it does not exist and `create` is False.
        `vectors` names what computes the vectors when it is not the embedder itself (appearance)."""
        from chromadb.errors import NotFoundError

        name = collection_name(kind, embedder_name)
        try:
            found = StoreCollection(self.client.get_collection(name), self.max_batch)
        except (NotFoundError, ValueError):
            if not create:
                return None
            meta = {
                "kind": kind,
                "embedder": embedder_name,
                "vectors": vectors or embedder_name,
                "dim": int(dim or 0),
                "created_by": "clinsim",
            }
            return StoreCollection(
                self.client.create_collection(
                    name, embedding_function=None, configuration={"hnsw": dict(HNSW)}, metadata=meta
                ),
                self.max_batch,
            )
        if found.embedder_name != embedder_name:
            raise StoreError(
                f"{self.location}: collection {name} holds vectors of '{found.embedder_name}', not '{embedder_name}'"
            )
        if dim and int(found.meta.get("dim", dim)) != dim:
            raise StoreError(
                f"{self.location}: collection {name} has {found.meta.get('dim')}-d vectors but the "
                f"embedder gives {dim}-d ones"
            )
        return found

    def collections(self) -> list[StoreCollection]:
        """Every case collection in the store (other collections, e.g. experiences, are skipped)."""
        found = []
        for listed in self.client.list_collections():
            name = listed if isinstance(listed, str) else listed.name
            if name.startswith(f"{COLLECTION_PREFIX}-"):
                found.append(StoreCollection(self.client.get_collection(name), self.max_batch))
        return sorted(found, key=lambda c: c.name)


def all_of(*clauses: dict | None) -> dict | None:
    """One Chroma `where` from several (None when there are none)."""
    present = [c for c in clauses if c]
    if not present:
        return None
    return present[0] if len(present) == 1 else {"$and": present}


def _parse_url(url: str) -> tuple[str, int, bool]:
    from urllib.parse import urlsplit

    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StoreError(f"--chroma-url: expected http://HOST:PORT, got '{url}'")
    ssl = parts.scheme == "https"
    return parts.hostname, parts.port or (443 if ssl else 8000), ssl


def persistent_store_exists(path: Path) -> bool:
    """True when `path` holds a Chroma folder (checked without creating one)."""
    return (path / "chroma.sqlite3").is_file()
