"""Theme phrase pools: the facts that decide a diagnosis within its group, shared across groups.

A theme (malignancy, smoking, alcohol, a young patient, a recent procedure, ...) is the kind of story a
diagnosis shares with members of OTHER groups. Every member of a theme draws its facts from the same pools
here, in the same words and with the same laboratory shifts, so that without the film a malignant pleural
effusion, a malignant pericardial effusion and lung metastases read alike; within one group no two members
share a theme, so the same facts separate them. Each helper adds its clauses to the case and marks the
deciding ones as keys (the case's discriminators); borrowed uses elsewhere pass key=False. The infectious
themes are in `infections`, the five themes with a single member in `singletons`.
"""

from __future__ import annotations

from sim.bank.lookalike.stories.case import Case
from sim.bank.lookalike.stories.common import years_ago
from sim.bank.sampling import chance, pick

# ---- malignancy -------------------------------------------------------------------------------------

# key -> (clause template, short form for the context line, sexes it fits)
KNOWN_CANCERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "breast": ("Breast cancer treated with surgery, chemotherapy and radiotherapy {ago}", "breast cancer treated {ago}",
               ("female",)),
    "bowel": ("Bowel cancer removed by an operation {ago}, followed by chemotherapy", "bowel cancer operated on {ago}",
              ("male", "female")),
    "kidney": ("A kidney removed because of cancer {ago}", "kidney cancer removed {ago}", ("male", "female")),
    "melanoma": ("A melanoma, a skin cancer, cut out from the back {ago}", "melanoma removed {ago}",
                 ("male", "female")),
    "ovary": ("Ovarian cancer treated with surgery and chemotherapy {ago}", "ovarian cancer treated {ago}",
              ("female",)),
    "lymphoma": ("Lymphoma, a cancer of the lymph glands, treated with chemotherapy {ago}", "lymphoma treated {ago}",
                 ("male", "female")),
    "sarcoma": ("A sarcoma, a cancer of the soft tissues, removed from the thigh {ago}, followed by radiotherapy",
                "sarcoma of the thigh removed {ago}", ("male", "female")),
    "testis": ("Testicular cancer treated with an operation {ago}", "testicular cancer treated {ago}", ("male",)),
    "thyroid": ("Thyroid cancer removed with the whole thyroid gland {ago}", "thyroid cancer removed {ago}",
                ("male", "female")),
    "lung_growth": ("A cancerous growth in the {side} lung treated with chemotherapy and radiotherapy {ago}",
                    "growth in the {side} lung treated {ago}", ("male", "female")),
}  # fmt: skip
# Cancers that spread to the pleura, the pericardium and the lung alike, so which one was treated before does not
# say where it went.
SPREADING = ("breast", "bowel", "kidney", "melanoma", "lymphoma", "ovary", "lung_growth", "sarcoma", "thyroid")
# The scar a treated cancer leaves, for the examination to agree with the history wherever the cancer is told.
SCARS = {"breast": ("General_Examination", "Skin", "Healed scar from breast surgery on the left"),
         "bowel": ("Abdominal_Examination", "Inspection", "Healed midline scar from an old operation"),
         "ovary": ("Abdominal_Examination", "Inspection", "Healed midline scar from an old operation"),
         "kidney": ("Abdominal_Examination", "Inspection", "Healed scar under the right ribs from an old operation"),
         "melanoma": ("General_Examination", "Skin", "Healed scar on the back where a mole was removed"),
         "sarcoma": ("General_Examination", "Skin", "Long healed scar on the outer thigh"),
         "thyroid": ("General_Examination", "Skin", "Healed scar across the front of the neck")}  # fmt: skip


