"""The bedside: vital signs and the examination, with the same sections and entries in every case and
normal findings (in several wordings) wherever a story does not put a sign.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.bank.lookalike.stories.common import Person, Range, sentences, uniform
from sim.bank.sampling import pick

# ---- vital signs ----------------------------------------------------------------------------------


@dataclass
class Vitals:
    temp: Range = (36.3, 37.2)
    heart_rate: tuple[int, int] = (62, 90)
    resp_rate: tuple[int, int] = (12, 18)
    spo2: tuple[int, int] = (96, 99)
    systolic: tuple[int, int] = (108, 142)
    rhythm: str = "sinus"  # or "af"


@dataclass(frozen=True)
class DrawnVitals:
    temp: float
    heart_rate: int
    resp_rate: int
    spo2: int
    systolic: int
    diastolic: int
    rhythm: str

    def as_exam(self) -> dict:
        beat = "irregularly irregular" if self.rhythm == "af" else "regular"
        return {
            "Temperature": f"{self.temp:.1f} °C ({self.temp * 9 / 5 + 32:.1f} °F)",
            "Blood_Pressure": f"{self.systolic}/{self.diastolic} mmHg",
            "Heart_Rate": f"{self.heart_rate} bpm, {beat}",
            "Respiratory_Rate": f"{self.resp_rate} breaths/min",
            "Oxygen_Saturation": f"{self.spo2}% on room air",
        }


def draw_vitals(rng: np.random.Generator, v: Vitals) -> DrawnVitals:
    systolic = int(rng.integers(v.systolic[0], v.systolic[1] + 1))
    diastolic = int(rng.integers(max(45, systolic // 2), max(50, systolic - 35)))
    return DrawnVitals(
        temp=round(uniform(rng, v.temp), 1),
        heart_rate=int(rng.integers(v.heart_rate[0], v.heart_rate[1] + 1)),
        resp_rate=int(rng.integers(v.resp_rate[0], v.resp_rate[1] + 1)),
        spo2=int(rng.integers(v.spo2[0], v.spo2[1] + 1)),
        systolic=systolic,
        diastolic=diastolic,
        rhythm=v.rhythm,
    )


# ---- the examination: fixed sections, normal findings unless a story overrides them ------------------

EXAM_SECTIONS: dict[str, tuple[str, ...]] = {
    "Vital_Signs": ("Temperature", "Blood_Pressure", "Heart_Rate", "Respiratory_Rate", "Oxygen_Saturation"),
    "General_Examination": ("Appearance", "Mental_State", "Build", "Hands", "Skin", "Mouth_And_Throat",
                            "Lymph_Nodes", "Legs"),
    "Respiratory_Examination": ("Inspection", "Palpation", "Percussion", "Auscultation"),
    "Cardiovascular_Examination": ("Pulse", "Jugular_Venous_Pressure", "Apex_Beat", "Heart_Sounds"),
    "Abdominal_Examination": ("Inspection", "Palpation", "Percussion"),
}  # fmt: skip

_NORMAL_EXAM: dict[tuple[str, str], tuple[str, ...]] = {
    ("General_Examination", "Appearance"): ("Comfortable at rest, talking in full sentences",
                                            "Looks well; not distressed", "Alert and comfortable at rest"),
    ("General_Examination", "Mental_State"): ("Alert and oriented", "Alert, oriented in time and place",
                                              "Alert; answers questions appropriately"),
    ("General_Examination", "Hands"): ("Warm and well perfused; no clubbing", "No clubbing, tremor or palmar changes",
                                       "Warm hands; nails normal"),
    ("General_Examination", "Skin"): ("No rash, bruising or jaundice", "Skin normal; no jaundice",
                                      "No rash or bruises"),
    ("General_Examination", "Mouth_And_Throat"): ("Moist mucous membranes; throat normal",
                                                  "Mouth and throat normal; teeth in good repair",
                                                  "Tongue moist; pharynx not inflamed"),
    ("General_Examination", "Lymph_Nodes"): (("No palpable lymph nodes in the neck, above the collarbones or in the "
                                             "armpits"), "No lymphadenopathy"),
    ("General_Examination", "Legs"): ("No ankle swelling; calves soft and non-tender",
                                      "No oedema; calves symmetrical and non-tender"),
    ("Respiratory_Examination", "Inspection"): ("Normal chest shape; expansion symmetrical",
                                                "Chest moves equally on both sides", "No deformity; no scars"),
    ("Respiratory_Examination", "Palpation"): ("Trachea central; expansion equal", "Trachea central; no tenderness"),
    ("Respiratory_Examination", "Percussion"): ("Resonant throughout", ("Percussion note resonant and equal on both "
                                                "sides")),
    ("Respiratory_Examination", "Auscultation"): ("Vesicular breath sounds throughout; no added sounds",
                                                  "Clear breath sounds on both sides; no crackles or wheeze"),
    ("Cardiovascular_Examination", "Pulse"): ("Regular, normal volume and character", "Regular; good volume"),
    ("Cardiovascular_Examination", "Jugular_Venous_Pressure"): ("Not raised", "Not visible at 45 degrees"),
    ("Cardiovascular_Examination", "Apex_Beat"): ("Not displaced", "Fifth intercostal space, mid-clavicular line"),
    ("Cardiovascular_Examination", "Heart_Sounds"): ("First and second heart sounds normal; no murmurs",
                                                     "Normal heart sounds; no added sounds"),
    ("Abdominal_Examination", "Inspection"): ("Flat; no distension or scars", "Not distended"),
    ("Abdominal_Examination", "Palpation"): ("Soft and non-tender; liver and spleen not felt",
                                             "Soft, non-tender; no masses"),
    ("Abdominal_Examination", "Percussion"): ("No shifting dullness", "Resonant; no shifting dullness"),
}  # fmt: skip


def build_text(rng: np.random.Generator, who: Person, bmi: Range, tall: bool = False) -> str:
    male = who.sex == "male"
    height = uniform(rng, (1.80, 1.95) if tall and male else (1.72, 1.84) if tall else
                     (1.66, 1.86) if male else (1.53, 1.72))  # fmt: skip
    index = uniform(rng, bmi)
    weight = index * height * height
    words = "thin" if index < 18.5 else "slim" if index < 22 else "average build" if index < 26 else \
        "overweight" if index < 30 else "obese"  # fmt: skip
    if tall and index < 22:
        words = "tall and " + words
    return f"{words.capitalize()}; height {height * 100:.0f} cm, weight {weight:.0f} kg (BMI {index:.0f})"


class Exam:
    """The examination under construction: every section and entry always present."""

    def __init__(self, rng: np.random.Generator, who: Person):
        self.rng = rng
        self.entries: dict[tuple[str, str], str] = {k: pick(rng, v) for k, v in _NORMAL_EXAM.items()}
        self.bmi: Range = (20.0, 31.0)
        self.tall = False
        self.who = who

    def set(self, section: str, entry: str, text: str) -> None:
        assert entry in EXAM_SECTIONS[section], (section, entry)
        self.entries[(section, entry)] = text

    def add(self, section: str, entry: str, text: str) -> None:
        """Append a finding to an entry that may still read as normal: the normal text is replaced."""
        current = self.entries[(section, entry)]
        normal = current in _NORMAL_EXAM.get((section, entry), ())
        self.entries[(section, entry)] = text if normal else f"{current}; {text[0].lower()}{text[1:]}"

    def render(self, vitals: DrawnVitals) -> dict:
        out: dict = {"Vital_Signs": vitals.as_exam()}
        self.entries.setdefault(("General_Examination", "Build"), build_text(self.rng, self.who, self.bmi, self.tall))
        for section, entries in EXAM_SECTIONS.items():
            if section == "Vital_Signs":
                continue
            out[section] = {e: sentences([self.entries[(section, e)]]) for e in entries}
        return out
