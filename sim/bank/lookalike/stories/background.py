"""The ordinary background every patient has, and what any body shows whatever the illness.

Ordinary facts (hypertension, a job, a glass of wine, an old ECG quirk, a little anaemia in the old) overlap
across the whole bank, so they say nothing of the film; the facts a patient borrows from other themes'
stories are chosen in `borrowing`.
"""

from __future__ import annotations

from sim.bank.lookalike.stories import singletons
from sim.bank.lookalike.stories.borrowing import borrow
from sim.bank.lookalike.stories.case import Case, fit
from sim.bank.sampling import chance, pick, pick_some

# (clause, youngest age it fits, sexes)
_COMMON_PAST = (
    ("Hypertension treated with amlodipine", 40, "mf"), ("Hypertension treated with ramipril", 40, "mf"),
    ("Hypertension treated with indapamide", 50, "mf"),
    ("Type 2 diabetes on metformin", 40, "mf"), ("High cholesterol on a statin", 45, "mf"),
    ("Gastro-oesophageal reflux on omeprazole", 25, "mf"), ("Underactive thyroid on levothyroxine", 25, "f"),
    ("Osteoarthritis of the knees", 55, "mf"), ("Gout", 45, "m"), ("Depression, on sertraline", 20, "mf"),
    ("Migraine", 16, "mf"), ("Appendix removed as a teenager", 18, "mf"), ("Irritable bowel syndrome", 18, "mf"),
    ("Enlarged prostate; takes tamsulosin", 60, "m"), ("Cataract operation on one eye", 65, "mf"),
    ("Psoriasis, treated with creams", 18, "mf"), ("Hernia repair in the groin some years ago", 35, "mf"),
)  # fmt: skip

_MINOR_PAST = (
    "Migraine",
    "Appendix removed as a teenager",
    "Irritable bowel syndrome",
    "Psoriasis, treated with creams",
)
_JOBS = ("Works as a bus driver", "Works as a primary school teacher", "Works as an accountant",
         "Is a self-employed carpenter", "Works night shifts as a care assistant", "Works in a warehouse",
         "Works as a chef", "Runs a small shop", "Works as a software developer", "Works as a hairdresser",
         "Works as a delivery driver", "Works in a call centre", "Is a farmer", "Works as a cleaner")  # fmt: skip
_ALCOHOL = (
    "Drinks alcohol occasionally at weekends",
    "Drinks about 10 units of alcohol a week",
    "Does not drink alcohol",
    "Has a glass of wine most evenings",
    "Drinks two or three pints on a Saturday",
)
_SMOKING = ("Has never smoked", "Has never smoked", "Has never smoked", ("Smoked a few cigarettes a day as a young "
            "adult; stopped long ago"), "Smokes about {n} cigarettes a day")  # fmt: skip
# Ordinary life, shared by every story whatever its film.
_FAMILY = ("Mother had high blood pressure", "Father had type 2 diabetes", "No illnesses known to run in the family",
           "A sister has thyroid problems", "Father had a stroke in his seventies", "Mother had arthritis",
           "Both parents alive and well")  # fmt: skip
_LIFE = ("Independent; walks the dog every day", "Goes to the gym twice a week", "Plays golf at weekends",
         "Cares for an elderly parent", "Does the garden and the shopping")  # fmt: skip
_LIFE_YOUNGER = ("Cycles to work most days", "Plays five-a-side football on Sundays")
_LIFE_OLDER = ("Uses a stick outdoors", "Does not go out much on foot any more")
_PETS = ("Has a dog", "Keeps two cats", "Keeps pigeons", "No pets at home", "Keeps a budgie")
_ROS_EXTRA = ("Sleeping poorly", "Bowels and waterworks normal", "Some heartburn after meals",
              "Occasional headaches", "Aching knees", "Feels more tired than usual")  # fmt: skip
# ECG quirks of older people, the same phrases the heart stories use.
_OLD_ECG = ("left ventricular hypertrophy by voltage criteria", "non-specific T-wave flattening in the lateral leads",
            "occasional ventricular ectopic beats", "first-degree heart block", "left axis deviation",
            "right bundle branch block")  # fmt: skip


