"""A lobe filled in: pneumococcal (infection), Legionella (travel), aspiration (alcohol) and tuberculosis.

All four cough and may be febrile; focal signs are heard in only part of the cases. What decides is the
exposure (a cold going round, a hotel stay, a drinking binge with vomiting, a birthplace or a contact),
the tempo (days against weeks) and the tests that fit the exposure (urinary antigens, sodium, smear).
"""

from __future__ import annotations

import numpy as np

from sim.bank.lookalike.stories import infections, plots, singletons
from sim.bank.lookalike.stories.background import background
from sim.bank.lookalike.stories.case import Case, chest_exam, finish, start
from sim.bank.lookalike.stories.common import Line, Story, person, spot
from sim.bank.regions import Side, Zone
from sim.bank.sampling import chance, pick

FLORA = "Normal respiratory flora; no pathogens isolated"

TYPICAL: tuple[Line, ...] = (
    ("Cough and feeling hot and cold for {span}; now short of breath walking across a room.", "Cough and breathlessness",
     ("cough", "fever")),
    (("Has been unwell with a cough for {span}, and now has a sharp pain in the {side} side of the chest on breathing "
     "in."), "Cough and chest pain", ("cough", "chest_pain")),
    ("A cough for {span}, bringing up thick phlegm, and getting more breathless.", "Cough with phlegm",
     ("cough", "sputum")),
)  # fmt: skip


def _bronchial(c: Case) -> None:
    e, rng, d = c.exam, c.draft.rng, c.draft
    where = spot(d.side or "right", d.zone)
    e.set("Respiratory_Examination", "Palpation", f"Trachea central; increased tactile fremitus over the {where}")
    e.set("Respiratory_Examination", "Percussion", f"Dull at the {where}")
    e.set("Respiratory_Examination", "Auscultation", pick(rng, (
        f"Bronchial breathing and coarse crackles over the {where}; increased vocal resonance",
        f"Coarse crackles and bronchial breathing at the {where}")))  # fmt: skip


def _cough(c: Case) -> None:
    """A filled lobe makes the patient cough, whatever else the story says."""
    if "cough" not in c.draft.tags:
        c.draft.fact("symptom", pick(c.draft.rng, ("Cough", "Cough with some phlegm", "A dry cough")), tags=("cough",))


def pneumococcal_pneumonia(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (22, 88), 0.55), side, zone)
    plots.infection_story(c, TYPICAL)
    background(c, "pneumococcal_pneumonia")
    chest_exam(c, _bronchial)
    _cough(c)
    if chance(rng, 0.08):  # overwhelming infection can drop the count
        c.labs.wbc = (2.1, 3.8)
    c.labs.pneumococcal_antigen = "Positive" if chance(rng, 0.7) else "Negative"
    c.labs.sputum_culture = pick(rng, infections.INFECTED_SPUTUM)
    return finish(c)


def legionella_pneumonia(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (35, 78), 0.7), side, zone)
    # It reads as any chest infection (though the cough is more often dry)...
    plots.infection_story(c, TYPICAL, keys=False, days=(2, 6), rigors=0.9, phlegm=0.4)
    if chance(rng, 0.9):  # ...but for where it was caught, two to ten days before it began
        onset = c.draft.onset_days or 3
        singletons.holiday(c, days=(onset + 2, onset + 9))
    else:
        c.draft.fact(
            "social",
            pick(
                rng,
                (
                    "Maintains air-conditioning units and cooling towers for a living",
                    "Has spent the last fortnight potting plants with bags of compost",
                ),
            ),
            key=True,
            brief="exposure to cooling towers or compost",
            tags=("job",),
        )
    diarrhoea = chance(rng, 0.5) and "diarrhoea" not in c.draft.tags
    if diarrhoea:
        c.draft.fact("symptom", "Loose stools for a few days", key=True, brief="diarrhoea", tags=("diarrhoea",))
    if chance(rng, 0.3):
        c.draft.fact("ros", "Family say there have been spells of muddled thinking", tags=("confusion",))
        c.exam.set("General_Examination", "Mental_State", "Drowsy and slow to answer; not sure of the date")
    headache = "Severe headache and aching muscles"
    if headache in c.draft.secondary:  # already there from the chest infection's own draws: it counts here
        c.draft.keys.append(headache)
    elif chance(rng, 0.6) or not diarrhoea:
        c.draft.fact("symptom", headache, key=True, brief="headache and aching muscles", tags=("headache",))
    if chance(rng, 0.3):  # the classic pulse too slow for the fever
        c.vitals.heart_rate = (76, 92)
    background(c, "legionella_pneumonia")
    chest_exam(c, _bronchial)
    _cough(c)
    labs = c.labs
    labs.wbc, labs.neutrophil_share, labs.lymphocytes = (10.0, 18.0), (0.82, 0.92), (0.3, 0.9)
    labs.crp, labs.procalcitonin, labs.d_dimer = (180, 450), (0.4, 6.0), (0.8, 3.0)
    if chance(rng, 0.7):
        labs.sodium = (121, 131)
    if chance(rng, 0.5):
        labs.alt, labs.bilirubin = (55, 160), (15, 34)
    if chance(rng, 0.3):
        labs.creatinine, labs.urea = (115, 210), (8.0, 16.0)
    labs.legionella_antigen = "Positive" if chance(rng, 0.75) else "Negative"
    labs.sputum_culture = pick(rng, (FLORA, "No sputum could be produced"))
    return finish(c)


def aspiration_pneumonia(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (35, 82), 0.7), side, zone)
    plots.alcohol_story(c, TYPICAL, liver=0.6, event_p=0.6, aspirated=True, fever=0.8)
    if chance(rng, 0.3):
        c.draft.fact("symptom", "Phlegm smells and tastes foul", tags=("sputum",))
    background(c, "aspiration_pneumonia")
    chest_exam(c, _bronchial)
    _cough(c)
    infections.bacterial_labs(c)
    c.labs.albumin = (27, 36)
    c.labs.sputum_culture = pick(rng, ("Mixed oral flora including anaerobes", "Klebsiella pneumoniae isolated",
                                       FLORA, "No sputum could be produced"))  # fmt: skip
    c.labs.pneumococcal_antigen = "Positive" if chance(rng, 0.05) else "Negative"
    return finish(c)


def pulmonary_tuberculosis(rng: np.random.Generator, side: Side | None, zone: Zone | None) -> Story:
    c = start(rng, person(rng, (18, 80), 0.65), side, zone)
    plots.tb_story(c, TYPICAL, active=True)
    background(c, "pulmonary_tuberculosis")
    chest_exam(c, _bronchial)
    _cough(c)
    if chance(rng, 0.5):  # about half of those with a cavity or a filled lobe cough up enough bacilli to see
        c.labs.afb_smear = pick(rng, ("Acid-fast bacilli seen (2+)", "Acid-fast bacilli seen (scanty)"))
        c.labs.sputum_culture = FLORA
    return finish(c)
