"""Whole-theme plots: how a patient of each shared theme comes in and what the story holds, drawn the same
way whatever the group, so that theme-mates in different groups read alike without the film.

Each plot writes the opening (see `openings`), the theme's facts, how ill the patient is and the theme's
laboratory shifts; the member adds only its picture's signs, what the illness does to its own organ, and
its decisive tests.
"""

from __future__ import annotations

from collections.abc import Sequence

from sim.bank.lookalike.stories.case import Case, severity
from sim.bank.lookalike.stories.common import Line, years_ago
from sim.bank.lookalike.stories.infections import (
    bacterial_labs,
    coloured_sputum,
    contacts,
    fevers,
    gp_antibiotics,
    night_sweats,
    tb_contact,
    tb_labs,
    tb_origin,
    tb_past,
    tb_risk,
    tb_visit,
    viral_labs,
    viral_prodrome,
)
from sim.bank.lookalike.stories.openings import (
    INCIDENTAL,
    SUDDEN,
    TB_SCREENING,
    Tempo,
    opening,
)
from sim.bank.lookalike.stories.themes import (
    SPREADING,
    STRESSES,
    alcohol_harm,
    alcohol_intake,
    alcohol_labs,
    asbestos,
    baseline_breathless,
    cirrhosis,
    cirrhosis_signs,
    copd,
    haemoptysis,
    heavy_smoker,
    known_cancer,
    malignancy_labs,
    procedure,
    procedure_site,
    smokers_cough,
    stress,
    tall_and_thin,
    weight_loss,
    young_smoking,
)
from sim.bank.sampling import chance, pick

DRUNK_EVENTS = ("Woke on the bathroom floor {n} days ago after a heavy night's drinking, having vomited",
                "Had a fit {n} days ago after a weekend of heavy drinking and was found face down",
                "Vomited while very drunk {n} days ago and choked for a while",
                "Fell over while drunk {n} days ago and banged the head")  # fmt: skip
MILD_FEVERS = ("Felt feverish for the first couple of days only", "Had a mild temperature at the start, which settled")


def infection_story(
    c: Case,
    lines: Sequence[Line],
    *,
    keys: bool = True,
    days: tuple[int, int] | None = None,
    rigors: float = 0.7,
    phlegm: float = 0.75,
) -> None:
    """A bacterial chest infection: fevers, coloured phlegm, often a cold before it and the family doctor's
    antibiotics since. The same draws for an infected effusion and a pneumonia (and, unkeyed, for a Legionella
    pneumonia, which reads as any chest infection but for where it was caught)."""
    rng, d = c.draft.rng, c.draft
    opening(c, lines, "infection", days=days)
    onset = d.onset_days or 7
    if chance(rng, 0.4):  # a cold first, as so often before a bacterial infection: it decides nothing here
        viral_prodrome(c, days=(onset + 1, onset + 6))
        if chance(rng, 0.3):
            contacts(c)
    rigors = chance(rng, rigors)
    if rigors:
        fevers(c, key=keys)
    else:
        d.fact("ros", pick(rng, MILD_FEVERS), key=keys, brief="brief fever at the start", tags=("fever",))
    if chance(rng, phlegm):
        coloured_sputum(c, ("green", "yellow", "rusty brown", "yellow-green"), key=keys)
    elif "cough" not in d.tags:
        d.fact("symptom", pick(rng, ("Cough", "A dry cough")), tags=("cough",))
    if chance(rng, 0.3):
        d.fact("symptom", f"A sharp pain in the {d.bedside} side of the chest on breathing in", tags=("chest_pain",))
    if chance(rng, 0.35) or (keys and len(d.keys) < 2):
        gp_antibiotics(c, (1, max(1, onset - 1)), key=keys)  # since it began
    # Headache and loose stools are what Legionella adds; any chest infection brings them now and then.
    for symptom, tag, share in (
        ("Severe headache and aching muscles", "headache", 0.12),
        ("Loose stools for a few days", "diarrhoea", 0.06),
    ):
        if chance(rng, share):
            d.fact("symptom", symptom, tags=(tag,))
    for extra, share in (("Cold sores on the upper lip", 0.1), ("Throat mildly red", 0.15)):
        if chance(rng, share):
            c.exam.set("General_Examination", "Mouth_And_Throat", extra)
    severity(c, (0.35, 0.45, 0.2), fever=0.9 if rigors else 0.05)
    bacterial_labs(c)


