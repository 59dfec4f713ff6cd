"""Shared pieces of the clinical stories: who the patient is, vital signs, routine labs, phrasing helpers.

Everything here is written for the patient and measurement agents, so none of it may name a
diagnosis; family modules add only signs and symptoms, never conclusions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from sim.bank.sampling import chance, pick
from sim.core.case import Findings, PatientScript

Sex = Literal["male", "female"]


@dataclass(frozen=True)
class Clinical:
    """The non-image half of a case, as produced by one clinical family."""

    patient: PatientScript
    exam: Findings
    tests: Findings
    age: int
    sex: Sex


@dataclass(frozen=True)
class Person:
    age: int
    sex: Sex

    @property
    def noun(self) -> str:
        return (
            ("man" if self.sex == "male" else "woman") if self.age >= 18 else ("boy" if self.sex == "male" else "girl")
        )

    @property
    def demographics(self) -> str:
        return f"{self.age}-year-old {self.noun}"


def person(rng: np.random.Generator, ages: tuple[int, int], male_share: float = 0.5) -> Person:
    return Person(age=int(rng.integers(ages[0], ages[1] + 1)), sex="male" if chance(rng, male_share) else "female")


def join_sentences(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())


def listing(items: Sequence[str]) -> str:
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


# ---- social history -------------------------------------------------------------------------------

OCCUPATIONS = (
    "works as a bus driver", "works as a primary school teacher", "is a retired electrician",
    "works in an office as an accountant", "is a self-employed carpenter", "works as a nurse on night shifts",
    "is a university student", "works in a warehouse", "is a retired farmer", "works as a chef",
    "runs a small shop", "works as a software developer",
)  # fmt: skip


def smoking_history(rng: np.random.Generator, person: Person, heavy: bool = False) -> tuple[str, int]:
    """A smoking sentence and the pack-years it implies (0 for never-smokers)."""
    if not heavy and not chance(rng, 0.35):
        return "Has never smoked.", 0
    longest = max(6, person.age - 15)
    years = int(rng.integers(min(25, longest - 1), longest)) if heavy else int(rng.integers(5, longest))
    packs = float(rng.choice([1.0, 1.5, 2.0])) if heavy else float(rng.choice([0.25, 0.5, 1.0]))
    pack_years = max(1, round(years * packs))
    if chance(rng, 0.5):
        return f"Current smoker, about {pack_years} pack-years.", pack_years
    quit_ago = int(rng.integers(1, 12))
    return f"Former smoker of about {pack_years} pack-years; stopped {plural(quit_ago, 'year')} ago.", pack_years


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def social_history(rng: np.random.Generator, person: Person, smoking: str, alcohol: str | None = None) -> str:
    usual_alcohol = pick(
        rng,
        (
            "Drinks alcohol occasionally at weekends.",
            "Drinks about 10 units of alcohol a week.",
            "Does not drink alcohol.",
            "Drinks a glass of wine most evenings.",
        ),
    )
    alcohol = alcohol or usual_alcohol  # drawn either way, so an override does not shift later draws
    home = pick(
        rng, ("Lives with a partner.", "Lives alone.", "Lives with family.", "Lives with a spouse and two children.")
    )
    job = pick(rng, OCCUPATIONS) if person.age < 67 else "is retired"
    return join_sentences(smoking, alcohol, f"The patient {job}.", home, "No recent travel abroad.")


# ---- vital signs ----------------------------------------------------------------------------------


def temperature(rng: np.random.Generator, low: float, high: float) -> str:
    celsius = round(float(rng.uniform(low, high)), 1)
    return f"{celsius:.1f} °C ({celsius * 9 / 5 + 32:.1f} °F)"


def vital_signs(
    rng: np.random.Generator,
    *,
    temp: tuple[float, float] = (36.4, 37.2),
    heart_rate: tuple[int, int] = (64, 88),
    resp_rate: tuple[int, int] = (12, 18),
    spo2: tuple[int, int] = (96, 99),
    systolic: tuple[int, int] = (108, 138),
    rhythm: str = "regular",
) -> Findings:
    sys_bp = int(rng.integers(systolic[0], systolic[1] + 1))
    dia_bp = int(rng.integers(max(50, sys_bp // 2), max(52, sys_bp - 35)))
    return {
        "Temperature": temperature(rng, *temp),
        "Blood_Pressure": f"{sys_bp}/{dia_bp} mmHg",
        "Heart_Rate": f"{int(rng.integers(heart_rate[0], heart_rate[1] + 1))} bpm, {rhythm}",
        "Respiratory_Rate": f"{int(rng.integers(resp_rate[0], resp_rate[1] + 1))} breaths/min",
        "Oxygen_Saturation": f"{int(rng.integers(spo2[0], spo2[1] + 1))}% on room air",
    }


# ---- routine laboratory tests ---------------------------------------------------------------------


def complete_blood_count(
    rng: np.random.Generator,
    *,
    wbc: tuple[float, float] = (4.5, 9.5),
    neutrophils: tuple[int, int] = (45, 70),
    hemoglobin: tuple[float, float] = (12.5, 16.0),
) -> Findings:
    neutrophil_share = int(rng.integers(neutrophils[0], neutrophils[1] + 1))
    # Lymphocytes take most of the rest; monocytes and eosinophils the remainder.
    lymphocyte_share = max(3, round((100 - neutrophil_share) * rng.uniform(0.6, 0.8)))
    return {
        "WBC": f"{rng.uniform(*wbc):.1f} x10^9/L",
        "Neutrophils": f"{neutrophil_share}%",
        "Lymphocytes": f"{lymphocyte_share}%",
        "Hemoglobin": f"{rng.uniform(*hemoglobin):.1f} g/dL",
        "Platelets": f"{int(rng.integers(160, 390))} x10^9/L",
    }


def metabolic_panel(
    rng: np.random.Generator,
    *,
    sodium: tuple[int, int] = (136, 143),
    creatinine: tuple[float, float] = (0.7, 1.1),
    urea: tuple[int, int] = (9, 20),
    calcium: tuple[float, float] = (8.8, 10.1),
) -> Findings:
    return {
        "Sodium": f"{int(rng.integers(sodium[0], sodium[1] + 1))} mmol/L",
        "Potassium": f"{rng.uniform(3.6, 4.9):.1f} mmol/L",
        "Creatinine": f"{rng.uniform(*creatinine):.2f} mg/dL",
        "Blood_Urea_Nitrogen": f"{int(rng.integers(urea[0], urea[1] + 1))} mg/dL",
        "Glucose": f"{int(rng.integers(78, 128))} mg/dL",
        "Calcium": f"{rng.uniform(*calcium):.1f} mg/dL",
    }


def c_reactive_protein(rng: np.random.Generator, low: float, high: float) -> str:
    return f"{rng.uniform(low, high):.0f} mg/L (reference < 5)"


def arterial_blood_gas(
    rng: np.random.Generator,
    *,
    ph: tuple[float, float] = (7.37, 7.43),
    pao2: tuple[int, int] = (82, 98),
    paco2: tuple[int, int] = (36, 44),
) -> Findings:
    return {
        "pH": f"{rng.uniform(*ph):.2f}",
        "PaO2": f"{int(rng.integers(pao2[0], pao2[1] + 1))} mmHg",
        "PaCO2": f"{int(rng.integers(paco2[0], paco2[1] + 1))} mmHg",
        "HCO3": f"{int(rng.integers(22, 27))} mmol/L",
        "Note": "Sample taken on room air.",
    }


def d_dimer(rng: np.random.Generator, raised: bool = False) -> str:
    value = rng.uniform(0.6, 1.8) if raised else rng.uniform(0.1, 0.45)
    return f"{value:.2f} mg/L FEU (reference < 0.50)"


def bnp(rng: np.random.Generator, raised: bool = False) -> str:
    value = rng.uniform(650, 2400) if raised else rng.uniform(8, 70)
    return f"{value:.0f} pg/mL (reference < 100)"


def troponin(rng: np.random.Generator, slightly_raised: bool = False) -> str:
    value = rng.uniform(18, 40) if slightly_raised else rng.uniform(2, 12)
    return f"High-sensitivity troponin I {value:.0f} ng/L (reference < 16)"


def normal_ecg(rng: np.random.Generator, rate: int) -> str:
    axis = pick(rng, ("normal axis", "normal axis, no ST or T wave changes"))
    return f"Sinus rhythm at {rate} bpm, {axis}."
