"""Loaders: the native format round-trips; the AgentClinic files load completely and stably."""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest

from sim.core.case import AnswerOption, Case, CaseImage, Diagnosis, PatientScript, Symptoms
from sim.loaders import detect_format, load_cases, read_cases

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MEDQA = SHARED_DATA / "agentclinic" / "agentclinic_medqa.jsonl"
NEJM = SHARED_DATA / "agentclinic" / "agentclinic_nejm.jsonl"

needs_shared_data = pytest.mark.skipif(
    not (MEDQA.is_file() and NEJM.is_file()),
    reason=f"AgentClinic reference data not found under {SHARED_DATA} (it is not part of the repository)",
)

TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def full_case(image_path: str) -> Case:
    return Case(
        id="bank-0001",
        source="bank",
        objective="Assess the patient with a cough.",
        patient=PatientScript(
            demographics="64-year-old woman",
            history="Two weeks of productive cough.",
            symptoms=Symptoms(primary="Cough", secondary=["Fever", "Night sweats"]),
            past_medical_history="COPD",
            social_history="Former smoker",
            review_of_systems="No weight loss.",
            extra={"Current_Medications": "Tiotropium"},
        ),
        exam={"Vital_Signs": {"Temperature": "38.4 C", "SpO2": 93}, "Chest": "Crackles at the right base"},
        tests={"CBC": {"WBC": "14,000/mm3"}, "CRP": 84.5, "Cultures": ["pending", None, True]},
        images=[
            CaseImage(
                path=image_path,
                modality="X-ray",
                body_region="chest",
                view="PA",
                regions=["right lower lobe"],
                report="Consolidation.",
            )
        ],
        diagnosis=Diagnosis(name="Community-acquired pneumonia", aliases=["CAP", "Pneumonia"]),
        options=[AnswerOption(text="Community-acquired pneumonia", correct=True), AnswerOption(text="Lung abscess")],
        metadata={"seed": 7, "tags": ["respiratory"]},
    )


def test_case_json_round_trip():
    case = full_case("/abs/images/0001.png")
    assert Case.from_json(case.to_json()) == case
    assert Case.model_validate(json.loads(case.to_json())) == case


def test_native_jsonl_round_trip(tmp_path):
    image = tmp_path / "0001.png"
    image.write_bytes(TINY_PNG)
    cases = [full_case(str(image)), Case(id="bank-0002", source="bank", diagnosis=Diagnosis(name="Asthma"))]
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(c.to_json() + "\n" for c in cases), encoding="utf-8")
    assert detect_format(path) == "native"
    assert load_cases(path) == cases
    assert load_cases(tmp_path) == cases  # the bank layout: DIR/cases.jsonl


def test_native_relative_image_paths_are_relative_to_the_file(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "0001.png").write_bytes(TINY_PNG)
    present = full_case("images/0001.png")
    missing = full_case("images/0002.png").model_copy(update={"id": "bank-0002"})
    (tmp_path / "cases.jsonl").write_text(present.to_json() + "\n" + missing.to_json() + "\n")
    first, second = load_cases(tmp_path)
    assert first.images[0].path == str(tmp_path / "images" / "0001.png") and first.images[0].available
    assert second.images[0].available is False
    assert second.images[0].unavailable_reason.startswith("image file not found:")


@needs_shared_data
def test_agentclinic_medqa_loads_completely_and_stably():
    first = read_cases(MEDQA)
    assert first.problems == []
    assert len(first.cases) == 107 == first.n_records
    ids = [c.id for c in first.cases]
    assert len(set(ids)) == 107
    assert all(i.startswith("agentclinic-medqa-") for i in ids)
    assert [c.id for c in load_cases(MEDQA)] == ids
    assert {c.source for c in first.cases} == {"agentclinic-medqa"}


@needs_shared_data
def test_agentclinic_ids_do_not_depend_on_line_order(tmp_path):
    reordered = tmp_path / MEDQA.name
    lines = [line for line in MEDQA.read_text(encoding="utf-8").splitlines() if line.strip()]
    reordered.write_text("\n".join(reversed(lines)) + "\n", encoding="utf-8")
    assert sorted(c.id for c in load_cases(reordered)) == sorted(c.id for c in load_cases(MEDQA))