def known_cancer(c: Case, kinds: tuple[str, ...], years: tuple[int, int] = (1, 9), key: bool = True) -> str:
    """A cancer treated before, elsewhere in the body (its scar shows in over half); returns its kind."""
    rng, who = c.draft.rng, c.draft.who
    fitting = [k for k in kinds if who.sex in KNOWN_CANCERS[k][2] and not (k == "testis" and who.age > 55)]
    kind = pick(rng, fitting)
    template, brief, _ = KNOWN_CANCERS[kind]
    n = int(rng.integers(years[0], years[1] + 1))
    ago = years_ago(n) if n > 0 else "last year"
    lung_side = pick(rng, ("right", "left"))
    c.draft.fact("pmh", template.format(ago=ago, side=lung_side), key=key, brief=brief.format(ago=ago, side=lung_side))
    if chance(rng, 0.4):
        c.draft.fact(
            "pmh",
            pick(
                rng,
                (
                    "Still has yearly check-ups at the oncology clinic",
                    "Was told at the last check-up that all was clear",
                )
                + (("Discharged from the oncology clinic after five clear years",) if n >= 5 else ()),
            ),
        )
    if kind in SCARS and chance(rng, 0.6):
        c.exam.set(*SCARS[kind])
    return kind


def weight_loss(c: Case, key: bool = False, months: tuple[int, int] = (1, 6)) -> None:
    rng = c.draft.rng
    kg, m = int(rng.integers(3, 13)), int(rng.integers(max(2, months[0]), months[1] + 1))
    text = pick(
        rng,
        (
            f"Has lost about {kg} kg over the last {m} months without trying",
            f"Clothes have become loose; about {kg} kg lost in {m} months",
            f"Weight has dropped by {kg} kg over {m} months and appetite is poor",
        ),
    )
    c.draft.fact("ros", text, key=key, brief=f"{kg} kg weight loss over {m} months", tags=("weight",))
    c.exam.bmi = (17.0, 25.0)


def asbestos(c: Case, key: bool = True) -> None:
    rng = c.draft.rng
    job = pick(rng, ("a pipe lagger", "a shipyard electrician", "a boilermaker", "a plumber in old buildings"))
    c.draft.fact(
        "social",
        f"Worked for {int(rng.integers(8, 30))} years as {job}, handling asbestos",
        key=key,
        brief="asbestos exposure at work",
        tags=("job",),
    )


def haemoptysis(c: Case, key: bool = False) -> None:
    text = pick(
        c.draft.rng,
        (
            "Has coughed up streaks of blood on a few mornings",
            ("Noticed blood in the phlegm several times over the last month"),
        ),
    )
    c.draft.fact("ros", text, key=key, brief="streaks of blood in the phlegm", tags=("blood", "cough", "sputum"))


def malignancy_labs(c: Case) -> None:
    labs, rng = c.labs, c.draft.rng
    if chance(rng, 0.55):
        labs.hemoglobin = (9.4, 12.0) if c.draft.who.sex == "male" else (9.0, 11.6)
    if chance(rng, 0.35):
        labs.platelets = (410, 620)
    if chance(rng, 0.15):
        labs.calcium = (2.65, 3.10)
    if chance(rng, 0.2):
        labs.alp = (140, 340)
    labs.albumin, labs.crp, labs.d_dimer = (29, 38), (6, 45), (0.7, 3.5)


# ---- smoking and the lungs it leaves ------------------------------------------------------------------------


def heavy_smoker(c: Case, key: bool = False, current: float = 0.6) -> int:
    rng, who = c.draft.rng, c.draft.who
    years = int(rng.integers(max(10, min(25, who.age - 25)), max(12, who.age - 14)))
    pack_years = int(years * float(rng.choice([1.0, 1.0, 1.5, 2.0])))
    if chance(rng, current):
        text = f"Current smoker of about {pack_years} pack-years"
    else:
        text = f"Smoked about {pack_years} pack-years; stopped {years_ago(int(rng.integers(1, 8)))}"
    c.draft.fact("social", text, key=key, brief=f"{pack_years} pack-year smoker", tags=("smoking",))
    c.exam.add("General_Examination", "Hands", "Nicotine staining of the fingers") if chance(rng, 0.4) else None
    return pack_years


def copd(c: Case, key: bool = True) -> None:
    rng = c.draft.rng
    n = int(rng.integers(2, 14))
    text = pick(
        rng,
        (
            f"COPD diagnosed {years_ago(n)}; uses tiotropium and a salbutamol inhaler",
            f"Emphysema seen on a scan {years_ago(n)}; uses three inhalers",
            f"COPD for {n} years, on inhalers; two hospital admissions with chest infections last winter",
        ),
    )
    c.draft.fact("pmh", text, key=key, brief="COPD on inhalers", tags=("copd",))


