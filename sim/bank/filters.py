"""Small numpy-only image helpers (no scipy needed, and the same result on every machine)."""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def gaussian_kernel(sigma: float) -> Array:
    radius = max(1, int(np.ceil(3.0 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def _convolve_axis(image: Array, kernel: Array, axis: int) -> Array:
    # A sum of shifted copies: for the small kernels used here this is faster than FFT and exact.
    radius = len(kernel) // 2
    pad = [(0, 0), (0, 0)]
    pad[axis] = (radius, radius)
    padded = np.pad(image, pad, mode="edge")
    out = np.zeros_like(image)
    length = image.shape[axis]
    for offset, weight in enumerate(kernel):
        out += weight * np.take(padded, np.arange(offset, offset + length), axis=axis)
    return out


def gaussian_blur(image: Array, sigma: float) -> Array:
    if sigma <= 0.05:
        return image.copy()
    kernel = gaussian_kernel(sigma)
    return _convolve_axis(_convolve_axis(image, kernel, 0), kernel, 1)


def smoothstep(edge0: float | Array, edge1: float | Array, x: Array) -> Array:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


class ValueNoise:
    """Smooth random field: random values on a coarse grid, sampled with smooth bilinear weights.

    The field lives in anatomical (u, v) space, so texture moves with the patient under the nuisance
    transform instead of sticking to the pixel grid.
    """

    def __init__(self, rng: np.random.Generator, cell: float, extent: tuple[float, float, float, float]):
        self.u0, self.u1, self.v0, self.v1 = extent
        self.cell = cell
        cols = int(np.ceil((self.u1 - self.u0) / cell)) + 2
        rows = int(np.ceil((self.v1 - self.v0) / cell)) + 2
        self.grid = rng.standard_normal((rows, cols))

    def __call__(self, u: Array, v: Array) -> Array:
        gx = np.clip((u - self.u0) / self.cell, 0.0, self.grid.shape[1] - 1.001)
        gy = np.clip((v - self.v0) / self.cell, 0.0, self.grid.shape[0] - 1.001)
        ix, iy = gx.astype(int), gy.astype(int)
        fx, fy = gx - ix, gy - iy
        fx, fy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
        g = self.grid
        top = g[iy, ix] * (1 - fx) + g[iy, ix + 1] * fx
        bottom = g[iy + 1, ix] * (1 - fx) + g[iy + 1, ix + 1] * fx
        return top * (1 - fy) + bottom * fy


def _interpolate_axis(coarse: Array, step: int, fine_len: int, axis: int) -> Array:
    """Linear interpolation along one axis from samples taken every `step` pixels to every pixel.

    Plain gathers rather than an interpolation-matrix product: BLAS threads stall badly on a busy
    machine, and this is just as fast on an idle one.
    """
    coarse_len = coarse.shape[axis]
    position = np.clip(np.arange(fine_len) / step, 0.0, coarse_len - 1.0)
    left = np.minimum(position.astype(int), max(coarse_len - 2, 0))
    right = np.minimum(left + 1, coarse_len - 1)
    frac = position - left
    shape = [1, 1]
    shape[axis] = fine_len
    frac = frac.reshape(shape)
    return np.take(coarse, left, axis=axis) * (1.0 - frac) + np.take(coarse, right, axis=axis) * frac


def upsample_linear(coarse: Array, step: int, shape: tuple[int, ...]) -> Array:
    """Bilinear upsampling of `coarse` (sampled at pixels 0, step, 2*step, ...) to `shape`."""
    return _interpolate_axis(_interpolate_axis(coarse, step, shape[0], 0), step, shape[1], 1)
