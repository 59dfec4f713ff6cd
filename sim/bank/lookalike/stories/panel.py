"""The test panel: one set of tests for every case of the bank, with values drawn from ranges each story
moves where its disease moves them; everything else stays normal. There is no test only some pictures get
(a tap of pleural fluid would name the effusion group by its presence alone): the shared panel and the
story decide the cause.

Units are SI as a UK laboratory reports them, each value with its reference range, so the desk can read
results out and a reader can judge them without knowing the diagnosis.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from sim.bank.lookalike.stories.bedside import DrawnVitals
from sim.bank.lookalike.stories.common import Person, Range, sentences, uniform
from sim.bank.sampling import pick

# SpO2 -> PaO2 (kPa) on the oxygen dissociation curve, for arterial gases consistent with the oximeter.
_SAT_TO_PAO2 = ((80, 5.9), (84, 6.5), (88, 7.4), (90, 8.0), (92, 8.7), (94, 9.6), (96, 10.9), (97, 11.8), (98, 12.8),
                (99, 14.0), (100, 15.5))  # fmt: skip


def pao2_for(spo2: int) -> float:
    for (s0, p0), (s1, p1) in itertools.pairwise(_SAT_TO_PAO2):
        if s0 <= spo2 <= s1:
            return p0 + (p1 - p0) * (spo2 - s0) / (s1 - s0)
    return _SAT_TO_PAO2[0][1] if spo2 < 80 else _SAT_TO_PAO2[-1][1]


DEFAULT_BICARBONATE = (22.5, 27.0)
SPUTUM_NONE = "No sputum could be produced"
SPUTUM_FLORA = ("Normal upper respiratory flora; no pathogens isolated", "Scanty sample; normal respiratory flora only",
                "Mixed normal flora; no predominant organism")  # fmt: skip


@dataclass
class Labs:
    """Ranges to draw from (uniform), already adjusted for age and sex; stories move the ones their disease moves."""

    who: Person
    wbc: Range = (4.5, 10.0)
    neutrophil_share: Range = (0.45, 0.70)
    lymphocytes: Range | None = None  # absolute; None = most of what neutrophils leave
    eosinophils: Range = (0.05, 0.35)
    hemoglobin: Range = (13.2, 16.4)
    mcv: Range = (83.0, 96.0)
    platelets: Range = (160, 380)
    crp: Range = (0.5, 6.0)
    procalcitonin: Range = (0.02, 0.08)
    sodium: Range = (136, 144)
    potassium: Range = (3.6, 4.9)
    urea: Range = (3.0, 7.2)
    creatinine: Range = (62, 104)
    glucose: Range = (4.3, 6.4)
    calcium: Range = (2.20, 2.55)
    bilirubin: Range = (4, 18)
    alt: Range = (10, 38)
    alp: Range = (40, 120)
    ggt: Range = (12, 48)
    albumin: Range = (37, 47)
    inr: Range = (0.9, 1.12)
    nt_probnp: Range = (20, 110)
    troponin: Range = (2, 12)
    d_dimer: Range = (0.15, 0.45)
    paco2: Range = (4.8, 5.9)  # kPa
    bicarbonate: Range = (22.5, 27.0)  # DEFAULT_BICARBONATE: derived from the PaCO2
    lactate: Range = (0.6, 1.6)
    pef_share: Range = (0.85, 1.05)
    ecg_findings: list[str] = field(default_factory=list)
    sputum_culture: str = ""
    afb_smear: str = "No acid-fast bacilli seen"
    pneumococcal_antigen: str = "Negative"
    legionella_antigen: str = "Negative"
    igra: str = "Negative"

    def __post_init__(self) -> None:
        age, female = self.who.age, self.who.sex == "female"
        if female:
            self.hemoglobin, self.creatinine, self.ggt = (12.0, 15.0), (48.0, 88.0), (9.0, 38.0)
        if age >= 60:
            self.nt_probnp = (50, 280) if age < 75 else (100, 420)
            self.d_dimer = (0.2, 0.6)
            self.urea = (3.8, 8.0)


def _ecg(labs: Labs, vitals: DrawnVitals) -> str:
    rate = vitals.heart_rate
    if vitals.rhythm == "af":
        rhythm = f"Atrial fibrillation, ventricular rate about {rate} bpm"
    else:
        rhythm = "Sinus tachycardia" if rate >= 100 else "Sinus bradycardia" if rate < 60 else "Sinus rhythm"
        rhythm += f", {rate} bpm"
    findings = labs.ecg_findings or ["normal axis, no ST-segment or T-wave changes"]
    return sentences([f"{rhythm}; {'; '.join(findings)}"])


def render_tests(rng: np.random.Generator, labs: Labs, vitals: DrawnVitals) -> dict:
    u = lambda span: uniform(rng, span)
    wbc = u(labs.wbc)
    neutrophils = wbc * u(labs.neutrophil_share)
    lymphocytes = u(labs.lymphocytes) if labs.lymphocytes else max(0.3, (wbc - neutrophils) * u((0.6, 0.8)))
    albumin = u(labs.albumin)
    paco2 = u(labs.paco2)
    # Bicarbonate follows the carbon dioxide as it does within hours (0.1 mmol/L per mmHg) unless a story set it.
    bicarbonate = u(labs.bicarbonate) if labs.bicarbonate != DEFAULT_BICARBONATE else \
        24.0 + 0.1 * (paco2 * 7.5 - 40) + u((-1.5, 1.5))  # fmt: skip
    ph = 6.1 + math.log10(bicarbonate / (0.0307 * 7.5 * paco2))  # Henderson-Hasselbalch, PaCO2 in kPa
    pao2 = max(5.0, pao2_for(vitals.spo2) + u((-0.4, 0.4)))
    female = labs.who.sex == "female"
    predicted_pef = (560 if not female else 420) - max(0, labs.who.age - 40) * 2.5
    pef_share = u(labs.pef_share)
    age = labs.who.age
    sputum = labs.sputum_culture or pick(rng, (SPUTUM_NONE, *SPUTUM_FLORA))
    afb = "No sample: no sputum could be produced" if sputum == SPUTUM_NONE else labs.afb_smear
    probnp_limit = 125 if age < 75 else 450
    tests = {
        "Complete_Blood_Count": {
            "WBC": f"{wbc:.1f} x10^9/L (reference 4.0-11.0)",
            "Neutrophils": f"{neutrophils:.1f} x10^9/L (reference 2.0-7.5)",
            "Lymphocytes": f"{lymphocytes:.1f} x10^9/L (reference 1.0-4.0)",
            "Eosinophils": f"{u(labs.eosinophils):.2f} x10^9/L (reference 0.0-0.4)",
            "Hemoglobin": f"{u(labs.hemoglobin):.1f} g/dL (reference {'12.0-15.5' if female else '13.0-17.0'})",
            "MCV": f"{u(labs.mcv):.0f} fL (reference 80-98)",
            "Platelets": f"{u(labs.platelets):.0f} x10^9/L (reference 150-400)",
        },
        "C_Reactive_Protein": f"{u(labs.crp):.0f} mg/L (reference < 5)",
        "Procalcitonin": f"{u(labs.procalcitonin):.2f} ng/mL (reference < 0.10)",
        "Renal_Function_And_Electrolytes": {
            "Sodium": f"{u(labs.sodium):.0f} mmol/L (reference 135-145)",
            "Potassium": f"{u(labs.potassium):.1f} mmol/L (reference 3.5-5.0)",
            "Urea": f"{u(labs.urea):.1f} mmol/L (reference 2.5-7.8)",
            "Creatinine": f"{u(labs.creatinine):.0f} µmol/L (reference {'45-90' if female else '60-110'})",
            "Glucose": f"{u(labs.glucose):.1f} mmol/L (random; reference 4.0-7.8)",
            "Adjusted_Calcium": f"{u(labs.calcium):.2f} mmol/L (reference 2.20-2.60)",
        },
        "Liver_Function_Tests": {
            "Bilirubin": f"{u(labs.bilirubin):.0f} µmol/L (reference < 21)",
            "ALT": f"{u(labs.alt):.0f} U/L (reference < 41)",
            "ALP": f"{u(labs.alp):.0f} U/L (reference 30-130)",
            "GGT": f"{u(labs.ggt):.0f} U/L (reference < {'40' if female else '60'})",
            "Albumin": f"{albumin:.0f} g/L (reference 35-50)",
            "INR": f"{u(labs.inr):.1f} (reference 0.8-1.2)",
        },
        "NT_proBNP": f"{u(labs.nt_probnp):.0f} pg/mL (reference < {probnp_limit})",
        "High_Sensitivity_Troponin": f"{u(labs.troponin):.0f} ng/L (reference < 14)",
        "D_Dimer": f"{u(labs.d_dimer):.2f} mg/L FEU (reference < 0.50)",
        "Arterial_Blood_Gas": {
            "pH": f"{ph:.2f} (reference 7.35-7.45)",
            "PaO2": f"{pao2:.1f} kPa ({pao2 * 7.5:.0f} mmHg)",
            "PaCO2": f"{paco2:.1f} kPa ({paco2 * 7.5:.0f} mmHg)",
            "HCO3": f"{bicarbonate:.0f} mmol/L (reference 22-26)",
            "Lactate": f"{u(labs.lactate):.1f} mmol/L (reference < 2.0)",
            "Note": "Sample taken breathing room air",
        },
        "ECG": _ecg(labs, vitals),
        "Peak_Expiratory_Flow": f"{predicted_pef * pef_share:.0f} L/min ({pef_share * 100:.0f}% of predicted), best "
        "of three blows",
        "Sputum": {"Gram_Stain_And_Culture": sentences([sputum]), "Acid_Fast_Bacilli_Smear": sentences([afb])},
        "Urinary_Antigens": {"Pneumococcal": labs.pneumococcal_antigen, "Legionella": labs.legionella_antigen},
        "Interferon_Gamma_Release_Assay": labs.igra,
    }
    return tests
