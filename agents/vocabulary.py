"""The words of a clinical work-up as concept tokens, so a request and a case's keys can be compared.

"Examine the belly", "abdominal exam" and the key `Abdominal_Examination` all become {abdomen, exam};
"CXR" and `Chest_X-ray` both {chest, xray}; "full blood count" and `CBC` both {cbc}. The phrase groups are
in `vocabulary.txt` beside this module (one line a group: its tokens | the ways it is said); the longest
phrase wins ("heart rate" is a vital sign, not the heart). A token written "~name" is a qualifier: it helps a
match but is never required ("basic metabolic panel" finds a `Metabolic_Panel`). Words in no group keep their
(singular) form, so names nobody listed still meet their own key.

Tokens have kinds (`kind`): body systems and parts (where to look), manoeuvres and sub-parts of an
examination (what to do there), imaging modalities, specimens, generic kinds of result (an examination,
blood tests, imaging) and, for everything else, names (tests, and words the table does not know).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from agents.synonyms import normalise

EXAM = "exam"
LABS = "labs"  # any blood laboratory section: what "blood tests" and "labs" ask for
IMAGING = "imaging"
GENERIC = frozenset({EXAM, LABS, IMAGING})

# fmt: off
SYSTEMS = frozenset({
    "abdomen", "breast", "chest", "ent", "eye", "general", "genitourinary", "heart", "lymph", "mental",
    "musculoskeletal", "neuro", "obstetric", "pelvic", "rectal", "skin", "vascular"
})
PARTS = frozenset({
    "abdomen", "ankle", "breast", "chest", "ear", "elbow", "eye", "foot", "hand", "head", "hip", "kidney", "knee",
    "limb", "liver", "mouth", "neck", "nose", "pelvic", "scrotum", "shoulder", "spine", "spleen", "throat",
    "thyroid", "wrist"
})
LIMB_PARTS = frozenset({"limb", "knee", "hip", "shoulder", "hand", "wrist", "elbow", "ankle", "foot"})
MANOEUVRES = frozenset({
    "appearance", "auscultation", "balance", "behaviour", "bmi", "bowel_sound", "bp", "coordination",
    "cranial_nerve", "fundus", "gait", "height", "inspection", "lesion", "memory", "mood", "motor", "murmur",
    "oedema", "orientation", "palpation", "perception", "percussion", "positional", "pulse", "pupil", "rash",
    "red_reflex", "reflex", "respiratory_rate", "rom", "sensory", "special_test", "speech", "spo2", "strength_test",
    "temperature", "tenderness", "thought", "tone", "vital", "weight"
})
MODALITIES = frozenset({"xray", "ct", "mri", "us", "echo", "mammography", "angiography", "pet", "fluoroscopy",
                        "scintigraphy"})
# Where a specimen comes from: a urine culture is not a blood culture.
SPECIMENS = frozenset({"blood", "urine", "sputum", "stool", "csf", "synovial", "throat_swab"})
# fmt: on
# Parts one study can show together: a pelvic film shows the hips.
PART_OVERLAPS = {"hip": {"pelvic"}, "pelvic": {"hip"}}
# Body parts examined as part of a system, when the case has no section of the part's own.
PART_SYSTEMS = {
    "knee": "musculoskeletal", "hip": "musculoskeletal", "shoulder": "musculoskeletal", "hand": "musculoskeletal",
    "wrist": "musculoskeletal", "elbow": "musculoskeletal", "ankle": "musculoskeletal", "foot": "musculoskeletal",
    "spine": "musculoskeletal", "limb": "musculoskeletal", "ear": "ent", "nose": "ent", "throat": "ent",
    "mouth": "ent", "liver": "abdomen", "spleen": "abdomen", "kidney": "abdomen", "scrotum": "genitourinary",
    "thyroid": "neck", "fundus": "eye", "pupil": "eye",
}  # fmt: skip

# Words that add nothing to what is asked ("CBC test", "TSH level", "chest CT scan", "full exam").
# fmt: off
FILLER = frozenset({
    "a", "additional", "again", "all", "also", "an", "analysis", "and", "anterior", "any", "ap", "are", "area",
    "at", "available", "baby", "baseline", "basic", "be", "bedside", "bilateral", "both", "brief", "briefly", "by",
    "can", "carefully", "check", "child", "compare", "comparison", "complete", "comprehensive", "could", "count",
    "current", "detailed", "direct", "do", "done", "entire", "erect", "evidence", "fasting", "finding", "findings",
    "first", "focused", "focussed", "for", "formal", "free", "from", "full", "function", "further", "gently", "get",
    "he", "her", "him", "his", "how", "i", "in", "indirect", "infant", "initial", "into", "inventory", "is", "it",
    "its", "just", "last", "lateral", "latest", "left", "lower", "me", "measurement", "more", "my", "new",
    "newborn", "note", "noted", "now", "oblique", "obtain", "obtained", "of", "on", "optional", "or", "order",
    "other", "others", "overall", "pa", "pair", "paired", "panel", "patient", "perform", "performed", "please",
    "portable", "possible", "posterior", "preliminary", "presence", "profile", "qualitative", "quantitative",
    "questionnaire", "quick", "quickly", "random", "rating", "recent", "record", "recorded", "region", "relevant",
    "remainder", "repeat", "report", "request", "rest", "result", "results", "right", "routine", "s", "scale",
    "score", "screen", "screening", "second", "see", "set", "sets", "she", "sign", "simple", "single", "some",
    "special", "specific", "standard", "stat", "status", "study", "supine", "symptom", "system", "targeted", "test",
    "tested", "testing", "that", "the", "their", "them", "there", "these", "this", "thorough", "times", "to",
    "total", "twice", "two", "upper", "upright", "urgent", "value", "view", "we", "what", "whole", "will", "with",
    "would", "x", "you", "your"
})
# Words after which the rest qualifies what came before ("biopsy of the penile lesion", "CBC with diff").
BREAKS = frozenset({
    "across", "along", "around", "at", "from", "in", "inc", "incl", "including", "near", "of", "on", "over", "plus",
    "under", "using", "via", "with", "within", "without"
})
_IRREGULAR = {
    "abdomen": "abdomen", "analyses": "analysis", "ascites": "ascites", "axes": "axis", "axillae": "axilla",
    "bilateral": "bilateral", "coags": "coag", "cps": "cps", "diabetes": "diabetes", "diagnoses": "diagnosis",
    "faeces": "faeces", "feces": "feces", "feet": "feet", "gas": "gas", "gases": "gas", "gonococcus": "gonococcus",
    "herpes": "herpes", "labs": "lab", "lens": "lens", "lfts": "lft", "lytes": "lytes", "measles": "measles",
    "mumps": "mumps", "nares": "nares", "news": "news", "obs": "obs", "pelvis": "pelvis", "petechiae": "petechia",
    "pfts": "pft", "pubis": "pubis", "pulses": "pulses", "rabies": "rabies", "reflexes": "reflex", "sats": "sat",
    "series": "series", "sinus": "sinus", "species": "species", "status": "status", "teeth": "teeth", "testes":
    "testes", "tfts": "tft", "thorax": "thorax", "ua": "ua", "vertebrae": "vertebra"
}
# Tokens that name a blood laboratory test: a top-level tests section holding one is one of the "blood tests".
_BLOOD_LAB = frozenset({
    "albumin", "alp", "alt", "ammonia", "amylase", "ana", "antibody", "aptt", "ast", "b12", "bilirubin",
    "blood_gas", "bnp", "bun", "calcium", "cbc", "ck", "coagulation", "cortisol", "creatinine", "crp", "d_dimer",
    "dat", "electrolyte", "esr", "ferritin", "fibrinogen", "folate", "ggt", "glucose", "hba1c", "hematocrit",
    "hemoglobin", "hepatitis", "hiv", "hormone", "inr", "iron", "labs", "lactate", "ldh", "lft", "lipase", "lipid",
    "magnesium", "metabolic", "osmolality", "phosphate", "platelet", "potassium", "procalcitonin", "pt",
    "renal_function", "reticulocyte", "rheumatoid_factor", "sodium", "syphilis", "t3", "t4", "tft", "thyroid",
    "torch", "troponin", "tsh", "tumour_marker", "uric_acid", "wbc"
})
_NOT_BLOOD = frozenset({
    "biopsy", "bp", "csf", "culture", "flow_cytometry", "genetic", "marrow", "smear", "sputum", "stool", "synovial",
    "toxicology", "urinalysis", "urine", "urine_24h", "vital"
})
# fmt: on
_MAX_PHRASE = 6
_COUNT = re.compile(r"^(?:x?\d+|\d+x)$")  # "x2", "3": how many, not what


def kind(token: str) -> str:
    """system | part | manoeuvre | modality | generic | qualifier | name (tokens are often two of the first
    kinds: "abdomen" is a system and a part; the first that applies is given)."""
    if token.startswith("~"):
        return "qualifier"
    for name, members in (
        ("generic", GENERIC),
        ("modality", MODALITIES),
        ("system", SYSTEMS),
        ("part", PARTS),
        ("manoeuvre", MANOEUVRES),
        ("specimen", SPECIMENS),
    ):
        if token in members:
            return name
    return "name"


def singular(word: str) -> str:
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("xes", "sses", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is", "as", "os")):
        return word[:-1]
    return word


@cache
def phrase_groups() -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(the tokens, the ways it is said) of each line of vocabulary.txt."""
    groups = []
    text = resources.files("agents").joinpath("vocabulary.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        tokens, _, variants = line.partition("|")
        groups.append((tuple(tokens.split()), tuple(v.strip() for v in variants.split(",") if v.strip())))
    return groups


@cache
def _table() -> dict[tuple[str, ...], tuple[str, ...]]:
    table: dict[tuple[str, ...], tuple[str, ...]] = {}
    for tokens, variants in phrase_groups():
        for phrase in variants:
            words = tuple(singular(w) for w in _joined_prefixes(normalise(phrase)).split())
            if len(words) > 1 and words[0] in ("serum", "plasma") and LABS not in tokens:
                words = words[1:]  # "serum sodium" is blood + sodium: the specimen must stay visible
            if words:
                table.setdefault(words, tokens)
    return table


@cache
def known_words() -> frozenset[str]:
    """Every word of the phrase table and the filler list (a word outside them may be a typo)."""
    return frozenset(w for phrase in _table() for w in phrase) | frozenset(FILLER) | frozenset(BREAKS)


@dataclass(frozen=True)
class Item:
    """One phrase of a name or request: the tokens it stands for, or one word the table does not know."""

    tokens: tuple[str, ...]
    words: tuple[str, ...]
    known: bool


def items(text: str) -> list[list[Item]]:
    """A name or request as phrases, in order, split into segments at words like "of" and "with": the first
    segment usually holds what is asked for, the later ones what qualifies it."""
    words = [singular(w) for w in _joined_prefixes(normalise(text)).split()]
    table = _table()
    segments: list[list[Item]] = [[]]
    i = 0
    while i < len(words):
        for length in range(min(_MAX_PHRASE, len(words) - i), 0, -1):
            phrase = tuple(words[i : i + length])
            if phrase in table:
                if table[phrase]:
                    segments[-1].append(Item(table[phrase], phrase, True))
                i += length
                break
        else:
            word = words[i]
            if _COUNT.match(word):  # "x2", "3": how many, not what
                pass
            elif word in BREAKS:
                if segments[-1]:
                    segments.append([])
            elif word not in FILLER:
                segments[-1].append(Item((word,), (word,), False))
            i += 1
    return [s for s in segments if s]


def _joined_prefixes(text: str) -> str:
    """Prefixes written apart ("anti-mitochondrial") joined as keys write them ("Antimitochondrial")."""
    return re.sub(r"\b(anti|non|pre|post|hyper|hypo) (?=[a-z]{3})", r"\1", text)


@cache
def concept_tokens(text: str) -> frozenset[str]:
    """Every concept token of a name or request, qualifiers included (`~name`)."""
    return frozenset(t for segment in items(text) for item in segment for t in item.tokens)


def plain(token: str) -> str:
    return token.removeprefix("~")


def is_blood_lab(key: str) -> bool:
    """A top-level tests section that is a blood laboratory test (what "blood tests" asks for)."""
    tokens = {plain(t) for t in concept_tokens(key)}
    return bool(tokens & _BLOOD_LAB) and not tokens & _NOT_BLOOD and not tokens & MODALITIES


__all__ = ["EXAM", "GENERIC", "IMAGING", "LABS", "LIMB_PARTS", "MANOEUVRES", "MODALITIES", "PARTS", "PART_OVERLAPS",
           "PART_SYSTEMS", "SPECIMENS", "SYSTEMS", "Item", "concept_tokens", "is_blood_lab", "items", "kind",
           "known_words", "normalise", "phrase_groups", "plain", "singular"]  # fmt: skip
