"""Borrowed facts: a theme's own phrases (a hotel holiday, an old heart attack, a birthplace abroad, COPD)
placed in a case of a group where no member has that theme.

There they decide nothing, yet a reader without the film sees them and may think of that theme's diagnoses
in other groups. The five single-member themes are scattered in about a third of the cases that may carry
them, so that a holiday or an old heart attack alone does not name Legionella or a failing heart; within
their own group no other member ever carries them, so there they still decide. Themes close to a member's
own (a cold before a chest infection, a smoker's growth beside a malignant effusion) are kept out of that
group, so borrowing never blurs the members of one group; and a diagnosis borrows only themes every one of
its theme-mates' groups may borrow too, so borrowing does not tell theme-mates apart either.
"""

from __future__ import annotations

from sim.bank.lookalike.catalogue import BY_KEY, DIAGNOSES
from sim.bank.lookalike.stories import infections, singletons, themes
from sim.bank.lookalike.stories.case import Case, fit
from sim.bank.lookalike.stories.common import other
from sim.bank.sampling import chance, pick

# How often each single-member theme turns up where it may: about a third (an old scan more often, as fewer
# patients it would fit are left once the young who have "no lung problems" are set aside).
SCATTER = {"travel": 0.33, "vascular": 0.33, "trauma": 0.33, "atopy": 0.33, "incidental": 0.42}
THEMED = 0.5  # how often a case borrows one shared theme of another group
# Themes a group may not borrow although none of its members has them: near neighbours of a member's theme.
NEAR: dict[str, tuple[str, ...]] = {
    "effusion": ("viral", "smoker"),  # a cold ~ an infected effusion's; heavy smoking ~ a malignant effusion
    "consolidation": ("viral",),  # a cold ~ the one before a pneumonia
    "cardiac": ("infection", "smoker"),  # fevers, phlegm ~ a viral heart; heavy smoking ~ coronary disease, a growth
    "nodule": (),
    "pneumothorax": (),
    "normal": ("infection", "malignancy", "smoker"),  # phlegm ~ bronchitis; cancer ~ a clot; COPD ~ asthma
}
# Borrowed themes that fit a theme's patients especially well, with how often (the same for all theme-mates):
# a holiday cold, a smoker's old heart attack, a drinker's fall.
AFFINITY: dict[str, dict[str, float]] = {
    "viral": {"travel": 0.4}, "smoker": {"vascular": 0.45}, "alcohol": {"trauma": 0.45},
}  # fmt: skip
_ALL_THEMES = tuple(dict.fromkeys(d.theme for d in DIAGNOSES))


def allowed_themes(key: str) -> list[str]:
    """The other themes a diagnosis's cases may borrow: none of its group's, none near them, and only those
    every theme-mate's group may borrow too."""

    def open_to(group: str) -> set[str]:
        own = {m.theme for m in DIAGNOSES if m.group == group}
        return {t for t in _ALL_THEMES if t not in own and t not in NEAR[group]}

    mates = {m.group for m in DIAGNOSES if m.theme == BY_KEY[key].theme}
    return [t for t in _ALL_THEMES if all(t in open_to(g) for g in mates)]


