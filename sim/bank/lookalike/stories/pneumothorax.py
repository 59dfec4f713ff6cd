"""Air around one lung: primary (young), secondary (smoker), traumatic (trauma) and iatrogenic (procedure).

The sudden one-sided pain is typical in only part of the cases and a small leak is easily missed at the
bedside; what decides is who the patient is (young and lanky, or a smoker with damaged lungs) and what
happened just before (an injury, or a needle near the lung).
"""

from __future__ import annotations

import numpy as np

from sim.bank.lookalike.stories import openings, plots, singletons, themes
from sim.bank.lookalike.stories.background import background
from sim.bank.lookalike.stories.case import Case, chest_exam, finish, severity, start
from sim.bank.lookalike.stories.common import Line, Story, person
from sim.bank.regions import Side, Zone
from sim.bank.sampling import chance, pick

TYPICAL: tuple[Line, ...] = (
    (("A sudden sharp pain in the {side} side of the chest {when}, followed by breathlessness; the pain catches on "
     "breathing in."), "Sudden {side}-sided chest pain", ("chest_pain",)),
    ("Felt something give in the {side} side of the chest {when}, and since then cannot take a full breath.",
     "Sharp chest pain and breathlessness", ("chest_pain",)),
    ("Sudden {side}-sided chest pain {when}; now short of breath walking across the room.",
     "Sudden {side}-sided chest pain", ("chest_pain",)),
)  # fmt: skip


def _hyper_resonant(c: Case) -> None:
    e, rng, side = c.exam, c.draft.rng, c.draft.side or "right"
    e.set("Respiratory_Examination", "Inspection", f"Reduced expansion of the {side} side of the chest")
    e.set(
        "Respiratory_Examination",
        "Percussion",
        pick(rng, (f"Hyper-resonant over the {side} upper chest", f"Hyper-resonant over the whole {side} side")),
    )
    e.set("Respiratory_Examination", "Auscultation", pick(rng, (
        f"Markedly reduced breath sounds over the {side} side, most at the top",
        f"Breath sounds barely heard over the {side} upper chest")))  # fmt: skip


def primary_pneumothorax(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (16, 38), 0.8), side, zone)
    plots.young_story(c, TYPICAL)
    c.labs.paco2 = (3.6, 5.0)  # pain and fright make a young chest overbreathe, as a panic does
    background(c, "primary_pneumothorax")
    chest_exam(c, _hyper_resonant, 0.35, dull=False)
    return finish(c)


def secondary_pneumothorax(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (50, 88), 0.7), side, zone)
    # Sudden as a rule, but in damaged lungs a leak can creep up over a day or three, like a bad spell of COPD.
    plots.smoker_story(c, TYPICAL, tempo=openings.SUDDEN if chance(rng, 0.7) else ("days", 1, 3))
    if chance(rng, 0.2):  # damaged lungs wear the body down too
        themes.weight_loss(c)
    severity(c, (0.0, 0.4, 0.6), anxious=True)
    c.vitals.spo2 = (83, 92)
    background(c, "secondary_pneumothorax")
    chest_exam(c, _hyper_resonant, 0.35, dull=False)
    labs = c.labs
    labs.pef_share = (0.30, 0.60)
    themes.copd_signs(c)
    return finish(c)


def traumatic_pneumothorax(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (17, 82), 0.7), side, zone)
    openings.opening(c, TYPICAL, "trauma", p_theme=0.1)
    s = side or "right"
    singletons.injury(c, pick(rng, ("this morning", "yesterday", "last night", "two days ago")), s)
    c.draft.fact(
        "symptom",
        pick(
            rng,
            (
                f"The ribs on the {s} side hurt when pressed",
                "Pain over the ribs where the bruise is, worse when turning",
            ),
        ),
        key=True,
        brief="painful ribs",
        tags=("chest_pain",),
    )
    if chance(rng, 0.2):
        c.draft.fact("social", "Had been drinking before it happened")
    severity(c, (0.25, 0.5, 0.25), anxious=True)
    background(c, "traumatic_pneumothorax")
    chest_exam(c, _hyper_resonant, 0.35, dull=False)
    e = c.exam
    if chance(rng, 0.6):
        e.add("General_Examination", "Skin", f"Bruising over the {s} lower ribs")
    if chance(rng, 0.7):
        e.set(
            "Respiratory_Examination",
            "Palpation",
            f"Trachea central; tender over the {s} ribs"
            + ("; crackling under the skin on pressing" if chance(rng, 0.25) else ""),
        )
    c.labs.d_dimer = (0.8, 3.5) if chance(rng, 0.6) else c.labs.d_dimer
    c.labs.crp = (4, 40)
    return finish(c)


def iatrogenic_pneumothorax(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (30, 88), 0.55), side, zone)
    s = side or "right"
    plots.procedure_story(c, TYPICAL, kind="leak", days=(0, 3), side=s)
    if chance(rng, 0.1):
        themes.copd(c, key=False)
    background(c, "iatrogenic_pneumothorax")
    chest_exam(c, _hyper_resonant, 0.35, dull=False)
    if chance(rng, 0.5):  # a needle or a knife through tissue raises the clot and inflammation markers a little
        c.labs.d_dimer, c.labs.crp = (0.6, 2.2), (6, 40)
    return finish(c)