def copd_signs(c: Case) -> None:
    """The chest of a patient with COPD, after the picture's own signs are in (they may share an entry)."""
    rng, e = c.draft.rng, c.exam
    if "copd" not in c.draft.tags:
        return
    if chance(rng, 0.4):
        e.set("Respiratory_Examination", "Inspection", "Barrel-shaped chest; breathing through pursed lips")
    if chance(rng, 0.4):
        e.add("Respiratory_Examination", "Auscultation", "Scattered expiratory wheeze")
    labs = c.labs
    labs.pef_share = (0.35, 0.70) if labs.pef_share == (0.85, 1.05) else labs.pef_share
    if chance(rng, 0.4):  # long-standing retention of carbon dioxide, the kidneys holding bicarbonate to match
        labs.paco2, labs.bicarbonate = (6.2, 7.8), (28, 33)
    if chance(rng, 0.15) and labs.hemoglobin in ((13.2, 16.4), (12.0, 15.0)):  # thick blood of long hypoxia
        labs.hemoglobin = (16.5, 18.5)
    if chance(rng, 0.15) and not labs.ecg_findings:  # over-inflated lungs muffle the heart's voltage
        labs.ecg_findings = ["low QRS voltage in all leads"]


def baseline_breathless(c: Case, key: bool = False) -> None:
    text = pick(
        c.draft.rng,
        (
            "Normally gets breathless after about 100 metres on the flat",
            "Normally breathless climbing one flight of stairs",
        ),
    )
    c.draft.fact("ros", text, key=key, brief="breathless at baseline")


def smokers_cough(c: Case) -> None:
    c.draft.fact(
        "symptom",
        pick(c.draft.rng, ("Has a smoker's cough most mornings", "Coughs up a little grey phlegm every morning")),
        tags=("cough", "sputum"),
    )


# ---- alcohol ------------------------------------------------------------------------------------------

DRINKS = ("mostly strong lager", "mostly vodka", "mostly cider", "mostly wine", "beer and spirits")


def alcohol_intake(c: Case, current: bool = True, key: bool = True) -> None:
    rng = c.draft.rng
    units = int(rng.integers(8, 28))
    if current:
        weekly = chance(rng, 1 / 3)
        units = min(units, 15) if weekly else units
        text = (
            f"Drinks about {units * 7} units of alcohol a week, {pick(rng, DRINKS)}"
            if weekly
            else pick(
                rng,
                (
                    f"Drinks about {units} units of alcohol a day, {pick(rng, DRINKS)}",
                    f"Has drunk heavily for {int(rng.integers(8, 30))} years, about {units} units a day",
                ),
            )
        )
        brief = f"drinks about {units * 7} units a week" if weekly else f"drinks about {units} units a day"
    else:
        text = f"Stopped drinking {int(rng.integers(2, 11))} months ago; before that drank about {units} units a day"
        brief = f"heavy drinker, about {units} units a day until recently"
    c.draft.fact("social", text, key=key, brief=brief, tags=("alcohol",))


def alcohol_harm(c: Case, key: bool = False) -> None:
    rng = c.draft.rng
    section, text = pick(rng, (
        ("ros", "Has shakes and sweats in the mornings until the first drink"),
        ("pmh", f"Admitted {years_ago(int(rng.integers(1, 6)))} with alcohol withdrawal fits"),
        ("social", "Lost a job last year because of drinking"),
        ("pmh", f"Inflammation of the pancreas {years_ago(int(rng.integers(2, 9)))}"),
        ("social", "Has seen the community alcohol team but did not keep going"),
    ))  # fmt: skip
    c.draft.fact(section, text, key=key, brief="alcohol-related admissions")


def cirrhosis(c: Case, key: bool = True, ascites: float = 0.5) -> None:
    rng = c.draft.rng
    n = int(rng.integers(1, 8))
    text = pick(
        rng,
        (
            f"Cirrhosis due to alcohol diagnosed {years_ago(n)}",
            f"Told {years_ago(n)} that the liver is scarred by alcohol (cirrhosis)",
            f"Cirrhosis due to alcohol diagnosed {years_ago(n)}; takes spironolactone and furosemide",
        ),
    )
    c.draft.fact("pmh", text, key=key, brief="cirrhosis due to alcohol")
    cirrhosis_signs(c, ascites, key=key)


