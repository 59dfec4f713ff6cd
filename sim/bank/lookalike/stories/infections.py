"""The infectious themes' phrase pools: a virus caught from those around, a bacterial chest infection, and
tuberculosis.

As in `themes`, every member of a theme draws its facts here, in the same words and with the same
laboratory shifts, so that theme-mates in different groups read alike; the deciding ones are marked as keys.
The cold that a virus brings is one pool for everyone who tells of one (a bacterial infection often follows
a cold too), so its wording says nothing of the organ.
"""

from __future__ import annotations

from sim.bank.lookalike.stories.case import Case
from sim.bank.lookalike.stories.common import years_ago
from sim.bank.sampling import chance, pick

# ---- a virus caught from those around (and the cold that often comes before a bacterial infection) ---------

# One pool for every story that tells of a cold or flu beforehand, so its wording says nothing of the organ.
VIRAL_PRODROME = (
    ("Had a cold with a runny nose and sore throat about {n} days ago, before this started", ()),
    ("Went down with a flu-like illness, achy all over with a temperature, about {n} days ago", ("fever",)),
    ("Had a sore throat and a couple of days of diarrhoea about {n} days ago", ("diarrhoea",)),
    ("A feverish cold went round the household about {n} days ago and this started soon after", ("fever",)),
    ("Had a streaming nose, sneezing and a sore throat about {n} days ago", ()),
)
CONTACTS = (
    "The grandchildren visited last week and all had coughs and colds",
    "Several people at work have been off with coughs and colds this month",
    "The children at home have all had colds over the last fortnight",
    "A partner at home had the same flu-like illness the week before",
)
ANTIBIOTICS = ("amoxicillin", "doxycycline", "clarithromycin", "a course of antibiotic tablets")


def viral_prodrome(c: Case, days: tuple[int, int] = (4, 14), key: bool = False) -> None:
    text, tags = pick(c.draft.rng, VIRAL_PRODROME)
    n = int(c.draft.rng.integers(days[0], days[1] + 1))
    c.draft.fact("ros", text.format(n=n), key=key, brief=f"viral-type illness {n} days earlier", tags=tags)


def contacts(c: Case, key: bool = False) -> None:
    c.draft.fact("social", pick(c.draft.rng, CONTACTS), key=key, brief="household coughs and colds")


def viral_labs(c: Case) -> None:
    """A virus moves the markers of inflammation a little, and the white cells hardly at all."""
    labs, rng = c.labs, c.draft.rng
    labs.crp, labs.wbc, labs.procalcitonin = (4, 60), (4.0, 11.5), (0.03, 0.18)
    if chance(rng, 0.4):
        labs.lymphocytes = (0.6, 1.2)


# ---- bacterial infection -----------------------------------------------------------------------------------


def gp_antibiotics(c: Case, days: tuple[int, int], key: bool = False) -> None:
    rng = c.draft.rng
    n = int(rng.integers(days[0], days[1] + 1))
    when = "yesterday" if n == 1 else f"{n} days ago"
    text = f"Saw the family doctor {when} with a chest infection and was given {pick(rng, ANTIBIOTICS)}"
    c.draft.fact("pmh", text, key=key, brief=f"chest infection treated by the family doctor {when}")


def fevers(c: Case, key: bool = False) -> None:
    text = pick(
        c.draft.rng,
        (
            "Has had fevers with shivering fits",
            ("Has been hot and sweaty, then shivering, for several days"),
            "Has recorded temperatures up to 39 °C at home",
        ),
    )
    c.draft.fact("ros", text, key=key, brief="fevers and rigors", tags=("fever",))


def coloured_sputum(c: Case, colours: tuple[str, ...] = ("green", "yellow", "yellow-green"), key: bool = False) -> None:
    colour = pick(c.draft.rng, colours)
    c.draft.fact("symptom", f"Coughing up {colour} phlegm", key=key, brief=f"{colour} phlegm", tags=("sputum", "cough"))


# What a chest infection's sputum grows, whether the film shows a filled lobe or fluid beside it.
INFECTED_SPUTUM = ("Gram-positive diplococci; Streptococcus pneumoniae isolated",
                   "Gram-positive diplococci; Streptococcus pneumoniae isolated, sensitive to penicillin",
                   "Normal respiratory flora; no pathogens isolated", "Haemophilus influenzae isolated",
                   "No sputum could be produced")  # fmt: skip


