"""Stories of the pleural space: fluid (effusion) and air (pneumothorax), each on one side.

Both cause one-sided breathlessness and quiet breath sounds; percussion (dull vs hyper-resonant) and
the history (weeks of build-up vs sudden onset) are what tell them apart at the bedside.
"""

from __future__ import annotations

import numpy as np

from sim.bank.clinical.common import (
    Clinical,
    arterial_blood_gas,
    c_reactive_protein,
    complete_blood_count,
    d_dimer,
    metabolic_panel,
    normal_ecg,
    person,
    smoking_history,
    social_history,
    vital_signs,
)
from sim.bank.regions import Side, Zone
from sim.bank.sampling import chance, pick, pick_some
from sim.core.case import Findings, PatientScript, Symptoms

# Each effusion story comes with a background that explains it, and lab results that fit that cause.
_EFFUSION_BACKGROUNDS = ("after_infection", "past_cancer", "kidney")


def _pleural_fluid(rng: np.random.Generator, background: str) -> Findings:
    """Fluid chemistry matching the story: infected exudate, bloody exudate, or a transudate."""
    if background == "after_infection":
        return {
            "Appearance": "Turbid, straw-coloured",
            "Protein": f"{rng.uniform(3.8, 5.2):.1f} g/dL",
            "LDH": f"{int(rng.integers(420, 900))} U/L",
            "Glucose": f"{int(rng.integers(40, 70))} mg/dL",
            "pH": f"{rng.uniform(7.22, 7.32):.2f}",
            "Cell_Count": "Neutrophil predominant",
            "Gram_Stain_And_Culture": "No organisms seen; culture negative.",
        }
    if background == "past_cancer":
        return {
            "Appearance": "Blood-stained",
            "Protein": f"{rng.uniform(3.6, 4.8):.1f} g/dL",
            "LDH": f"{int(rng.integers(300, 700))} U/L",
            "Glucose": f"{int(rng.integers(60, 95))} mg/dL",
            "Cell_Count": "Lymphocyte predominant",
            "Cytology": "Atypical epithelial cells present; further staining requested.",
        }
    return {
        "Appearance": "Clear, pale yellow",
        "Protein": f"{rng.uniform(1.2, 2.4):.1f} g/dL",
        "LDH": f"{int(rng.integers(80, 160))} U/L",
        "Glucose": f"{int(rng.integers(90, 130))} mg/dL",
        "Cell_Count": "Few mononuclear cells",
    }


def effusion(rng: np.random.Generator, side: Side | None, level: Zone | None) -> Clinical:
    side = side or "right"
    background = pick(rng, _EFFUSION_BACKGROUNDS)
    who = person(rng, (42, 86), male_share=0.3 if background == "past_cancer" else 0.5)
    weeks = int(rng.integers(2, 6))
    history = pick(
        rng,
        (
            (
                f"Breathlessness has crept up over the last {weeks} weeks; now gets short of breath climbing one flight "
                f"of stairs. Describes a dull heavy feeling low on the {side} side of the chest and a dry cough."
            ),
            (
                f"Over {weeks} weeks has noticed being unable to walk as far before stopping for breath. There is an "
                f"ache in the {side} lower chest and it is more comfortable lying on the {side} side."
            ),
        ),
    )
    past = {
        "after_infection": "Treated with oral antibiotics by the family doctor for a chest infection a month ago; "
        "improved for a few days, then the breathlessness returned. Hypertension.",
        "past_cancer": "Breast cancer treated with surgery and chemotherapy six years ago, discharged from follow-up. "
        "Hypertension.",
        "kidney": "Chronic kidney disease stage 4, not yet on dialysis. Type 2 diabetes on insulin.",
    }[background]
    smoking, _ = smoking_history(rng, who)
    secondary = pick_some(
        rng,
        (f"Dull ache in the {side} lower chest", "Dry cough", "Tiredness", "Breathless lying flat on the other side"),
        2,
        4,
    )
    if background == "after_infection":
        secondary.append("Evening temperatures")
    if background == "past_cancer":
        secondary.append("Weight loss of a few kilograms")
    patient = PatientScript(
        demographics=who.demographics,
        history=history,
        symptoms=Symptoms(primary="Gradually increasing breathlessness", secondary=secondary),
        past_medical_history=past,
        social_history=social_history(rng, who, smoking),
        review_of_systems="Positive for breathlessness on exertion and dry cough. Negative for coughing up blood, "
        "calf pain, palpitations and fainting.",
    )
    febrile = background == "after_infection"
    base = f"{side} lung base"
    hr = int(rng.integers(84, 105))
    exam: Findings = {
        "Vital_Signs": vital_signs(
            rng, temp=(37.6, 38.4) if febrile else (36.5, 37.2), heart_rate=(hr, hr), resp_rate=(18, 24), spo2=(92, 96)
        ),
        "General_Appearance": "Mildly breathless when talking in full sentences.",
        "Chest_Examination": {
            "Inspection": f"Reduced movement of the {side} hemithorax on deep breathing.",
            "Palpation": f"Trachea central. Reduced tactile fremitus at the {base}.",
            "Percussion": pick(
                rng,
                (
                    f"Stony dull percussion note at the {base}.",
                    f"Very dull to percussion at the {base}, up to mid-back level.",
                ),
            ),
            "Auscultation": f"Absent breath sounds and reduced vocal resonance at the {base}; a faint area of "
            "bronchial breathing just above it. The other side is clear.",
        },
        "Cardiovascular_Examination": "Heart sounds normal, no murmurs. No raised jugular venous pressure.",
    }
    fluid = _pleural_fluid(rng, background)
    tests: Findings = {
        "Complete_Blood_Count": complete_blood_count(
            rng,
            wbc=(10.5, 15.0) if febrile else (5.0, 9.5),
            hemoglobin=(10.0, 12.5) if background != "after_infection" else (12.0, 15.0),
        ),
        "C_Reactive_Protein": c_reactive_protein(rng, 60, 160) if febrile else c_reactive_protein(rng, 5, 30),
        "Basic_Metabolic_Panel": metabolic_panel(
            rng,
            creatinine=(3.1, 4.6) if background == "kidney" else (0.7, 1.1),
            urea=(45, 80) if background == "kidney" else (9, 20),
        ),
        "Serum_Albumin": f"{rng.uniform(2.8, 3.9):.1f} g/dL",
        "Pleural_Fluid_Analysis": fluid,
        "D_Dimer": d_dimer(rng, raised=chance(rng, 0.3)),
        "Electrocardiogram": normal_ecg(rng, hr),
    }
    return Clinical(patient, exam, tests, who.age, who.sex)


