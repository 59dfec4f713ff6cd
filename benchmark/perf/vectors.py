"""Synthetic vectors for the store benchmark, and exact nearest neighbours to score it against.

Two kinds, both unit rows of the default embedder's dimension:
- `uniform`: directions drawn uniformly on the sphere. Every point is about as far from its neighbours as
  from anything else, the hardest case for an approximate (HNSW) index; no real embedding looks like it.
- `clustered`: a Gaussian mixture of 50 components, each spread along its own 16-dimensional subspace
  (plus a little isotropic noise). Real image/report embeddings are like this: a few dozen conditions and
  views, each varying along few directions (low intrinsic dimension). The latency target applies here.
"""

from __future__ import annotations

import json
from typing import Literal

import numpy as np

Kind = Literal["uniform", "clustered"]
KINDS: tuple[Kind, ...] = ("uniform", "clustered")
COMPONENTS = 50
COMPONENT_RANK = 16
NOISE = 0.05


def default_dim() -> int:
    """The default 'bank' embedder's dimension, read from its architecture config (nothing is trained)."""
    from retrieval.embedders.open_clip_embedder import MODEL_CONFIGS
    from retrieval.training import ARCHITECTURES

    config = json.loads((MODEL_CONFIGS / f"{ARCHITECTURES['clip']}.json").read_text(encoding="utf-8"))
    return int(config["embed_dim"])


def _unit(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def sample(kind: Kind, n: int, dim: int, seed: int, draw: int) -> np.ndarray:
    """`n` unit vectors; the same seed gives the same mixture, `draw` separates data from queries."""
    rng = np.random.default_rng([seed, draw])
    if kind == "uniform":
        return _unit(rng.standard_normal((n, dim)))
    mixture = np.random.default_rng([seed, 0])
    centres = mixture.standard_normal((COMPONENTS, dim))
    # A component's spread (norm about sqrt(dim)) is comparable to the distance between centres (about
    # sqrt(2 dim)), so neighbours are mostly, not always, of one component.
    bases = mixture.standard_normal((COMPONENTS, COMPONENT_RANK, dim)) / np.sqrt(COMPONENT_RANK)
    component = rng.integers(0, COMPONENTS, n)
    spread = np.einsum("nr,nrd->nd", rng.standard_normal((n, COMPONENT_RANK)), bases[component])
    return _unit(centres[component] + spread + NOISE * rng.standard_normal((n, dim)))


def exact_top_k(data: np.ndarray, queries: np.ndarray, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """Indices of each query's k most similar rows (cosine = dot product of unit rows), best first;
    `exclude[i]` (a row index, or -1) is left out of query i's answer."""
    scores = queries @ data.T
    if exclude is not None:
        rows = np.nonzero(exclude >= 0)[0]
        scores[rows, exclude[rows]] = -np.inf
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)
