"""The per-image drawing state shared by the anatomy and lesion painters."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.bank.filters import ValueNoise
from sim.bank.geometry import ChestShape, lung_mask
from sim.bank.regions import Side

Array = np.ndarray

# Anatomical extent any pixel can map to under the nuisance ranges; noise grids cover it.
NOISE_EXTENT = (-2.2, 2.2, -1.2, 2.2)


@dataclass
class Scene:
    """One image being drawn: pixel coordinates mapped to anatomy, and the density painted so far.

    `density` is radiographic brightness before display processing: 0 is air (black), about 1 bone.
    """

    u: Array
    v: Array
    shape: ChestShape
    pixel: float  # size of one pixel in u units, so lines can be drawn a fixed number of pixels wide
    rng: np.random.Generator
    density: Array = field(init=False)
    _lungs: dict[Side, Array] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.density = np.zeros_like(self.u)

    def lung(self, side: Side) -> Array:
        if side not in self._lungs:
            self._lungs[side] = lung_mask(self.shape, self.u, self.v, side)
        return self._lungs[side]

    def noise(self, cell: float) -> ValueNoise:
        """A fresh smooth random field with features about `cell` units wide."""
        return ValueNoise(self.rng, cell, NOISE_EXTENT)
