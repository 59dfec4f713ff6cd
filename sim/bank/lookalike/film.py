"""The look-alike bank's chest films: one group's sign, varied in size and company, on a varied patient.

A film is planned first (`plan_film`: which signs, where, how large, which devices and incidental findings),
then drawn (`render_film`) on the old bank's anatomy with wider nuisance (projection, exposure, rotation,
habitus, noise). Co-findings follow the cause where a radiologist would see them (small effusions on both
sides beside a big heart in cardiomyopathy, several nodules in metastatic disease, a central line after a
procedure, flat diaphragms in COPD) but never always, so the picture narrows the question without deciding
it. The plan is what the report describes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import numpy as np
from pydantic import JsonValue

from sim.bank.draw import DEFAULT_SIZE, NUISANCE_RANGES, Radiograph, render_with
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
from sim.bank.lesions import (
    LesionInfo,
    LesionSpec,
    draw_pneumothorax,
    paint_consolidation,
)
from sim.bank.lookalike.catalogue import Diagnosis
from sim.bank.regions import Side, Zone
from sim.bank.sampling import chance, pick
from sim.bank.scene import Scene

Array = np.ndarray

# Wider than the old bank's: portable films, rotated patients, big and small habitus, poor exposures.
FILM_RANGES: dict[str, tuple[float, float]] = {
    **NUISANCE_RANGES,
    "shift_x": (-0.04, 0.04),
    "shift_y": (-0.04, 0.03),
    "rotation_deg": (-5.0, 5.0),
    "thorax_half_width": (0.34, 0.43),
    "body_half_width": (1.08, 1.45),
    "gamma": (0.7, 1.45),
    "contrast": (0.75, 1.25),
    "brightness": (-0.09, 0.09),
    "noise_sigma": (0.006, 0.045),
}


@dataclass(frozen=True)
class Sign:
    """One thing on the film."""

    kind: str  # effusion | consolidation | cavity | cardiomegaly | congestion | nodule | mass | pneumothorax |
    #            hyperinflation | central_line | pacemaker | sternotomy | granuloma
    side: Side | None = None
    level: Zone | None = None
    size: float = 0.5  # 0 small .. 1 large, per kind
    calcified: bool = False


@dataclass(frozen=True)
class FilmPlan:
    projection: str  # "PA" | "AP"
    signs: tuple[Sign, ...]
    main: str  # the group's sign kind

    def of_kind(self, kind: str) -> list[Sign]:
        return [s for s in self.signs if s.kind == kind]


@dataclass
class Film:
    plan: FilmPlan
    radiograph: Radiograph
    measured: dict[str, JsonValue] = field(default_factory=dict)  # sizes in mm, ratio, as drawn

    @property
    def pixels(self) -> Array:
        return self.radiograph.pixels


def _other(side: Side | None) -> Side:
    return "left" if side == "right" else "right"


def plan_film(diagnosis: Diagnosis, rng: np.random.Generator, side: Side | None, zone: Zone | None) -> FilmPlan:
    """The signs of one film of this diagnosis (the group's sign sized and placed, plus its company)."""
    key, group = diagnosis.key, diagnosis.group
    signs: list[Sign] = []
    projection = "AP" if chance(rng, 0.25) else "PA"
    side = side or pick(rng, ("right", "left"))
    if group == "effusion":
        size = float(rng.uniform(0.2, 1.0))
        signs.append(Sign("effusion", side, "lower", size))
        if key == "parapneumonic_effusion" and chance(rng, 0.35):
            signs.append(Sign("consolidation", side, "lower", 0.3))
        if key == "malignant_effusion" and chance(rng, 0.25):
            signs.append(Sign("nodule", _other(side), pick(rng, ("upper", "mid")), 0.4))
        if key == "hepatic_hydrothorax" and chance(rng, 0.2):
            signs.append(Sign("effusion", _other(side), "lower", 0.15))
    elif group == "consolidation":
        signs.append(Sign("consolidation", side, zone or "lower", float(rng.uniform(0.3, 1.0))))
        if key == "pulmonary_tuberculosis" and chance(rng, 0.4):
            signs.append(Sign("cavity", side, zone or "upper", float(rng.uniform(0.3, 0.8))))
        if key in ("pneumococcal_pneumonia", "legionella_pneumonia") and chance(rng, 0.2):
            signs.append(Sign("effusion", side, "lower", 0.15))
        if key == "legionella_pneumonia" and chance(rng, 0.25):
            signs.append(Sign("consolidation", _other(side), "lower", 0.3))
    elif group == "cardiac":
        ratio = {"pericardial_effusion": (0.6, 0.74), "viral_myocarditis": (0.54, 0.62)}.get(key, (0.56, 0.7))
        signs.append(Sign("cardiomegaly", None, None, float(rng.uniform(*ratio))))
        if key in ("ischaemic_cardiomyopathy", "alcoholic_cardiomyopathy", "viral_myocarditis"):
            if chance(rng, 0.5):
                signs.append(Sign("congestion", None, None, float(rng.uniform(0.3, 1.0))))
            if chance(rng, 0.4):
                signs += [Sign("effusion", "right", "lower", 0.12), Sign("effusion", "left", "lower", 0.1)]
        if key == "ischaemic_cardiomyopathy" and chance(rng, 0.35):
            signs.append(Sign("sternotomy"))
        if key == "ischaemic_cardiomyopathy" and chance(rng, 0.2):
            signs.append(Sign("pacemaker"))
        if key == "pericardial_effusion" and chance(rng, 0.2):
            signs.append(Sign("effusion", "left", "lower", 0.15))
    elif group == "nodule":
        level = zone or pick(rng, ("upper", "mid", "lower"))
        if key == "lung_cancer":
            kind = "mass" if chance(rng, 0.45) else "nodule"
            signs.append(Sign(kind, side, level, float(rng.uniform(0.4, 1.0))))
        elif key == "pulmonary_metastases":
            signs.append(Sign("nodule", side, level, float(rng.uniform(0.3, 0.8))))
            for _ in range(int(rng.choice([0, 1, 1, 2, 3]))):
                signs.append(
                    Sign(
                        "nodule",
                        pick(rng, ("right", "left")),
                        pick(rng, ("upper", "mid", "lower")),
                        float(rng.uniform(0.2, 0.6)),
                    )
                )
        else:
            calcified = chance(rng, 0.55 if key == "tuberculoma" else 0.3)
            signs.append(Sign("nodule", side, level, float(rng.uniform(0.2, 0.6)), calcified=calcified))
    elif group == "pneumothorax":
        signs.append(Sign("pneumothorax", side, "upper", float(rng.uniform(0.2, 0.95))))
        if key == "secondary_pneumothorax" and chance(rng, 0.6):
            signs.append(Sign("hyperinflation", size=float(rng.uniform(0.5, 1.0))))
        if key == "iatrogenic_pneumothorax" and chance(rng, 0.55):
            signs.append(Sign("central_line", side))
        if key == "traumatic_pneumothorax" and chance(rng, 0.15):
            signs.append(Sign("effusion", side, "lower", 0.12))
    elif group == "normal":
        if key in ("asthma",) and chance(rng, 0.45):
            signs.append(Sign("hyperinflation", size=float(rng.uniform(0.3, 0.8))))
        if key == "pulmonary_embolism" and chance(rng, 0.15):
            signs.append(Sign("central_line", pick(rng, ("right", "left"))))
    # Incidental findings of any patient (not on a film whose point is that it is normal: a reader would still
    # call it normal, but a calcified dot is the nodule group's sign).
    if group != "normal" and chance(rng, 0.05):
        signs.append(Sign("granuloma", pick(rng, ("right", "left")), pick(rng, ("upper", "mid", "lower")), 0.2, True))
    if group != "cardiac" and chance(rng, 0.03):
        signs.append(Sign("sternotomy"))
    main = {"effusion": "effusion", "consolidation": "consolidation", "cardiac": "cardiomegaly",
            "pneumothorax": "pneumothorax", "normal": "none"}.get(group) or signs[0].kind  # fmt: skip
    return FilmPlan(projection, tuple(signs), main)


def render_film(plan: FilmPlan, rng: np.random.Generator, size: int = DEFAULT_SIZE) -> Film:
    measured: dict[str, JsonValue] = {"projection": plan.projection}

    def prepare(shape: ChestShape) -> ChestShape:
        for sign in plan.of_kind("cardiomegaly"):
            shape = shape.with_cardiothoracic_ratio(sign.size)
        for sign in plan.of_kind("hyperinflation"):
            # Flat, low diaphragms and a narrow heart: the lungs hold too much air.
            drop = 0.05 + 0.07 * sign.size
            shape = replace(shape, dome_right_v=shape.dome_right_v + drop, dome_left_v=shape.dome_left_v + drop)
            shape = shape.with_cardiothoracic_ratio(max(0.34, shape.cardiothoracic_ratio - 0.04))
        if plan.projection == "AP":  # the heart sits further from the film: magnified
            shape = shape.with_cardiothoracic_ratio(min(0.8, shape.cardiothoracic_ratio + 0.035))
        return shape

    drawn: list[JsonValue] = []  # measured["signs"] once a sign is painted

    def paint(scene: Scene) -> LesionInfo:
        infos = []
        for sign in plan.signs:
            info = _PAINTERS.get(sign.kind, lambda s, g: None)(scene, sign)
            if info is not None:
                infos.append(info)
                measured.setdefault("signs", drawn)
                drawn.append({"kind": info.kind, **{k: round(float(x), 3) for k, x in info.extra.items()}})
        return infos[0] if infos else LesionInfo("none")

    def devices(scene: Scene) -> None:
        for sign in plan.signs:
            if sign.kind in _DEVICES:
                _DEVICES[sign.kind](scene, sign)

    radiograph = render_with(prepare, paint, rng, size, FILM_RANGES, devices)
    measured["cardiothoracic_ratio"] = round(radiograph.cardiothoracic_ratio, 3)
    return Film(plan, radiograph, measured)


# --- painters ---------------------------------------------------------------------------------------------


def _effusion(scene: Scene, sign: Sign) -> LesionInfo:
    u, v = scene.u, scene.v
    side = sign.side or "right"
    s = side_sign(side)
    level = 0.9 - 0.34 * sign.size + scene.rng.uniform(-0.03, 0.03)
    lateral = np.clip((s * u - 0.15) / 0.85, 0.0, 1.0)
    top = level - scene.rng.uniform(0.12, 0.26) * lateral**2.5  # the meniscus climbs the lateral wall
    in_hemithorax = (s * u > 0.05) & (np.abs(u) < lateral_wall_u(v) + 0.02)
    fluid = 0.68 * smoothstep(top - 0.03, top + 0.07, v) * in_hemithorax
    np.maximum(scene.density, fluid, out=scene.density)
    return LesionInfo("effusion", (s * 0.7, float(level) + 0.12), 0.3, {"fluid_level_v": float(level)})


def _consolidation(scene: Scene, sign: Sign) -> LesionInfo:
    info = paint_consolidation(scene, LesionSpec("consolidation", sign.side, sign.level))
    return LesionInfo(info.kind, info.center_uv, info.radius_u, {**info.extra, "extent": sign.size})


def _cavity(scene: Scene, sign: Sign) -> LesionInfo:
    s = side_sign(sign.side or "right")
    top, bottom = zone_bounds(sign.level or "upper")
    cu, cv = s * scene.rng.uniform(0.4, 0.6), scene.rng.uniform(top + 0.08, bottom - 0.05)
    radius = 0.04 + 0.05 * sign.size
    dist = np.hypot(scene.u - cu, (scene.v - cv) * 1.3) / radius
    wall = smoothstep(1.3, 1.0, dist) * smoothstep(0.6, 0.9, dist)
    scene.density += 0.12 * wall
    scene.density -= 0.22 * smoothstep(0.85, 0.5, dist) * scene.lung(sign.side or "right")
    return LesionInfo("cavity", (cu, cv), radius, {"diameter_mm": 2 * radius * MM_PER_U})


def _cardiomegaly(scene: Scene, sign: Sign) -> LesionInfo:
    shape = scene.shape
    return LesionInfo(
        "cardiomegaly",
        (shape.heart_center_u, shape.heart_center_v),
        shape.heart_half_width,
        {"cardiothoracic_ratio": shape.cardiothoracic_ratio},
    )


def _congestion(scene: Scene, sign: Sign) -> LesionInfo:
    """Engorged upper-lobe vessels and hazy hila: raised pressure in the pulmonary veins."""
    for side in ("right", "left"):
        hu, hv = scene.shape.hilum(side)
        dist = np.hypot(scene.u - hu, scene.v - hv)
        haze = 0.05 + 0.07 * sign.size
        scene.density += haze * np.exp(-((dist / 0.2) ** 2)) * scene.lung(side)
        upper = (scene.v < hv) * np.exp(-((dist / 0.35) ** 2))
        scene.density += 0.04 * sign.size * upper * scene.lung(side)
    return LesionInfo("congestion", None, None, {"severity": sign.size})


def _point(scene: Scene, side: Side, level: Zone, margin: float) -> tuple[float, float]:
    s = side_sign(side)
    top, bottom = zone_bounds(level)
    for _ in range(200):
        pu = s * scene.rng.uniform(0.15, 0.9)
        pv = scene.rng.uniform(max(top, 0.08), min(bottom, 0.88))
        if lung_mask(
            scene.shape, np.array([pu - margin, pu + margin, pu]), np.array([pv, pv, pv - margin]), side
        ).all():
            return float(pu), float(pv)
    return s * 0.55, (top + bottom) / 2


def _nodule(scene: Scene, sign: Sign) -> LesionInfo:
    side, level = sign.side or "right", sign.level or "upper"
    # 17-31 mm: a nodule a reader (and the embedder, at 224 pixels) can see; smaller ones are incidental.
    radius = 0.06 + 0.05 * sign.size
    cu, cv = _point(scene, side, level, radius)
    dist = np.hypot(scene.u - cu, scene.v - cv) / radius
    edge = 0.15 if sign.calcified else 0.35  # calcified granulomas and hamartomas have sharp edges
    shape = smoothstep(1.0 + edge, 1.0 - edge, dist) * np.sqrt(np.clip(1.0 - 0.5 * dist**2, 0.2, 1.0))
    amount = scene.rng.uniform(0.6, 0.8) if sign.calcified else scene.rng.uniform(0.40, 0.52)
    scene.density += amount * shape
    return LesionInfo(
        "nodule", (cu, cv), radius, {"diameter_mm": 2 * radius * MM_PER_U, "calcified": float(sign.calcified)}
    )


def _mass(scene: Scene, sign: Sign) -> LesionInfo:
    rng = scene.rng
    side, level = sign.side or "right", sign.level or "upper"
    # 3-4 cm: a mass larger still reads as a lobe's consolidation (the embedder confused them).
    radius = 0.07 + 0.05 * sign.size
    cu, cv = _point(scene, side, level, radius * 0.6)
    shape = np.zeros_like(scene.u)
    for index in range(int(rng.integers(3, 6))):
        angle, offset = rng.uniform(0, 2 * np.pi), (0.0 if index == 0 else radius * rng.uniform(0.3, 0.6))
        r = radius * (1.0 if index == 0 else rng.uniform(0.5, 0.75))
        dist = np.hypot(scene.u - cu - offset * np.cos(angle), scene.v - cv - offset * np.sin(angle)) / r
        shape = np.maximum(shape, np.sqrt(np.clip(1.0 - dist**2, 0.0, 1.0)))
    bearing = np.arctan2(scene.v - cv, scene.u - cu)
    dist = np.hypot(scene.u - cu, scene.v - cv)
    spikes = (0.5 + 0.5 * np.cos(int(rng.integers(7, 13)) * bearing + rng.uniform(0, 6.3))) ** 20
    spikes *= smoothstep(radius * 1.6, radius * 0.9, dist)
    amount = rng.uniform(0.36, 0.5)
    scene.density += amount * np.maximum(shape**0.6, 0.5 * spikes)
    return LesionInfo("mass", (cu, cv), radius * 1.3, {"diameter_mm": 2.3 * radius * MM_PER_U})


def _pneumothorax(scene: Scene, sign: Sign) -> LesionInfo:
    # Bigger than the findings bank's (which keeps 0.52-0.80 of the lung): a small apical rim on a rotated,
    # noisy film is the sign the embedder most often missed (read as a normal film).
    keep = 0.74 - 0.3 * sign.size + scene.rng.uniform(-0.02, 0.02)
    info = draw_pneumothorax(scene, sign.side or "right", float(keep))
    return LesionInfo(info.kind, info.center_uv, info.radius_u, {**info.extra, "size": sign.size})


def _granuloma(scene: Scene, sign: Sign) -> LesionInfo:
    cu, cv = _point(scene, sign.side or "right", sign.level or "upper", 0.02)
    dist = np.hypot(scene.u - cu, scene.v - cv) / 0.018
    scene.density += 0.8 * smoothstep(1.2, 0.8, dist)
    return LesionInfo("granuloma", (cu, cv), 0.018, {"diameter_mm": 0.036 * MM_PER_U})


def _hyperinflation(scene: Scene, sign: Sign) -> LesionInfo:
    lungs = scene.lung("right") | scene.lung("left")
    scene.density[lungs] -= 0.04 * sign.size  # more air, fewer markings
    return LesionInfo("hyperinflation", None, None, {"severity": sign.size})


def _line(scene: Scene, points: list[tuple[float, float]], width_px: float, amount: float) -> None:
    for (u0, v0), (u1, v1) in itertools.pairwise(points):
        du, dv = u1 - u0, v1 - v0
        length2 = du * du + dv * dv
        t = np.clip(((scene.u - u0) * du + (scene.v - v0) * dv) / length2, 0.0, 1.0)
        dist = np.hypot(scene.u - (u0 + t * du), scene.v - (v0 + t * dv))
        np.maximum(scene.density, amount * (dist < width_px * scene.pixel), out=scene.density)


def _central_line(scene: Scene, sign: Sign) -> None:
    s = side_sign(sign.side or "right")
    _line(scene, [(s * 0.42, -0.25), (s * 0.25, -0.05), (-0.06, 0.12), (-0.09, 0.45)], 1.0, 0.9)


def _pacemaker(scene: Scene, sign: Sign) -> None:
    box = (np.abs(scene.u - 0.72) < 0.13) & (np.abs(scene.v - 0.02) < 0.06)
    scene.density[box] = 1.0
    _line(scene, [(0.62, 0.04), (0.2, 0.1), (0.0, 0.45), (0.18, 0.85)], 0.9, 0.95)


def _sternotomy(scene: Scene, sign: Sign) -> None:
    for index in range(5):
        cv = 0.18 + 0.12 * index
        ring = np.abs(np.hypot((scene.u - 0.0) * 1.4, scene.v - cv) - 0.025) < 1.2 * scene.pixel
        scene.density[ring] = 1.0


_PAINTERS = {"effusion": _effusion, "consolidation": _consolidation, "cavity": _cavity,
             "cardiomegaly": _cardiomegaly, "congestion": _congestion, "nodule": _nodule, "mass": _mass,
             "pneumothorax": _pneumothorax, "granuloma": _granuloma, "hyperinflation": _hyperinflation}  # fmt: skip
_DEVICES = {"central_line": _central_line, "pacemaker": _pacemaker, "sternotomy": _sternotomy}

__all__ = ["FILM_RANGES", "Film", "FilmPlan", "Sign", "diaphragm_v", "plan_film", "render_film"]
