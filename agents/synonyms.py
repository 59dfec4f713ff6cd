"""Names of tests and studies as doctors say them, so a request finds the case's result whatever its key.

Each group lists equivalent names; the first is the canonical form. Single-word abbreviations are also
expanded inside longer names ("CT head" -> "computed tomography head"). Written for this project.
"""

from __future__ import annotations

import re
from functools import cache

SYNONYM_GROUPS: list[list[str]] = [
    ["complete blood count", "cbc", "full blood count", "fbc", "blood count", "hemogram", "haemogram"],
    ["basic metabolic panel", "bmp", "chem 7", "chem7"],
    ["comprehensive metabolic panel", "cmp", "chem 14", "metabolic panel"],
    ["serum electrolytes", "electrolytes", "lytes", "electrolyte panel", "serum electrolyte"],
    ["chest x ray", "cxr", "chest radiograph", "chest radiography", "chest film", "chest xray", "x ray chest"],
    ["electrocardiogram", "ecg", "ekg", "electrocardiography", "12 lead ecg"],
    ["echocardiogram", "echo", "echocardiography", "transthoracic echocardiogram", "tte", "cardiac ultrasound"],
    ["urinalysis", "ua", "urine analysis", "urine test", "urine dipstick"],
    ["liver function tests", "lft", "liver function test", "hepatic function panel", "liver panel", "liver enzymes"],
    ["arterial blood gas", "abg", "blood gas", "arterial blood gases"],
    ["erythrocyte sedimentation rate", "esr", "sed rate", "sedimentation rate"],
    ["c reactive protein", "crp"],
    ["thyroid function tests", "tft", "thyroid panel", "thyroid function test", "thyroid function"],
    ["thyroid stimulating hormone", "tsh"],
    ["hemoglobin a1c", "hba1c", "a1c", "glycated hemoglobin", "glycosylated hemoglobin"],
    ["coagulation profile", "coagulation panel", "coags", "coagulation studies", "pt inr", "clotting screen"],
    ["lumbar puncture", "lp", "spinal tap", "csf analysis", "cerebrospinal fluid analysis", "cerebrospinal fluid"],
    ["electromyography", "emg", "nerve conduction studies", "ncs"],
    ["electroencephalogram", "eeg", "electroencephalography"],
    ["brain natriuretic peptide", "bnp", "nt probnp", "natriuretic peptide"],
    ["troponin", "cardiac enzymes", "troponin i", "troponin t", "cardiac troponin"],
    ["d dimer", "ddimer"],
    ["lipid panel", "lipid profile", "cholesterol panel", "lipids"],
    ["blood glucose", "glucose", "blood sugar", "serum glucose", "fasting glucose"],
    ["pregnancy test", "hcg", "beta hcg", "human chorionic gonadotropin", "urine hcg", "serum hcg"],
    ["white blood cell count", "wbc", "leukocyte count", "white count", "white cell count"],
    ["hemoglobin", "hb", "hgb", "haemoglobin"],
    ["antinuclear antibody", "ana", "antinuclear antibodies", "anti nuclear antibody"],
    ["rheumatoid factor", "rf"],
    ["pulmonary function tests", "pft", "pfts", "spirometry", "lung function tests"],
    ["blood culture", "blood cultures"],
    ["urine culture", "urine cultures"],
    ["sputum culture", "sputum cultures", "sputum gram stain", "sputum analysis"],
    ["vital signs", "vitals", "observations", "obs"],
    ["physical examination", "physical exam", "examination", "exam", "clinical examination"],
    ["abdominal examination", "abdominal exam", "abdomen exam", "examination of the abdomen"],
    ["neurological examination", "neurological exam", "neuro exam", "neurologic examination", "neurologic exam"],
    ["cardiovascular examination", "cardiac exam", "cardiovascular exam", "heart exam"],
    ["respiratory examination", "chest examination", "lung exam", "respiratory exam", "pulmonary exam"],
    ["skin examination", "dermatological examination", "skin exam"],
    ["serum creatinine", "creatinine", "renal function", "kidney function tests", "renal function tests"],
    ["blood urea nitrogen", "bun", "urea"],
    ["serum lipase", "lipase"],
    ["serum amylase", "amylase"],
    ["procalcitonin", "pct"],
    ["human immunodeficiency virus test", "hiv test", "hiv serology", "hiv"],
]

# Abbreviations that also stand for their expansion inside a longer name.
TOKEN_EXPANSIONS = {
    "ct": "computed tomography",
    "cat": "computed tomography",
    "mri": "magnetic resonance imaging",
    "mr": "magnetic resonance imaging",
    "us": "ultrasound",
    "usg": "ultrasound",
    "sonogram": "ultrasound",
    "ultrasonography": "ultrasound",
    "xray": "x ray",
    "radiograph": "x ray",
    "cxr": "chest x ray",
    "ecg": "electrocardiogram",
    "ekg": "electrocardiogram",
    "abd": "abdominal",
    "exam": "examination",
    "exams": "examination",
    "abdomen": "abdominal",
    "haemoglobin": "hemoglobin",
    "levels": "level",
}

# Words that add nothing to a test's identity ("CBC test", "serum TSH level", "chest CT scan").
FILLER_WORDS = {
    "test",
    "tests",
    "level",
    "results",
    "result",
    "scan",
    "study",
    "studies",
    "the",
    "a",
    "an",
    "of",
    "please",
    "order",
    "request",
    "check",
    "findings",
    "finding",
    "values",
    "value",
    "measurement",
    "assessment",
    "evaluation",
    "perform",
    "get",
    "do",
}


def normalise(text: str) -> str:
    """Lowercase, punctuation and underscores to spaces, collapse whitespace."""
    text = text.lower().replace("_", " ").replace("-", " ").replace("/", " ")
    text = re.sub(r"[^a-z0-9 ]+", " ", text)
    return " ".join(text.split())


@cache
def _phrase_to_canonical() -> dict[str, str]:
    table: dict[str, str] = {}
    for group in SYNONYM_GROUPS:
        canonical = normalise(group[0])
        for name in group:
            table[normalise(name)] = canonical
    return table


def canonical(text: str) -> str:
    """The form two names are compared in: synonyms mapped to one name, abbreviations expanded."""
    norm = normalise(text)
    table = _phrase_to_canonical()
    if norm in table:
        return table[norm]
    words = [w for w in norm.split() if w not in FILLER_WORDS]
    words = [TOKEN_EXPANSIONS.get(w, w) for w in words]
    words = [_singular(w) for w in " ".join(words).split()]
    core = " ".join(words)
    if not core:  # the name was only filler ("Findings", "Results"): keep it as it is
        return norm
    return table.get(core, core)


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word
