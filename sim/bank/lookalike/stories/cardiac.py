"""A big heart shadow: ischaemic (vascular) and alcoholic (alcohol) cardiomyopathy, malignant pericardial
fluid (malignancy) and viral myocarditis (viral).

Failure signs (raised neck veins, crackles, swollen legs) show in part of the cases; they do not say why
the heart is big. The cause is in the background: old coronary disease, years of heavy drinking, a cancer,
or a viral illness a week or two before in a young person; the ECG and troponin back it up in most cases.
"""

from __future__ import annotations

import numpy as np

from sim.bank.lookalike.stories import openings, plots, singletons, themes
from sim.bank.lookalike.stories.background import background
from sim.bank.lookalike.stories.case import Case, chest_exam, finish, severity, start
from sim.bank.lookalike.stories.common import Line, Story, person
from sim.bank.regions import Side, Zone
from sim.bank.sampling import chance, pick, pick_some

TYPICAL: tuple[Line, ...] = (
    ("Breathless on exertion for {span}, and now sleeps propped up on three pillows.", "Breathlessness on exertion",
     ("orthopnoea",)),
    ("Getting more breathless over {span}; wakes at night gasping and has to sit on the edge of the bed.",
     "Breathless lying flat", ("orthopnoea",)),
    ("The ankles have swollen over {span} and a walk to the shops is now a struggle for breath.",
     "Swollen ankles and breathlessness", ("ankles",)),
)  # fmt: skip


def _failure_signs(c: Case) -> None:
    e, rng = c.exam, c.draft.rng
    e.set(
        "Cardiovascular_Examination",
        "Jugular_Venous_Pressure",
        f"Raised, {int(rng.integers(4, 8))} cm above the sternal angle",
    )
    e.set("Cardiovascular_Examination", "Apex_Beat", "Displaced to the anterior axillary line")
    e.set(
        "Cardiovascular_Examination",
        "Heart_Sounds",
        pick(rng, ("Third heart sound (gallop rhythm)", "Soft pansystolic murmur at the apex")),
    )
    e.set("Respiratory_Examination", "Auscultation", "Fine crackles at both bases")
    e.set("General_Examination", "Legs", "Pitting oedema to the mid-shins")


def _tamponade_signs(c: Case) -> None:
    e, rng = c.exam, c.draft.rng
    e.set(
        "Cardiovascular_Examination",
        "Jugular_Venous_Pressure",
        f"Raised, {int(rng.integers(6, 10))} cm; rises further on breathing in",
    )
    e.set("Cardiovascular_Examination", "Heart_Sounds", "Quiet, distant heart sounds")
    e.set("Cardiovascular_Examination", "Apex_Beat", "Not palpable")
    e.set(
        "Cardiovascular_Examination",
        "Pulse",
        f"Regular; volume falls on breathing in (paradox {int(rng.integers(12, 24))} mmHg)",
    )


def ischaemic_cardiomyopathy(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (50, 88), 0.75), side, zone)
    openings.opening(c, TYPICAL, "vascular", p_theme=0.1)
    if chance(rng, 0.88):
        singletons.coronary_history(c)
        if chance(rng, 0.3):
            singletons.coronary_history(c)
    else:  # no known coronary disease: the risk factors and the ECG carry it
        c.draft.fact(
            "pmh",
            "Type 2 diabetes for 15 years, with damage to the kidneys and eyes",
            key=True,
            brief="long-standing diabetes",
        )
    if chance(rng, 0.35):
        c.draft.fact(
            "social",
            pick(rng, ("Father died of a heart attack at 54", ("Brother had a bypass operation at 50"))),
            key=True,
            brief="family history of heart disease",
        )
    c.draft.fact("pmh", pick(rng, singletons.RISK_FACTORS), key=True, brief="vascular risk factors")
    themes.heavy_smoker(c, current=0.3) if chance(rng, 0.4) else None
    severity(c, (0.3, 0.45, 0.25))
    c.vitals.rhythm = "af" if chance(rng, 0.2) else "sinus"
    background(c, "ischaemic_cardiomyopathy")
    chest_exam(c, heart=_failure_signs, p_heart=0.35)
    labs = c.labs
    labs.nt_probnp = (1200, 9500) if chance(rng, 0.95) else (300, 1100)
    labs.troponin = (15, 48) if chance(rng, 0.6) else (6, 14)
    labs.creatinine, labs.urea = (90, 165), (6.5, 13.0)
    labs.ecg_findings = [pick(rng, ("Q waves in V1-V4 with poor R-wave progression", "left bundle branch block",
                                    "Q waves in II, III and aVF", "Q waves in V1-V4 and T-wave inversion in I and aVL",
                                    "left ventricular hypertrophy with lateral T-wave inversion",
                                    "non-specific T-wave flattening in the lateral leads"))]  # fmt: skip
    return finish(c)


