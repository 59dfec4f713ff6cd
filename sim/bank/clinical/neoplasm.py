"""Stories around a round opacity: an incidental small nodule, or a large mass in a heavy smoker."""

from __future__ import annotations

import numpy as np

from sim.bank.clinical.common import (
    Clinical,
    c_reactive_protein,
    complete_blood_count,
    join_sentences,
    metabolic_panel,
    person,
    smoking_history,
    social_history,
    vital_signs,
)
from sim.bank.regions import Side, Zone
from sim.bank.sampling import chance, pick, pick_some
from sim.core.case import Findings, PatientScript, Symptoms


def nodule(rng: np.random.Generator, side: Side | None, level: Zone | None) -> Clinical:
    who = person(rng, (38, 76))
    reason = pick(
        rng,
        (
            "Came for a pre-operative check before a planned knee replacement and feels entirely well.",
            "Attended a routine health check arranged by the employer; has no complaints.",
            "Had a cough with a cold three weeks ago that has now settled; came back for a review as advised.",
            "Referred for an insurance medical; no symptoms at all.",
        ),
    )
    smoking, pack_years = smoking_history(rng, who)
    past = join_sentences(
        *pick_some(
            rng,
            (
                "Osteoarthritis of the knees.",
                "Hypertension.",
                "High cholesterol on a statin.",
                "Previous hernia repair.",
            ),
            1,
            2,
        ),
        "No history of cancer. No previous chest imaging to compare with.",
    )
    patient = PatientScript(
        demographics=who.demographics,
        history=reason,
        symptoms=Symptoms(
            primary="No current symptoms", secondary=["Occasional dry cough in the mornings"] if pack_years else []
        ),
        past_medical_history=past,
        social_history=social_history(rng, who, smoking),
        review_of_systems="Negative for cough, coughing up blood, weight loss, night sweats, fever, breathlessness and "
        "bone pain.",
    )
    exam: Findings = {
        "Vital_Signs": vital_signs(rng),
        "General_Appearance": "Well, comfortable at rest.",
        "Chest_Examination": {
            "Inspection": "Normal shape, symmetrical expansion.",
            "Percussion": "Resonant throughout.",
            "Auscultation": "Vesicular breath sounds throughout, no added sounds.",
        },
        "Lymph_Nodes": "No cervical, supraclavicular or axillary lymphadenopathy.",
        "Hands": "No finger clubbing.",
    }
    tests: Findings = {
        "Complete_Blood_Count": complete_blood_count(rng),
        "Basic_Metabolic_Panel": metabolic_panel(rng),
        "C_Reactive_Protein": c_reactive_protein(rng, 1, 6),
        "Spirometry": f"FEV1 {int(rng.integers(82, 104))}% predicted, FEV1/FVC {rng.uniform(0.70, 0.82):.2f}.",
        "Tuberculosis_Interferon_Gamma_Release_Assay": "Negative.",
    }
    return Clinical(patient, exam, tests, who.age, who.sex)


def lung_cancer(rng: np.random.Generator, side: Side | None, level: Zone | None) -> Clinical:
    side = side or "right"
    who = person(rng, (52, 84), male_share=0.6)
    months = int(rng.integers(2, 7))
    kilos = int(rng.integers(5, 13))
    history = pick(
        rng,
        (
            (
                f"A cough that has not gone away for {months} months, different from the usual smoker's cough. Has "
                f"noticed streaks of blood in the sputum several times and has lost {kilos} kg without trying."
            ),
            (
                f"For about {months} months has felt tired and off food, with a persistent cough. Lost {kilos} kg. Last "
                f"week coughed up some blood-streaked phlegm. Has a constant dull ache on the {side} side of the chest."
            ),
        ),
    )
    hoarse = level == "upper" and side == "left" and chance(rng, 0.5)
    secondary = pick_some(
        rng,
        (
            "Blood-streaked sputum",
            f"Unintentional weight loss of {kilos} kg",
            "Tiredness",
            "Poor appetite",
            f"Dull {side}-sided chest ache",
            "Night sweats",
        ),
        3,
        5,
    )
    if hoarse:
        secondary.append("Hoarse voice for a month")
    smoking, _ = smoking_history(rng, who, heavy=True)
    patient = PatientScript(
        demographics=who.demographics,
        history=history,
        symptoms=Symptoms(primary="Persistent cough with weight loss", secondary=secondary),
        past_medical_history=join_sentences(
            pick(
                rng,
                ("Chronic obstructive pulmonary disease on inhalers.", "Hypertension.", "Peripheral arterial disease."),
            ),
            "No previous chest imaging.",
        ),
        social_history=social_history(rng, who, smoking),
        review_of_systems="Positive for cough, blood-streaked sputum, weight loss, fatigue and poor appetite. Negative "
        "for fever, leg swelling, headache and confusion.",
    )
    exam: Findings = {
        "Vital_Signs": vital_signs(rng, resp_rate=(16, 22), spo2=(92, 96)),
        "General_Appearance": "Thin, appears older than stated age; temporal wasting.",
        "Hands": pick(rng, ("Finger clubbing and nicotine staining.", "Nicotine-stained fingers; early clubbing.")),
        "Lymph_Nodes": pick(rng, (f"A firm 1.5 cm {side} supraclavicular lymph node.", "No palpable lymphadenopathy.")),
        "Chest_Examination": {
            "Inspection": "Symmetrical expansion.",
            "Percussion": f"Slightly dull over the {side} {'upper' if level == 'upper' else 'mid'} chest.",
            "Auscultation": f"Reduced breath sounds with a fixed monophonic wheeze over the {side} "
            f"{'upper' if level == 'upper' else 'mid'} chest.",
        },
    }
    tests: Findings = {
        "Complete_Blood_Count": complete_blood_count(rng, hemoglobin=(10.2, 12.4)),
        "Basic_Metabolic_Panel": metabolic_panel(
            rng, sodium=(128, 137), calcium=(10.2, 11.8) if chance(rng, 0.4) else (8.8, 10.1)
        ),
        "C_Reactive_Protein": c_reactive_protein(rng, 12, 60),
        "Liver_Function_Tests": f"ALP {int(rng.integers(110, 190))} U/L (reference 40-130), ALT and bilirubin normal.",
        "Sputum_Cytology": pick(rng, ("Atypical squamous cells present.", "Non-diagnostic sample; repeat advised.")),
        "Spirometry": f"FEV1 {int(rng.integers(52, 78))}% predicted, FEV1/FVC {rng.uniform(0.55, 0.68):.2f}.",
    }
    return Clinical(patient, exam, tests, who.age, who.sex)