def cirrhosis_signs(c: Case, ascites: float = 0.5, key: bool = True) -> None:
    """What a scarred liver shows, whatever brought the drinker in: the blood, the skin, the belly."""
    rng, labs, exam = c.draft.rng, c.labs, c.exam
    labs.platelets, labs.bilirubin, labs.albumin, labs.inr = (55, 135), (24, 85), (21, 31), (1.3, 2.0)
    labs.sodium, labs.alt, labs.alp, labs.d_dimer = (126, 135), (24, 70), (100, 210), (0.9, 3.0)
    if chance(rng, 0.5):
        labs.hemoglobin = (10.0, 13.0)
    exam.set(
        "General_Examination",
        "Skin",
        pick(
            rng,
            (
                "Spider naevi over the chest; yellow tinge to the eyes",
                "Several spider naevi on the upper chest and arms",
                "Jaundiced; spider naevi on the chest",
            ),
        ),
    )
    exam.set("General_Examination", "Hands", pick(rng, ("Palmar erythema; no clubbing", "Red palms; mild tremor")))
    if chance(rng, 0.6):
        exam.set(
            "Abdominal_Examination",
            "Palpation",
            pick(rng, ("Liver edge not felt; spleen tip palpable", "Firm liver edge two fingers below the ribs")),
        )
    if chance(rng, ascites):
        c.draft.fact(
            "ros",
            pick(
                rng,
                (
                    "The abdomen has been swelling over the last few weeks",
                    "Trousers no longer fasten because the belly has swollen",
                ),
            ),
            key=key,
            brief="swelling abdomen",
            tags=("abdomen",),
        )
        exam.set("Abdominal_Examination", "Inspection", "Distended; everted umbilicus; prominent veins")
        exam.set("Abdominal_Examination", "Percussion", "Shifting dullness present")
    if chance(rng, 0.3):
        c.draft.fact("ros", "Family have noticed the eyes look yellow", tags=("jaundice",))
    if chance(rng, 0.4):
        exam.set("General_Examination", "Legs", "Pitting oedema to both knees")
        c.draft.tags.add("ankles")
    if chance(rng, 0.25):
        c.draft.fact(
            "pmh",
            pick(
                rng,
                ("Varices banded at a camera test last year", "Has had fluid drained from the abdomen twice this year"),
            ),
            tags=("abdomen",),
        )


def alcohol_labs(c: Case) -> None:
    labs, rng = c.labs, c.draft.rng
    labs.ggt = (90, 700) if chance(rng, 0.85) else (45, 90)
    labs.mcv = (99, 110) if chance(rng, 0.75) else (92, 99)
    labs.alt = (30, 95) if labs.alt == (10, 38) else labs.alt


# ---- young ----------------------------------------------------------------------------------------------

STRESSES = ("Final-year exams start next week", "Started a demanding new job last month",
            "Recently split up with a long-term partner", "A close relative died two months ago",
            "Has had money worries since losing a job in the spring", "Is in the middle of moving house")  # fmt: skip


def stress(c: Case, key: bool = False) -> None:
    c.draft.fact("social", pick(c.draft.rng, STRESSES), key=key, brief="under stress")


def tall_and_thin(c: Case, key: bool = False) -> None:
    c.draft.fact(
        "pmh",
        pick(c.draft.rng, ("Has always been tall and thin", "Tall and lanky since the teenage years")),
        key=key,
        brief="tall and thin",
    )
    c.exam.tall, c.exam.bmi = True, (17.0, 20.5)


def young_smoking(c: Case) -> None:
    rng = c.draft.rng
    text = pick(rng, (f"Smokes about {int(rng.integers(5, 20))} cigarettes a day and cannabis at weekends",
                      f"Smokes about {int(rng.integers(5, 20))} cigarettes a day", "Vapes; never smoked cigarettes",
                      "Has never smoked"))  # fmt: skip
    c.draft.fact("social", text, tags=("smoking",))


# ---- procedures and immobility ----------------------------------------------------------------------------

