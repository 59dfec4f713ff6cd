"""An on-disk embedding cache keyed by content, so embedding the same image or text twice is free.

The key is sha256(embedder name, kind, content bytes): an image file and the same pixels given as a PIL
image hash differently (bytes of the file vs decoded pixels), which only costs one extra embedding.
SQLite because several processes (store ingest, benchmark, app) may share one data directory.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from retrieval.embedders.base import Embedder, ImageInput

CACHE_FILE = "embeddings.sqlite"


def image_key(embedder_name: str, image: ImageInput) -> str:
    digest = hashlib.sha256(f"{embedder_name}\0image\0".encode())
    if isinstance(image, Image.Image):
        digest.update(f"{image.mode}{image.size}".encode())
        digest.update(image.tobytes())
    else:
        digest.update(Path(image).read_bytes())
    return digest.hexdigest()


def text_key(embedder_name: str, text: str) -> str:
    return hashlib.sha256(f"{embedder_name}\0text\0{text}".encode()).hexdigest()


class EmbeddingCache:
    """Vectors by key in one SQLite table; `dim` guards against a name reused for a different model."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, dim INTEGER, data BLOB)")
        self._connection.commit()

    def get_many(self, keys: list[str], dim: int) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):  # SQLite caps the number of bound parameters
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._connection.execute(
                f"SELECT key, data FROM vectors WHERE dim = ? AND key IN ({marks})", [dim, *chunk]
            )
            found.update((key, np.frombuffer(data, dtype=np.float32)) for key, data in rows)
        return found

    def put_many(self, items: Iterable[tuple[str, np.ndarray]]) -> None:
        rows = [(key, int(vector.shape[0]), np.asarray(vector, np.float32).tobytes()) for key, vector in items]
        with self._connection:
            self._connection.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def close(self) -> None:
        self._connection.close()


class CachedEmbedder:
    """Wraps an embedder: looks every item up by content first and embeds only the misses."""

    def __init__(self, inner: Embedder, cache: EmbeddingCache) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.dim = inner.dim
        self.misses = 0  # items actually embedded (tests and progress reports read it)

    def embed_images(self, images: list[ImageInput]) -> np.ndarray:
        keys = [image_key(self.name, image) for image in images]
        return self._cached(keys, images, self.inner.embed_images)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        keys = [text_key(self.name, text) for text in texts]
        return self._cached(keys, texts, self.inner.embed_texts)

    def _cached(self, keys: list[str], items: list, embed: Callable[[list], np.ndarray]) -> np.ndarray:
        found = self.cache.get_many(list(dict.fromkeys(keys)), self.dim)
        missing = [i for i, key in enumerate(keys) if key not in found]
        # Identical items inside one call are embedded once.
        first_of_key = list({keys[i]: i for i in reversed(missing)}.values())
        if first_of_key:
            vectors = embed([items[i] for i in first_of_key])
            fresh = {keys[i]: vectors[row] for row, i in enumerate(first_of_key)}
            self.cache.put_many(fresh.items())
            found.update(fresh)
            self.misses += len(first_of_key)
        out = np.empty((len(keys), self.dim), dtype=np.float32)
        for row, key in enumerate(keys):
            out[row] = found[key]
        return out
