"""Procedural frontal (PA) chest radiographs with realistic nuisance variation.

`render_chest` draws one image: sample nuisance (positioning, habitus, exposure) -> map pixels to
anatomy -> paint soft tissue, lungs, mediastinum -> paint the lesion -> paint bones -> blur, window,
add noise -> 8-bit. All randomness comes from the Generator passed in, in a fixed order, so one seed
always gives the same pixels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import JsonValue

from sim.bank.anatomy import paint_bones, paint_lungs, paint_mediastinum, paint_soft_tissue
from sim.bank.filters import gaussian_blur
from sim.bank.geometry import ChestShape
from sim.bank.lesions import LesionInfo, LesionSpec, paint_lesion, prepare_shape
from sim.bank.regions import REGIONS, region_extent
from sim.bank.scene import Scene

Array = np.ndarray
DEFAULT_SIZE = 224


@dataclass(frozen=True)
class Nuisance:
    """Everything that varies between films but is not disease: kept in case metadata for audits."""

    shift_x: float  # fraction of the image width
    shift_y: float
    rotation_deg: float
    thorax_half_width: float  # fraction of the image width
    aspect: float  # vertical / horizontal scale of the thorax
    inspiration: float  # + lowers the diaphragm (deeper breath)
    cardiothoracic_ratio: float  # normal variation; cardiomegaly overrides it
    body_half_width: float
    gamma: float
    contrast: float
    brightness: float
    noise_sigma: float
    blur_sigma: float
    heel_gradient: float  # left-right exposure falloff of the X-ray tube

    def as_metadata(self) -> dict[str, JsonValue]:
        return {k: round(float(val), 4) for k, val in dataclasses.asdict(self).items()}


# Range of each nuisance parameter, sampled uniformly and in this order. Geometry ranges are kept
# moderate: wider ones made raw-pixel retrieval near chance, narrower ones made it trivial.
NUISANCE_RANGES: dict[str, tuple[float, float]] = {
    "shift_x": (-0.025, 0.025),
    "shift_y": (-0.025, 0.025),
    "rotation_deg": (-3.0, 3.0),
    "thorax_half_width": (0.365, 0.41),
    "aspect": (1.54, 1.72),
    "inspiration": (-0.04, 0.04),
    "cardiothoracic_ratio": (0.38, 0.49),
    "body_half_width": (1.12, 1.32),
    "gamma": (0.75, 1.35),
    "contrast": (0.8, 1.2),
    "brightness": (-0.07, 0.07),
    "noise_sigma": (0.008, 0.035),
    "blur_sigma": (0.3, 1.4),
    "heel_gradient": (-0.06, 0.06),
}


def sample_nuisance(rng: np.random.Generator, ranges: dict[str, tuple[float, float]] = NUISANCE_RANGES) -> Nuisance:
    return Nuisance(**{name: float(rng.uniform(low, high)) for name, (low, high) in ranges.items()})


def typical_nuisance() -> Nuisance:
    """The middle of every range: the 'average film' that nominal region boxes refer to."""
    return Nuisance(**{name: (low + high) / 2 for name, (low, high) in NUISANCE_RANGES.items()})


def chest_shape(nuisance: Nuisance) -> ChestShape:
    base = ChestShape()
    return dataclasses.replace(
        base.with_cardiothoracic_ratio(nuisance.cardiothoracic_ratio),
        dome_right_v=base.dome_right_v + nuisance.inspiration,
        dome_left_v=base.dome_left_v + nuisance.inspiration,
        body_half_width=nuisance.body_half_width,
    )


@dataclass(frozen=True)
class Placement:
    """Affine map between pixels and anatomy (u, v) for one image."""

    size: int
    centre_x: float
    top_y: float
    scale_u: float  # pixels per u unit
    scale_v: float
    angle: float  # radians, counter-clockwise on screen

    @classmethod
    def from_nuisance(cls, nuisance: Nuisance, size: int) -> Placement:
        scale_u = nuisance.thorax_half_width * size
        return cls(
            size=size,
            centre_x=size * (0.5 + nuisance.shift_x),
            top_y=size * (0.13 + nuisance.shift_y),
            scale_u=scale_u,
            scale_v=scale_u * nuisance.aspect,
            angle=np.deg2rad(nuisance.rotation_deg),
        )

    def pixel_to_anatomy(self) -> tuple[Array, Array]:
        y, x = np.mgrid[0 : self.size, 0 : self.size].astype(np.float64) + 0.5
        mid = self.size / 2
        cos, sin = np.cos(-self.angle), np.sin(-self.angle)
        xr = mid + cos * (x - mid) - sin * (y - mid)
        yr = mid + sin * (x - mid) + cos * (y - mid)
        return (xr - self.centre_x) / self.scale_u, (yr - self.top_y) / self.scale_v

    def anatomy_to_pixel(self, u: float, v: float) -> tuple[float, float]:
        xr, yr = self.centre_x + u * self.scale_u, self.top_y + v * self.scale_v
        mid = self.size / 2
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        x = mid + cos * (xr - mid) - sin * (yr - mid)
        y = mid + sin * (xr - mid) + cos * (yr - mid)
        return float(x), float(y)


@dataclass(frozen=True)
class Radiograph:
    pixels: Array  # uint8, (size, size)
    nuisance: Nuisance
    lesion: LesionInfo
    placement: Placement
    cardiothoracic_ratio: float

    def lesion_metadata(self) -> dict[str, JsonValue]:
        """Lesion position in pixels (x right, y down), so tools can locate it without re-rendering."""
        info = self.lesion
        meta: dict[str, JsonValue] = {"kind": info.kind, **{k: round(float(x), 4) for k, x in info.extra.items()}}
        if info.center_uv is not None and info.radius_u is not None:
            x, y = self.placement.anatomy_to_pixel(*info.center_uv)
            meta["center_xy"] = [round(x, 1), round(y, 1)]
            meta["radius_px"] = round(float(info.radius_u * self.placement.scale_u), 1)
        return meta


def _display(density: Array, nuisance: Nuisance, placement: Placement, rng: np.random.Generator) -> Array:
    """Film/detector response: blur, heel effect, window (contrast/brightness), gamma, quantum noise."""
    image = gaussian_blur(density, 0.8 + nuisance.blur_sigma)
    columns = (np.arange(placement.size) + 0.5) / placement.size - 0.5
    image = image + nuisance.heel_gradient * columns[None, :]
    image = 0.45 + nuisance.contrast * (image - 0.45) + nuisance.brightness
    image = np.clip(image, 0.0, 1.0) ** nuisance.gamma
    image = image + rng.normal(0.0, nuisance.noise_sigma, image.shape)
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def render_chest(lesion: LesionSpec, rng: np.random.Generator, size: int = DEFAULT_SIZE) -> Radiograph:
    return render_with(
        lambda shape: prepare_shape(lesion, shape, rng), lambda scene: paint_lesion(scene, lesion), rng, size
    )


def render_with(
    prepare: Callable[[ChestShape], ChestShape],
    paint: Callable[[Scene], LesionInfo],
    rng: np.random.Generator,
    size: int = DEFAULT_SIZE,
    ranges: dict[str, tuple[float, float]] = NUISANCE_RANGES,
    after_bones: Callable[[Scene], None] | None = None,
) -> Radiograph:
    """One film: nuisance, anatomy changed by `prepare`, pathology painted by `paint` (between the soft
    tissue and the bones, as X-rays stack them), then devices in `after_bones`, then the detector."""
    nuisance = sample_nuisance(rng, ranges)
    placement = Placement.from_nuisance(nuisance, size)
    shape = prepare(chest_shape(nuisance))
    u, v = placement.pixel_to_anatomy()
    scene = Scene(u=u, v=v, shape=shape, pixel=1.0 / placement.scale_u, rng=rng)
    paint_soft_tissue(scene)
    paint_lungs(scene)
    paint_mediastinum(scene)
    info = paint(scene)
    paint_bones(scene)
    if after_bones is not None:
        after_bones(scene)
    pixels = _display(scene.density, nuisance, placement, rng)
    return Radiograph(pixels, nuisance, info, placement, shape.cardiothoracic_ratio)


def nominal_region_boxes(size: int = DEFAULT_SIZE) -> dict[str, tuple[float, float, float, float]]:
    """Where each region sits on an average film, as (top, bottom, left, right) fractions of the image.

    Nuisance moves real films by a few percent, so these are for statistics over many images (tests,
    sanity checks), not for segmenting one image.
    """
    placement = Placement.from_nuisance(typical_nuisance(), size)
    boxes = {}
    for region in REGIONS:
        u0, u1, v0, v1 = region_extent(region)
        corners = [placement.anatomy_to_pixel(u, v) for u in (u0, u1) for v in (v0, v1)]
        xs, ys = [c[0] / size for c in corners], [c[1] / size for c in corners]
        boxes[region] = (round(min(ys), 4), round(max(ys), 4), round(min(xs), 4), round(max(xs), 4))
    return boxes


def save_png(pixels: Array, path: Path) -> None:
    """8-bit grayscale PNG with no text or time chunks, so equal pixels give equal bytes."""
    Image.fromarray(pixels, mode="L").save(path, format="PNG", compress_level=6)