def bacterial_labs(c: Case, severe: bool = True) -> None:
    labs, rng = c.labs, c.draft.rng
    labs.wbc, labs.neutrophil_share = ((9.0, 24.0), (0.72, 0.92)) if severe else ((8.0, 15.0), (0.70, 0.85))
    labs.crp = (120, 380) if severe else (60, 180)
    labs.procalcitonin = (0.6, 18.0) if severe else (0.2, 1.5)
    labs.d_dimer, labs.albumin = (0.7, 2.8), (26, 36)  # the liver makes acute-phase proteins instead of albumin
    if chance(rng, 0.4):
        labs.platelets = (320, 560)
    if chance(rng, 0.35):
        labs.urea, labs.sodium = (7.5, 14.0), (130, 137)
    if chance(rng, 0.2):
        labs.troponin = (15, 40)


# ---- tuberculosis -----------------------------------------------------------------------------------

TB_COUNTRIES = ("Pakistan", "India", "Bangladesh", "Somalia", "Nigeria", "the Philippines", "Vietnam", "Eritrea",
                "Romania", "Ethiopia")  # fmt: skip


def tb_origin(c: Case, key: bool = True) -> None:
    rng = c.draft.rng
    country = pick(rng, TB_COUNTRIES)
    years = int(rng.integers(1, min(30, max(2, c.draft.who.age - 16))))
    text = pick(
        rng,
        (
            f"Born in {country}; moved to the UK {years_ago(years)}",
            f"Grew up in {country} and came to the UK {years_ago(years)}",
        ),
    )
    c.draft.fact("social", text, key=key, brief=f"born in {country}", tags=("origin",))


def tb_visit(c: Case, key: bool = True) -> None:
    rng = c.draft.rng
    country = pick(rng, TB_COUNTRIES)
    text = f"Spent {int(rng.integers(2, 7))} months last year staying with family in {country}"
    c.draft.fact("social", text, key=key, brief=f"long stay with family in {country}", tags=("origin",))


def tb_contact(c: Case, key: bool = True) -> None:
    rng = c.draft.rng
    who = pick(
        rng,
        (
            "A cousin who shares the house",
            "A flatmate",
            "An uncle who lived with the family",
            "A close colleague on the same shift",
        ),
    )
    text = pick(
        rng,
        (
            f"{who} was treated for TB {int(rng.integers(3, 18))} months ago",
            f"{who} has been on six months of tablets for a lung infection since earlier this year",
        ),
    )
    c.draft.fact("social", text, key=key, brief="household TB contact")


def tb_past(c: Case, key: bool = True) -> None:
    rng = c.draft.rng
    text = pick(
        rng,
        (
            "Treated for TB as a child",
            ("Had a positive skin test for TB at a visa medical; was offered preventive tablets but did not take them"),
            "Treated for TB in his home country as a teenager"
            if c.draft.who.sex == "male"
            else "Treated for TB in her home country as a teenager",
        ),
    )
    c.draft.fact("pmh", text, key=key, brief="TB treated or untreated in the past")


def tb_risk(c: Case, key: bool = False) -> None:
    rng = c.draft.rng
    text = pick(rng, ("Takes adalimumab injections for Crohn's disease", "Type 2 diabetes, poorly controlled",
                      "Has spent several months in a homeless hostel this year", ("HIV diagnosed five years ago, on "
                      "treatment")))  # fmt: skip
    c.draft.fact("pmh" if "hostel" not in text else "social", text, key=key, brief=text[0].lower() + text[1:])


def night_sweats(c: Case, key: bool = True) -> None:
    rng = c.draft.rng
    weeks = int(rng.integers(3, 12))
    text = pick(
        rng,
        (
            f"Drenching night sweats for {weeks} weeks, needing to change the sheets",
            f"Has woken soaked in sweat most nights for about {weeks} weeks",
        ),
    )
    c.draft.fact("ros", text, key=key, brief=f"{weeks} weeks of night sweats", tags=("sweats",))


def tb_labs(c: Case, active: bool) -> None:
    labs, rng = c.labs, c.draft.rng
    labs.igra = "Positive" if chance(rng, 0.85) else pick(rng, ("Negative", "Indeterminate (low mitogen response)"))
    # Where TB is thought of, three samples go for smear: a negative run reads the same whatever the film.
    labs.afb_smear = "No acid-fast bacilli seen in three samples" if chance(rng, 0.6) else labs.afb_smear
    if active:
        labs.crp, labs.albumin, labs.sodium = (20, 110), (28, 37), (130, 139)
        if chance(rng, 0.5):
            labs.hemoglobin = (10.2, 12.6)
        labs.lymphocytes = (0.7, 1.6)
        labs.d_dimer = (0.4, 1.6)
