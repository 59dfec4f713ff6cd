"""Stories of chest infection: bronchitis (clear film) and lobar pneumonia (focal signs on one side).

The two overlap on purpose (cough, fever, sputum): what separates them is the focal examination,
the inflammatory markers and the film, which is what the doctor agent has to ask for.
"""

from __future__ import annotations

import numpy as np

from sim.bank.clinical.common import (
    Clinical,
    arterial_blood_gas,
    c_reactive_protein,
    complete_blood_count,
    join_sentences,
    listing,
    metabolic_panel,
    person,
    smoking_history,
    social_history,
    vital_signs,
)
from sim.bank.regions import Side, Zone
from sim.bank.sampling import chance, pick, pick_some
from sim.core.case import Findings, PatientScript, Symptoms

_COMMON_PAST = (
    "Hypertension treated with amlodipine.",
    "Type 2 diabetes managed with metformin.",
    "Mild asthma as a child, no inhaler use for years.",
    "Gastro-oesophageal reflux on omeprazole.",
    "Appendicectomy at age 19.",
    "Hypothyroidism on levothyroxine.",
)


def _past_history(rng: np.random.Generator, age: int) -> str:
    if age < 40 and chance(rng, 0.5):
        return "No significant past medical history. No regular medications. No known drug allergies."
    items = pick_some(rng, _COMMON_PAST, 1, 2)
    allergy = pick(rng, ("No known drug allergies.", "Allergic to penicillin (rash).", "No known drug allergies."))
    return join_sentences(*items, allergy)


def bronchitis(rng: np.random.Generator, side: Side | None, level: Zone | None) -> Clinical:
    who = person(rng, (18, 72))
    days = int(rng.integers(5, 15))
    sputum = pick(rng, ("clear", "white", "pale yellow"))
    history = pick(
        rng,
        (
            (
                f"Started with a sore throat and runny nose {days} days ago. The cough began dry and now brings up "
                f"{sputum} phlegm, worse at night. Felt feverish for the first couple of days only."
            ),
            (
                f"Has had a hacking cough for {days} days after a cold that went round the household. Brings up a "
                f"little {sputum} sputum in the mornings. Chest feels tight when coughing hard."
            ),
            (
                f"Cough for about {days} days, now productive of {sputum} sputum. Had a mild temperature early on, "
                "which settled. Keeps the patient awake at night and makes the chest sore from coughing."
            ),
        ),
    )
    secondary = pick_some(
        rng,
        (
            "Sore throat at onset",
            "Runny nose",
            "Chest soreness from coughing",
            "Mild wheeze at night",
            "Tiredness",
            "Mild headache",
        ),
        2,
        4,
    )
    smoking, _ = smoking_history(rng, who)
    patient = PatientScript(
        demographics=who.demographics,
        history=history,
        symptoms=Symptoms(
            primary=pick(rng, ("Persistent cough", "Cough with phlegm", "Chesty cough")), secondary=secondary
        ),
        past_medical_history=_past_history(rng, who.age),
        social_history=social_history(rng, who, smoking),
        review_of_systems=(
            "Positive for cough, sputum and mild tiredness. Negative for shortness of breath at rest, coughing "
            "up blood, chest pain at rest, night sweats, weight loss, leg swelling and rash."
        ),
    )
    exam: Findings = {
        "Vital_Signs": vital_signs(rng, temp=(36.8, 37.8), heart_rate=(70, 96), resp_rate=(14, 19), spo2=(96, 99)),
        "General_Appearance": "Well-looking, speaking full sentences, coughing intermittently.",
        "Chest_Examination": {
            "Inspection": "Normal chest shape, symmetrical expansion, no use of accessory muscles.",
            "Palpation": "Trachea central. Tactile fremitus normal and symmetrical.",
            "Percussion": "Resonant throughout both lung fields.",
            "Auscultation": pick(
                rng,
                (
                    "Vesicular breath sounds with scattered coarse rhonchi that clear after coughing. No crackles.",
                    "Scattered end-expiratory wheeze bilaterally; no focal crackles or bronchial breathing.",
                    "Normal vesicular breath sounds; occasional rhonchi bilaterally. No focal signs.",
                ),
            ),
        },
        "Throat": "Mildly erythematous pharynx, no exudate.",
        "Cardiovascular_Examination": "Heart sounds normal, no murmurs.",
    }
    tests: Findings = {
        "Complete_Blood_Count": complete_blood_count(rng, wbc=(5.0, 10.5), neutrophils=(50, 72)),
        "C_Reactive_Protein": c_reactive_protein(rng, 4, 28),
        "Basic_Metabolic_Panel": metabolic_panel(rng),
        "Sputum_Culture": pick(rng, ("Normal upper respiratory flora.", "No pathogenic organisms isolated.")),
        "Respiratory_Viral_PCR": pick(
            rng,
            (
                "Rhinovirus detected.",
                "Not detected for influenza A/B, RSV and SARS-CoV-2.",
                "Coronavirus OC43 detected.",
            ),
        ),
        "Procalcitonin": f"{rng.uniform(0.02, 0.09):.2f} ng/mL (reference < 0.10)",
    }
    return Clinical(patient, exam, tests, who.age, who.sex)


