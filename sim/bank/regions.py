"""The fixed vocabulary of anatomical regions that bank images and reports refer to.

Retrieval, reports and tests all name places with these exact strings, so a region is a typo-proof
constant rather than free text. Sides are the PATIENT's: on a PA radiograph the patient's right is on
the viewer's left.
"""

from __future__ import annotations

from typing import Literal

Side = Literal["right", "left"]
Zone = Literal["upper", "mid", "lower"]

SIDES: tuple[Side, ...] = ("right", "left")
ZONES: tuple[Zone, ...] = ("upper", "mid", "lower")

CARDIAC_SILHOUETTE = "cardiac silhouette"
MEDIASTINUM = "mediastinum"
HILUM = "hilum"


def zone(side: Side, level: Zone) -> str:
    return f"{side} {level} zone"


def apex(side: Side) -> str:
    return f"{side} apex"


def costophrenic_angle(side: Side) -> str:
    return f"{side} costophrenic angle"


def hemidiaphragm(side: Side) -> str:
    return f"{side} hemidiaphragm"


def hemithorax(side: Side) -> str:
    return f"{side} hemithorax"


REGIONS: tuple[str, ...] = (
    *(zone(s, z) for s in SIDES for z in ZONES),
    *(apex(s) for s in SIDES),
    *(costophrenic_angle(s) for s in SIDES),
    *(hemidiaphragm(s) for s in SIDES),
    *(hemithorax(s) for s in SIDES),
    CARDIAC_SILHOUETTE,
    MEDIASTINUM,
    HILUM,
)

# Where each region lies in anatomical coordinates (see geometry.py), as (u_min, u_max, v_min, v_max)
# for the patient's right; left-sided regions mirror u. Midline regions give both signs explicitly.
_RIGHT_EXTENTS: dict[str, tuple[float, float, float, float]] = {
    "upper zone": (-0.80, -0.20, 0.08, 0.36),
    "mid zone": (-0.85, -0.25, 0.36, 0.62),
    "lower zone": (-0.90, -0.30, 0.62, 0.82),
    "apex": (-0.65, -0.20, 0.03, 0.18),
    "costophrenic angle": (-1.00, -0.70, 0.85, 1.02),
    "hemidiaphragm": (-0.80, -0.20, 0.75, 0.92),
    "hemithorax": (-1.00, -0.10, 0.00, 1.00),
}
_MIDLINE_EXTENTS: dict[str, tuple[float, float, float, float]] = {
    CARDIAC_SILHOUETTE: (-0.35, 0.65, 0.55, 0.95),
    MEDIASTINUM: (-0.15, 0.18, 0.00, 0.55),
    HILUM: (-0.35, 0.35, 0.38, 0.56),
}


def region_extent(region: str) -> tuple[float, float, float, float]:
    """Anatomical box (u_min, u_max, v_min, v_max) of a region from REGIONS."""
    if region in _MIDLINE_EXTENTS:
        return _MIDLINE_EXTENTS[region]
    side, _, rest = region.partition(" ")
    u0, u1, v0, v1 = _RIGHT_EXTENTS[rest]
    return (u0, u1, v0, v1) if side == "right" else (-u1, -u0, v0, v1)
