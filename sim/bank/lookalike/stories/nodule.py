"""A round shadow: primary lung cancer (smoker), metastases (malignancy), tuberculoma (tuberculosis) and
hamartoma (incidental).

The chest is usually normal to examine and the complaint often trivial or unrelated. The two malignant
members are told apart by heavy smoking with weight loss or blood in the phlegm (primary) against a cancer
treated before elsewhere (metastases); the benign ones by a past or place of tuberculosis against no risk at
all, or a spot seen years ago that has not grown.
"""

from __future__ import annotations

import numpy as np

from sim.bank.lookalike.stories import openings, plots, singletons, themes
from sim.bank.lookalike.stories.background import background
from sim.bank.lookalike.stories.case import chest_exam, finish, severity, start
from sim.bank.lookalike.stories.common import Line, Story, person, spot
from sim.bank.regions import Side, Zone
from sim.bank.sampling import chance, pick

TYPICAL: tuple[Line, ...] = (
    ("A cough that has hung on for {span}.", "Lingering cough", ("cough",)),
    ("A vague ache in the {side} side of the chest for {span}.", "Chest ache", ("chest_pain",)),
    ("Feels more tired than usual and has had a tickly cough for {span}.", "Tiredness and cough", ("cough",)),
)  # fmt: skip


def lung_cancer(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (48, 88), 0.6), side, zone)
    d = c.draft
    if chance(rng, 0.92):  # a smoker's lungs, told as a smoker with an air leak tells them
        # Over weeks as a rule; sometimes a blocked airway or a bleed makes breathing worse suddenly.
        plots.smoker_story(c, TYPICAL, tempo=openings.TEMPO["smoker"] if chance(rng, 0.8) else openings.SUDDEN)
    else:  # never-smokers get it too: then the symptoms carry it
        openings.opening(c, TYPICAL, "malignancy")
        d.fact("social", "Has never smoked", tags=("smoking",))
        themes.haemoptysis(c, key=True)
    # What the growth itself does: weight and appetite lost, blood in the phlegm, a hoarse voice.
    if chance(rng, 0.6) or len(d.keys) < 2:
        themes.weight_loss(c, key=True)
    if chance(rng, 0.35) and "blood" not in d.tags:
        themes.haemoptysis(c, key=True)
    if chance(rng, 0.12):
        d.fact("ros", "Voice has been hoarse for a month", key=True, brief="hoarse voice", tags=("hoarse",))
    severity(c, (0.4, 0.45, 0.15), fever=0.08)
    themes.malignancy_labs(c)
    background(c, "lung_cancer")
    chest_exam(c, dull=False)
    e = c.exam
    if chance(rng, 0.2):
        e.set("General_Examination", "Hands", "Finger clubbing; nicotine staining")
    if chance(rng, 0.1):
        e.set("General_Examination", "Lymph_Nodes", "A hard lymph node above the right collarbone")
    if chance(rng, 0.15):
        e.set("Respiratory_Examination", "Auscultation", f"A localised wheeze over the {spot(side or 'right', zone)}")
    themes.copd_signs(c)
    if chance(rng, 0.08):
        c.labs.sodium = (123, 131)
    return finish(c)


def pulmonary_metastases(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (30, 86), 0.5), side, zone)
    plots.malignancy_story(c, TYPICAL, known=1.0)
    background(c, "pulmonary_metastases")
    chest_exam(c, dull=False)
    if chance(rng, 0.1):
        c.exam.set("Abdominal_Examination", "Palpation", "Liver edge firm and irregular, three fingers below the ribs")
    return finish(c)


def tuberculoma(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (22, 80), 0.55), side, zone)
    plots.tb_story(c, TYPICAL, active=False)
    background(c, "tuberculoma")
    chest_exam(c, dull=False)
    return finish(c)


def hamartoma(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (30, 76), 0.55), side, zone)
    openings.opening(c, TYPICAL, "incidental", p_theme=0.45, theme_lines=openings.INCIDENTAL)
    d = c.draft
    old = chance(rng, 0.6)
    if old:  # a spot seen years ago that has not grown: what marks it as harmless
        singletons.old_scan(c, key=True)
    # No risk at all, said in several ways (each also said by many patients of other films); a life spent here,
    # away from tuberculosis, most often.
    facts = [f for f, share in enumerate((0.55, 0.7, 0.55, 0.55)) if chance(rng, share)]
    while len(facts) + old < 2:
        facts = sorted({*facts, int(rng.integers(0, 4))})
    if 0 in facts or chance(rng, 0.7):
        d.fact("social", "Has never smoked", key=0 in facts, brief="never smoked", tags=("smoking",))
    else:
        d.fact(
            "social",
            "Smoked for two years as a student; stopped decades ago",
            brief="brief smoking decades ago",
            tags=("smoking",),
        )
    if 1 in facts:
        singletons.born_here(c, key=True)
    if 2 in facts:
        d.fact("pmh", "Never had cancer or any serious chest illness", key=True, brief="no previous cancer")
    if 3 in facts:
        d.fact(
            "ros",
            pick(rng, ("Weight is steady and appetite is good", "Feels well in general; weight unchanged")),
            key=True,
            brief="weight steady",
            tags=("weight",),
        )
    severity(c, (0.8, 0.2, 0.0), fever=0.05)
    background(c, "hamartoma")
    chest_exam(c, dull=False)
    if chance(rng, 0.03):  # latent infection is common enough to turn up by chance
        c.labs.igra = "Positive"
    return finish(c)
