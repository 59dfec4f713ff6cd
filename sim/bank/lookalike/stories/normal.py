"""A normal film: asthma (atopy), bronchitis (viral), pulmonary embolism (procedure) and a panic attack
(young).

Breathlessness, a tight chest or a cough bring all four; a clear film rules out the other pictures but
not these. What decides is the background: lifelong wheeze and allergies, a cold caught from those around,
a recent operation or immobility, or repeated identical spells under stress with tingling fingers.
"""

from __future__ import annotations

import numpy as np

from sim.bank.lookalike.stories import infections, openings, plots, singletons, themes
from sim.bank.lookalike.stories.background import background
from sim.bank.lookalike.stories.case import Case, chest_exam, finish, severity, start
from sim.bank.lookalike.stories.common import Line, Story, person, years_ago
from sim.bank.regions import Side, Zone
from sim.bank.sampling import chance, pick

WHEEZY: tuple[Line, ...] = (
    ("Chest has felt tight and breathing noisy for {span}, worse at night and first thing in the morning.",
     "Wheeze and breathlessness", ("wheeze",)),
    ("Wheezy and short of breath for {span}; the cough keeps waking at night.", "Wheeze and cough",
     ("wheeze", "cough")),
)  # fmt: skip
COUGHING: tuple[Line, ...] = (
    ("A cough for {span}, now bringing up phlegm.", "Cough", ("cough", "sputum")),
    ("Hacking cough for {span} that keeps everyone awake; the chest is sore from coughing.", "Chesty cough",
     ("cough",)),
)  # fmt: skip
SUDDEN: tuple[Line, ...] = (
    ("Suddenly became breathless {when}, and it has not settled.", "Sudden breathlessness", ()),
    ("A sharp pain in the {side} side of the chest when breathing in since {when}, and short of breath.",
     "Chest pain on breathing in", ("chest_pain",)),
    ("Came over faint and breathless {when} while walking to the kitchen.", "Breathlessness", ("fainting",)),
)  # fmt: skip
SPELL: tuple[Line, ...] = (
    ("Suddenly felt unable to get enough air {when}, with a pounding heart and a tight chest.",
     "Sudden breathlessness", ("palpitations", "chest_pain")),
    ("Came over breathless and shaky {when}, with the heart racing; it is easing now.",
     "Racing heart and breathlessness", ("palpitations",)),
)  # fmt: skip


def _wheeze(c: Case) -> None:
    c.exam.set(
        "Respiratory_Examination",
        "Auscultation",
        pick(
            c.draft.rng,
            ("Widespread expiratory wheeze; prolonged expiration", "Wheeze throughout both lungs on breathing out"),
        ),
    )


def _rhonchi(c: Case) -> None:
    c.exam.set(
        "Respiratory_Examination",
        "Auscultation",
        pick(
            c.draft.rng,
            (
                "Scattered coarse crackles that clear on coughing",
                "Coarse rhonchi on both sides that change with coughing",
            ),
        ),
    )


def asthma(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (16, 64), 0.45), side, zone)
    openings.opening(c, WHEEZY, "atopy", p_theme=0.1)
    d = c.draft
    d.tags.update(("wheeze", "cough"))
    known = chance(rng, 0.85)
    if known:
        singletons.asthma_history(c)
        if chance(rng, 0.5):
            d.fact(
                "ros",
                f"Has needed the blue inhaler {int(rng.integers(4, 12))} times a day this week, with less "
                "and less effect",
                key=True,
                brief="needing the reliever inhaler many times a day",
            )
    else:
        d.fact(
            "pmh",
            "Was told as a child of having a wheezy chest; has an old blue inhaler somewhere at home",
            key=True,
            brief="wheezy chest as a child",
        )
    if chance(rng, 0.5) or not known or len(d.keys) < 2:
        singletons.atopy(c, key=True)
    if chance(rng, 0.4):
        d.fact("ros", pick(rng, ("It started after visiting a friend who keeps cats", ("It started during a spell of "
                                 "high pollen"), "It started after a cold", ("It started after running in cold, foggy "
                                 "air"), "It started after sitting next to a bonfire")), key=True,
               brief="a clear trigger")  # fmt: skip
    if known and chance(rng, 0.25):
        d.fact(
            "social",
            "Ran out of the preventer inhaler a month ago and has not renewed it",
            key=True,
            brief="stopped the preventer inhaler",
        )
    if known and chance(rng, 0.3):
        d.fact(
            "pmh",
            f"Admitted to hospital with breathing {years_ago(int(rng.integers(1, 12)))} and given steroid tablets",
        )
    severity(c, (0.15, 0.55, 0.3), anxious=True)
    background(c, "asthma")
    chest_exam(c, _wheeze, 0.55, dull=False)
    labs = c.labs
    labs.pef_share = (0.35, 0.70)
    if chance(rng, 0.55):
        labs.eosinophils = (0.45, 1.20)
    return finish(c)