def _borrowed(c: Case, theme: str, group: str) -> None:
    """Facts of `theme` as that theme's own stories word them (with the findings they would bring), when they
    fit this patient (a heart attack at 45 or over, a healed cancer at 40 or over, ...)."""
    rng, age, tags, labs, d = c.draft.rng, c.draft.who.age, c.draft.tags, c.labs, c.draft
    if fit(c) and theme in ("vascular", "malignancy", "smoker"):  # a chronic illness beside "previously fit"
        return
    if theme == "travel" and "travel" not in tags:
        singletons.holiday(c, days=(3, 20), key=False)
    elif theme == "vascular" and age >= 45:
        singletons.coronary_history(c, key=False)
        if chance(rng, 0.5):
            d.fact("pmh", pick(rng, singletons.RISK_FACTORS))
        if chance(rng, 0.5) and not labs.ecg_findings:
            labs.ecg_findings = [
                pick(
                    rng,
                    (
                        "Q waves in II, III and aVF",
                        "left bundle branch block",
                        "Q waves in V1-V4 with poor R-wave progression",
                    ),
                )
            ]
    elif theme == "trauma":  # an injury that explains nothing on the film, told as an injured patient tells it
        side = other(d.side) if d.side else pick(rng, ("right", "left"))
        # Days ago where bruised ribs sit beside a big heart, a nodule or a clear film; weeks ago, and on the side
        # away from the sign, where fresh blood or a bruised lung could be what the film shows.
        fresh = group in ("cardiac", "nodule", "normal")
        when = f"{int(rng.integers(3, 15))} days ago" if fresh else f"{int(rng.integers(3, 9))} weeks ago"
        singletons.injury(c, when, side, key=False)
        if chance(rng, 0.4):
            d.fact(
                "symptom",
                f"The ribs on the {side} side {'' if fresh else 'still '}hurt when pressed",
                tags=("chest_pain",),
            )
        if chance(rng, 0.3):
            c.exam.add(
                "General_Examination", "Skin", f"{'Bruising' if fresh else 'Fading bruise'} over the {side} lower ribs"
            )
    elif theme == "atopy":
        singletons.atopy(c)
        roll = float(rng.random())
        if roll < 0.45 and not fit(c):
            d.fact(
                "pmh",
                "Mild asthma since childhood; uses a blue inhaler now and then"
                if roll < 0.25
                else "Mild asthma as a child; no inhalers for years",
            )
        if chance(rng, 0.4):
            labs.eosinophils = (0.35, 0.8)
    elif theme == "incidental" and age >= 25 and not any("lung problems" in p for p in d.pmh):
        singletons.old_scan(c)
    elif theme == "smoker" and age >= 45 and "smoking" not in tags:
        themes.heavy_smoker(c)
        if chance(rng, 0.75):
            themes.copd(c, key=False)
            labs.pef_share = (0.40, 0.75)
        if chance(rng, 0.4):
            themes.baseline_breathless(c)
    elif theme == "procedure" and age >= 25:
        themes.procedure(
            c, "clot", f"{int(rng.integers(5, 35))} days ago", pick(rng, ("right", "left")), key=False, borrowed=True
        )
    elif theme == "young" and age < 40:
        themes.stress(c)
        if chance(rng, 0.4):
            themes.tall_and_thin(c)
    elif theme == "malignancy" and age >= 40:
        themes.known_cancer(c, themes.SPREADING, years=(2, 15), key=False)
    elif theme == "tuberculosis" and "origin" not in tags:
        infections.tb_origin(c, key=False)
        if chance(rng, 0.3):
            infections.tb_contact(c, key=False)
        if chance(rng, 0.4):  # latent infection is common in people born where it is common
            labs.igra = "Positive"
    elif theme == "alcohol" and "alcohol" not in tags:
        themes.alcohol_intake(c, current=chance(rng, 0.8), key=False)
        if chance(rng, 0.4):
            themes.alcohol_harm(c)
        themes.alcohol_labs(c)
    elif theme == "viral":
        infections.viral_prodrome(c, days=(5, 25))
        if chance(rng, 0.5):
            infections.contacts(c)
    elif theme == "infection":  # a chest infection some weeks ago, treated and gone
        infections.gp_antibiotics(c, (14, 45))


def borrow(c: Case, key: str) -> None:
    """Each single-member theme the case may carry in about a third of cases, and one shared theme in half."""
    rng, group = c.draft.rng, BY_KEY[key].group
    allowed = allowed_themes(key)
    affinity = AFFINITY.get(BY_KEY[key].theme, {})
    for theme, share in SCATTER.items():
        if theme in allowed and chance(rng, affinity.get(theme, share)):
            _borrowed(c, theme, group)
    shared = [t for t in allowed if t not in SCATTER]
    for theme in [t for t in shared if t in affinity]:
        if chance(rng, affinity[theme]):
            _borrowed(c, theme, group)
    if shared and chance(rng, THEMED):
        _borrowed(c, pick(rng, shared), group)
