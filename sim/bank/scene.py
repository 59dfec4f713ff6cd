"""The per-image drawing state shared by the anatomy and lesion painters."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.bank.filters import ValueNoise, upsample_linear
from sim.bank.geometry import ChestShape, heart_mask, lung_mask, mediastinum_mask
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
    _mediastinum: Array | None = field(init=False, default=None)
    _heart: Array | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.density = np.zeros_like(self.u)

    @property
    def heart(self) -> Array:
        if self._heart is None:
            self._heart = heart_mask(self.shape, self.u, self.v)
        return self._heart

    @property
    def mediastinum(self) -> Array:
        if self._mediastinum is None:
            self._mediastinum = mediastinum_mask(self.shape, self.u, self.v, self.heart)
        return self._mediastinum

    def lung(self, side: Side) -> Array:
        if side not in self._lungs:
            self._lungs[side] = lung_mask(self.shape, self.u, self.v, side, self.mediastinum)
        return self._lungs[side]

    def noise(self, cell: float) -> ValueNoise:
        """A fresh smooth random field with features about `cell` units wide."""
        return ValueNoise(self.rng, cell, NOISE_EXTENT)

    def noise_image(self, cell: float, step: int = 4) -> Array:
        """A smooth random field over the whole image, sampled every `step` pixels and interpolated.

        Fields at least a few pixels wide lose nothing by this and it is several times faster.
        """
        field_ = self.noise(cell)
        coarse = field_(self.u[::step, ::step], self.v[::step, ::step])
        return upsample_linear(coarse, step, self.u.shape)