def alcoholic_cardiomyopathy(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (32, 68), 0.85), side, zone)
    plots.alcohol_story(c, TYPICAL, liver=0.4, event_p=0.5)
    if chance(rng, 0.3):  # a failing muscle adds to what drink alone does to the rhythm
        c.vitals.rhythm = "af"
    if c.vitals.rhythm == "af":
        c.vitals.heart_rate = (100, 140)
    background(c, "alcoholic_cardiomyopathy")
    chest_exam(c, heart=_failure_signs, p_heart=0.35)
    labs = c.labs
    labs.nt_probnp, labs.troponin = (1400, 12000), (8, 32)
    if chance(rng, 0.3):
        labs.potassium = (3.0, 3.5)
    labs.ecg_findings = pick_some(rng, ("non-specific T-wave flattening in the lateral leads",
                                        "left ventricular hypertrophy by voltage criteria",
                                        "frequent ventricular ectopic beats"), 0, 2)  # fmt: skip
    return finish(c)


def pericardial_effusion(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (38, 84), 0.45), side, zone)
    plots.malignancy_story(c, TYPICAL, known=0.85)
    background(c, "pericardial_effusion")
    tamponade = c.draft.florid  # a collection big enough to press on the heart always shows at the bedside
    chest_exam(c, heart=_tamponade_signs, p_heart=1.0 if tamponade else 0.0)
    if tamponade:
        c.vitals.systolic, c.vitals.heart_rate, c.vitals.spo2 = (80, 96), (104, 132), (90, 96)
    labs = c.labs
    labs.nt_probnp = (150, 1300)
    if chance(rng, 0.4):  # in a minority, as in life
        labs.ecg_findings = ["low QRS voltage in all leads"]
        if chance(rng, 0.3):
            labs.ecg_findings.append("beat-to-beat alternation in QRS height")
    return finish(c)


def viral_myocarditis(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (16, 52), 0.7), side, zone)
    plots.viral_story(c, TYPICAL, weights=(0.3, 0.45, 0.25))
    # What the virus did to the heart: pain, a racing or skipping heartbeat (one or both), troponin and the ECG.
    d = c.draft
    pain = chance(rng, 0.7)
    if pain:
        d.fact(
            "symptom",
            pick(
                rng,
                (
                    "A sharp central chest pain, worse lying back",
                    "A dull ache behind the breastbone",
                    "Chest tightness that comes and goes",
                ),
            ),
            key=True,
            brief="chest pain",
            tags=("chest_pain",),
        )
    if not pain or chance(rng, 0.4):
        d.fact(
            "symptom",
            pick(rng, ("Heart racing and missing beats", "Bouts of a fast, fluttering heartbeat")),
            key=True,
            brief="palpitations",
            tags=("palpitations",),
        )
    c.vitals.heart_rate = (96, 130)
    background(c, "viral_myocarditis")
    chest_exam(c, heart=_failure_signs, p_heart=0.35)
    if chance(rng, 0.2):
        c.exam.set("Cardiovascular_Examination", "Heart_Sounds", "A scratchy rub at the left sternal edge")
    labs = c.labs
    labs.troponin = (90, 4200) if chance(rng, 0.92) else (18, 60)
    labs.nt_probnp = (400, 6500)
    labs.ecg_findings = [
        pick(
            rng,
            (
                "widespread concave ST elevation with PR depression",
                "T-wave inversion in the lateral leads",
                "frequent ventricular ectopic beats",
                "widespread T-wave flattening",
                "normal axis, no ST-segment or T-wave changes",
            ),
        )
    ]
    return finish(c)
