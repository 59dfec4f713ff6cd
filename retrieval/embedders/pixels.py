"""Raw-pixel baseline: a downsized grayscale image as the vector. Images only.

With `centre=True` each image's own mean intensity is removed first, so cosine similarity becomes
Pearson correlation and a globally brighter or darker exposure stops counting as a difference.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from retrieval.embedders.base import ImageInput, l2_normalise, load_image


class RawPixelEmbedder:
    def __init__(self, size: int = 32, centre: bool = False) -> None:
        self.size = size
        self.centre = centre
        self.dim = size * size
        self.name = f"pixels-{size}{'-centred' if centre else ''}"

    def embed_images(self, images: list[ImageInput]) -> np.ndarray:
        rows = np.empty((len(images), self.dim), dtype=np.float32)
        for row, image in enumerate(images):
            gray = load_image(image).convert("L").resize((self.size, self.size), Image.Resampling.BILINEAR)
            rows[row] = np.asarray(gray, dtype=np.float32).ravel() / 255.0
        if self.centre:
            rows -= rows.mean(axis=1, keepdims=True)
        return l2_normalise(rows)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        raise TypeError("the raw-pixel embedder embeds images only; use a text embedder for reports")
