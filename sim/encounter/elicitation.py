"""How much of the patient's story the doctor drew out: the share of the patient script's facts that the
patient actually said during the encounter.

A fact is one clause of the script (history, main complaint, each other symptom, past medical and social
history, review of systems), split at sentence ends and semicolons. It counts as elicited when most of
its content words (at least half, compared by their first four letters so "feels"/"feeling",
"breathing"/"breath" and plurals meet) appear in the patient's replies. Deterministic and cheap: no model judges it.
"""

from __future__ import annotations

import re

from sim.core.case import PatientScript
from sim.core.records import Elicitation

RECALL_NEEDED = 0.5
STEM = 4
_STOP = {
    "a",
    "an",
    "and",
    "are",
    "as",
    "at",
    "be",
    "been",
    "but",
    "by",
    "for",
    "from",
    "had",
    "has",
    "have",
    "he",
    "her",
    "his",
    "i",
    "in",
    "is",
    "it",
    "its",
    "me",
    "my",
    "no",
    "not",
    "of",
    "on",
    "or",
    "she",
    "so",
    "than",
    "that",
    "the",
    "their",
    "them",
    "there",
    "they",
    "this",
    "to",
    "too",
    "was",
    "were",
    "with",
    "without",
    "you",
    "your",
    "about",
    "after",
    "before",
    "over",
    "into",
    "also",
    "very",
    "more",
    "most",
    "some",
    "any",
    "all",
    "ago",
}
_SPLIT = re.compile(r"(?<=[.!?;])\s+")


def script_facts(script: PatientScript) -> list[str]:
    parts = [
        script.history,
        script.symptoms.primary,
        *script.symptoms.secondary,
        script.past_medical_history,
        script.social_history,
        script.review_of_systems,
        *script.extra.values(),
    ]
    facts: list[str] = []
    for part in parts:
        for clause in _SPLIT.split(part or ""):
            clause = clause.strip(" ;.")
            if _words(clause) and clause not in facts:
                facts.append(clause)
    return facts


def _words(text: str) -> set[str]:
    return {w[:STEM] for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP and (len(w) > 2 or w.isdigit())}


def elicitation(
    script: PatientScript, patient_replies: list[str], discriminators: list[str] | None = None
) -> Elicitation:
    """`discriminators`: the facts that separate the case from its look-alikes (the look-alike bank marks them);
    how many the patient said is counted apart, by the same rule."""
    said = set().union(*(_words(reply) for reply in patient_replies)) if patient_replies else set()
    facts = script_facts(script)

    def unsaid(fact: str) -> bool:
        return len(_words(fact) & said) < RECALL_NEEDED * len(_words(fact))

    missed = [fact for fact in facts if unsaid(fact)]
    elicited = len(facts) - len(missed)
    marked = [d for d in discriminators or [] if _words(d)]
    return Elicitation(
        facts=len(facts),
        elicited=elicited,
        share=round(elicited / len(facts), 4) if facts else 0.0,
        missed=missed,
        discriminators=len(marked),
        discriminators_elicited=sum(not unsaid(d) for d in marked),
    )