@needs_shared_data
def test_agentclinic_mapping():
    cases = load_cases(MEDQA)
    first = cases[0]
    assert first.diagnosis.name == "Myasthenia gravis"
    assert first.patient.demographics == "35-year-old female"
    assert first.patient.symptoms.primary == "Double vision"
    assert "Difficulty climbing stairs" in first.patient.symptoms.secondary
    assert first.exam["Vital_Signs"]["Heart_Rate"] == "72 bpm"
    assert "Acetylcholine_Receptor_Antibodies" in first.tests["Blood_Tests"]
    assert first.metadata["source_file"] == MEDQA.name and first.metadata["source_line"] == 1
    pml = cases[1]
    assert pml.diagnosis.aliases == ["Progressive multifocal encephalopathy", "PML"]
    # Patient keys with no slot in the script are kept as text, not dropped.
    with_medications = [c for c in cases if "Current_Medications" in c.patient.extra]
    assert len(with_medications) == 4
    # A Review_of_Systems written as an object by organ system becomes readable text.
    assert any(c.patient.review_of_systems.startswith("General: Denies fever") for c in cases)


@needs_shared_data
def test_agentclinic_nejm_loads_with_images_unavailable_offline(tmp_path):
    result = read_cases(NEJM, image_cache=tmp_path / "cache")
    assert result.problems == []
    assert len(result.cases) == 15
    assert len({c.id for c in result.cases}) == 15
    assert [c.id for c in load_cases(NEJM, image_cache=tmp_path / "cache")] == [c.id for c in result.cases]
    for case in result.cases:
        assert sum(o.correct for o in case.options) == 1
        assert case.diagnosis.name == next(o.text for o in case.options if o.correct)
        assert case.patient.extra["role"]
        assert case.objective.endswith("?") and len(case.objective) < len(case.metadata["question"])
        (image,) = case.images
        assert image.url.startswith("https://") and image.path is None
        assert image.available is False and "fetch_images=False" in image.unavailable_reason
    first = result.cases[0]
    assert first.diagnosis.name == "Exogenous ochronosis"
    assert first.objective.startswith("A 55-year-old woman presented")
    assert "banana-shaped" not in first.objective  # the biopsy result is for the measurement agent
    assert "banana-shaped" in first.tests["Reported_Findings"]


def nejm_row(image_url: str) -> dict:
    return {
        "image_url": image_url,
        "question": "A man presented with a rash. A biopsy was done. What is the most likely diagnosis?",
        "patient_info": "You are a man with a rash.",
        "physical_exams": "Biopsy: fungal hyphae.",
        "answers": [{"text": "Tinea corporis", "correct": True}, {"text": "Psoriasis", "correct": False}],
    }


def test_nejm_fetch_failure_marks_image_unavailable(tmp_path):
    path = tmp_path / "nejm.jsonl"
    path.write_text(json.dumps(nejm_row("http://127.0.0.1:9/none.png")) + "\n")  # port 9: nothing listens
    (case,) = load_cases(path, fetch_images=True, image_cache=tmp_path / "cache", image_timeout=2)
    assert case.images[0].available is False
    assert case.images[0].unavailable_reason.startswith("could not fetch image:")


@pytest.fixture
def image_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "rash.png").write_bytes(TINY_PNG)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):  # keep pytest output clean
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_nejm_fetch_caches_the_image_and_reuses_it_offline(tmp_path, image_server):
    path = tmp_path / "nejm.jsonl"
    path.write_text(json.dumps(nejm_row(f"{image_server}/rash.png")) + "\n")
    cache = tmp_path / "cache"
    (fetched,) = load_cases(path, fetch_images=True, image_cache=cache)
    image = fetched.images[0]
    assert image.available and Path(image.path).read_bytes() == TINY_PNG
    assert Path(image.path).parent == cache
    shutil.rmtree(tmp_path / "served")  # the site is gone; the cache is enough, with fetching off
    (offline,) = load_cases(path, image_cache=cache)
    assert offline.images[0].available and offline.images[0].path == image.path


def test_nejm_non_image_response_is_unavailable(tmp_path, image_server):
    path = tmp_path / "nejm.jsonl"
    path.write_text(json.dumps(nejm_row(f"{image_server}/missing.png")) + "\n")
    (case,) = load_cases(path, fetch_images=True, image_cache=tmp_path / "cache")
    assert case.images[0].available is False
    assert "HTTP 404" in case.images[0].unavailable_reason


def test_agentclinic_variant_with_missing_optional_keys(tmp_path):
    path = tmp_path / "agentclinic_mimiciv.jsonl"
    row = {
        "OSCE_Examination": {
            "Patient_Actor": {"History": "Chest pain for two hours.", "Drug_History": ["Aspirin"]},
            "Correct_Diagnosis": "Acute myocardial infarction",
            "Imaging_Notes": "none",
        }
    }
    path.write_text(json.dumps(row) + "\n")
    (case,) = load_cases(path)
    assert case.source == "agentclinic-mimiciv"
    assert case.exam == {} and case.tests == {} and case.objective == ""
    assert case.patient.extra == {"Drug_History": "Aspirin"}
    assert case.metadata["unmapped"] == {"Imaging_Notes": "none"}
