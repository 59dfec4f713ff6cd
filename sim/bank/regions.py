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

# Where each region sits on an average bank image, as (top, bottom, left, right) fractions of the image
# height and width. Nuisance shifts move real images by a few percent, so these boxes are for
# statistics over many images (tests, sanity checks), not for per-image segmentation.
NOMINAL_BOXES: dict[str, tuple[float, float, float, float]] = {
    "right upper zone": (0.22, 0.38, 0.18, 0.40),
    "right mid zone": (0.38, 0.54, 0.15, 0.40),
    "right lower zone": (0.54, 0.70, 0.14, 0.38),
    "left upper zone": (0.22, 0.38, 0.60, 0.82),
    "left mid zone": (0.38, 0.54, 0.60, 0.85),
    "left lower zone": (0.54, 0.70, 0.66, 0.86),
    "right apex": (0.14, 0.24, 0.22, 0.40),
    "left apex": (0.14, 0.24, 0.60, 0.78),
    "right costophrenic angle": (0.66, 0.80, 0.10, 0.26),
    "left costophrenic angle": (0.68, 0.82, 0.74, 0.90),
    "right hemidiaphragm": (0.62, 0.76, 0.18, 0.44),
    "left hemidiaphragm": (0.64, 0.78, 0.56, 0.82),
    "right hemithorax": (0.18, 0.74, 0.12, 0.42),
    "left hemithorax": (0.18, 0.76, 0.58, 0.88),
    "cardiac silhouette": (0.50, 0.72, 0.38, 0.75),
    "mediastinum": (0.14, 0.48, 0.42, 0.58),
    "hilum": (0.38, 0.52, 0.34, 0.66),
}
