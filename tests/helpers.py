"""Small builders shared by tests."""

from __future__ import annotations

from sim.core.case import Case, CaseImage, Diagnosis, PatientScript, Symptoms
from sim.core.config import Settings, load_settings


def small_case(image_path: str | None = None) -> Case:
    images = (
        [
            CaseImage(
                path=image_path,
                modality="X-ray",
                body_region="chest",
                view="PA",
                regions=["right lower zone"],
                report="Right lower zone consolidation.",
            )
        ]
        if image_path
        else []
    )
    return Case(
        id="test-0001",
        source="test",
        objective="Find the cause of the cough.",
        patient=PatientScript(
            demographics="54-year-old man",
            history="Cough and fever for four days.",
            symptoms=Symptoms(primary="Productive cough", secondary=["Fever", "Chills"]),
            past_medical_history="Hypertension",
            social_history="Smokes 10 a day",
            review_of_systems="No weight loss",
        ),
        exam={
            "Vital_Signs": {"Temperature": "38.9 C", "Heart_Rate": "104 bpm"},
            "Chest_Examination": {"Auscultation": "Crackles at the right base"},
        },
        tests={
            "Blood_Tests": {
                "Complete_Blood_Count": {"WBC": "15,200 /uL", "Hemoglobin": "14 g/dL"},
                "C_Reactive_Protein": "120 mg/L",
            },
            "Imaging": {"Chest_X-Ray": {"Findings": "Right lower lobe opacity"}},
        },
        images=images,
        diagnosis=Diagnosis(name="Community-acquired pneumonia", aliases=["CAP", "pneumonia"]),
    )


def scripted_settings(tmp_path, **encounter) -> Settings:
    """Scripted-model settings. The doctor speaks first and diagnoses without a reasoning call unless a test
    asks for them, so scripts list the doctor's and patient's replies in the order the graph asks for them."""
    overrides = {
        "data_dir": str(tmp_path / "data"),
        "encounter.llm_judge": False,
        "encounter.patient_opens": False,
        "strategy.deliberate": False,
    }
    overrides.update({f"encounter.{k}": v for k, v in encounter.items()})
    return load_settings(None, overrides)


def stable_record(record) -> dict:
    """An episode record without what differs between two runs of the same episodes (times, run id)."""
    data = record.model_dump(exclude={"started_at", "finished_at", "run_id"})
    data["totals"] = {k: v for k, v in data["totals"].items() if k not in ("wall_s", "llm_latency_s", "by_role")}
    for turn in data["turns"]:
        for call in turn["calls"]:
            call.pop("latency_s")
    return data
