"""The conditions the bank draws from: diagnosis names, where the sign sits, which story goes with it.

A condition ties three things together: the answer (`name` + `aliases`, what the judge accepts), the
image sign (`lesion`, drawn by `lesions.py` at a fixed or per-case site), and the clinical `family`
whose patient script, exam and labs are written in `sim/bank/clinical/`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.bank.lesions import LesionKind, LesionSpec
from sim.bank.regions import (
    CARDIAC_SILHOUETTE,
    HILUM,
    Side,
    Zone,
    apex,
    costophrenic_angle,
    hemidiaphragm,
    hemithorax,
    zone,
)

Family = str  # "bronchitis", "pneumonia", "effusion", "pneumothorax", "heart_failure", "nodule", "lung_cancer"


@dataclass(frozen=True)
class Condition:
    key: str
    name: str
    aliases: tuple[str, ...]
    family: Family
    lesion: LesionKind
    side: Side | None = None
    level: Zone | None = None
    # Conditions whose location varies between cases (nodule, mass) list the possible sites instead.
    sites: tuple[tuple[Side, Zone], ...] = ()

    def all_names(self) -> list[str]:
        return [self.name, *self.aliases]

    def sample_site(self, rng: np.random.Generator) -> tuple[Side | None, Zone | None]:
        if self.sites:
            return self.sites[int(rng.integers(len(self.sites)))]
        return self.side, self.level

    def lesion_spec(self, side: Side | None, level: Zone | None) -> LesionSpec:
        return LesionSpec(self.lesion, side, level)


def regions_for(kind: LesionKind, side: Side | None, level: Zone | None) -> list[str]:
    """Labelled regions of one finding; the first is where the sign is strongest."""
    if kind == "consolidation" and side and level:
        extra = [hemidiaphragm(side)] if level == "lower" else []
        return [zone(side, level), *extra]
    if kind == "effusion" and side:
        return [costophrenic_angle(side), zone(side, "lower"), hemidiaphragm(side)]
    if kind == "pneumothorax" and side:
        return [apex(side), zone(side, "upper"), hemithorax(side)]
    if kind == "cardiomegaly":
        return [CARDIAC_SILHOUETTE]
    if kind in ("nodule", "mass") and side and level:
        return [zone(side, level), *([HILUM] if kind == "mass" and level == "mid" else [])]
    return []


_NODULE_SITES: tuple[tuple[Side, Zone], ...] = (
    ("right", "upper"), ("right", "mid"), ("right", "lower"),
    ("left", "upper"), ("left", "mid"), ("left", "lower"),
)  # fmt: skip
_MASS_SITES: tuple[tuple[Side, Zone], ...] = (("right", "upper"), ("left", "upper"), ("right", "mid"), ("left", "mid"))

CONDITIONS: tuple[Condition, ...] = (
    Condition(
        key="normal",
        name="Acute bronchitis",
        aliases=("acute viral bronchitis", "acute tracheobronchitis", "viral chest infection without pneumonia"),
        family="bronchitis",
        lesion="none",
    ),
    Condition(
        key="consolidation_rll",
        name="Right lower lobe pneumonia",
        aliases=(
            "RLL pneumonia",
            "right lower lobe consolidation",
            "community-acquired pneumonia of the right lower lobe",
            "right basal pneumonia",
        ),
        family="pneumonia",
        lesion="consolidation",
        side="right",
        level="lower",
    ),
    Condition(
        key="consolidation_lll",
        name="Left lower lobe pneumonia",
        aliases=(
            "LLL pneumonia",
            "left lower lobe consolidation",
            "community-acquired pneumonia of the left lower lobe",
            "left basal pneumonia",
        ),
        family="pneumonia",
        lesion="consolidation",
        side="left",
        level="lower",
    ),
    Condition(
        key="consolidation_rul",
        name="Right upper lobe pneumonia",
        aliases=(
            "RUL pneumonia",
            "right upper lobe consolidation",
            "community-acquired pneumonia of the right upper lobe",
            "lobar pneumonia of the right upper lobe",
        ),
        family="pneumonia",
        lesion="consolidation",
        side="right",
        level="upper",
    ),
    Condition(
        key="effusion_right",
        name="Right pleural effusion",
        aliases=("right-sided pleural effusion", "right hydrothorax", "fluid in the right pleural space"),
        family="effusion",
        lesion="effusion",
        side="right",
    ),
    Condition(
        key="effusion_left",
        name="Left pleural effusion",
        aliases=("left-sided pleural effusion", "left hydrothorax", "fluid in the left pleural space"),
        family="effusion",
        lesion="effusion",
        side="left",
    ),
    Condition(
        key="pneumothorax_right",
        name="Right pneumothorax",
        aliases=(
            "right-sided pneumothorax",
            "right spontaneous pneumothorax",
            "collapsed right lung",
            "spontaneous pneumothorax of the right lung",
        ),
        family="pneumothorax",
        lesion="pneumothorax",
        side="right",
    ),
    Condition(
        key="pneumothorax_left",
        name="Left pneumothorax",
        aliases=(
            "left-sided pneumothorax",
            "left spontaneous pneumothorax",
            "collapsed left lung",
            "spontaneous pneumothorax of the left lung",
        ),
        family="pneumothorax",
        lesion="pneumothorax",
        side="left",
    ),
    Condition(
        key="cardiomegaly",
        name="Cardiomegaly",
        aliases=(
            "enlarged heart",
            "cardiac enlargement",
            "enlarged cardiac silhouette",
            "congestive heart failure with cardiomegaly",
        ),
        family="heart_failure",
        lesion="cardiomegaly",
    ),
    Condition(
        key="nodule",
        name="Solitary pulmonary nodule",
        aliases=("pulmonary nodule", "lung nodule", "coin lesion", "solitary lung nodule"),
        family="nodule",
        lesion="nodule",
        sites=_NODULE_SITES,
    ),
    Condition(
        key="mass",
        name="Lung cancer",
        aliases=(
            "primary lung cancer",
            "bronchogenic carcinoma",
            "primary lung carcinoma",
            "lung mass",
            "pulmonary mass",
            "non-small cell lung cancer",
        ),
        family="lung_cancer",
        lesion="mass",
        sites=_MASS_SITES,
    ),
)

CONDITIONS_BY_KEY: dict[str, Condition] = {c.key: c for c in CONDITIONS}


def condition(key: str) -> Condition:
    try:
        return CONDITIONS_BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown bank condition {key!r}; known: {', '.join(CONDITIONS_BY_KEY)}") from None
