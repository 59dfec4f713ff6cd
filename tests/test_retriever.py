"""The doctor's retrieval step and the `knn` doctor, through the real encounter graph."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from agents.knn_doctor import UNKNOWN, KnnDoctor, similarity_vote
from agents.llm.scripted import ScriptedModel
from agents.protocol import View
from benchmark.metrics import accuracy
from retrieval.ingest import read_source, write_items
from retrieval.retriever import NOTHING_SIMILAR, CaseRetriever, make_retriever
from retrieval.wiring import open_store
from sim.cli.main import app
from sim.cli.model_flags import parse_model_flag
from sim.core.config import load_settings
from sim.core.transcript import Turn
from sim.encounter.runner import EncounterRunner
from sim.loaders import load_cases
from tests.retrieval_helpers import TINY_BANK_CASES, noise_image


@pytest.fixture
def bank_settings(tmp_path, tiny_bank, tiny_embedder):
    """Settings whose data dir holds a store filled from the tiny bank."""
    cfg = load_settings(None, {"data_dir": str(tmp_path / "data"), "encounter.llm_judge": False, "retrieval.k": 5})
    write_items(read_source("bank", tiny_bank).items, open_store(cfg), tiny_embedder, tiny_embedder)
    return cfg


def test_retriever_never_returns_the_current_case(bank_settings, tiny_bank):
    retriever = make_retriever(bank_settings)
    assert isinstance(retriever, CaseRetriever)
    for case in load_cases(tiny_bank)[:6]:
        text, items = retriever(case, [case.images[0].path])
        assert len(items) == 5 and case.id not in {item["case_id"] for item in items}
        assert text.startswith("Similar cases from the archive (most similar first):\n1. ")
        assert {"case_id", "diagnosis", "similarity", "ood", "ood_score", "report", "image"} <= set(items[0])
        assert items[0]["ood"] is False


def test_an_unfamiliar_image_tells_the_doctor_nothing_similar_exists(bank_settings, tiny_bank, tmp_path):
    noise = tmp_path / "noise.png"
    noise_image(3).save(noise)
    case = load_cases(tiny_bank)[0]
    text, items = make_retriever(bank_settings)(case, [str(noise)])
    assert text == NOTHING_SIMILAR
    assert items and all(item["ood"] is True for item in items)  # still recorded, flagged


def test_no_store_means_no_retriever_and_one_line_saying_why(tmp_path, tiny_embedder):
    said = []
    cfg = load_settings(None, {"data_dir": str(tmp_path / "empty")})
    assert make_retriever(cfg, said.append) is None
    assert len(said) == 1 and "retrieval is off" in said[0] and "clinsim store ingest" in said[0]
    assert not (tmp_path / "empty" / "chroma").exists()  # asking did not create a store
    off = load_settings(None, {"data_dir": str(tmp_path / "empty"), "retrieval.enabled": False})
    assert make_retriever(off, said.append) is None and len(said) == 1


def test_vote_weighs_similarity_and_breaks_ties_by_rank_then_name():
    items = [
        {"diagnosis": "B", "similarity": 0.5},
        {"diagnosis": "a", "similarity": 0.5},
        {"diagnosis": "C", "similarity": 0.3},
        {"diagnosis": "c", "similarity": 0.3},
        {"diagnosis": ""},
    ]
    assert [(v.diagnosis, round(v.weight, 2)) for v in similarity_vote(items)] == [("C", 0.6), ("B", 0.5), ("a", 0.5)]


def test_knn_doctor_asks_for_the_image_then_votes():
    doctor = KnnDoctor()
    first = doctor.generate_next_message(View(transcript=[]))
    assert first.action.model_dump() == {"kind": "image", "name": "chest x-ray"} and first.text == "IMAGE: chest x-ray"
    asked = Turn(index=0, role="doctor", text=first.text, action=first.action)
    retrieved = Turn(
        index=2,
        role="retrieval",
        text="...",
        meta={
            "items": [
                {"diagnosis": "Cardiomegaly", "similarity": 0.9},
                {"diagnosis": "Left pneumothorax", "similarity": 0.8},
                {"diagnosis": "Left pneumothorax", "similarity": 0.7},
            ]
        },
    )
    measured = Turn(index=1, role="measurement", text="acquired")
    answer = doctor.generate_next_message(View(transcript=[asked, measured, retrieved]))
    assert answer.action.differential == ["Left pneumothorax", "Cardiomegaly"]
    no_image = doctor.generate_next_message(View(transcript=[asked, measured]))
    assert no_image.action.differential == [UNKNOWN]


def test_knn_doctor_diagnoses_bank_cases_through_the_runner_above_chance(
    bank_settings, tiny_bank, archive_bank, tiny_embedder
):
    # The store holds the queried cases themselves (which must be excluded) plus a bank of another seed.
    write_items(read_source("bank", archive_bank).items, open_store(bank_settings), tiny_embedder, tiny_embedder)
    knn = bank_settings.model_copy(update={"encounter": bank_settings.encounter.model_copy(update={"doctor": "knn"})})
    # The knn doctor never talks to the patient; a scripted stand-in keeps the embedded server off.
    runner = EncounterRunner(knn, models={"patient": ScriptedModel(["I don't know."])}, retriever=make_retriever(knn))
    records = [runner.run(case, tiny_bank) for case in load_cases(tiny_bank)]
    assert all(r.termination == "diagnosed" for r in records)
    for record in records:
        assert record.retrieved and record.case_id not in {item["case_id"] for item in record.retrieved}
    assert [t.role for t in records[0].turns] == ["doctor", "measurement", "retrieval", "doctor", "judge"]
    assert records[0].models["doctor"].backend == "knn"
    top1 = accuracy(records, "top1")
    assert top1["n"] == TINY_BANK_CASES and top1["lo"] > 1 / 11, top1  # the bootstrap 95% CI lies above chance


def test_model_flag_knn_is_for_the_doctor_only():
    assert parse_model_flag("doctor", "knn") == {"encounter.doctor": "knn"}
    with pytest.raises(typer.BadParameter, match="doctor only"):
        parse_model_flag("patient", "knn")


def test_run_with_the_knn_doctor_and_the_store(bank_settings, tiny_bank, tmp_path):
    base = [
        "--data-dir",
        str(bank_settings.data_dir),
        "run",
        "--cases",
        str(tiny_bank),
        "--doctor-model",
        "knn",
        "--patient-model",
        "scripted",
        "--judge-model",
        "scripted",
        "--out",
        str(tmp_path / "run"),
    ]
    result = CliRunner().invoke(app, base, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Similar cases from the archive" in result.output and "DIAGNOSIS:" in result.output
    off = CliRunner().invoke(app, [*base[:-1], str(tmp_path / "run2"), "--no-retrieval"], env={"COLUMNS": "200"})
    assert off.exit_code == 0 and "Similar cases" not in off.output and UNKNOWN in off.output


def test_run_without_a_store_says_retrieval_is_off(tmp_path, tiny_bank, tiny_embedder):
    result = CliRunner().invoke(
        app,
        [
            "--data-dir",
            str(tmp_path / "data"),
            "run",
            "--cases",
            str(tiny_bank),
            "--doctor-model",
            "knn",
            "--patient-model",
            "scripted",
            "--judge-model",
            "scripted",
            "--out",
            str(tmp_path / "run"),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "retrieval is off: the case store" in result.output


def test_demo_fills_an_empty_store_from_the_bank_and_the_encounter_shows_retrieval(tmp_path, tiny_embedder):
    """`clinsim demo` on a fresh data directory: the bank is generated, the empty store is filled from it
    (with progress), and the encounter has its retrieval turn. Scripted models keep this a plumbing test;
    tests/test_default_doctor.py runs the default model."""
    config = tmp_path / "clinsim.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        '[roles.doctor]\nbackend = "scripted"\nscript = ["ASK: Where is the pain?", "IMAGE: chest x-ray", '
        '"DIAGNOSIS: Right pneumothorax"]\n'
        '[roles.patient]\nbackend = "scripted"\nscript = ["My chest hurts on the right."]\n'
        "[encounter]\nllm_judge = false\n"
    )
    result = CliRunner().invoke(app, ["--config", str(config), "demo"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "filling the empty case store with the 200 bank cases" in result.output
    assert "Similar cases from the archive" in result.output and "PATIENT" in result.output
    store = open_store(load_settings(config))
    assert any(c.meta.get("kind") == "image" and c.count() == 200 for c in store.collections())
    again = CliRunner().invoke(app, ["--config", str(config), "demo"], env={"COLUMNS": "200"})
    assert again.exit_code == 0 and "filling the empty case store" not in again.output  # filled once


def test_a_retrieved_case_with_clinical_context_shows_the_patient_beside_the_film():
    from retrieval.ood import OODVerdict
    from retrieval.retriever import doctor_text
    from retrieval.search import Neighbour, SearchResult

    def neighbour(context: str) -> Neighbour:
        return Neighbour(
            item_id="i",
            case_id="c",
            diagnosis="Malignant pleural effusion",
            similarity=0.91,
            score=0.91,
            regions=[],
            source="bank",
            image="x.png",
            context=context,
            report="FINDINGS: Fluid.\n\nIMPRESSION: Moderate right pleural effusion.",
        )

    verdict = OODVerdict(ood=False, score=0.1)
    with_context = doctor_text(SearchResult([neighbour("71-year-old woman; breast cancer 6 years ago")], verdict))
    assert (
        "1. Malignant pleural effusion (similarity 0.91): Patient: 71-year-old woman; breast cancer 6 years ago. "
        "Film: Moderate right pleural effusion."
    ) in with_context
    without = doctor_text(SearchResult([neighbour("")], verdict))  # sources without context read as before
    assert "1. Malignant pleural effusion (similarity 0.91): Moderate right pleural effusion." in without
    assert neighbour("x").record()["context"] == "x"
