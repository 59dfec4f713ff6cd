"""Analytic chest anatomy in normalised coordinates.

Every structure is a closed-form function of (u, v), so drawing never depends on pixel size and the
nuisance transform (shift, rotation, scale) is applied once, by mapping pixels into (u, v).

  u: horizontal, 0 at the midline, -1 / +1 at the inner chest wall of the patient's right / left
     (patient's right is on the viewer's left on a PA film);
  v: vertical, downwards, 0 at the top of the lung apices, about 1 at the costophrenic angles.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from sim.bank.regions import Side

Array = np.ndarray

# A v unit is about this many u units long on the film; shapes that must look round use it.
FILM_ASPECT = 1.6
# One u unit is the width of an adult hemithorax, about 14 cm; reports quote sizes with it.
MM_PER_U = 140.0


def side_sign(side: Side) -> float:
    """-1 for the patient's right (viewer's left), +1 for the left."""
    return -1.0 if side == "right" else 1.0


@dataclass(frozen=True)
class ChestShape:
    """Body-habitus parameters of one patient; pathology that changes anatomy edits a copy."""

    heart_half_width: float = 0.44  # equals the cardiothoracic ratio, since the thorax is 2 units wide
    heart_right_border: float = -0.27
    heart_center_v: float = 0.80
    heart_half_height: float = 0.19
    heart_tilt: float = 0.45  # radians: the long axis runs from the upper right down to the apex on the left
    dome_right_v: float = 0.80  # top of the right hemidiaphragm; the liver keeps it higher than the left
    dome_left_v: float = 0.85
    body_half_width: float = 1.22
    apex_sharpness: float = 0.55
    hilum_v: float = 0.47

    @property
    def cardiothoracic_ratio(self) -> float:
        return self.heart_half_width

    @property
    def heart_center_u(self) -> float:
        return self.heart_right_border + self.heart_half_width

    def with_cardiothoracic_ratio(self, ratio: float) -> ChestShape:
        # An enlarging heart grows mostly to the left and a little to the right and downwards.
        grow = ratio - self.heart_half_width
        return replace(
            self,
            heart_half_width=ratio,
            heart_right_border=self.heart_right_border - 0.3 * grow,
            heart_half_height=self.heart_half_height + 0.4 * grow,
        )

    def hilum(self, side: Side) -> tuple[float, float]:
        return side_sign(side) * 0.24, self.hilum_v


def diaphragm_v(shape: ChestShape, u: Array) -> Array:
    """Height of the diaphragm under each column: two domes, lowest at the costophrenic angles."""
    right = shape.dome_right_v + 0.85 * (u + 0.46) ** 2
    left = shape.dome_left_v + 0.85 * (u - 0.48) ** 2
    return np.where(u < 0, right, left)


def lateral_wall_u(v: Array) -> Array:
    """Distance of the inner chest wall from the midline at height v (narrow apex, widest at the bases)."""
    return 0.62 + 0.38 * np.sqrt(np.clip(v / 0.78, 0.0, 1.0))


def heart_mask(shape: ChestShape, u: Array, v: Array) -> Array:
    """A tilted ellipse; its lower half hides in the abdomen, leaving the familiar sloping left border.

    The long axis is chosen so the horizontal extent is exactly `heart_half_width`, which keeps the
    cardiothoracic ratio an honest number.
    """
    du, dv = u - shape.heart_center_u, (v - shape.heart_center_v) * FILM_ASPECT
    cos, sin = np.cos(shape.heart_tilt), np.sin(shape.heart_tilt)
    minor = shape.heart_half_height * FILM_ASPECT
    major = np.sqrt(max(shape.heart_half_width**2 - (minor * sin) ** 2, 1e-4)) / cos
    along, across = cos * du + sin * dv, -sin * du + cos * dv
    return (along / major) ** 2 + (across / minor) ** 2 < 1.0


def mediastinum_mask(shape: ChestShape, u: Array, v: Array, heart: Array | None = None) -> Array:
    """Upper mediastinum with the aortic knob bulging to the patient's left, plus the heart."""
    knob = 0.09 * np.exp(-(((v - 0.26) / 0.07) ** 2))
    right_border = -0.13 - 0.03 * np.clip(v - 0.3, 0, None)
    left_border = 0.14 + knob
    upper = (u > right_border) & (u < left_border) & (v < shape.heart_center_v)
    # The heart rests on the diaphragm: fill between its lower half and the domes so no lung shows there.
    centre, half = shape.heart_center_u, shape.heart_half_width
    base = (v > shape.heart_center_v) & (u > centre - 0.85 * half) & (u < centre + 0.55 * half)
    return upper | base | (heart_mask(shape, u, v) if heart is None else heart)


def lung_mask(shape: ChestShape, u: Array, v: Array, side: Side, mediastinum: Array | None = None) -> Array:
    """Inside one lung. Pass a precomputed `mediastinum_mask` for the same (u, v) to save time."""
    au = side_sign(side) * u  # distance from the midline towards this lung's chest wall
    apex_top = shape.apex_sharpness * ((au - 0.44) / 0.44) ** 2  # dome-shaped apex
    inside = (au > 0.05) & (au < lateral_wall_u(v)) & (v > apex_top) & (v < diaphragm_v(shape, u))
    if mediastinum is None:
        mediastinum = mediastinum_mask(shape, u, v)
    return inside & ~mediastinum


def body_mask(shape: ChestShape, u: Array, v: Array) -> Array:
    """Outer soft-tissue contour: neck at the top, sloping shoulders, then the trunk."""
    shoulder = np.clip((v + 0.30) / 0.32, 0.0, 1.0)
    half_width = 0.36 + (shape.body_half_width - 0.36) * np.sqrt(shoulder)
    return np.abs(u) < half_width


def zone_bounds(level: str) -> tuple[float, float]:
    """Vertical extent (v) of the upper / mid / lower lung zones (split at the 2nd and 4th ribs anteriorly)."""
    return {"upper": (0.0, 0.36), "mid": (0.36, 0.62), "lower": (0.62, 1.05)}[level]