def pneumothorax(rng: np.random.Generator, side: Side | None, level: Zone | None) -> Clinical:
    side = side or "right"
    # Most are tall young adults; a minority are older smokers with emphysema (secondary pneumothorax).
    older = chance(rng, 0.2)
    who = person(rng, (55, 78) if older else (17, 36), male_share=0.8)
    hours = int(rng.integers(2, 30))
    activity = pick(
        rng,
        (
            "sitting watching television",
            "lifting boxes",
            "playing football",
            "walking to work",
            "asleep, and was woken by it",
        ),
    )
    history = pick(
        rng,
        (
            (
                f"{hours} hours ago, while {activity}, felt a sudden sharp stabbing pain on the {side} side of the chest, "
                "followed by breathlessness. The pain is worse on breathing in."
            ),
            (
                f"Sudden onset of {side}-sided chest pain {hours} hours ago while {activity}. Since then feels unable "
                "to take "
                "a full breath. No injury to the chest."
            ),
        ),
    )
    smoking, _ = smoking_history(rng, who, heavy=older)
    past = (
        "Emphysema diagnosed four years ago; uses a tiotropium inhaler. Two hospital admissions for chest infections."
        if older
        else pick(
            rng,
            (
                "No significant past medical history.",
                "Mild eczema. No regular medications.",
                "Fractured wrist as a teenager.",
            ),
        )
    )
    tall = "" if older else pick(rng, (" Tall and slim (190 cm, 68 kg).", " Tall, thin build."))
    patient = PatientScript(
        demographics=who.demographics + tall,
        history=history,
        symptoms=Symptoms(
            primary=f"Sudden sharp {side}-sided chest pain",
            secondary=pick_some(
                rng, ("Shortness of breath", "Pain worse on deep breathing", "Dry tickly cough", "Feels anxious"), 2, 4
            ),
        ),
        past_medical_history=past,
        social_history=social_history(
            rng, who, smoking + (" Occasionally smokes cannabis." if not older and chance(rng, 0.3) else "")
        ),
        review_of_systems="Positive for chest pain and breathlessness. Negative for fever, sputum, coughing up blood, "
        "calf swelling, recent surgery or long-haul travel, and trauma.",
    )
    hr = int(rng.integers(98, 125))
    exam: Findings = {
        "Vital_Signs": vital_signs(
            rng, heart_rate=(hr, hr), resp_rate=(22, 30), spo2=(88, 94) if older else (92, 97), systolic=(110, 135)
        ),
        "General_Appearance": "Anxious, uncomfortable, sitting upright.",
        "Chest_Examination": {
            "Inspection": f"Reduced expansion of the {side} hemithorax.",
            "Palpation": f"Trachea central. Reduced tactile fremitus over the {side} hemithorax.",
            "Percussion": f"Hyper-resonant percussion note over the {side} hemithorax.",
            "Auscultation": f"Markedly reduced breath sounds over the {side} hemithorax, most at the top; the other "
            "side is normal." + (" Prolonged expiration with scattered wheeze." if older else ""),
        },
        "Cardiovascular_Examination": "Tachycardic; heart sounds normal. Jugular venous pressure not raised.",
    }
    tests: Findings = {
        "Complete_Blood_Count": complete_blood_count(rng),
        "C_Reactive_Protein": c_reactive_protein(rng, 1, 8),
        "Basic_Metabolic_Panel": metabolic_panel(rng),
        "Arterial_Blood_Gas": arterial_blood_gas(
            rng, ph=(7.38, 7.45), pao2=(55, 68) if older else (68, 84), paco2=(40, 48) if older else (32, 38)
        ),
        "D_Dimer": d_dimer(rng),
        "Electrocardiogram": normal_ecg(rng, hr),
        "Troponin": "High-sensitivity troponin I below 5 ng/L (reference < 16)",
    }
    return Clinical(patient, exam, tests, who.age, who.sex)
