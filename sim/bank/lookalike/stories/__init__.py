"""Clinical stories of the look-alike bank: one builder per diagnosis, all sharing one frame.

`build_story(key, rng, side, zone)` writes the patient script, the examination and the test results of a
case of diagnosis `key`; `side` and `zone` say where the film's sign is, so the examination agrees with it.
All randomness comes from `rng`: the same generator state gives the same story.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.bank.lookalike.catalogue import BY_KEY
from sim.bank.lookalike.stories import (
    cardiac,
    consolidation,
    effusion,
    nodule,
    normal,
    pneumothorax,
)
from sim.bank.lookalike.stories.common import Story
from sim.bank.regions import Side, Zone

Builder = Callable[[np.random.Generator, Side | None, Zone | None], Story]

BUILDERS: dict[str, Builder] = {
    "parapneumonic_effusion": effusion.parapneumonic_effusion,
    "malignant_effusion": effusion.malignant_effusion,
    "tuberculous_effusion": effusion.tuberculous_effusion,
    "hepatic_hydrothorax": effusion.hepatic_hydrothorax,
    "pneumococcal_pneumonia": consolidation.pneumococcal_pneumonia,
    "legionella_pneumonia": consolidation.legionella_pneumonia,
    "aspiration_pneumonia": consolidation.aspiration_pneumonia,
    "pulmonary_tuberculosis": consolidation.pulmonary_tuberculosis,
    "ischaemic_cardiomyopathy": cardiac.ischaemic_cardiomyopathy,
    "alcoholic_cardiomyopathy": cardiac.alcoholic_cardiomyopathy,
    "pericardial_effusion": cardiac.pericardial_effusion,
    "viral_myocarditis": cardiac.viral_myocarditis,
    "lung_cancer": nodule.lung_cancer,
    "pulmonary_metastases": nodule.pulmonary_metastases,
    "tuberculoma": nodule.tuberculoma,
    "hamartoma": nodule.hamartoma,
    "primary_pneumothorax": pneumothorax.primary_pneumothorax,
    "secondary_pneumothorax": pneumothorax.secondary_pneumothorax,
    "traumatic_pneumothorax": pneumothorax.traumatic_pneumothorax,
    "iatrogenic_pneumothorax": pneumothorax.iatrogenic_pneumothorax,
    "asthma": normal.asthma,
    "bronchitis": normal.bronchitis,
    "pulmonary_embolism": normal.pulmonary_embolism,
    "panic_attack": normal.panic_attack,
}


def _site(key: str, rng: np.random.Generator) -> tuple[Side | None, Zone | None]:
    """A site from the catalogue's weights, for callers that give none to a lateralised diagnosis."""
    sites = BY_KEY[key].sites
    weights = np.array([w for *_, w in sites], dtype=float)
    side, zone, _ = sites[int(rng.choice(len(sites), p=weights / weights.sum()))]
    return side, zone


def build_story(key: str, rng: np.random.Generator, side: Side | None = None, zone: Zone | None = None) -> Story:
    if key not in BUILDERS:
        raise KeyError(f"no story for diagnosis {key!r}")
    if side is None and BY_KEY[key].sites:
        side, zone = _site(key, rng)
    return BUILDERS[key](rng, side, zone)


__all__ = ["BUILDERS", "Story", "build_story"]
