"""Retrieval test kit: a tiny deterministic embedder and shared fixtures (import them into a test module).

The embedder is 16x16 mean-centred pixels for images and a hashed bag of words for texts: no model, no
download, milliseconds per batch, and good enough that bank radiographs are near each other and far
from noise or photographs.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from retrieval.embedders.base import ImageInput, l2_normalise, load_image
from sim.bank import generate_bank

TINY_BANK_CASES = 44  # 4 of each of the 11 conditions


class TinyEmbedder:
    def __init__(self, size: int = 16, name: str = "tiny-test") -> None:
        self.size = size
        self.dim = size * size
        self.name = name

    def embed_images(self, images: list[ImageInput]) -> np.ndarray:
        rows = np.empty((len(images), self.dim), dtype=np.float32)
        for row, image in enumerate(images):
            gray = load_image(image).convert("L").resize((self.size, self.size), Image.Resampling.BILINEAR)
            rows[row] = np.asarray(gray, dtype=np.float32).ravel()
        return l2_normalise(rows - rows.mean(axis=1, keepdims=True))

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                rows[row, zlib.crc32(word.encode()) % self.dim] += 1.0
        return l2_normalise(rows)


@pytest.fixture(scope="session")
def tiny_bank(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bank") / "bank"
    generate_bank(TINY_BANK_CASES, seed=7, out=out, size=96, bank="findings")
    return out


@pytest.fixture(scope="session")
def archive_bank(tmp_path_factory) -> Path:
    """A second bank (another seed, 12 cases per condition) to fill a store the tiny bank's cases query."""
    out = tmp_path_factory.mktemp("archive") / "bank"
    generate_bank(132, seed=8, out=out, size=96, bank="findings")
    return out


@pytest.fixture
def tiny_embedder(monkeypatch) -> TinyEmbedder:
    """The tiny embedder, also installed as what any embedder spec in the settings builds."""
    embedder = TinyEmbedder()
    monkeypatch.setattr("retrieval.wiring.build_embedder", lambda spec, settings: embedder)
    monkeypatch.setattr("retrieval.wiring.prepare_embedders", lambda settings, console=None: None)
    return embedder


def noise_image(seed: int = 0, size: int = 96) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8))


def photographs() -> dict[str, Image.Image]:
    data = pytest.importorskip("skimage.data", reason="scikit-image provides the sample photographs")
    return {
        name: Image.fromarray(getattr(data, name)()) for name in ("astronaut", "coffee", "chelsea", "camera", "rocket")
    }
