"""Painting pathology onto a normal chest, where and how each sign appears on a PA film.

Every painter jitters size, position and density with the scene's rng (so no two cases of a condition
look alike) and returns a `LesionInfo` in anatomical units, which the renderer maps to pixels for the
case metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from sim.bank.filters import smoothstep
from sim.bank.geometry import (
    MM_PER_U,
    ChestShape,
    diaphragm_v,
    lateral_wall_u,
    lung_mask,
    side_sign,
    zone_bounds,
)
from sim.bank.regions import Side, Zone
from sim.bank.scene import Scene

Array = np.ndarray
LesionKind = Literal[
    "none",
    "consolidation",
    "effusion",
    "pneumothorax",
    "cardiomegaly",
    "nodule",
    "mass",
    # signs of the look-alike bank's films only (sim/bank/lookalike/film.py)
    "cavity",
    "congestion",
    "granuloma",
    "hyperinflation",
]


@dataclass(frozen=True)
class LesionSpec:
    kind: LesionKind
    side: Side | None = None
    level: Zone | None = None


@dataclass
class LesionInfo:
    kind: LesionKind
    center_uv: tuple[float, float] | None = None
    radius_u: float | None = None
    extra: dict[str, float] = field(default_factory=dict)


def prepare_shape(spec: LesionSpec, shape: ChestShape, rng: np.random.Generator) -> ChestShape:
    """Pathology that changes the anatomy itself must act before the anatomy is painted."""
    if spec.kind == "cardiomegaly":
        return shape.with_cardiothoracic_ratio(float(rng.uniform(0.56, 0.68)))
    return shape


def paint_lesion(scene: Scene, spec: LesionSpec) -> LesionInfo:
    painters = {
        "none": lambda s, _: LesionInfo("none"),
        "consolidation": paint_consolidation,
        "effusion": paint_effusion,
        "pneumothorax": paint_pneumothorax,
        "cardiomegaly": paint_cardiomegaly,
        "nodule": paint_nodule,
        "mass": paint_mass,
    }
    return painters[spec.kind](scene, spec)


def _air_bronchograms(scene: Scene, side: Side) -> Array:
    """Thin dark branching lines: air-filled bronchi made visible by the surrounding dense lung."""
    hu, hv = scene.shape.hilum(side)
    du, dv = scene.u - hu, scene.v - hv
    angle = np.arctan2(dv, du) + 0.5 * scene.noise_image(0.3)
    return (0.5 + 0.5 * np.cos(9.0 * angle)) ** 30 * np.exp(-np.hypot(du, dv) / 0.5)


def paint_consolidation(scene: Scene, spec: LesionSpec) -> LesionInfo:
    rng, u, v = scene.rng, scene.u, scene.v
    side, level = spec.side or "right", spec.level or "lower"
    s = side_sign(side)
    size = rng.uniform(0.8, 1.15)
    if level == "upper":
        cu, cv, ru, rv = s * 0.50, 0.24, 0.48 * size, 0.24 * size
    else:
        cu, cv, ru, rv = s * 0.56, 0.80, 0.44 * size, 0.26 * size
    cu += rng.uniform(-0.06, 0.06)
    cv += rng.uniform(-0.04, 0.04)
    ragged = 0.45 * scene.noise_image(0.15)
    blob = ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2 + ragged
    weight = smoothstep(1.15, 0.7, blob)
    if level == "upper":
        # The horizontal fissure gives right upper lobe consolidation a sharp, straight lower border.
        fissure = 0.40 + rng.uniform(-0.03, 0.03) + 0.05 * (s * u - 0.5)
        weight = weight * smoothstep(fissure + 0.012, fissure - 0.012, v)
    amount = rng.uniform(0.30, 0.45)
    patchy = np.clip(0.7 + 0.35 * scene.noise_image(0.08, step=2), 0.35, 1.1)
    lung = scene.lung(side)
    gain = amount * weight * patchy - 0.09 * weight * _air_bronchograms(scene, side)
    scene.density[lung] += gain[lung]
    if side == "left" and level == "lower":
        # Left lower lobe disease sits behind the heart and makes the retrocardiac area denser.
        behind_heart = (weight > 0) & scene.mediastinum & (v < diaphragm_v(scene.shape, u))
        scene.density[behind_heart] += 0.18 * amount * weight[behind_heart]
    return LesionInfo("consolidation", (cu, cv), max(ru, rv), {"density": amount})


def paint_effusion(scene: Scene, spec: LesionSpec) -> LesionInfo:
    rng, u, v = scene.rng, scene.u, scene.v
    side = spec.side or "right"
    s = side_sign(side)
    level = rng.uniform(0.64, 0.88)
    lateral = np.clip((s * u - 0.15) / 0.85, 0.0, 1.0)
    # Meniscus: fluid climbs higher along the lateral chest wall than medially.
    top = level - rng.uniform(0.18, 0.30) * lateral**2.5
    in_hemithorax = (s * u > 0.05) & (np.abs(u) < lateral_wall_u(v) + 0.02)
    fluid = 0.68 * smoothstep(top - 0.03, top + 0.07, v) * in_hemithorax
    np.maximum(scene.density, fluid, out=scene.density)
    return LesionInfo("effusion", (s * 0.7, float(level) + 0.12), 0.3, {"fluid_level_v": float(level)})


def paint_pneumothorax(scene: Scene, spec: LesionSpec) -> LesionInfo:
    rng = scene.rng
    side = spec.side or "right"
    return draw_pneumothorax(scene, side, rng.uniform(0.52, 0.80))


def draw_pneumothorax(scene: Scene, side: Side, keep: float) -> LesionInfo:
    """A pneumothorax whose collapsed lung keeps `keep` of its size (about 0.45 large .. 0.8 small)."""
    u, v, shape = scene.u, scene.v, scene.shape
    s = side_sign(side)
    # The lung shrinks towards its lower medial root, so the air rim is widest at the apex and side.
    cu, cv = s * 0.22, 0.88

    def collapsed(scale: float) -> Array:
        return lung_mask(shape, cu + (u - cu) / (scale + 0.06), cv + (v - cv) / scale, side, scene.mediastinum)

    lung = scene.lung(side)
    inner = collapsed(keep) & lung
    rim = lung & ~inner
    # The air rim has no lung markings at all: that absence is the sign radiologists look for.
    scene.density[rim] = (0.07 + 0.03 * np.clip(v, 0, 1))[rim]
    scene.density[inner] += 0.06  # the collapsed lung holds less air, so it looks denser
    pleural_line = collapsed(keep + 2.2 * scene.pixel) & ~collapsed(keep) & lung
    scene.density[pleural_line] = 0.42
    return LesionInfo("pneumothorax", (s * 0.6, 0.2), 0.35, {"lung_kept": float(keep)})


def paint_cardiomegaly(scene: Scene, spec: LesionSpec) -> LesionInfo:
    # The heart was enlarged in `prepare_shape`; here only mild congestion at the hila is added.
    shape = scene.shape
    for side in ("right", "left"):
        hu, hv = shape.hilum(side)
        dist = np.hypot(scene.u - hu, scene.v - hv)
        scene.density += 0.06 * np.exp(-((dist / 0.16) ** 2)) * scene.lung(side)
    return LesionInfo(
        "cardiomegaly",
        (shape.heart_center_u, shape.heart_center_v),
        shape.heart_half_width,
        {"cardiothoracic_ratio": shape.cardiothoracic_ratio},
    )


def _point_in_lung(scene: Scene, side: Side, level: Zone, margin: float) -> tuple[float, float]:
    """A random point well inside the given lung zone (rejection sampling on the analytic mask)."""
    s = side_sign(side)
    top, bottom = zone_bounds(level)
    for _ in range(200):
        pu = s * scene.rng.uniform(0.15, 0.95)
        pv = scene.rng.uniform(max(top, 0.08), min(bottom, 0.9))
        probe_u = np.array([pu, pu - margin, pu + margin, pu, pu])
        probe_v = np.array([pv, pv, pv, pv - margin, pv + margin])
        if lung_mask(scene.shape, probe_u, probe_v, side).all():
            return float(pu), float(pv)
    return float(s * 0.55), float((top + bottom) / 2)


def _round_opacity(scene: Scene, cu: float, cv: float, radius: float) -> Array:
    dist = np.hypot(scene.u - cu, scene.v - cv) / radius
    return np.sqrt(np.clip(1.0 - dist**2, 0.0, 1.0))


def paint_nodule(scene: Scene, spec: LesionSpec) -> LesionInfo:
    side, level = spec.side or "right", spec.level or "upper"
    radius = scene.rng.uniform(0.035, 0.06)
    cu, cv = _point_in_lung(scene, side, level, radius)
    amount = scene.rng.uniform(0.28, 0.40)
    scene.density += amount * _round_opacity(scene, cu, cv, radius)
    return LesionInfo("nodule", (cu, cv), radius, {"density": amount, "diameter_mm": 2 * radius * MM_PER_U})


def paint_mass(scene: Scene, spec: LesionSpec) -> LesionInfo:
    rng = scene.rng
    side, level = spec.side or "right", spec.level or "upper"
    radius = rng.uniform(0.11, 0.17)
    cu, cv = _point_in_lung(scene, side, level, radius * 0.6)
    # Lobulated outline: the union of a few overlapping round lobes.
    shape = _round_opacity(scene, cu, cv, radius)
    for _ in range(int(rng.integers(2, 5))):
        angle = rng.uniform(0, 2 * np.pi)
        offset = radius * rng.uniform(0.35, 0.6)
        lobe = _round_opacity(
            scene, cu + offset * np.cos(angle), cv + offset * np.sin(angle), radius * rng.uniform(0.5, 0.75)
        )
        shape = np.maximum(shape, lobe)
    # Spiculation: short thin strands radiating from the margin.
    bearing = np.arctan2(scene.v - cv, scene.u - cu)
    dist = np.hypot(scene.u - cu, scene.v - cv)
    spikes = (0.5 + 0.5 * np.cos(int(rng.integers(7, 13)) * bearing + rng.uniform(0, 6.3))) ** 20
    spikes *= smoothstep(radius * 1.6, radius * 0.9, dist)
    amount = rng.uniform(0.38, 0.50)
    scene.density += amount * np.maximum(shape**0.6, 0.5 * spikes)
    return LesionInfo("mass", (cu, cv), radius * 1.3, {"density": amount, "diameter_mm": 2.3 * radius * MM_PER_U})
