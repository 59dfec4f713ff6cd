"""The ground every look-alike story stands on: the Story it produces, who the patient is, how facts are
written down, and phrasing helpers.

A story is gathered clause by clause in a `Draft`; the clauses that decide the diagnosis within its group
are remembered as discriminators (quoted exactly, for the bank's metadata), and every symptom stated is
tagged so the review of systems never denies it. Nothing here may name a diagnosis: the patient and the
measurement desk read all of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from sim.bank.regions import Side, Zone
from sim.bank.sampling import chance, pick, pick_some
from sim.core.case import PatientScript, Symptoms

Sex = Literal["male", "female"]
Range = tuple[float, float]


@dataclass(frozen=True)
class Story:
    """The non-image half of one look-alike case."""

    patient: PatientScript
    exam: dict
    tests: dict
    age: int
    sex: Sex
    context: str  # one teaching-file line shown beside an archived film: age, sex, the key history
    discriminators: tuple[str, ...]  # exact clauses of the script that separate the case from its look-alikes


@dataclass(frozen=True)
class Person:
    age: int
    sex: Sex

    @property
    def noun(self) -> str:
        return "man" if self.sex == "male" else "woman"

    @property
    def demographics(self) -> str:
        return f"{self.age}-year-old {self.noun}"


def person(rng: np.random.Generator, ages: tuple[int, int], male_share: float) -> Person:
    return Person(age=int(rng.integers(ages[0], ages[1] + 1)), sex="male" if chance(rng, male_share) else "female")


def other(side: Side) -> Side:
    return "left" if side == "right" else "right"


def spot(side: Side, zone: Zone | None) -> str:
    """Where a lung sign is heard, in bedside words: 'right base', 'left upper zone'."""
    return {"lower": f"{side} base", "mid": f"{side} mid zone", "upper": f"{side} upper zone"}[zone or "lower"]


def listing(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def sentences(parts: Sequence[str]) -> str:
    """Clauses joined as sentences; a clause never carries its own full stop (discriminators quote clauses)."""
    return " ".join(p if p.endswith((".", "?", "!")) else p + "." for p in parts if p)


def years_ago(n: int) -> str:
    return "a year ago" if n == 1 else f"{n} years ago"


def uniform(rng: np.random.Generator, span: Range) -> float:
    return float(rng.uniform(span[0], span[1]))


# ---- the review of systems: what the patient denies when asked -------------------------------------

# Tag -> how the denial reads. A story tags every symptom it states, and only untagged ones are denied,
# so the review never contradicts the history.
DENIALS: dict[str, str] = {
    "fever": "fevers", "sweats": "night sweats", "weight": "weight loss", "blood": "coughing up blood",
    "ankles": "ankle swelling", "calf": "calf pain or swelling", "orthopnoea": "breathlessness lying flat",
    "palpitations": "palpitations", "diarrhoea": "diarrhoea", "vomiting": "vomiting", "abdomen": "abdominal swelling",
    "sputum": "phlegm", "wheeze": "wheeze", "headache": "headaches", "rash": "rashes", "tingling": "tingling",
    "injury": "injury to the chest", "procedure": "recent operations or hospital procedures",
    "fainting": "fainting", "hoarse": "a hoarse voice", "confusion": "confusion", "chest_pain": "chest pain",
    "cough": "cough", "jaundice": "yellowing of the eyes",
}  # fmt: skip


@dataclass
class Draft:
    """A story being written: facts land in script sections, the key ones are remembered as discriminators."""

    rng: np.random.Generator
    who: Person
    side: Side | None
    zone: Zone | None
    bedside: Side = "right"  # the film's side, or for films without one the side small bedside signs fall on
    onset_days: int | None = None  # how long the complaint has lasted, when the opening says so in days or weeks
    florid: bool = False  # the picture's own complaint and bedside signs show (see case.FLORID)
    history: str = ""
    primary: str = ""
    secondary: list[str] = field(default_factory=list)
    pmh: list[str] = field(default_factory=list)
    social: list[str] = field(default_factory=list)
    ros: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    briefs: list[str] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)  # symptoms stated anywhere, and which social facts are set

    def fact(self, section: str, text: str, *, key: bool = False, brief: str = "", tags: Sequence[str] = ()) -> None:
        """One clause (no full stop) into 'pmh', 'social', 'ros' or 'symptom'; a clause already there is not
        written twice."""
        clauses = {"pmh": self.pmh, "social": self.social, "ros": self.ros, "symptom": self.secondary}[section]
        if text not in clauses:
            clauses.append(text)
        self.tags.update(tags)
        if key and text not in self.keys:
            self.keys.append(text)
        if key and brief:
            self.briefs.append(brief)

    def script(self) -> PatientScript:
        rng = self.rng
        denied = [t for t in DENIALS if t not in self.tags]
        denials = [DENIALS[t] for t in pick_some(rng, denied, 3, 5)]
        review = [*self.ros, f"{pick(rng, ('Denies', 'No', 'Reports no'))} {listing(denials)}"]
        past = self.pmh or ["No significant past medical history"]
        return PatientScript(
            demographics=self.who.demographics,
            history=self.history,
            symptoms=Symptoms(primary=self.primary, secondary=list(self.secondary)),
            past_medical_history=sentences(past),
            social_history=sentences(self.social),
            review_of_systems=sentences(review),
        )

    def context(self) -> str:
        return "; ".join([self.who.demographics, *self.briefs[:2]])


def shuffled(rng: np.random.Generator, items: list[str]) -> list[str]:
    return [items[int(i)] for i in rng.permutation(len(items))]


# ---- openings any patient may give ----------------------------------------------------------------------

Line = tuple[str, str, tuple[str, ...]]  # (history template, primary symptom, symptom tags)

# What any breathless patient may say first, whatever the film: {span} for weeks-long stories, {when} for sudden.
GENERIC_SUBACUTE: tuple[Line, ...] = (
    ("Has felt unwell and short of breath for {span}.", "Shortness of breath", ()),
    ("Breathless and tired for {span}, and it is getting worse.", "Breathlessness", ()),
    ("A cough and breathlessness for {span}.", "Cough and breathlessness", ("cough",)),
    ("Not feeling right for {span}: tired, breathless on the stairs and some chest discomfort.", "Tiredness",
     ("chest_pain",)),
)  # fmt: skip
GENERIC_ACUTE: tuple[Line, ...] = (
    ("Breathless since {when} with a tight feeling in the chest.", "Shortness of breath", ("chest_pain",)),
    ("Felt unable to get a proper breath {when}; still short of breath now.", "Breathlessness", ()),
    ("Breathless and uncomfortable in the chest since {when}.", "Chest tightness", ("chest_pain",)),
)  # fmt: skip
WHENS = ("this morning", "last night", "yesterday", "a few hours ago")
