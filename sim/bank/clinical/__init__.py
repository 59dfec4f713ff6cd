"""Clinical stories (patient script, examination, test results) for each condition family."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.bank.clinical.cardiac import heart_failure
from sim.bank.clinical.common import Clinical
from sim.bank.clinical.infection import bronchitis, pneumonia
from sim.bank.clinical.neoplasm import lung_cancer, nodule
from sim.bank.clinical.pleural import effusion, pneumothorax
from sim.bank.regions import Side, Zone

FamilyBuilder = Callable[[np.random.Generator, Side | None, Zone | None], Clinical]

FAMILIES: dict[str, FamilyBuilder] = {
    "bronchitis": bronchitis,
    "pneumonia": pneumonia,
    "effusion": effusion,
    "pneumothorax": pneumothorax,
    "heart_failure": heart_failure,
    "nodule": nodule,
    "lung_cancer": lung_cancer,
}


def build_clinical(family: str, rng: np.random.Generator, side: Side | None, level: Zone | None) -> Clinical:
    return FAMILIES[family](rng, side, level)


__all__ = ["FAMILIES", "Clinical", "build_clinical"]
