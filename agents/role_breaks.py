"""Does a patient reply stay in character? A rule checker for the ways small models break the role.

Each rule is a kind and a pattern, checked on one patient reply; a reply can break several. Kinds:
- `third_person`: speaks about the patient instead of as the patient ("The patient has ...");
- `plays_doctor`: speaks as the clinician or an assistant ("I'm here to help", "My name is Dr. ...",
  asks the doctor about their symptoms, gives advice);
- `ai_voice`: speaks as a language model ("As an AI", "I don't have enough information");
- `names_diagnosis`: offers a medical label for the illness ("I think I have pneumonia"); the leak check
  separately flags the true diagnosis itself.
The checker runs on every patient turn; hits go to the turn's `meta.role_breaks` and the record's totals.
"""

from __future__ import annotations

import re

_RULES: dict[str, list[str]] = {
    "third_person": [
        r"\b(?:the|this) patient(?:'s)?\b",
        r"^\s*(?:he|she|they) (?:has|have|is|are|was|were|reports?|complains?|presents?)\b",
        r"\b(?:his|her) (?:symptoms|chest|pain|cough|breathing)\b",
    ],
    "plays_doctor": [
        r"\bI'?m here to (?:help|check|assist|see how)\b",
        r"\bhow can I (?:help|assist)\b",
        r"\bmy name is dr\b|\bI'?m dr\.?\s",
        r"\bwhat brings you\b",
        r"\b(?:do|are) you (?:have|experiencing|feeling|suffering)\b",
        r"\b(?:your|the) (?:symptoms|diagnosis) (?:suggest|indicate|are consistent)\b",
        r"\bI (?:would )?(?:recommend|suggest|advise) (?:that )?you\b",
        r"\byou should (?:see|get|take|rest|go)\b",
        r"\blet'?s (?:run|order|check|examine)\b",
    ],
    "ai_voice": [
        r"\bas an ai\b",
        r"\b(?:language model|ai assistant|virtual assistant)\b",
        r"\bI (?:don'?t|do not) have (?:enough )?(?:information|access|the ability)\b",
        r"\bI'?m sorry, but I\b",
        r"\bI cannot (?:provide|diagnose|give)\b",
    ],
    "names_diagnosis": [
        (
            r"\bI (?:think|guess|suspect|believe|am sure|'m sure)(?: that)? (?:I|it)(?:'s| is| might| may| could| must)?"
            r"(?: be| have| has)? (?:a |an )?(?:case of )?[a-z]+(?:itis|oma|emia|osis|pathy|thorax|monia|ism)\b"
        ),
        (
            r"\bI (?:have|had|might have|may have|probably have) (?:a |an )?(?!no |not )(?:[a-z]+ )?[a-z]*(?:pneumonia|pneumothorax|effusion|"
            r"cancer|bronchitis|cardiomegaly|embolism|infarction|heart attack|tumou?r)\b"
        ),
    ],
}
_COMPILED = {kind: [re.compile(p, re.IGNORECASE | re.MULTILINE) for p in patterns] for kind, patterns in _RULES.items()}
KINDS = tuple(_RULES)


def role_breaks(text: str, licensed: frozenset[str] = frozenset()) -> list[dict]:
    """The rules a patient reply breaks: [{"kind": ..., "match": the words that broke it}], in rule order.
    Kinds in `licensed` are not checked: the patient's bias asks for them (see `agents.patient.licensed_breaks`)."""
    found = []
    for kind, patterns in _COMPILED.items():
        if kind in licensed:
            continue
        for pattern in patterns:
            match = pattern.search(text or "")
            if match:
                found.append({"kind": kind, "match": match.group(0)})
                break  # one hit per kind is enough to count the reply
    return found
