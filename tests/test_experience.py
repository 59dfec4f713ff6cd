"""The experience store: exclusion rules, rebuilding from JSONL, and a learning curve that must rise."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from agents.llm.scripted import ScriptedModel
from retrieval.experience import (
    Experience,
    ExperienceProvider,
    ExperienceStore,
    HashingTextEmbedder,
    experience_embedder,
    read_experiences,
    rebuild_store,
)
from sim.bank import generate_bank
from sim.cli.main import app
from tests.helpers import small_case


def _exp(i: int, case_id: str, summary: str, truth: str, correct: bool = True) -> Experience:
    return Experience(
        id=f"exp-{i}",
        run_id="r",
        episode_id=f"{case_id}:t0",
        case_id=case_id,
        summary=summary,
        differential=[truth if correct else "Asthma"],
        correct=correct,
        truth=truth,
    )


@pytest.fixture
def store(tmp_path):
    store = ExperienceStore(tmp_path / "store", HashingTextEmbedder())
    store.add(
        [
            _exp(1, "test-0001", "Productive cough and fever; crackles at the right base.", "Pneumonia"),
            _exp(2, "other-1", "Productive cough and fever; crackles at the right base; high CRP.", "Pneumonia"),
            _exp(
                3,
                "other-2",
                "Sudden chest pain, hyper-resonant left chest, absent breath sounds.",
                "Pneumothorax",
                False,
            ),
        ]
    )
    return store


def test_the_current_case_is_never_retrieved(store):
    provider = ExperienceProvider(store, k=3)
    text, items = provider(small_case(), [])
    assert {i["case_id"] for i in items} == {"other-1", "other-2"}
    assert "test-0001" not in text and "The answer was: Pneumonia" in text


def test_cases_of_the_current_split_are_excluded_unless_allowed(store):
    split = ExperienceProvider(store, k=3, split_case_ids=["other-1"])
    assert {i["case_id"] for i in split(small_case(), [])[1]} == {"other-2"}
    correct_only = ExperienceProvider(store, k=3, only_correct=True)
    assert {i["case_id"] for i in correct_only(small_case(), [])[1]} == {"other-1"}


def test_adding_twice_adds_nothing_and_the_store_rebuilds_from_jsonl(store, tmp_path):
    assert store.add([_exp(1, "test-0001", "x", "y")]) == 0
    rebuilt = rebuild_store(store.mirror, tmp_path / "rebuilt", HashingTextEmbedder())
    assert rebuilt.all() == store.all() and rebuilt.count() == 3
    assert read_experiences(store.mirror) == sorted(store.all(), key=lambda e: e.id)


def test_minilm_embedder_loads_offline():
    embedder = experience_embedder("minilm")
    vectors = embedder.embed_texts(["right-sided chest pain", "pain in the right chest", "itchy rash on the arm"])
    assert vectors.shape == (3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def experience_reading_doctor(messages) -> str:
    """Examines the chest, then copies the answer of the most similar past encounter it was shown."""
    if not any(m.role == "assistant" for m in messages):
        return "TEST: chest examination"
    answers = re.findall(r"The answer was: ([^.]+)\.", messages[0].content)
    return f"DIAGNOSIS: {answers[0]}" if answers else "DIAGNOSIS: Unknown condition"


def test_learning_curve_rises_when_the_doctor_uses_experience(tmp_path, monkeypatch):
    bank = tmp_path / "bank"
    generate_bank(44, 5, bank, bank="findings")
    config = tmp_path / "clinsim.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[encounter]\nllm_judge = false\n'
        '[experience]\nembedder = "hashing"\nlessons = false\n'
    )
    from agents.llm import registry

    def scripted(settings, role):
        if role == "doctor":
            return ScriptedModel(experience_reading_doctor)
        return ScriptedModel(["I feel breathless."], cycle=True)

    monkeypatch.setattr(registry, "model_for_role", scripted)
    out = tmp_path / "learn"
    result = CliRunner().invoke(
        app,
        [
            "--config",
            str(config),
            "bench",
            "learn",
            "--cases",
            str(bank),
            "--out",
            str(out),
            "--window",
            "11",
            "--no-retrieval",
        ],
    )
    assert result.exit_code == 0, result.output
    for arm in ("experience-on", "experience-off"):  # past encounters are the doctor's only memory
        assert json.loads((out / arm / "config.json").read_text())["settings"]["retrieval"]["enabled"] is False
    curve = json.loads((out / "curve.json").read_text())
    on, off = curve["halves"]["experience-on"], curve["halves"]["experience-off"]
    assert off["first_half"] == off["second_half"] == 0.0  # without experience it never knows
    assert on["second_half"] > on["first_half"] + 0.2  # with it, later cases are answered from earlier ones
    assert on["experiences_used_per_episode"] > 1
    assert curve["curves"]["experience-on"][-1]["accuracy"] > curve["curves"]["experience-on"][10]["accuracy"]
    assert (out / "experience-on" / "experiences.jsonl").is_file() and "Learning curve" in (
        out / "report.html"
    ).read_text()


def test_rerun_from_recorded_responses_gives_byte_identical_records(tmp_path):
    bank = tmp_path / "bank"
    generate_bank(6, 2, bank, bank="findings")
    config = tmp_path / "clinsim.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        '[roles.doctor]\nbackend = "scripted"\nscript = ["ASK: Any pain?", "TEST: chest examination", "bad reply", "DIAGNOSIS: Cardiomegaly; Left pleural effusion"]\n'
        '[roles.patient]\nbackend = "scripted"\nscript = ["Yes, on the left.", "No."]\n'
        '[roles.judge]\nbackend = "scripted"\nscript = ["VERDICT: incorrect\\nREASON: different"]\n'
        '[experience]\nenabled = true\nembedder = "hashing"\nallow_same_split = true\n'
    )
    run_dir = tmp_path / "run"
    runner = CliRunner()
    made = runner.invoke(
        app,
        [
            "--config",
            str(config),
            "bench",
            "run",
            "--cases",
            str(bank),
            "--out",
            str(run_dir),
            "--trials",
            "2",
            "--record-responses",
        ],
    )
    assert made.exit_code == 0, made.output
    assert (run_dir / "responses.jsonl").stat().st_size > 0
    again = runner.invoke(app, ["replay", str(run_dir), "--rerun", "--out", str(tmp_path / "rerun")])
    assert again.exit_code == 0, again.output
    assert "identical: 12 of 12" in again.output
    original = (run_dir / "episodes.jsonl").read_bytes()
    assert (tmp_path / "rerun" / "episodes.jsonl").read_bytes() == original
    assert b'"experiences":[{' in original  # experiences were used, and reproduced too


def test_replay_prints_an_episode_with_its_turns(tmp_path):
    bank = tmp_path / "bank"
    generate_bank(2, 2, bank, bank="findings")
    config = tmp_path / "clinsim.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[roles.doctor]\nbackend = "scripted"\n'
        'script = ["TEST: chest examination", "DIAGNOSIS: Cardiomegaly"]\n'
        '[roles.patient]\nbackend = "scripted"\nscript = ["My chest feels heavy."]\n'
        "[encounter]\nllm_judge = false\n"
    )
    run_dir = tmp_path / "run"
    runner = CliRunner()
    assert (
        runner.invoke(
            app, ["--config", str(config), "bench", "run", "--cases", str(bank), "--out", str(run_dir)]
        ).exit_code
        == 0
    )
    listed = runner.invoke(app, ["replay", str(run_dir), "--list"])
    assert listed.exit_code == 0 and "bank-s2-00000:t0" in listed.output
    shown = runner.invoke(app, ["replay", str(run_dir), "--episode", "bank-s2-00001:t0", "--all"])
    assert shown.exit_code == 0 and "TEST: chest examination" in shown.output and "Percussion" in shown.output
    missing = runner.invoke(app, ["replay", str(run_dir), "--episode", "nope"])
    assert missing.exit_code == 1 and "no episode 'nope'" in missing.output


def test_experience_from_warm_starts_a_run_and_the_experience_arms_of_an_ablation(tmp_path):
    """Past encounters of an earlier run (other cases) reach the doctor of a new run and of an ablation's
    experience arms; the experience-off arm sees none."""
    earlier_bank, bank = tmp_path / "earlier", tmp_path / "bank"
    generate_bank(4, 5, earlier_bank, bank="findings")
    generate_bank(3, 6, bank, bank="findings")
    config = tmp_path / "clinsim.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        '[roles.doctor]\nbackend = "scripted"\nscript = ["ASK: Any pain?", "DIAGNOSIS: Cardiomegaly"]\n'
        '[roles.patient]\nbackend = "scripted"\nscript = ["Yes, on the left."]\n'
        "[encounter]\nllm_judge = false\n[retrieval]\nenabled = false\n"
        '[experience]\nembedder = "hashing"\nlessons = false\n'
    )
    runner = CliRunner()
    earlier = tmp_path / "earlier-run"
    made = runner.invoke(
        app,
        ["--config", str(config), "bench", "run", "--cases", str(earlier_bank), "--out", str(earlier), "--experience"],
    )
    assert made.exit_code == 0, made.output
    assert len((earlier / "experiences.jsonl").read_text().splitlines()) == 4

    def used(run_dir):
        return [len(json.loads(line)["experiences"]) for line in (run_dir / "episodes.jsonl").read_text().splitlines()]

    warm = runner.invoke(
        app,
        [
            "--config",
            str(config),
            "bench",
            "run",
            "--cases",
            str(bank),
            "--out",
            str(tmp_path / "warm"),
            "--experience-from",
            str(earlier),
        ],
    )
    assert warm.exit_code == 0, warm.output
    assert all(n > 0 for n in used(tmp_path / "warm"))
    ablated = runner.invoke(
        app,
        [
            "--config",
            str(config),
            "bench",
            "ablate",
            "--axes",
            "experience",
            "--cases",
            str(bank),
            "--out",
            str(tmp_path / "ablation"),
            "--experience-from",
            str(earlier),
        ],
    )
    assert ablated.exit_code == 0, ablated.output
    assert all(n > 0 for n in used(tmp_path / "ablation" / "experience-on"))
    assert used(tmp_path / "ablation" / "experience-off") == [0, 0, 0]
