"""One case under construction (script draft, examination, labs, vital-sign ranges), how it is started and
finished into a Story, and the builders every story shares: how ill the patient is, and the chest signs.

The chest signs are drawn from one mixture for the whole bank (nothing, a dull quiet base, fluid, small
signs); a picture's own signs replace them only in the "florid" cases (see FLORID), which also open with the
group's typical complaint, because bedside signs are unreliable and a film's group should not be readable
from the story and the examination alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.bank.lookalike.stories.bedside import Exam, Vitals, draw_vitals
from sim.bank.lookalike.stories.common import Draft, Person, Story, shuffled
from sim.bank.lookalike.stories.panel import Labs, render_tests
from sim.bank.regions import Side, Zone
from sim.bank.sampling import chance, pick


@dataclass
class Case:
    """Everything a member's builder fills in, finished into a Story by `finish`."""

    draft: Draft
    exam: Exam
    labs: Labs
    vitals: Vitals


# How often the picture shows itself at the front door: its typical complaint and its bedside signs. Both come
# together, in the same cases (a big collection or a whole lobe gives both, a small one neither), so the other
# cases carry no sign of their picture at all.
FLORID = 0.25


def start(rng: np.random.Generator, who: Person, side: Side | None, zone: Zone | None) -> Case:
    sides: tuple[Side, Side] = ("right", "left")
    bedside: Side = side if side is not None else pick(rng, sides)
    draft = Draft(rng, who, side, zone, bedside=bedside, florid=chance(rng, FLORID))
    return Case(draft, Exam(rng, who), Labs(who), Vitals())


def fit(c: Case) -> bool:
    """Whether the story calls the patient previously fit: then nothing chronic may be written beside it."""
    return any("fit and well" in p or "Fit and active" in p for p in c.draft.pmh)


def finish(case: Case) -> Story:
    rng = case.draft.rng
    drawn = draw_vitals(rng, case.vitals)
    if drawn.rhythm == "af":
        case.exam.set("Cardiovascular_Examination", "Pulse", "Irregularly irregular")
    exam = case.exam.render(drawn)
    tests = render_tests(rng, case.labs, drawn)
    d = case.draft
    # Every section in no telling order: the order facts were written in would say which story wrote them.
    d.pmh, d.social, d.ros, d.secondary = (
        shuffled(rng, d.pmh),
        shuffled(rng, d.social),
        shuffled(rng, d.ros),
        shuffled(rng, d.secondary),
    )
    keys = tuple(d.keys[:4])
    return Story(d.script(), exam, tests, d.who.age, d.who.sex, d.context(), keys)


_APPEARANCES = {
    0: ("Comfortable at rest, talking in full sentences", "Looks well; not distressed", "Alert and comfortable at rest"),
    1: ("Mildly breathless when talking", "Comfortable at rest; breathless on moving", "Looks tired; mildly breathless"),
    2: ("Breathless at rest; speaking in short sentences", "Looks unwell and breathing fast",
        "Uncomfortable, sitting upright; breathless on talking"),
}  # fmt: skip
_FEBRILE = ("Flushed and sweaty", "Hot to touch and shivering", "Flushed; looks unwell")
_ANXIOUS = ("Anxious and restless", "Frightened-looking; breathing fast")


def appearance(c: Case, level: int, febrile: bool = False, anxious: bool = False) -> None:
    rng = c.draft.rng
    text = pick(rng, _APPEARANCES[level])
    if febrile and chance(rng, 0.6):
        text = f"{pick(rng, _FEBRILE)}; {text[0].lower()}{text[1:]}" if level else "Flushed; otherwise comfortable"
    elif anxious and level and chance(rng, 0.5):
        text = f"{pick(rng, _ANXIOUS)}; {text[0].lower()}{text[1:]}"
    c.exam.set("General_Examination", "Appearance", text)


# Vital signs follow how ill the patient is, on one scale for the whole bank: a mild pneumonia and a
# mild effusion look the same at the bedside. (heart rate, respiratory rate, SpO2, systolic pressure)
_SEVERITY = {
    0: ((62, 96), (12, 18), (95, 99), (108, 148)),
    1: ((78, 110), (16, 24), (92, 97), (100, 145)),
    2: ((96, 128), (22, 32), (86, 93), (90, 135)),
}


