"""Doctor strategies with scripted models: exact calls, recorded extras, deterministic voting."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from agents.llm.scripted import ScriptedModel
from agents.strategies import rank_vote
from sim.bank import generate_bank
from sim.cli.main import app
from sim.encounter.runner import EncounterRunner
from tests.helpers import scripted_settings, small_case


def _settings(tmp_path, **strategy):
    settings = scripted_settings(tmp_path).model_copy(deep=True)
    for key, value in strategy.items():
        setattr(settings.strategy, key, value)
    return settings


def test_vote_picks_the_majority_and_merges_spellings():
    merged, tally = rank_vote([["Pneumonia", "Bronchitis"], ["pneumonia.", "Asthma"], ["Bronchitis", "Pneumonia"]])
    assert merged[:3] == ["Pneumonia", "Bronchitis", "Asthma"]
    assert tally[0] == {"diagnosis": "Pneumonia", "score": 2.5, "votes": 3, "first_places": 2}


def test_vote_breaks_ties_deterministically():
    # equal scores and first places: the earliest appearance wins, whatever the input order of equals
    assert rank_vote([["A", "B"], ["B", "A"]])[0] == ["A", "B"]
    assert rank_vote([["B", "A"], ["A", "B"]])[0] == ["B", "A"]
    assert rank_vote([["A"], ["B"]])[0] == rank_vote([["A"], ["B"]])[0] == ["A", "B"]


def test_direct_makes_one_call_per_turn(tmp_path):
    doctor = ScriptedModel(["ASK: Any fever?", "DIAGNOSIS: pneumonia"])
    record = EncounterRunner(_settings(tmp_path), models={"doctor": doctor, "patient": ScriptedModel(["Yes."])}).run(
        small_case()
    )
    assert len(doctor.calls) == 2
    assert {c.strategy for t in record.turns for c in t.calls if c.role == "doctor"} == {"direct"}


def test_cot_reasoning_is_recorded_but_never_reaches_the_patient(tmp_path):
    doctor = ScriptedModel(
        ["SECRET-THOUGHT it could be pneumonia", "ASK: Any fever?", "SECRET-THOUGHT fever fits", "DIAGNOSIS: pneumonia"]
    )
    patient = ScriptedModel(["Yes."])
    record = EncounterRunner(_settings(tmp_path, name="cot"), models={"doctor": doctor, "patient": patient}).run(
        small_case()
    )
    first = record.turns[0]
    assert first.text == "ASK: Any fever?" and first.meta["reasoning"] == "SECRET-THOUGHT it could be pneumonia"
    assert [c.purpose for c in first.calls] == ["reasoning", "act"]
    assert all(c.strategy == "cot" for c in first.calls)
    assert "SECRET-THOUGHT" in doctor.calls[1][-1].content  # the doctor's own action call sees its notes
    assert all("SECRET-THOUGHT" not in m.content for call in patient.calls for m in call)
    assert doctor.schemas[0] is None  # reasoning is free text even when actions are constrained


def test_self_consistency_samples_votes_and_records(tmp_path):
    doctor = ScriptedModel(
        [
            "DIAGNOSIS: Bronchitis; Pneumonia",
            "DIAGNOSIS: Pneumonia; Bronchitis",
            "DIAGNOSIS: Community-acquired pneumonia",
            "DIAGNOSIS: Pneumonia",
            "nonsense",
        ]
    )
    record = EncounterRunner(
        _settings(tmp_path, name="self-consistency", samples=5, temperature=0.9),
        models={"doctor": doctor, "patient": ScriptedModel(["Yes."])},
    ).run(small_case())
    turn = record.turns[0]
    assert len(doctor.calls) == 5 and [c.purpose for c in turn.calls] == ["act"] + ["sample"] * 4
    assert turn.action.differential[0] == "Pneumonia" and record.top1_correct
    assert (
        turn.meta["votes"][0]["diagnosis"] == "Pneumonia" and len(turn.meta["samples"]) == 4
    )  # "nonsense" casts no rank_vote


def test_conference_makes_exactly_k_times_r_plus_one_calls_and_records_them(tmp_path):
    k, r = 3, 2

    def doctor_and_panel(messages):  # panelists use the doctor's model unless given their own
        text = messages[-1].content
        if "case conference" in text:
            return "Fits the crackles. DIAGNOSIS: Pneumonia"
        if "colleagues discussed" in text:
            return "DIAGNOSIS: Pneumonia; Bronchitis"
        return "DIAGNOSIS: Bronchitis"

    doctor = ScriptedModel(doctor_and_panel)
    record = EncounterRunner(
        _settings(tmp_path, name="conference", rounds=r), models={"doctor": doctor, "patient": ScriptedModel(["Yes."])}
    ).run(small_case())
    turn = record.turns[0]
    purposes = [c.purpose for c in turn.calls]
    assert purposes == ["act"] + ["panel:radiologist", "panel:internist", "panel:devil's advocate"] * r + ["lead"]
    assert len(doctor.calls) == 1 + k * r + 1
    assert len(turn.meta["conference"]) == k * r and turn.meta["proposal"] == "Bronchitis"
    assert [d["round"] for d in turn.meta["conference"]] == [1, 1, 1, 2, 2, 2]
    assert "devil's advocate (round 1)" in doctor.calls[k + 1][0].content  # round 2 sees round 1
    assert turn.action.differential == ["Pneumonia", "Bronchitis"] and record.top1_correct


def test_panelists_can_have_their_own_model(tmp_path):
    settings = _settings(tmp_path, name="conference", rounds=1)
    settings.strategy.panel = settings.strategy.panel[:1]
    settings.strategy.panel[0].model = "scripted"
    settings.roles.doctor.script = ["Radiology view: DIAGNOSIS: Pneumonia"]
    doctor = ScriptedModel(["DIAGNOSIS: Bronchitis", "DIAGNOSIS: Pneumonia"])
    record = EncounterRunner(settings, models={"doctor": doctor, "patient": ScriptedModel(["Yes."])}).run(small_case())
    assert len(doctor.calls) == 2  # act + lead; the panelist used its own (scripted) model
    assert record.turns[0].meta["conference"][0]["text"] == "Radiology view: DIAGNOSIS: Pneumonia"


def test_ablate_has_a_strategy_axis(tmp_path):
    bank = tmp_path / "bank"
    generate_bank(3, 1, bank)
    config = tmp_path / "clinsim.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[roles.doctor]\nbackend = "scripted"\n'
        'script = ["DIAGNOSIS: Cardiomegaly"]\n[roles.patient]\nbackend = "scripted"\nscript = ["Yes."]\n'
        "[encounter]\nllm_judge = false\npatient_opens = false\n"
        "[strategy]\ndeliberate = false\n"
    )
    out = tmp_path / "ablation"
    result = CliRunner().invoke(
        app,
        [
            "--config",
            str(config),
            "bench",
            "ablate",
            "--axes",
            "strategy",
            "--strategies",
            "direct,self-consistency",
            "--cases",
            str(bank),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    table = json.loads((out / "ablation.json").read_text())
    arms = {a["name"]: a for a in table["arms"]}
    assert set(arms) == {"direct", "self-consistency"}
    assert arms["self-consistency"]["tokens_per_episode"] > 3 * arms["direct"]["tokens_per_episode"]
    assert all(a["elapsed_s"] is not None and a["elapsed_s"] >= 0 for a in arms.values())
    assert "cost" in (out / "report.html").read_text().lower()


def test_arm_elapsed_time_counts_concurrent_episodes_once_and_no_pause():
    """Concurrent episodes overlap: the arm took 5 minutes, though its episodes' wall times sum to 7; an arm
    resumed after a pause counts only the time its episodes ran."""
    from benchmark.ablation import elapsed_s
    from sim.core.records import EpisodeRecord

    def record(i, start, end):
        return EpisodeRecord(
            run_id="r",
            episode_id=f"c{i}:t0",
            case_id=f"c{i}",
            source="bank",
            trial=0,
            seed=i,
            truth="x",
            termination="diagnosed",
            started_at=f"2026-12-03T05:0{start}:00+00:00",
            finished_at=f"2026-12-03T05:0{end}:00+00:00",
        )

    assert elapsed_s([record(1, 0, 4), record(2, 1, 4), record(3, 2, 5)]) == 300.0
    assert elapsed_s([record(1, 0, 2), record(2, 2, 3), record(3, 7, 9)]) == 300.0  # paused from minute 3 to 7
    assert elapsed_s([record(3, 7, 9), record(1, 0, 2)]) == 240.0  # any order
    assert elapsed_s([]) is None
