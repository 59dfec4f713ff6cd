"""Fluid at one base: parapneumonic (infection), malignant (malignancy), tuberculous (tuberculosis) and
hepatic hydrothorax (alcohol).

The complaint and the chest signs say "something at that base" in only part of the cases (a small
collection is easily missed and reads like consolidation). No fluid is drawn: every case of the bank has
the same tests, so the cause is read from the story and the shared panel, as at the front door before a
tap: the markers of bacterial infection, a cancer treated before (or weight loss, asbestos, a raised
calcium), a birthplace or contact with night sweats and a positive blood test for TB, or a scarred liver
with a low albumin, a high bilirubin and clotting time, and fluid in the belly.
"""

from __future__ import annotations

import numpy as np

from sim.bank.lookalike.stories import infections, plots
from sim.bank.lookalike.stories.background import background
from sim.bank.lookalike.stories.case import Case, chest_exam, finish, start
from sim.bank.lookalike.stories.common import Line, Story, person
from sim.bank.regions import Side, Zone
from sim.bank.sampling import chance, pick

TYPICAL: tuple[Line, ...] = (
    ("Breathlessness has crept up over {span}; now gets out of breath walking to the end of the road.",
     "Increasing breathlessness", ()),
    ("Over {span} has found it harder to get a breath, with a heavy feeling low in the {side} side of the chest.",
     "Breathlessness and a heavy chest", ("chest_pain",)),
    ("Has been getting more breathless for {span} and finds it easier to lie on the {side} side.",
     "Increasing breathlessness", ()),
)  # fmt: skip


def _stony(c: Case) -> None:
    e, rng, side = c.exam, c.draft.rng, c.draft.side or "right"
    base = f"{side} base"
    e.set("Respiratory_Examination", "Inspection", f"Reduced movement of the {side} side of the chest")
    e.set(
        "Respiratory_Examination", "Palpation", f"Trachea central; reduced expansion and tactile fremitus at the {base}"
    )
    e.set(
        "Respiratory_Examination",
        "Percussion",
        pick(rng, (f"Stony dull at the {base}", f"Stony dull at the {base}, up to the mid-back")),
    )
    e.set(
        "Respiratory_Examination",
        "Auscultation",
        f"Absent breath sounds and reduced vocal resonance at the {base}; bronchial breathing just above the dull area",
    )


def parapneumonic_effusion(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (28, 84), 0.6), side, zone)
    plots.infection_story(c, TYPICAL)
    background(c, "parapneumonic_effusion")
    chest_exam(c, _stony)
    c.labs.pneumococcal_antigen = "Positive" if chance(rng, 0.45) else "Negative"
    c.labs.sputum_culture = pick(rng, infections.INFECTED_SPUTUM)
    return finish(c)


def malignant_effusion(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (45, 88), 0.45), side, zone)
    plots.malignancy_story(c, TYPICAL, known=0.85, asbestos_ok=True)
    background(c, "malignant_effusion")
    chest_exam(c, _stony)
    if chance(rng, 0.12):
        c.exam.set(
            "General_Examination", "Lymph_Nodes", f"A hard, fixed lymph node above the {side or 'right'} collarbone"
        )
    return finish(c)


def tuberculous_effusion(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (18, 66), 0.6), side, zone)
    plots.tb_story(c, TYPICAL, active=True)
    background(c, "tuberculous_effusion")
    chest_exam(c, _stony)
    if chance(rng, 0.1):  # TB of the pleura alone seldom puts bacilli in the sputum
        c.labs.afb_smear = "Acid-fast bacilli seen (scanty)"
        c.labs.sputum_culture = "Normal respiratory flora; no pathogens isolated"
    return finish(c)


def hepatic_hydrothorax(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (38, 76), 0.65), side, zone)
    # Fluid leaks up from the belly of a scarred liver: most have ascites, and the liver is the point of the story.
    plots.alcohol_story(c, TYPICAL, liver=1.0, event_p=0.5, ascites=0.75)
    background(c, "hepatic_hydrothorax")
    chest_exam(c, _stony)
    c.vitals.systolic = (92, 124)
    return finish(c)