def severity(c: Case, weights: tuple[float, float, float], *, fever: float = 0.0, anxious: bool = False) -> bool:
    """Draw how unwell the patient is (well, moderate, severe) and whether febrile; set vital signs and the
    general appearance to match. Returns whether febrile."""
    rng = c.draft.rng
    level = int(rng.choice(3, p=np.array(weights) / sum(weights)))
    if "well" in c.draft.tags:  # a patient who came for a check-up is not ill at the bedside
        level, fever = 0, 0.0
    (c.vitals.heart_rate, c.vitals.resp_rate, c.vitals.spo2, c.vitals.systolic) = _SEVERITY[level]
    febrile = chance(rng, fever)
    c.vitals.temp = (37.8, 39.6) if febrile else (36.3, 37.3)
    if febrile:
        c.draft.tags.add("fever")  # never "denies fevers" with a temperature on the chart
    c.labs.paco2 = ((4.7, 5.9), (4.2, 5.5), (3.7, 4.9))[level]  # breathless patients blow off carbon dioxide
    if level == 2:
        c.labs.lactate = (1.2, 3.4)
    appearance(c, level, febrile=febrile, anxious=anxious)
    return febrile


def small_signs(c: Case, dull: bool = True) -> None:
    """Small chest findings that point nowhere in particular, on the bedside side or at both bases. They never
    name a zone: an upper or mid zone is heard only with the picture's own signs, so it is not a clue beside them."""
    rng, side = c.draft.rng, c.draft.bedside
    e = c.exam
    if dull and chance(rng, 0.3):
        e.set("Respiratory_Examination", "Percussion", f"Possibly dull at the {side} base")
    e.set("Respiratory_Examination", "Auscultation", pick(rng, (
        f"Reduced breath sounds at the {side} base", f"A few crackles at the {side} base",
        f"Breath sounds slightly quieter on the {side}", "A few crackles at both bases", "A few scattered wheezes",
        "Breath sounds a little quiet at both bases")))  # fmt: skip


def base_signs(c: Case) -> None:
    """The signs fluid and a filled lobe share at a base, worded the same for both: dull, quiet, a few crackles."""
    rng, side = c.draft.rng, c.draft.bedside
    where = f"{side} base"
    c.exam.set("Respiratory_Examination", "Percussion", f"Dull at the {where}")
    c.exam.set(
        "Respiratory_Examination",
        "Auscultation",
        pick(
            rng, (f"Reduced breath sounds at the {where}", f"Reduced breath sounds and a few crackles at the {where}")
        ),
    )


def fluid_signs(c: Case) -> None:
    """Fluid at the bases as it is heard beside many illnesses (a pneumonia's small collection, a failing heart,
    a cancer, a clot): one base, or both."""
    rng = c.draft.rng
    where = "both bases" if chance(rng, 0.4) else f"the {c.draft.bedside} base"
    c.exam.set("Respiratory_Examination", "Percussion", pick(rng, (f"Stony dull at {where}", f"Dull at {where}")))
    c.exam.set("Respiratory_Examination", "Auscultation", f"Reduced breath sounds at {where}")


def _heart_small_signs(c: Case) -> None:
    rng, e = c.draft.rng, c.exam
    roll = float(rng.random())
    if roll < 0.15:
        e.add("General_Examination", "Legs", "Mild ankle swelling")
    elif roll < 0.25:
        e.set("Cardiovascular_Examination", "Jugular_Venous_Pressure", "Difficult to see")
    elif roll < 0.32:
        e.set("Cardiovascular_Examination", "Apex_Beat", "Difficult to feel")


def _shows(c: Case, share: float) -> bool:
    """Whether the picture's signs show: always in a florid case, and in more cases only where `share` (how
    often they show in all) is above the florid share."""
    return c.draft.florid or chance(c.draft.rng, max(0.0, share - FLORID) / (1 - FLORID))


def chest_exam(c: Case, lung=None, p_lung: float = FLORID, heart=None, p_heart: float = 0.0, dull: bool = True) -> None:
    """The chest and heart examination. The picture's own signs (`lung`, `heart`: callables) appear in florid
    cases (and a few more where `p_lung`, `p_heart` ask for more); otherwise every case draws from one mixture
    (nothing, the dull quiet base that fluid and a filled lobe share, fluid at one or both bases, small signs),
    so the rest says little of the film. Dullness needs something on the film to be dull (`dull`=False for air,
    a nodule or a clear film)."""
    rng = c.draft.rng
    # Dullness at a base where the film's shadow is higher up would contradict it: such films get no dull base.
    dull = dull and c.draft.zone in (None, "lower")
    if lung is not None and _shows(c, p_lung):
        lung(c)
    else:
        roll = float(rng.random())
        if dull and roll < 0.2:
            base_signs(c)
        elif dull and roll < 0.3:
            fluid_signs(c)
        elif roll < 0.68:
            small_signs(c, dull=dull)
    if heart is not None and p_heart > 0 and (p_heart >= 1 or _shows(c, p_heart)):
        heart(c)
    else:
        _heart_small_signs(c)
