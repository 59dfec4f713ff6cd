"""Seeded randomness: per-case generators derived from (seed, index), and small choice helpers.

Every random draw in the bank goes through a Generator made here; nothing touches numpy's or Python's
global random state, so a case depends only on (seed, index) and on nothing generated before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")

# Distinct leading words keep the seed sequences of different purposes (and of negative seeds, which
# SeedSequence cannot take directly) from ever coinciding.
_CASE_STREAM, _NEGATIVE_CASE_STREAM = 0x0CA5E, 0x1CA5E
_BLOCK_STREAM, _NEGATIVE_BLOCK_STREAM = 0x0B10C, 0x1B10C


def _entropy(stream: int, negative_stream: int, seed: int, position: int) -> list[int]:
    return [stream, seed, position] if seed >= 0 else [negative_stream, -seed, position]


STREAMS = ("clinical", "image", "report", "options")


def case_generators(seed: int, index: int) -> dict[str, np.random.Generator]:
    """Independent generators per aspect of one case, so editing report phrasings never moves pixels."""
    if index < 0:
        raise ValueError(f"case index must be non-negative, got {index}")
    children = np.random.SeedSequence(_entropy(_CASE_STREAM, _NEGATIVE_CASE_STREAM, seed, index)).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children, strict=True)}


def block_permutation(seed: int, block: int, size: int) -> list[int]:
    """A shuffled order of `size` items for one block of consecutive cases (stratified balance)."""
    rng = np.random.default_rng(np.random.SeedSequence(_entropy(_BLOCK_STREAM, _NEGATIVE_BLOCK_STREAM, seed, block)))
    return rng.permutation(size).tolist()


def pick(rng: np.random.Generator, options: Sequence[T]) -> T:
    return options[int(rng.integers(len(options)))]


def pick_some(rng: np.random.Generator, options: Sequence[T], low: int, high: int) -> list[T]:
    """Between low and high distinct items, in their listed order (so lists read naturally)."""
    count = int(rng.integers(low, min(high, len(options)) + 1))
    chosen = sorted(rng.choice(len(options), size=count, replace=False).tolist())
    return [options[i] for i in chosen]


def chance(rng: np.random.Generator, probability: float) -> bool:
    return bool(rng.random() < probability)