def viral_story(c: Case, lines: Sequence[Line], *, weights: tuple[float, float, float]) -> None:
    """A virus caught from those around: a cold or flu first, then this, in someone usually well. The same draws
    for an inflamed heart muscle and a bout of bronchitis; each adds what the virus did to its own organ (and
    how ill that makes the patient, `weights`)."""
    rng, d = c.draft.rng, c.draft
    opening(c, lines, "viral")
    onset = d.onset_days or 5
    prodrome = chance(rng, 0.8)
    if prodrome:
        viral_prodrome(c, days=(onset + 2, onset + 10), key=True)
    if not prodrome or chance(rng, 0.45):
        contacts(c, key=True)
    if chance(rng, 0.3):
        d.fact("symptom", "Achy all over, with a thick head", tags=("headache",))
    if chance(rng, 0.3):
        d.fact("symptom", pick(rng, ("Blocked, runny nose", "Still sneezing, with a stuffy nose")))
    if d.who.age < 60 and chance(rng, 0.55):
        d.fact(
            "pmh",
            pick(rng, ("Previously fit and well", "Fit and active until this; takes no regular medicines")),
            key=True,
            brief="previously fit",
        )
    if len(d.keys) < 2:  # one more fact of the virus at least: the cold and the people it came from
        viral_prodrome(c, days=(onset + 2, onset + 10), key=True) if not prodrome else contacts(c, key=True)
    if chance(rng, 0.25):  # as a chest infection is so often treated, whatever its cause
        gp_antibiotics(c, (1, max(1, onset - 1)))
    if chance(rng, 0.45) and "cough" not in d.tags:
        dry = chance(rng, 0.5)
        d.fact(
            "symptom",
            "A dry cough" if dry else "Cough with a little clear phlegm",
            tags=("cough",) if dry else ("cough", "sputum"),
        )
    severity(c, weights, fever=0.35)
    viral_labs(c)


def malignancy_story(
    c: Case,
    lines: Sequence[Line],
    *,
    known: float,
    asbestos_ok: bool = False,
    weight: float = 0.6,
    incidental: float = 0.2,
) -> str:
    """A cancer treated before, elsewhere in the body; without one, a new growth in a heavy smoker (or after
    asbestos); weight loss and a poor appetite. Returns the kind of known cancer ('' for none)."""
    rng = c.draft.rng
    opening(c, lines, "malignancy", theme_lines=INCIDENTAL if chance(rng, incidental) else None)
    kind = ""
    if chance(rng, known):
        kind = known_cancer(c, SPREADING)
    elif asbestos_ok and chance(rng, 0.3):
        asbestos(c)
        heavy_smoker(c, current=0.4) if chance(rng, 0.5) else None
    else:
        heavy_smoker(c, key=True)
        if chance(rng, 0.35):
            haemoptysis(c, key=True)
    if chance(rng, weight):
        weight_loss(c, key=True)
    if chance(rng, 0.35) or len(c.draft.keys) < 2:
        c.draft.fact(
            "ros",
            "Appetite has been poor for weeks",
            key=len(c.draft.keys) < 2,
            brief="poor appetite",
            tags=("weight",),
        )
    severity(c, (0.4, 0.45, 0.15), fever=0.08)
    malignancy_labs(c)
    return kind


def smoker_story(c: Case, lines: Sequence[Line], *, tempo: Tempo = SUDDEN) -> None:
    """Years of heavy smoking and the lungs they leave: COPD on inhalers, breathless on exertion at the best
    of times, a morning cough. The same draws for a growth and an air leak; a growth adds weight loss and blood,
    an air leak its sudden start."""
    rng, d = c.draft.rng, c.draft
    opening(c, lines, "smoker", tempo=tempo)
    heavy_smoker(c, key=True, current=0.65)
    if chance(rng, 0.75):
        copd(c)
    if chance(rng, 0.5) or len(d.keys) < 2:
        baseline_breathless(c, key=True)
    if chance(rng, 0.4) and "cough" not in d.tags:
        smokers_cough(c)
    if chance(rng, 0.08):
        d.fact("pmh", "Uses oxygen at home overnight")


