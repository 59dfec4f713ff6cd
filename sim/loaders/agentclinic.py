"""AgentClinic OSCE JSONL (MedQA and its extended variants) -> `Case`.

One row: {"OSCE_Examination": {"Objective_for_Doctor", "Patient_Actor", "Physical_Examination_Findings",
"Test_Results", "Correct_Diagnosis"}}. Only `Patient_Actor` and `Correct_Diagnosis` are required; variants
leave out the rest or add keys, which are kept (patient keys as text in `patient.extra`, others in
`metadata["unmapped"]`) rather than dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.core.case import Case, PatientScript, Symptoms, stable_id
from sim.loaders._jsonl import RowContext
from sim.loaders._rows import SourceRow, as_text, diagnosis_from_text, source_for, source_slug

ROOT = "OSCE_Examination"
PATIENT = f"{ROOT}.Patient_Actor"

# Patient_Actor keys with a slot in PatientScript; any other key goes to `extra` as text.
_PATIENT_TEXT_FIELDS = {
    "Demographics": "demographics",
    "History": "history",
    "Past_Medical_History": "past_medical_history",
    "Social_History": "social_history",
    "Review_of_Systems": "review_of_systems",
}
_KNOWN_OSCE_KEYS = {
    "Objective_for_Doctor",
    "Patient_Actor",
    "Physical_Examination_Findings",
    "Test_Results",
    "Correct_Diagnosis",
}

OPTIONS = frozenset({"source"})
LABEL, EXPECTED_KEYS = "AgentClinic OSCE", "OSCE_Examination"


def detects(keys: set[str]) -> bool:
    return "OSCE_Examination" in keys


def make_converter(path: Path, source: str | None = None):
    source = source_slug(source) if source else source_for(path)

    def convert(row: dict[str, Any], where: RowContext) -> Case:
        return row_to_case(row, where, source)

    return convert


def row_to_case(row: dict[str, Any], where: RowContext, source: str) -> Case:
    reader = SourceRow(where)
    osce = reader.get(row, ROOT, ROOT, dict, required=True)
    if osce is None:
        reader.finish()

    objective = reader.get(osce, "Objective_for_Doctor", f"{ROOT}.Objective_for_Doctor", str) or ""
    patient = _patient_script(reader, osce)
    exam = reader.get(osce, "Physical_Examination_Findings", f"{ROOT}.Physical_Examination_Findings", dict) or {}
    tests = reader.get(osce, "Test_Results", f"{ROOT}.Test_Results", dict) or {}
    diagnosis = reader.text(osce, "Correct_Diagnosis", f"{ROOT}.Correct_Diagnosis", required=True)

    metadata: dict[str, Any] = {"source_file": where.path.name, "source_line": where.line}
    unmapped = {k: v for k, v in osce.items() if k not in _KNOWN_OSCE_KEYS}
    unmapped.update({k: v for k, v in row.items() if k != ROOT})
    if unmapped:
        metadata["unmapped"] = unmapped

    return reader.build_case(
        id=stable_id(source, row),
        source=source,
        objective=objective,
        patient=patient,
        exam=exam,
        tests=tests,
        diagnosis=diagnosis_from_text(diagnosis) if diagnosis else None,
        metadata=metadata,
    )


def _patient_script(reader: SourceRow, osce: dict[str, Any]) -> PatientScript | None:
    actor = reader.get(osce, "Patient_Actor", PATIENT, dict, required=True)
    if actor is None:
        return None
    fields: dict[str, Any] = {}
    extra: dict[str, str] = {}
    for key, value in actor.items():
        if key == "Symptoms":
            continue
        text = as_text(value)
        if key in _PATIENT_TEXT_FIELDS:
            fields[_PATIENT_TEXT_FIELDS[key]] = text
        elif text:
            extra[key] = text  # e.g. Current_Medications, Drug_History in some rows
    symptoms = reader.get(actor, "Symptoms", f"{PATIENT}.Symptoms", dict)
    if symptoms is not None:
        path = f"{PATIENT}.Symptoms"
        fields["symptoms"] = Symptoms(
            primary=as_text(reader.get(symptoms, "Primary_Symptom", f"{path}.Primary_Symptom", str)),
            secondary=reader.string_list(symptoms, "Secondary_Symptoms", f"{path}.Secondary_Symptoms"),
        )
        for key, value in symptoms.items():
            if key not in ("Primary_Symptom", "Secondary_Symptoms") and as_text(value):
                extra[f"Symptoms.{key}"] = as_text(value)
    return PatientScript(**fields, extra=extra)
