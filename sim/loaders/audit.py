"""The answer-leak audit: does a case give its own diagnosis away?

The patient agent reads the patient script; the measurement agent reads the exam, the tests and the
image records (their reports only when the measurement agent is configured to show them: by default
it returns images without reports, so reports are audited only with `include_reports=True`). If the
correct diagnosis is written in any of that text, an agent can say it out loud and the encounter
measures reading, not diagnosis. Peers' data sets have this problem (AgentClinic-MedQA: 14 of 107).

Rules, tried in order for each field; the first that fires is reported, so each field appears once:
- exact: the diagnosis or an alias, as whole words, after case/accent/punctuation normalisation
  (acronyms such as "PML" are matched case-sensitively: "all" is not "ALL");
- all-tokens: every content word of a multi-word diagnosis occurs in the same field, in any order
  ("nephritis, acute interstitial");
- fuzzy: rapidfuzz partial_ratio >= 92 between the diagnosis and the field text, for diagnoses of at
  least 8 characters (spelling variants: "leukaemia", "Hirschprung").
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from rapidfuzz import fuzz

from sim.core.case import Case

RULES = ("exact", "all-tokens", "fuzzy")
FUZZY_THRESHOLD = 92.0
FUZZY_MIN_CHARS = 8
SNIPPET_CHARS = 50

# Function words carry no diagnosis; "type", "like" and "point" come from names such as
# "Serum sickness-like reaction" or "tendon at its point of insertion".
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "at",
        "by",
        "due",
        "for",
        "from",
        "in",
        "into",
        "its",
        "of",
        "on",
        "or",
        "the",
        "to",
        "with",
        "without",
        "type",
        "like",
        "point",
    ]
)
# Who the patient is, not what they have: a neonate's "respiratory distress syndrome" is the
# diagnosis "Neonatal respiratory distress syndrome", so all-tokens does not require these words.
_POPULATION_WORDS = frozenset(
    [
        "neonatal",
        "newborn",
        "infantile",
        "infant",
        "pediatric",
        "paediatric",
        "childhood",
        "juvenile",
        "adult",
        "adulthood",
    ]
)
_ACRONYM = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,5}$")


@dataclass(frozen=True)
class AuditFinding:
    case_id: str
    # Dotted path in the Case, e.g. "patient.history", "tests.Blood_Tests.CBC"; a finding in a
    # findings key (a test named after the diagnosis) ends in " (key)".
    field: str
    rule: str  # one of RULES
    diagnosis: str  # the name or alias that was found
    matched: str  # the normalised text around the match
    score: float = 100.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def audit_cases(cases: Iterable[Case], include_reports: bool = False) -> list[AuditFinding]:
    """Every (case, field) whose patient- or measurement-visible text contains the case's diagnosis."""
    findings: list[AuditFinding] = []
    for case in cases:
        names = DiagnosisMatcher(case.diagnosis.all_names())
        for field, text in visible_texts(case, include_reports):
            finding = names.find_in(text)
            if finding:
                rule, name, matched, score = finding
                findings.append(AuditFinding(case.id, field, rule, name, matched, score))
    return findings


def rule_totals(findings: Iterable[AuditFinding]) -> dict[str, dict[str, int]]:
    """Per rule: how many fields were flagged and in how many distinct cases."""
    findings = list(findings)
    fields = Counter(f.rule for f in findings)
    cases = {rule: len({f.case_id for f in findings if f.rule == rule}) for rule in RULES}
    return {rule: {"fields": fields.get(rule, 0), "cases": cases[rule]} for rule in RULES}