def _focal_location(side: Side, level: Zone) -> str:
    # Lower lobes are best heard from behind, the upper lobe from the front.
    return f"{side} lower posterior chest" if level == "lower" else f"{side} upper anterior chest below the clavicle"


def pneumonia(rng: np.random.Generator, side: Side | None, level: Zone | None) -> Clinical:
    side, level = side or "right", level or "lower"
    who = person(rng, (22, 86))
    days = int(rng.integers(2, 7))
    fever = f"{rng.uniform(38.3, 39.8):.1f} °C"
    sputum = pick(rng, ("rust-coloured", "green", "thick yellow"))
    pain = (
        f"Has a sharp pain on the {side} side of the chest that catches when breathing in deeply or coughing."
        if level == "lower" or chance(rng, 0.4)
        else ""
    )
    history = pick(
        rng,
        (
            (
                f"Became unwell {days} days ago with shaking chills and a temperature of {fever} at home, followed by a "
                f"cough producing {sputum} sputum. {pain} Getting more breathless walking around the house."
            ),
            (
                f"{days} days of fever, sweats and a cough that now brings up {sputum} phlegm. {pain} Has barely eaten "
                "and has been in bed most of the time."
            ),
            (
                f"Was well until {days} days ago, when a high temperature ({fever}) and rigors started. Since then a "
                f"worsening cough with {sputum} sputum and breathlessness on exertion. {pain}"
            ),
        ),
    )
    secondary = pick_some(
        rng,
        (
            "Shaking chills",
            f"Pain on the {side} side of the chest when breathing in",
            f"{sputum.capitalize()} sputum",
            "Breathlessness on exertion",
            "Loss of appetite",
            "Muscle aches",
            "Drenching sweats",
            "Tiredness",
        ),
        3,
        5,
    )
    smoking, _ = smoking_history(rng, who)
    hr = int(rng.integers(94, 122))
    location = _focal_location(side, level)
    exam: Findings = {
        "Vital_Signs": vital_signs(rng, temp=(38.2, 39.7), heart_rate=(hr, hr), resp_rate=(20, 28), spo2=(88, 95)),
        "General_Appearance": pick(
            rng, ("Flushed and unwell-looking, mildly breathless at rest.", "Appears tired and febrile, sweating.")
        ),
        "Chest_Examination": {
            "Inspection": f"Mild tachypnoea; reduced expansion on the {side}.",
            "Palpation": f"Trachea central. Increased tactile fremitus over the {location}.",
            "Percussion": f"Dull percussion note over the {location}.",
            "Auscultation": pick(
                rng,
                (
                    (
                        f"Bronchial breathing and coarse inspiratory crackles over the {location}; increased vocal "
                        "resonance there."
                    ),
                    (
                        f"Coarse crackles and bronchial breath sounds localised to the {location}. The other lung "
                        "fields are clear."
                    ),
                    f"Focal late inspiratory crackles with egophony over the {location}.",
                ),
            ),
        },
        "Cardiovascular_Examination": "Tachycardic, heart sounds normal, no murmurs.",
    }
    severe = chance(rng, 0.3)
    # One organism explains sputum, blood culture and urinary antigen together.
    organism = pick(rng, ("pneumococcus", "haemophilus", "unknown"))
    tests: Findings = {
        "Complete_Blood_Count": complete_blood_count(rng, wbc=(12.5, 22.0), neutrophils=(78, 92)),
        "C_Reactive_Protein": c_reactive_protein(rng, 90, 320),
        "Procalcitonin": f"{rng.uniform(0.6, 6.0):.1f} ng/mL (reference < 0.10)",
        "Basic_Metabolic_Panel": metabolic_panel(rng, urea=(20, 34) if severe else (10, 20), sodium=(131, 140)),
        "Arterial_Blood_Gas": arterial_blood_gas(rng, ph=(7.43, 7.48), pao2=(56, 72), paco2=(30, 36)),
        "Sputum_Culture": {
            "pneumococcus": "Gram-positive diplococci; Streptococcus pneumoniae isolated, penicillin-sensitive.",
            "haemophilus": "Gram-negative coccobacilli; Haemophilus influenzae isolated, sensitive to "
            "amoxicillin-clavulanate.",
            "unknown": "Moderate pus cells; normal flora only.",
        }[organism],
        "Blood_Culture": "Streptococcus pneumoniae isolated in 1 of 2 sets."
        if organism == "pneumococcus" and chance(rng, 0.4)
        else "No growth after 48 hours.",
        "Urine_Pneumococcal_Antigen": "Positive." if organism == "pneumococcus" else "Negative.",
    }
    patient = PatientScript(
        demographics=who.demographics,
        history=join_sentences(history),
        symptoms=Symptoms(
            primary=pick(
                rng, ("Fever and productive cough", "Cough with fever and chills", "Fever and breathlessness")
            ),
            secondary=secondary,
        ),
        past_medical_history=_past_history(rng, who.age),
        social_history=social_history(rng, who, smoking),
        review_of_systems=(
            f"Positive for fever, chills, productive cough, {listing(['breathlessness', 'poor appetite'])}. "
            "Negative for coughing up blood, leg swelling, recent long journeys, weight loss before this illness "
            "and rash."
        ),
    )
    return Clinical(patient, exam, tests, who.age, who.sex)