def tb_story(c: Case, lines: Sequence[Line], *, active: bool) -> None:
    """Where tuberculosis comes from (a birthplace, a stay, a contact, an old infection) and, if active, what
    it does (sweats, weight loss); a quarter of active cases are found at screening with few symptoms."""
    rng = c.draft.rng
    screened = not active or chance(rng, 0.25)
    opening(c, lines, "tuberculosis" if not screened else "incidental",
            theme_lines=(TB_SCREENING if chance(rng, 0.5) else INCIDENTAL) if screened else None)  # fmt: skip
    # Active disease may come from a recent stay or a weakened defence; a healed focus from an infection long ago.
    roll = float(rng.random())
    if roll < (0.72 if active else 0.85):
        tb_origin(c)
    elif active and roll < 0.85:
        tb_visit(c)
    elif active:
        tb_risk(c, key=True)
    if chance(rng, 0.3):
        tb_contact(c)
    if chance(rng, 0.25 if active else 0.35) or "origin" not in c.draft.tags and not active:
        tb_past(c)
    if active and not screened:
        if chance(rng, 0.75):
            night_sweats(c)
        if chance(rng, 0.6):
            weight_loss(c, key=True, months=(1, 4))
        if chance(rng, 0.3):
            haemoptysis(c)
    elif active and chance(rng, 0.5):
        c.draft.fact("ros", "Has had a slight cough for a few weeks but put it down to the weather", tags=("cough",))
    if len(c.draft.keys) < 2:
        c.draft.fact(
            "ros",
            pick(rng, ("Feels entirely well, with no cough, sweats or weight loss", "Weight steady; no sweats")),
            key=True,
            brief="few symptoms",
            tags=("weight", "sweats"),
        )
    if active and not screened:
        severity(c, (0.45, 0.45, 0.1), fever=0.6)
    else:
        severity(c, (0.8, 0.2, 0.0), fever=0.05)
    tb_labs(c, active=active)


def alcohol_story(
    c: Case,
    lines: Sequence[Line],
    *,
    liver: float,
    event_p: float,
    aspirated: bool = False,
    fever: float = 0.1,
    ascites: float = 0.5,
) -> None:
    """Heavy drinking, and what it has already done: a scarred liver (`liver`: how often; named, or only seen on
    a scan), fits, a night found on the floor, a heart thrown out of rhythm."""
    rng = c.draft.rng
    opening(c, lines, "alcohol", days=(2, 6) if aspirated else None)
    drinking = aspirated or chance(rng, 0.8)
    alcohol_intake(c, current=drinking)
    if chance(rng, liver):
        if chance(rng, 0.88):
            cirrhosis(c, ascites=ascites)
        else:  # liver disease not yet named: the drinking and the body decide
            c.draft.fact(
                "pmh",
                "Told at a scan last year that the liver looked abnormal; did not go back for the results",
                key=True,
                brief="abnormal liver on a scan",
            )
            cirrhosis_signs(c, ascites)
    if drinking and chance(rng, event_p):
        event = pick(rng, DRUNK_EVENTS[:3] if aspirated else DRUNK_EVENTS)
        n = (c.draft.onset_days or 2) + int(rng.integers(1, 3)) if aspirated else int(rng.integers(2, 6))
        c.draft.fact(
            "ros",
            event.format(n=n),
            key=True,
            brief="a drunken collapse",
            tags=("vomiting",) if "omit" in event else (),
        )
    if chance(rng, 0.45) or len(c.draft.keys) < 2:
        alcohol_harm(c, key=len(c.draft.keys) < 2)
    if drinking and chance(rng, 0.25):
        c.draft.fact(
            "ros", "Has noticed the heart racing and fluttering, especially after a binge", tags=("palpitations",)
        )
    if chance(rng, 0.35):
        c.exam.add(
            "General_Examination",
            "Mouth_And_Throat",
            pick(rng, ("Poor dentition with several broken teeth", "Gum disease and decayed teeth")),
        )
    if drinking and chance(rng, 0.3) and "tremor" not in c.exam.entries[("General_Examination", "Hands")]:
        c.exam.add("General_Examination", "Hands", "Fine tremor of the outstretched hands")
    severity(c, (0.3, 0.45, 0.25), fever=fever)
    if chance(rng, 0.15):  # a binge throws the heart into an irregular rhythm, whatever else it did
        c.vitals.rhythm = "af"
    alcohol_labs(c)