# One pool for both: a needle near the lung (an air leak within hours or days) and an operation or a spell
# off the legs (a clot a week or more later). Some procedures fit both, and the sentences read alike.
PROCEDURES = (  # (what, an air leak fits, a clot fits)
    ("a needle biopsy of a spot in the {side} lung under a CT scanner", True, False),
    ("a pacemaker fitted through a vein under the left collarbone", True, False),
    ("a drip line put into a large vein in the {side} side of the neck", True, True),
    ("fluid drained from the {side} side of the chest with a needle", True, False),
    ("a shoulder operation under a nerve-block injection above the {side} collarbone", True, True),
    ("acupuncture needles placed over the upper back and shoulders", True, False),
    ("a lump removed from the breast", True, True), ("a heart bypass operation", False, True),  # breast: women only
    ("a camera test of the airways with a biopsy", True, True),
    ("a hip replacement", False, True), ("a knee replacement", False, True),
    ("an operation to remove part of the bowel", False, True), ("a hysterectomy", False, True),
    ("a broken ankle put in plaster", False, True), ("an operation on a slipped disc in the back", False, True),
    ("a caesarean section", False, True),
)  # fmt: skip
# Why it was done, when the doctor asks (shared by both stories where the procedure is shared).
REASONS = {
    "biopsy": "A spot on the lung found on a scan last month is being investigated",
    "pacemaker": "Has had fainting spells from a slow heartbeat",
    "drip line": "Was in hospital for a week with a kidney infection needing drip antibiotics",
    "drained": "Has had fluid drained from that side of the chest before, because of heart failure",
    "shoulder operation": "The shoulder operation was to repair a torn tendon",
    "acupuncture": "Has acupuncture every week for neck pain",
    "breast": "The lump turned out to be harmless",
    "bypass": "Had angina that tablets could not control",
    "camera": "Had a cough that would not settle, and the airways were looked at",
}


def procedure(c: Case, kind: str, when: str, side: str, key: bool = True, borrowed: bool = False) -> str:
    """kind 'leak' or 'clot'; returns the procedure chosen. A `borrowed` one is never an airway biopsy, whose
    result would already have named what the film shows."""
    rng, who = c.draft.rng, c.draft.who
    shared = chance(rng, 0.45)  # often one that either story could follow
    fitting = [what for what, leak, clot in PROCEDURES if (leak and clot if shared else leak if kind == "leak"
                                                           else clot and not leak)
               and (who.sex == "female" or what not in ("a hysterectomy", "a caesarean section",
                                                        "a lump removed from the breast"))
               and (what != "a caesarean section" or 20 <= who.age <= 45)
               and (who.age >= 50 or what not in ("a hip replacement", "a knee replacement", "a heart bypass operation"))
               and not (borrowed and "biopsy" in what)]  # fmt: skip
    what = pick(rng, fitting).format(side=side)
    outpatient = any(w in what for w in ("acupuncture", "plaster"))
    text = f"Had {what} {when}" if outpatient or chance(rng, 0.5) else f"Discharged from hospital {when} after {what}"
    c.draft.fact("pmh", text, key=key, brief=text[0].lower() + text[1:], tags=("procedure",))
    reason = next((r for word, r in REASONS.items() if word in what), None)
    if reason and chance(rng, 0.75):
        c.draft.fact("pmh", reason, key=key, brief=reason[0].lower() + reason[1:])
    return what


# The mark a procedure leaves, by a word of its name: the same whatever followed it.
PROCEDURE_SITES = {
    "biopsy of a spot": "Small dressing on the {side} side of the chest", "pacemaker": "Fresh dressing below the left "
    "collarbone", "drip line": "Small plaster over the puncture site on the {side} side of the neck",
    "drained": "Small plaster over the puncture site on the {side} side of the back",
    "shoulder": "Dressing over the {side} shoulder", "acupuncture": "Small red needle marks over the upper back",
    "breast": "Healing wound on the breast", "bypass": "Healing wound down the breastbone",
    "hip": "Healing wound over the hip", "knee": "Healing wound over the knee", "bowel": "Healing wound on the abdomen",
    "hysterectomy": "Healing wound low on the abdomen", "caesarean": "Healing wound low on the abdomen",
    "ankle": "Lower leg in a plaster cast", "disc": "Healing wound low on the back",
}  # fmt: skip


def procedure_site(c: Case, what: str, side: str, share: float = 0.45) -> None:
    mark = next((m for word, m in PROCEDURE_SITES.items() if word in what), None)
    if mark and chance(c.draft.rng, share):
        c.exam.add("General_Examination", "Skin", mark.format(side=side))