def bronchitis(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (18, 80), 0.5), side, zone)
    plots.viral_story(c, COUGHING, weights=(0.45, 0.45, 0.1))
    # What the virus did to the airways: a cough that brings up phlegm, and a chest sore from it.
    d = c.draft
    if "cough" not in d.tags:
        if chance(rng, 0.65):
            infections.coloured_sputum(c, ("clear", "white", "yellow", "green"))
        else:
            d.fact(
                "symptom", pick(rng, ("A hacking dry cough", "A dry cough that keeps waking at night")), tags=("cough",)
            )
    if chance(rng, 0.35):
        d.fact("symptom", "The chest aches from coughing", tags=("chest_pain",))
    if chance(rng, 0.2):
        d.fact("symptom", "Mild wheeze at night", tags=("wheeze",))
    background(c, "bronchitis")
    chest_exam(c, _rhonchi, 0.25, dull=False)
    c.labs.sputum_culture = pick(
        rng,
        (
            "Normal upper respiratory flora; no pathogens isolated",
            ("Haemophilus influenzae isolated"),
            "Scanty sample; normal respiratory flora only",
            "No sputum could be produced",
        ),
    )
    return finish(c)


def pulmonary_embolism(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (22, 88), 0.5), side, zone)
    d = c.draft
    leg = pick(rng, ("left", "right"))
    if chance(rng, 0.8):
        plots.procedure_story(c, SUDDEN, kind="clot", days=(4, 21), side=leg)
    else:
        openings.opening(c, SUDDEN, "procedure")
        place, hours = pick(rng, (("Australia", 22), ("Thailand", 12), ("California", 11), ("South Africa", 11)))
        days = int(rng.integers(3, 15))
        d.fact(
            "social",
            f"Sat for {hours} hours on a flight back from {place} {days} days ago",
            key=True,
            brief=f"long-haul flight {days} days ago",
            tags=("travel",),
        )
        severity(c, (0.2, 0.5, 0.3), fever=0.1, anxious=True)
    if chance(rng, 0.35):
        d.fact(
            "ros",
            f"The {leg} calf has been swollen and sore for a few days",
            key=True,
            brief="a swollen calf",
            tags=("calf",),
        )
        c.exam.set(
            "General_Examination",
            "Legs",
            f"{leg.capitalize()} calf swollen and tender, {int(rng.integers(2, 5))} cm larger than the other",
        )
    if chance(rng, 0.15):
        themes.haemoptysis(c)
    if len(d.keys) < 2:
        d.fact("ros", "Has spent most of the time since in bed or a chair", key=True, brief="immobile since")
    c.vitals.heart_rate = (96, 130)
    background(c, "pulmonary_embolism")
    chest_exam(c, dull=False)
    labs = c.labs
    labs.d_dimer = (1.2, 9.0) if chance(rng, 0.97) else (0.4, 0.6)
    labs.crp, labs.wbc = (5, 50), (7.0, 13.0)
    if chance(rng, 0.3):
        labs.troponin, labs.nt_probnp = (20, 150), (300, 3200)
    labs.ecg_findings = [pick(rng, ("normal axis, no ST-segment or T-wave changes",
                                    "normal axis, no ST-segment or T-wave changes",
                                    "S wave in I, Q wave and inverted T wave in III", "T-wave inversion in V1-V4",
                                    "right bundle branch block"))]  # fmt: skip
    return finish(c)


def panic_attack(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (16, 48), 0.35), side, zone)
    plots.young_story(c, SPELL)
    c.draft.tags.add("palpitations")
    c.vitals.spo2, c.vitals.systolic = (97, 100), (122, 156)  # overbreathing: the oxygen is high, not low
    background(c, "panic_attack")
    chest_exam(c, dull=False)
    c.labs.paco2, c.labs.bicarbonate = (3.2, 4.2), (20.0, 23.0)
    return finish(c)
