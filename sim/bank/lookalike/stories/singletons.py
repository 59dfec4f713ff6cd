"""Facts of the five themes with a single member: travel (Legionella), vascular (ischaemic cardiomyopathy),
trauma (traumatic air leak), atopy (asthma) and incidental (hamartoma).

No other diagnosis shares these stories, so the same phrases are also scattered through other groups'
patients as background (see `background`): a holiday abroad, a heart attack years ago, a fall, hay fever, a
spot on an old scan. Alone, such a fact then names nothing; within its own group, where no other member
ever carries it, it still decides.
"""

from __future__ import annotations

from sim.bank.lookalike.stories.case import Case
from sim.bank.lookalike.stories.common import years_ago
from sim.bank.sampling import pick

# ---- travel -------------------------------------------------------------------------------------------

HOLIDAYS = ("Spain", "Portugal", "Turkey", "Greece", "Italy", "Cyprus", "Croatia", "Florida")


def holiday(c: Case, days: tuple[int, int] = (3, 10), key: bool = True) -> None:
    rng = c.draft.rng
    n, place = int(rng.integers(days[0], days[1] + 1)), pick(rng, HOLIDAYS)
    text = pick(
        rng,
        (
            f"Returned {n} days ago from a week at a hotel in {place}",
            f"Came back {n} days ago from a cruise that stopped in {place}",
            f"Got back {n} days ago from a spa hotel in {place}, where the hot tub was used every day",
        ),
    )
    c.draft.fact("social", text, key=key, brief=f"back from a hotel stay in {place} {n} days ago", tags=("travel",))


# ---- vascular -----------------------------------------------------------------------------------------


RISK_FACTORS = ("Hypertension and high cholesterol", "High cholesterol on atorvastatin")


def coronary_history(c: Case, key: bool = True) -> None:
    rng = c.draft.rng
    n = int(rng.integers(2, 15))
    texts = [
        f"Heart attack {years_ago(n)}, treated with {pick(rng, ('a stent', 'two stents'))}",
        f"Coronary bypass operation {years_ago(n)}",
        f"Angina for {n} years; uses a GTN spray when walking uphill",
        f"Heart attack {years_ago(n)}; takes aspirin, a statin and bisoprolol",
    ]
    if any("sthma" in p for p in c.draft.pmh):  # "asthma" and "attack" in one field read as an asthma attack
        texts = [t for t in texts if "attack" not in t]
    text = pick(rng, texts)
    c.draft.fact("pmh", text, key=key, brief="previous heart attack" if "attack" in text else "coronary disease")


# ---- trauma ------------------------------------------------------------------------------------------------

INJURIES = ("Fell from a ladder {when} and landed on the {side} side of the chest",
            "Fell down the stairs {when}, hitting the {side} side of the chest on the banister",
            "Came off a mountain bike {when} and landed on the {side} side",
            "Was kicked in the {side} ribs during a rugby match {when}",
            "Slipped on an icy pavement {when} and fell onto the {side} side of the chest",
            "Was the driver in a car crash {when}; the seatbelt dug into the {side} side of the chest")  # fmt: skip


def injury(c: Case, when: str, side: str, key: bool = True) -> None:
    text = pick(c.draft.rng, INJURIES).format(when=when, side=side)
    c.draft.fact("ros", text, key=key, brief=f"injury to the {side} chest {when}", tags=("injury",))


# ---- atopy -------------------------------------------------------------------------------------------------


def asthma_history(c: Case, key: bool = True) -> None:
    rng = c.draft.rng
    text = pick(
        rng,
        (
            "Asthma since childhood; uses a brown preventer inhaler and a blue reliever",
            "Asthma since childhood; uses a purple combination inhaler twice a day",
            "Asthma diagnosed in the teenage years; on a preventer and a blue inhaler",
        ),
    )
    brief = "asthma since childhood" if "childhood" in text else "asthma since the teenage years"
    c.draft.fact("pmh", text, key=key, brief=brief, tags=("wheeze",))


def atopy(c: Case, key: bool = False) -> None:
    text = pick(
        c.draft.rng,
        (
            "Hay fever every summer and eczema as a child",
            "Eczema on the hands and hay fever",
            "Allergic to cats; hay fever in the summer",
        ),
    )
    c.draft.fact("pmh", text, key=key, brief="hay fever and eczema")


# ---- incidental ---------------------------------------------------------------------------------------------

TOWNS = ("Leeds", "Glasgow", "Bristol", "Norwich", "Cardiff", "Newcastle", "Exeter", "Derby", "a village in Kent")
OLD_SCANS = ("a scan of the abdomen", "a CT scan after a car accident", "a heart scan", "a routine chest X-ray")


def born_here(c: Case, key: bool = False) -> None:
    town = pick(c.draft.rng, TOWNS)
    c.draft.fact(
        "social",
        f"Born and brought up in {town}; has never lived abroad",
        key=key,
        brief="never lived abroad",
        tags=("origin",),
    )


def old_scan(c: Case, key: bool = False) -> None:
    """A small spot on the lung seen years ago and left alone: a finding that has not grown for years."""
    rng = c.draft.rng
    n = int(rng.integers(2, 9))
    scan, ago = pick(rng, OLD_SCANS), years_ago(n)
    text = pick(
        rng,
        (
            f"A small spot on the lung was seen on {scan} {ago} and was said to need no treatment",
            f"Was told {ago}, after {scan}, of a small spot on the lung that needed no follow-up",
        ),
    )
    c.draft.fact("pmh", text, key=key, brief=f"small spot on the lung seen {years_ago(n)}")