def background(c: Case, key: str) -> None:
    """Ordinary past history, job, home, smoking and drinking, and sometimes a borrowed fact."""
    d, rng = c.draft, c.draft.rng
    who = d.who
    fitting = [
        text
        for text, age, sexes in _COMMON_PAST
        if who.age >= age and who.sex[0] in sexes and (not fit(c) or text in _MINOR_PAST)
    ]
    count = 0 if who.age < 35 and chance(rng, 0.6) else int(rng.integers(0, 3 if who.age < 60 else 4))
    count = min(count, len(fitting))
    for text in pick_some(rng, fitting, count, count):
        d.fact("pmh", text)
        if "diabetes" in text:
            c.labs.glucose = (6.8, 12.5)
        if "indapamide" in text and chance(rng, 0.5):  # a water tablet that lowers the sodium
            c.labs.sodium = (129, 134)
    borrow(c, key)
    if "smoking" not in d.tags:
        d.fact("social", pick(rng, _SMOKING).format(n=int(rng.integers(5, 15))), tags=("smoking",))
    if "alcohol" not in d.tags:
        d.fact("social", pick(rng, _ALCOHOL), tags=("alcohol",))
    if "job" not in d.tags:
        job = "Is retired" if who.age >= 67 else "Is a university student" if who.age < 23 and chance(rng, 0.6) \
            else pick(rng, _JOBS)  # fmt: skip
        d.fact("social", job)
    d.fact("social", pick(rng, ("Lives with a partner", "Lives alone", "Lives with family") +
                          (("Lives with a spouse and two children",) if 28 <= who.age <= 60 else ()) +
                          (("Lives with a grown-up son",) if who.age >= 50 else ())))  # fmt: skip
    if "origin" not in d.tags and chance(rng, 0.25):
        singletons.born_here(c)
    chest_words = ("cancer", "COPD", "sthma", "TB", "lung", "mphysema", "growth", "tumour")
    if who.age < 60 and not any(w in p for p in d.pmh for w in chest_words) and chance(rng, 0.12):
        d.fact("pmh", "Never had cancer or any serious chest illness")
    if chance(rng, 0.15):
        d.fact(
            "symptom", f"An ache on the {pick(rng, ('right', 'left'))} side of the chest at times", tags=("chest_pain",)
        )
    if "weight" not in d.tags and chance(rng, 0.25):
        d.fact(
            "ros",
            pick(rng, ("Weight is steady and appetite is good", "Feels well in general; weight unchanged")),
            tags=("weight",),
        )
    if chance(rng, 0.25):
        d.fact("pmh", pick(rng, ("No known drug allergies", "Allergic to penicillin (rash)", "Allergic to codeine")))
    life = _LIFE + (_LIFE_YOUNGER if who.age < 45 else _LIFE_OLDER if who.age >= 70 else ())
    for pool, section, share in (
        (_FAMILY, "social", 0.5),
        (life, "social", 0.5),
        (_PETS, "social", 0.35),
        (_ROS_EXTRA, "ros", 0.4),
    ):
        if chance(rng, share):
            d.fact(section, pick(rng, pool))
    if "well" not in d.tags and chance(rng, 0.12):
        d.history += " " + pick(
            rng,
            (
                "The family doctor arranged a chest X-ray and sent the patient on.",
                "Came straight to the emergency department.",
                "Was brought in after calling the out-of-hours line.",
            ),
        )
    _old_age(c)


def _old_age(c: Case) -> None:
    """What a body shows whatever the illness: an ECG quirk, a murmur, puffy ankles, poor teeth, and in the old a
    heart out of rhythm, a troponin never quite normal, a little anaemia. The same findings are what some stories'
    own illnesses give, so a test result alone does not say which story it came from."""
    rng, age, labs = c.draft.rng, c.draft.who.age, c.labs
    if age >= 55 and not labs.ecg_findings and chance(rng, 0.3):
        labs.ecg_findings = [pick(rng, _OLD_ECG)]
    if age < 40 and not labs.ecg_findings and chance(rng, 0.2):
        labs.ecg_findings = [
            pick(
                rng,
                (
                    "early repolarisation changes in the chest leads",
                    "T-wave inversion in V1 only",
                    "occasional ventricular ectopic beats",
                ),
            )
        ]
    if age >= 65 and c.vitals.rhythm == "sinus" and chance(rng, 0.08):  # about one in ten over 65 is in AF
        c.vitals.rhythm = "af"
    if age >= 75 and labs.troponin == (2, 12) and chance(rng, 0.25):  # stiff old hearts and tired kidneys leak a little
        labs.troponin = (15, 35)
    if age >= 70 and labs.hemoglobin in ((13.2, 16.4), (12.0, 15.0)) and chance(rng, 0.2):
        labs.hemoglobin = (10.8, 12.6) if c.draft.who.sex == "male" else (10.4, 11.9)
    if age >= 65 and chance(rng, 0.15):
        c.exam.add(
            "Cardiovascular_Examination",
            "Heart_Sounds",
            "Soft ejection systolic murmur at the right upper sternal edge",
        )
    if age >= 65 and chance(rng, 0.15):
        c.exam.add("General_Examination", "Legs", "Mild ankle swelling on both sides")
    if chance(rng, 0.1):
        c.exam.add("General_Examination", "Mouth_And_Throat", "Several decayed teeth")
