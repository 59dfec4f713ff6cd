"""The embedder interface every store, benchmark and retriever uses.

Vectors are always computed by us and handed to Chroma (never Chroma's default embedding function).
Rows are L2-normalised float32 so cosine similarity is a dot product.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

ImageInput = Image.Image | Path | str


@runtime_checkable
class Embedder(Protocol):
    name: str  # stable identifier, part of the store's collection name and the cache key
    dim: int

    def embed_images(self, images: list[ImageInput]) -> np.ndarray: ...  # (n, dim) float32, unit rows

    def embed_texts(self, texts: list[str]) -> np.ndarray: ...  # (n, dim) float32, unit rows


def l2_normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def load_image(image: ImageInput) -> Image.Image:
    return image if isinstance(image, Image.Image) else Image.open(image)