def visible_texts(case: Case, include_reports: bool = True) -> Iterator[tuple[str, str]]:
    """(field path, text) for everything the patient or measurement agent can read, keys included:
    the measurement agent shows test names, and a test named after the diagnosis gives it away."""
    patient = case.patient
    yield "patient.demographics", patient.demographics
    yield "patient.history", patient.history
    yield "patient.symptoms.primary", patient.symptoms.primary
    for i, symptom in enumerate(patient.symptoms.secondary):
        yield f"patient.symptoms.secondary.{i}", symptom
    yield "patient.past_medical_history", patient.past_medical_history
    yield "patient.social_history", patient.social_history
    yield "patient.review_of_systems", patient.review_of_systems
    for key, text in patient.extra.items():
        yield f"patient.extra.{key}", text
    yield from _nested_texts("exam", case.exam)
    yield from _nested_texts("tests", case.tests)
    for i, image in enumerate(case.images):
        for name in ("report", "modality", "body_region", "view", "path", "url"):
            if name == "report" and not include_reports:
                continue
            yield f"images.{i}.{name}", getattr(image, name) or ""
        for j, region in enumerate(image.regions):
            yield f"images.{i}.regions.{j}", region


def _nested_texts(path: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, child in value.items():
            child_path = f"{path}.{key}"
            yield f"{child_path} (key)", str(key).replace("_", " ")
            yield from _nested_texts(child_path, child)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _nested_texts(f"{path}.{i}", child)
    elif value is not None:
        yield path, str(value)


def ascii_words(text: str) -> str:
    """Lowercase ASCII words separated by single spaces; possessives dropped ("Hirschsprung's" ->
    "hirschsprung") because sources write eponyms both ways."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"[\u2018\u2019\u02bc`\u00b4]", "'", text)
    text = re.sub(r"'s\b", "", text)
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def _snippet(text: str, start: int, end: int) -> str:
    left, right = max(0, start - SNIPPET_CHARS), min(len(text), end + SNIPPET_CHARS)
    return ("..." if left else "") + text[left:right] + ("..." if right < len(text) else "")


class DiagnosisMatcher:
    """The diagnosis and its aliases, prepared once per case for the three rules."""

    def __init__(self, names: list[str]):
        self.acronyms = [n.strip() for n in names if _ACRONYM.match(n.strip())]
        self.phrases = [(n, ascii_words(n)) for n in names if n.strip() not in self.acronyms and ascii_words(n)]
        self.token_sets = []
        for name, norm in self.phrases:
            tokens = [t for t in norm.split() if t not in _STOPWORDS and t not in _POPULATION_WORDS]
            if len(tokens) >= 2:
                self.token_sets.append((name, tokens))

    def find_in(self, text: str) -> tuple[str, str, str, float] | None:
        if not text.strip():
            return None
        norm = ascii_words(text)
        padded = f" {norm} "
        for name, phrase in self.phrases:
            at = padded.find(f" {phrase} ")
            if at >= 0:
                return "exact", name, _snippet(norm, at, at + len(phrase)), 100.0
        for acronym in self.acronyms:
            match = re.search(rf"(?<![A-Za-z0-9]){re.escape(acronym)}(?![A-Za-z0-9])", text)
            if match:
                return "exact", acronym, _snippet(text, match.start(), match.end()), 100.0
        words = norm.split()
        for name, tokens in self.token_sets:
            spans = [_word_span(words, t) for t in tokens]
            found = [s for s in spans if s is not None]
            if len(found) == len(spans):
                start, end = min(s[0] for s in found), max(s[1] for s in found)
                return "all-tokens", name, _snippet(norm, start, end), 100.0
        for name, phrase in self.phrases:
            # A field shorter than the name would be "found" inside the name itself ("Normal" in
            # "Normal behavior"): only look for the name in text at least as long.
            if len(phrase) < FUZZY_MIN_CHARS or len(norm) < len(phrase):
                continue
            alignment = fuzz.partial_ratio_alignment(phrase, norm, score_cutoff=FUZZY_THRESHOLD)
            if alignment is not None:
                start, end = alignment.dest_start, alignment.dest_end
                return "fuzzy", name, _snippet(norm, start, end), round(alignment.score, 1)
        return None


def _word_span(words: list[str], token: str) -> tuple[int, int] | None:
    """Character span of the first word that is `token` or its plural ("ruptures", "abscesses")
    in the text `" ".join(words)`, or None."""
    forms = {token, f"{token}s", f"{token}es"}
    if token.endswith("s") and len(token) > 4:
        forms.add(token[:-1])
    offset = 0
    for word in words:
        if word in forms:
            return offset, offset + len(word)
        offset += len(word) + 1
    return None