def young_story(c: Case, lines: Sequence[Line]) -> None:
    """Young, previously fit, perhaps lanky, perhaps under strain, perhaps with earlier spells: the air leak
    and the panic share all of it, in the same proportions (what differs is the film)."""
    rng, d = c.draft.rng, c.draft
    opening(c, lines, "young")
    d.fact(
        "pmh",
        pick(
            rng,
            ("Previously fit and well, with no chest or lung problems", "No previous lung problems and no inhalers"),
        ),
        key=True,
        brief="previously fit",
    )
    if chance(rng, 0.4):
        tall_and_thin(c, key=True)
    if chance(rng, 0.5):
        stress(c, key=True)
    roll = float(rng.random())
    if roll < 0.35:
        d.fact(
            "pmh",
            f"Has had {int(rng.integers(2, 6))} similar spells of sudden breathlessness over the past "
            f"{int(rng.integers(2, 9))} months, each settling on its own",
            key=True,
            brief="earlier similar spells",
        )
    elif roll < 0.6:
        d.fact(
            "ros",
            "Has never had anything like this before; it came on at rest",
            key=True,
            brief="first episode, at rest",
        )
    if chance(rng, 0.3):
        d.fact(
            "symptom",
            "Tingling in both hands and around the lips",
            key=True,
            brief="tingling lips and fingers",
            tags=("tingling",),
        )
    if chance(rng, 0.25):
        d.fact("pmh", pick(rng, ("Anxiety treated with counselling two years ago", ("Has seen the family doctor about "
                                 "low mood and worry"))), key=True, brief="previous anxiety")  # fmt: skip
    if len(d.keys) < 3:  # being young and fit is not enough to go on: one more fact of the theme at least
        if "Feels panicky" not in d.secondary and chance(rng, 0.5):
            stress(c, key=True) if not any(x in d.social for x in STRESSES) else tall_and_thin(c, key=True)
        elif c.exam.tall:
            stress(c, key=True)
        else:
            tall_and_thin(c, key=True)
    if chance(rng, 0.3):
        d.fact("symptom", f"A stabbing pain under the {d.bedside} breast", tags=("chest_pain",))
    if chance(rng, 0.3):
        d.fact("symptom", "Feels panicky")
    young_smoking(c)
    if chance(rng, 0.15):
        d.fact("social", "Drinks four or five energy drinks a day")
    severity(c, (0.3, 0.5, 0.2), anxious=True)


def procedure_story(
    c: Case, lines: Sequence[Line], *, kind: str, days: tuple[int, int], side: str, clot_facts: float = 0.6
) -> None:
    """A procedure or operation not long ago, and what keeps the legs still or the blood sticky afterwards:
    `clot_facts` scales how often those (a clot before, chemotherapy, the pill) are present."""
    rng, d, who = c.draft.rng, c.draft, c.draft.who
    opening(c, lines, "procedure")
    n = int(rng.integers(days[0], days[1] + 1))
    what = procedure(c, kind, "this morning" if n == 0 else "yesterday" if n == 1 else f"{n} days ago", side)
    procedure_site(c, what, side)
    immobile = "Has spent most of the time since in bed or a chair"
    if chance(rng, 0.3):
        d.fact("ros", immobile, key=True, brief="immobile since")
    if chance(rng, 0.2 * clot_facts):
        d.fact(
            "pmh",
            f"A clot in the leg {years_ago(int(rng.integers(2, 12)))}",
            key=True,
            brief="a previous clot in the leg",
        )
    if who.age >= 40 and chance(rng, 0.12 * clot_facts + 0.04):
        d.fact("pmh", "Having chemotherapy for bowel cancer", key=True, brief="on chemotherapy")
    if who.sex == "female" and who.age < 45 and chance(rng, 0.3 * clot_facts + 0.05):
        d.fact("pmh", "Takes the combined contraceptive pill", key=True, brief="on the combined pill")
    if len(d.keys) < 2 and immobile not in d.ros:
        d.fact("ros", immobile, key=True, brief="immobile since")
    severity(c, (0.2, 0.5, 0.3), fever=0.1, anxious=True)
