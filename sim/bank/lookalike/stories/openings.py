"""How a patient comes in: the presenting complaint and how long it has lasted.

The opening is the group's typical complaint in part of the cases only; otherwise it is the theme's own
(shared by theme-mates in every group) or one any breathless patient could give. Its tempo belongs to the
theme, not to the picture, so an infected effusion and a pneumonia both come after days, a cancer after weeks.
"""

from __future__ import annotations

from collections.abc import Sequence

from sim.bank.lookalike.stories.case import FLORID, Case
from sim.bank.lookalike.stories.common import (
    GENERIC_ACUTE,
    GENERIC_SUBACUTE,
    WHENS,
    Line,
)
from sim.bank.sampling import chance, pick

# What a patient of each theme may say first, whatever the film shows. Lines with {span} tell of days or
# weeks, lines with {when} of a sudden start; a story uses those that fit its tempo.
THEME_OPENINGS: dict[str, tuple[Line, ...]] = {
    "infection": (("Cough and fevers for {span}, bringing up phlegm.", "Cough and fever", ("cough", "fever", "sputum")),
                  ("Has been hot and shivery with a cough for {span}.", "Cough and shivers", ("cough", "fever"))),
    "viral": (("Has felt washed out and breathless for {span}, since a flu-like illness.", "Breathless and washed out",
               ("fever",)),
              ("Has not shaken off a cold; for {span} now has felt rough and short of breath.",
               "Not shaking off a cold", ())),
    "malignancy": (("Has been losing weight and getting more breathless over {span}.", "Weight loss and breathlessness",
                    ("weight",)),
                   ("Tired all the time for {span}, with a poor appetite and breathlessness on exertion.", "Tiredness",
                    ())),
    "smoker": (("Breathing suddenly got much worse {when}, on top of the usual smoker's cough.", "Worse breathlessness",
                ("cough",)),
               ("Breathing has been getting worse for {span}, on top of the usual smoker's cough.",
                "Worse breathlessness", ("cough",))),
    "tuberculosis": (("A cough that has not gone away for {span}, with sweats at night.", "Persistent cough",
                      ("cough", "sweats")),
                     ("Feverish in the evenings and losing weight for {span}.", "Evening fevers and weight loss",
                      ("fever", "weight"))),
    "alcohol": (("Has been feeling unwell and breathless for {span}, and is struggling to eat.", "Feeling unwell", ()),
                ("The family brought the patient in after {span} of being unwell, breathless and not eating properly.",
                 "Unwell and breathless", ())),
    "vascular": (("Breathless on exertion for {span}, with a tight chest when walking uphill.",
                  "Breathlessness on exertion", ("chest_pain",)),),
    "travel": (("Has had a fever and a dry cough for {span}, since coming back from holiday.", "Fever and cough",
                ("fever", "cough")),),
    "young": (("Suddenly felt short of breath {when}, with a tight chest and a pounding heart.",
               "Sudden breathlessness", ("palpitations", "chest_pain")),),
    "trauma": (("Pain in the {side} side of the chest since {when}, worse on moving and breathing in.",
                "Chest wall pain", ("chest_pain",)),),
    "procedure": (("Became short of breath {when}, not long after a spell in hospital.", "Breathlessness", ()),),
    "atopy": (("Short of breath and tight-chested since {when}, with a cough at night.", "Tight chest",
               ("cough", "wheeze")),),
    "incidental": (("Feels well; came for a check-up the family doctor arranged.", "No complaints", ()),),
}  # fmt: skip

Tempo = tuple[str, int, int]  # ("days" | "weeks" | "either" | "sudden", low, high)
TEMPO: dict[str, Tempo] = {
    "infection": ("days", 3, 16), "travel": ("days", 3, 8), "viral": ("days", 3, 12), "atopy": ("days", 1, 6),
    "malignancy": ("weeks", 3, 12), "tuberculosis": ("weeks", 3, 12), "vascular": ("weeks", 3, 12),
    "incidental": ("weeks", 2, 8), "alcohol": ("either", 4, 6), "smoker": ("weeks", 3, 10),
    "young": ("sudden", 0, 0), "trauma": ("sudden", 0, 0), "procedure": ("sudden", 0, 0),
}  # fmt: skip
SUDDEN: Tempo = ("sudden", 0, 0)

INCIDENTAL: tuple[Line, ...] = (
    ("Feels well; the family doctor arranged a chest X-ray for a cough that has since settled.", "Feels well", ()),
    ("Had a health check for a new job and was asked to come in to talk about the results.", "Here for a check-up", ()),
    ("Had a minor fall onto the chest a few weeks ago; the soreness has gone and there are no other complaints.",
     "No complaints at present", ()),
    ("Came for a check-up before a planned knee operation; has no chest complaints.", "No complaints at present", ()),
)  # fmt: skip


# How tuberculosis is found in someone without symptoms: screening of the people it is common among.
TB_SCREENING: tuple[Line, ...] = (
    ("Was called for a chest X-ray by the TB clinic, tracing the contacts of a relative who is on treatment.",
     "Here after TB contact screening", ()),
    ("Had a chest X-ray at a new-entrant health screen and was asked to come back to discuss it.",
     "Here for a screening result", ()),
)  # fmt: skip


def span_for(c: Case, tempo: Tempo) -> str:
    """'N days' or 'N weeks' (remembered as the draft's onset, in days), or '' for a sudden start."""
    unit, low, high = tempo
    rng = c.draft.rng
    if unit == "either":
        unit, low, high = ("days", 4, 12) if chance(rng, 0.5) else ("weeks", 2, 6)
    if unit == "sudden":
        return ""
    n = int(rng.integers(low, high + 1))
    c.draft.onset_days = n * (7 if unit == "weeks" else 1)
    return f"{n} {unit}" if n > 1 else f"a {unit[:-1]}"


def opening(
    c: Case,
    group_lines: Sequence[Line],
    theme: str,
    *,
    p_theme: float = 0.3,
    theme_lines: Sequence[Line] | None = None,
    days: tuple[int, int] | None = None,
    tempo: Tempo | None = None,
) -> bool:
    """The presenting complaint: the group's typical one in florid cases (see case.FLORID), otherwise the theme's
    (in about `p_theme` of all cases) or one any patient could give, over the theme's time scale (`tempo`
    overrides it; `days` bounds it where the story's own events do). Returns whether the group's typical line
    was used."""
    d, rng = c.draft, c.draft.rng
    span = span_for(c, ("days", *days) if days else tempo or TEMPO[theme])

    def fitting(lines: Sequence[Line]) -> list[Line]:  # lines that tell of this tempo (or of none)
        return [line for line in lines if ("{span}" in line[0]) == bool(span) or "{" not in line[0]]

    roll = float(rng.random())
    group, own = fitting(group_lines), fitting(THEME_OPENINGS[theme] if theme_lines is None else theme_lines)
    typical = d.florid and bool(group)
    lines = group if typical else own if roll < p_theme / (1 - FLORID) and own else \
        (GENERIC_SUBACUTE if span else GENERIC_ACUTE)  # fmt: skip
    lines = [line for line in lines if "new job" not in line[0] or d.who.age < 65]
    history, primary, tags = pick(rng, lines)
    if (history, primary, tags) in INCIDENTAL + TB_SCREENING:
        d.tags.add("well")  # came for a check-up: no fever, not breathless at rest (see case.severity)
    d.history = history.format(span=span, when=pick(rng, WHENS), side=d.bedside)
    d.primary = primary.format(side=d.bedside)
    d.tags.update(tags)
    return typical
