"""The heart-failure story that goes with a large heart on the film."""

from __future__ import annotations

import numpy as np

from sim.bank.clinical.common import (
    Clinical,
    bnp,
    c_reactive_protein,
    complete_blood_count,
    join_sentences,
    metabolic_panel,
    person,
    smoking_history,
    social_history,
    troponin,
    vital_signs,
)
from sim.bank.regions import Side, Zone
from sim.bank.sampling import chance, pick, pick_some
from sim.core.case import Findings, PatientScript, Symptoms

_CAUSES = {
    "ischaemic": "Heart attack eight years ago treated with two stents. High blood pressure and raised cholesterol.",
    "hypertensive": "High blood pressure for twenty years, often poorly controlled. Type 2 diabetes.",
    "valvular": "Told of a heart murmur ten years ago but never followed up. Rheumatic fever in childhood.",
    "alcohol": "Heavy alcohol use for many years. Raised liver enzymes on previous blood tests.",
}


def heart_failure(rng: np.random.Generator, side: Side | None, level: Zone | None) -> Clinical:
    cause = pick(rng, tuple(_CAUSES))
    who = person(rng, (48, 90), male_share=0.6)
    months = int(rng.integers(2, 9))
    pillows = int(rng.integers(2, 5))
    history = pick(
        rng,
        (
            (
                f"Over the past {months} months has become breathless with less and less exertion; now stops after 50 "
                f"metres. Needs {pillows} pillows to sleep and wakes up at night gasping, having to sit on the edge "
                "of the bed."
            ),
            (
                f"Gradually worsening breathlessness for {months} months, now on dressing. Ankles swell by the evening and "
                f"shoes feel tight. Sleeps propped up on {pillows} pillows."
            ),
        ),
    )
    af = chance(rng, 0.35)
    medications = pick(
        rng, ("Takes ramipril and aspirin.", "Takes amlodipine and atorvastatin.", "Takes bendroflumethiazide.")
    )
    smoking, _ = smoking_history(rng, who)
    heavy_drinking = "Drinks about 40 units of alcohol a week, mostly beer and spirits." if cause == "alcohol" else None
    social = social_history(rng, who, smoking, alcohol=heavy_drinking)
    patient = PatientScript(
        demographics=who.demographics,
        history=history,
        symptoms=Symptoms(
            primary="Breathlessness on exertion",
            secondary=pick_some(
                rng,
                (
                    "Breathless lying flat",
                    "Waking at night short of breath",
                    "Swollen ankles",
                    "Tiredness",
                    "Weight gain of 3 kg",
                    "Palpitations",
                ),
                3,
                5,
            ),
        ),
        past_medical_history=join_sentences(_CAUSES[cause], medications),
        social_history=social,
        review_of_systems="Positive for exertional breathlessness, orthopnoea, ankle swelling and fatigue. "
        "Negative for "
        "fever, sputum, coughing up blood and chest pain at rest.",
    )
    murmur = (
        "Pansystolic murmur at the apex radiating to the axilla."
        if cause == "valvular" or chance(rng, 0.3)
        else "Third heart sound (gallop rhythm), no murmur."
    )
    hr = int(rng.integers(92, 129)) if af else int(rng.integers(78, 105))
    exam: Findings = {
        "Vital_Signs": vital_signs(
            rng,
            heart_rate=(hr, hr),
            resp_rate=(18, 24),
            spo2=(91, 95),
            systolic=(132, 172),
            rhythm="irregularly irregular" if af else "regular",
        ),
        "General_Appearance": "Breathless on minimal exertion, comfortable sitting upright.",
        "Cardiovascular_Examination": {
            "Jugular_Venous_Pressure": f"Raised, {int(rng.integers(5, 9))} cm above the sternal angle.",
            "Apex_Beat": "Displaced to the sixth intercostal space, anterior axillary line; diffuse.",
            "Heart_Sounds": murmur,
        },
        "Chest_Examination": {
            "Inspection": "Symmetrical expansion.",
            "Percussion": "Resonant, slightly dull at both bases.",
            "Auscultation": "Fine inspiratory crackles at both lung bases.",
        },
        "Extremities": "Bilateral pitting oedema to the mid-shins.",
        "Abdomen": pick(rng, ("Soft, liver edge palpable 2 cm below the costal margin.", "Soft, non-tender.")),
    }
    ecg = (
        f"Atrial fibrillation with ventricular rate about {hr} bpm; left bundle branch block."
        if af
        else f"Sinus rhythm at {hr} bpm; "
        + (
            "Q waves in V1-V3 from an old infarct."
            if cause == "ischaemic"
            else "left ventricular hypertrophy by voltage criteria."
        )
    )
    tests: Findings = {
        "Complete_Blood_Count": complete_blood_count(rng, hemoglobin=(10.8, 14.0)),
        "Basic_Metabolic_Panel": metabolic_panel(rng, sodium=(130, 138), creatinine=(1.1, 1.8), urea=(20, 38)),
        "BNP": bnp(rng, raised=True),
        "Troponin": troponin(rng, slightly_raised=chance(rng, 0.4)),
        "C_Reactive_Protein": c_reactive_protein(rng, 2, 14),
        "Electrocardiogram": ecg,
        "Echocardiogram": (
            f"Left ventricular end-diastolic diameter {int(rng.integers(62, 74))} mm, ejection fraction "
            f"{int(rng.integers(20, 38))}%, global hypokinesia"
            + ("; severe mitral regurgitation." if cause == "valvular" else "; mild functional mitral regurgitation.")
        ),
        "Thyroid_Function": "TSH 2.1 mU/L, within normal limits.",
    }
    return Clinical(patient, exam, tests, who.age, who.sex)
