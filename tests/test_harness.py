"""The benchmark harness: resume, concurrency, config checks, metrics, report, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from agents.llm.scripted import ScriptedModel
from benchmark.harness import make_runner_factory, plan_episodes, prepare_run_dir, run_config, run_episodes
from benchmark.metrics import bootstrap_ci, paired_difference, summarise
from benchmark.report import render_report
from sim.bank import generate_bank
from sim.cli.main import app
from sim.core.errors import InputError
from sim.core.records import read_records
from sim.loaders import load_cases
from tests.helpers import scripted_settings, stable_record


def conversation_doctor(messages) -> str:
    """Deterministic whatever the call order: the reply depends only on the conversation so far."""
    turns = sum(1 for m in messages if m.role == "assistant")
    if turns == 0:
        return "ASK: Where does it hurt?"
    if turns == 1:
        return "IMAGE: chest x-ray"
    return "DIAGNOSIS: Right pneumothorax; Left pneumothorax"


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    out = tmp_path_factory.mktemp("bank")
    generate_bank(12, 3, out)
    return out


def _models():
    return {"doctor": ScriptedModel(conversation_doctor), "patient": ScriptedModel(["It hurts here."], cycle=True)}


def _run(bank, tmp_path, out_name, concurrency=1, trials=2, done=None):
    settings = scripted_settings(tmp_path)
    cases = load_cases(bank)
    episodes = plan_episodes(cases, bank, trials, run_seed=7)
    out = tmp_path / out_name
    prepare_run_dir(out, run_config(settings, {"trials": trials}), resume=False)
    factory = make_runner_factory(settings, models=_models())
    return run_episodes(episodes, out, factory, run_id="r", concurrency=concurrency, done=done), out


def test_concurrency_gives_the_same_records_as_sequential(bank, tmp_path):
    one, _ = _run(bank, tmp_path, "c1", concurrency=1)
    four, _ = _run(bank, tmp_path, "c4", concurrency=4)
    key = lambda r: (r.case_id, r.trial)
    assert len(one.records) == len(four.records) == 24
    assert [stable_record(r) for r in sorted(one.records, key=key)] == [
        stable_record(r) for r in sorted(four.records, key=key)
    ]
    # seeds depend on (run seed, case, trial) only
    assert len({r.seed for r in one.records}) == 24


def test_resume_after_a_crash_records_each_episode_once(bank, tmp_path):
    settings = scripted_settings(tmp_path)
    cases = load_cases(bank)
    episodes = plan_episodes(cases, bank, 2, run_seed=1)
    out = tmp_path / "run"
    config = run_config(settings, {"trials": 2})
    prepare_run_dir(out, config, resume=False)
    factory = make_runner_factory(settings, models=_models())
    run_episodes(episodes[:10], out, factory, run_id="r")  # "killed" after 10 episodes
    with open(out / "episodes.jsonl", "ab") as handle:  # ... in the middle of writing the 11th
        handle.write(b'{"run_id": "r", "episode_id": "half')
    done = prepare_run_dir(out, config, resume=True)
    assert len(done) == 10
    outcome = run_episodes(episodes, out, factory, run_id="r", done=done)
    assert outcome.skipped == 10 and len(outcome.records) == 14
    records = read_records(out / "episodes.jsonl")
    assert sorted((r.case_id, r.trial) for r in records) == sorted((e.case.id, e.trial) for e in episodes)


def test_resume_refuses_a_different_config_and_says_what_differs(tmp_path):
    settings = scripted_settings(tmp_path)
    out = tmp_path / "run"
    prepare_run_dir(out, run_config(settings, {"trials": 2, "concurrency": 1}), resume=False)
    with pytest.raises(InputError, match="already holds a run"):
        prepare_run_dir(out, run_config(settings, {"trials": 2, "concurrency": 1}), resume=False)
    # concurrency, and how the embedded server runs, may change between a run and its resumption
    prepare_run_dir(out, run_config(settings, {"trials": 2, "concurrency": 4}), resume=True)
    elsewhere = settings.model_copy(deep=True)
    elsewhere.embedded.n_threads, elsewhere.embedded.prompt_cache_mb, elsewhere.embedded.port = 1, 64, 8081
    prepare_run_dir(out, run_config(elsewhere, {"trials": 2, "concurrency": 1}), resume=True)
    other = settings.model_copy(deep=True)
    other.encounter.turn_cap = 7
    with pytest.raises(InputError) as caught:
        prepare_run_dir(out, run_config(other, {"trials": 3, "concurrency": 1}), resume=True)
    text = str(caught.value)
    assert "settings.encounter.turn_cap: differs from this run: 20 -> 7" in text
    assert "params.trials: differs from this run: 2 -> 3" in text


def test_config_names_the_code_that_ran_and_a_resume_by_other_code_is_noted(tmp_path):
    import subprocess

    settings = scripted_settings(tmp_path)
    out = tmp_path / "run"
    config = run_config(settings, {"trials": 1})
    head = (
        subprocess.run(["git", "rev-parse", "HEAD"], check=False, capture_output=True, text=True).stdout.strip() or None
    )
    assert config["code"]["version"] == "0.1.0" and config["code"]["commit"] == head
    prepare_run_dir(out, config, resume=False)
    later = {**config, "code": {"version": "0.1.0", "commit": "f" * 40, "dirty": False}}
    prepare_run_dir(out, later, resume=True)  # other code may resume a run ...
    prepare_run_dir(out, later, resume=True)
    stored = json.loads((out / "config.json").read_text())["code"]
    assert stored["commit"] == head  # ... the code that started it stays, the resuming code is added once
    assert stored["resumed_with"] == [later["code"]]


def test_bootstrap_ci_on_a_known_distribution():
    rng = np.random.default_rng(0)
    groups = [[float(x)] for x in rng.random(2000) < 0.3]  # Bernoulli(0.3), n=2000
    ci = bootstrap_ci(groups)
    half_width = 1.96 * np.sqrt(0.3 * 0.7 / 2000)
    assert ci["lo"] < 0.3 < ci["hi"]
    assert abs((ci["hi"] - ci["lo"]) / 2 - half_width) < 0.004
    # trials of one case move together: 10 cases x 5 identical trials is 10 observations, not 50
    clustered = bootstrap_ci([[1.0] * 5 if i % 2 else [0.0] * 5 for i in range(10)])
    independent = bootstrap_ci([[1.0] if i % 2 else [0.0] for i in range(50)])
    assert (clustered["hi"] - clustered["lo"]) > 1.5 * (independent["hi"] - independent["lo"])


def test_paired_difference_sees_a_consistent_gain():
    a = {f"c{i}": [0.0, 0.0] for i in range(40)}
    b = {f"c{i}": [1.0, 0.0] if i < 30 else [0.0, 0.0] for i in range(40)}
    d = paired_difference(a, b)
    assert d["diff"] == pytest.approx(0.375) and d["lo"] > 0.2 and d["cases"] == 40


def test_summary_and_report_with_failed_episodes(bank, tmp_path):
    settings = scripted_settings(tmp_path)
    cases = load_cases(bank)[:4]
    out = tmp_path / "run"
    prepare_run_dir(out, run_config(settings, {}), resume=False)
    models = {"doctor": ScriptedModel(conversation_doctor), "patient": ScriptedModel([])}  # patient fails at once
    run_episodes(plan_episodes(cases, bank, 1, 0), out, make_runner_factory(settings, models=models), run_id="r")
    records = read_records(out / "episodes.jsonl")
    summary = summarise(records)
    assert summary["errors"] == 4 and summary["top1"]["n"] == 0
    page = render_report("run", records, summary)
    assert "Failed episodes (4)" in page and "ran out of replies" in page


def test_cli_run_resume_and_report(bank, tmp_path):
    config = tmp_path / "clinsim.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        '[roles.doctor]\nbackend = "scripted"\nscript = ["IMAGE: chest x-ray", "DIAGNOSIS: Cardiomegaly"]\n'
        '[roles.patient]\nbackend = "scripted"\nscript = ["Yes."]\n'
        "[encounter]\nllm_judge = false\n"
    )
    out = tmp_path / "run"
    runner = CliRunner()
    args = ["--config", str(config), "bench", "run", "--cases", str(bank), "--out", str(out), "--limit", "4"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "top-1" in result.output and (out / "report.html").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["episodes"] == 4 and summary["errors"] == 0
    again = runner.invoke(app, args + ["--resume", "-j", "2"])  # concurrency (and the lanes it sets) may change
    assert again.exit_code == 0 and "4 episode(s) already recorded" in again.output, again.output
    concurrent = runner.invoke(app, args[:-4] + ["--out", str(tmp_path / "run-j2"), "--limit", "2", "-j", "2"])
    assert concurrent.exit_code == 0, concurrent.output
    config_j2 = json.loads((tmp_path / "run-j2" / "config.json").read_text())
    assert config_j2["settings"]["embedded"]["lanes"] == 2  # each concurrent episode gets its own servers
    refused = runner.invoke(app, args + ["--resume", "--trials", "2"])
    assert refused.exit_code == 1 and "params.trials" in refused.output and "Traceback" not in refused.output
    report = runner.invoke(app, ["bench", "report", str(out)])
    assert report.exit_code == 0 and "4 episodes" in report.output
    compare = runner.invoke(app, ["bench", "compare", str(out), str(out)])
    assert compare.exit_code == 0 and "+0.0" in compare.output


def _one_answer_config(tmp_path):
    """A config file whose scripted doctor always answers the same (so any order of episodes gives the same records)."""
    config = tmp_path / "clinsim.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        '[roles.doctor]\nbackend = "scripted"\nscript = ["DIAGNOSIS: Cardiomegaly"]\n'
        '[roles.patient]\nbackend = "scripted"\nscript = ["I am short of breath."]\n'
        "[encounter]\nllm_judge = false\n"
    )
    return config


def test_cli_ablate_on_retrieval_axis(bank, tmp_path):
    config = _one_answer_config(tmp_path)
    out = tmp_path / "ablation"
    result = CliRunner().invoke(
        app,
        [
            "--config",
            str(config),
            "bench",
            "ablate",
            "--axes",
            "retrieval",
            "--with-knn",
            "--cases",
            str(bank),
            "--out",
            str(out),
            "--limit",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    table = json.loads((out / "ablation.json").read_text())
    assert [a["name"] for a in table["arms"]] == ["retrieval-off", "retrieval-on", "knn"]
    assert (out / "report.html").is_file() and (out / "retrieval-on" / "episodes.jsonl").is_file()
    knn = [json.loads(line) for line in (out / "knn" / "episodes.jsonl").read_text().splitlines()]
    assert len(knn) == 3 and all(r["models"]["doctor"]["backend"] == "knn" for r in knn)


def test_concurrent_workers_get_distinct_lanes_in_every_run(bank, tmp_path):
    """Each run numbers its workers' lanes afresh: with thread-id keyed lanes, a later run's workers
    could share one (ids are reused), and two episodes would queue on one embedded server."""
    import threading

    from sim.core.lanes import current_lane

    for run in range(3):
        lanes: dict[str, int] = {}
        barrier = threading.Barrier(2, timeout=30)

        def factory(lanes=lanes, barrier=barrier):
            barrier.wait()  # both workers are alive at once
            lanes[threading.current_thread().name] = current_lane()
            raise RuntimeError("lane recorded")

        cases = load_cases(bank)[:2]
        episodes = plan_episodes(cases, bank, trials=1, run_seed=0)
        out = tmp_path / f"run{run}"
        out.mkdir()
        run_episodes(episodes, out, factory, run_id=f"r{run}", concurrency=2)
        assert sorted(lanes.values()) == [0, 1], lanes


def test_summary_splits_accuracy_by_retrieval_hit_and_reports_the_workup():
    """Top-1 when a retrieved case shared the diagnosis vs when none did, the share of the patient script
    drawn out and role breaks, from the records alone; the report page says them."""
    from sim.core.records import Elicitation, EpisodeRecord, Totals

    def record(case, hit, correct, share, breaks):
        neighbour = "Left pneumothorax" if hit else "Cardiomegaly"
        return EpisodeRecord(
            run_id="r",
            episode_id=f"{case}:t0",
            case_id=case,
            source="bank",
            truth="Left pneumothorax",
            differential=["Left pneumothorax" if correct else "Asthma"],
            termination="diagnosed",
            top1_correct=correct,
            topk_correct=correct,
            retrieved=[{"diagnosis": neighbour, "rank": 1}],
            elicitation=Elicitation(facts=10, elicited=int(share * 10), share=share),
            totals=Totals(role_breaks=breaks),
        )

    records = [
        record("a", True, True, 0.4, 0),
        record("b", True, True, 0.2, 1),
        record("c", True, False, 0.3, 0),
        record("d", False, False, 0.1, 0),
    ]
    summary = summarise(records)
    retrieval, workup = summary["retrieval"], summary["workup"]
    assert retrieval["hit_rate"] == pytest.approx(0.75)
    assert retrieval["top1_when_hit"]["mean"] == pytest.approx(2 / 3) and retrieval["top1_when_hit"]["n"] == 3
    assert retrieval["top1_when_miss"]["mean"] == 0.0 and retrieval["top1_when_miss"]["n"] == 1
    assert workup["elicited_share"]["mean"] == pytest.approx(0.25)
    assert workup["role_breaks_per_episode"] == pytest.approx(0.25) and workup["episodes_with_role_break"] == 1
    page = render_report("run", records, summary)
    assert "when none did: 0.0%" in page and "25.0% [" in page and "0.25 per episode" in page


def test_summary_says_how_often_the_first_answer_copies_a_retrieved_case():
    """first_is_nearest: the first answer names the most similar retrieved case's diagnosis (the judge's rules
    decide, so a qualifier still counts); first_is_retrieved: it names any retrieved one."""
    from sim.core.records import EpisodeRecord

    neighbours = [
        {"diagnosis": "Hepatic hydrothorax", "similarity": 0.99},
        {"diagnosis": "Malignant pleural effusion", "similarity": 0.95},
    ]

    def record(case, answer, retrieved=neighbours):
        return EpisodeRecord(
            run_id="r",
            episode_id=f"{case}:t0",
            case_id=case,
            source="bank",
            truth="Malignant pleural effusion",
            differential=[answer, "Asthma"],
            termination="diagnosed",
            retrieved=retrieved,
        )

    records = [
        record("a", "Right hepatic hydrothorax"),
        record("b", "Malignant pleural effusion"),
        record("c", "Tuberculous pleural effusion"),
        record("d", "Asthma", retrieved=[]),
    ]
    retrieval = summarise(records)["retrieval"]
    assert retrieval["first_is_nearest"]["mean"] == pytest.approx(1 / 3) and retrieval["first_is_nearest"]["n"] == 3
    assert retrieval["first_is_retrieved"]["mean"] == pytest.approx(2 / 3)


def test_ablation_arms_cross_axes_and_give_each_bias_its_own_arm():
    from benchmark.ablation import ablation_arms

    arms = dict(ablation_arms(["retrieval", "bias"], {"bias": ["doctor:recency", "patient:self_diagnosis"]}))
    assert list(arms) == [
        "retrieval-off+no-bias",
        "retrieval-off+doctor-recency",
        "retrieval-off+patient-self_diagnosis",
        "retrieval-on+no-bias",
        "retrieval-on+doctor-recency",
        "retrieval-on+patient-self_diagnosis",
    ]
    assert arms["retrieval-on+patient-self_diagnosis"] == {
        "retrieval.enabled": True,
        "encounter.patient_bias": "self_diagnosis",
    }
    assert arms["retrieval-off+no-bias"] == {"retrieval.enabled": False}


def test_cli_ablate_on_bias_axis_biases_only_that_agent(bank, tmp_path):
    config = _one_answer_config(tmp_path)
    out = tmp_path / "biases"
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "--config",
            str(config),
            "bench",
            "ablate",
            "--axes",
            "bias",
            "--biases",
            "doctor:recency,patient:self_diagnosis",
            "--cases",
            str(bank),
            "--out",
            str(out),
            "--limit",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    arms = json.loads((out / "ablation.json").read_text())["arms"]
    names = [a["name"] for a in arms]
    assert names == ["no-bias", "doctor-recency", "patient-self_diagnosis"]
    assert [a["doctor_turns_mean"] for a in arms] == [1.0, 1.0, 1.0]  # the scripted doctor answers at once
    assert "doctor turns/episode" in (out / "report.html").read_text()
    table = runner.invoke(app, ["bench", "table", str(out)])
    assert table.exit_code == 0, table.output
    rows = [line.split(" | ")[0].strip("| ") for line in table.output.splitlines()[2:]]
    assert rows == names and "| – |" in table.output.splitlines()[2]  # the baseline has no difference
    (out / "ablation.json").unlink()  # an ablation still running: arms in the order they started
    partial = runner.invoke(app, ["bench", "table", str(out)])
    assert partial.output == table.output
    encounter = {n: json.loads((out / n / "config.json").read_text())["settings"]["encounter"] for n in names}
    assert [(encounter[n]["doctor_bias"], encounter[n]["patient_bias"]) for n in names] == [
        ("none", "none"),
        ("recency", "none"),
        ("none", "self_diagnosis"),
    ]
    bad = runner.invoke(
        app,
        [
            "--config",
            str(config),
            "bench",
            "ablate",
            "--axes",
            "bias",
            "--biases",
            "doctor:sleepy,nurse:recency",
            "--cases",
            str(bank),
            "--out",
            str(tmp_path / "x"),
        ],
    )
    assert bad.exit_code != 0 and "'doctor:sleepy': unknown doctor bias" in bad.output
    assert "'nurse:recency': write ROLE:BIAS" in bad.output and not (tmp_path / "x").exists()


def test_a_bias_reaches_the_biased_agents_prompt_only(tmp_path):
    from agents.prompts import bias_fragment
    from sim.encounter.runner import EncounterRunner
    from tests.helpers import small_case

    doctor, patient = ScriptedModel(["ASK: Where does it hurt?", "DIAGNOSIS: Pneumonia"]), ScriptedModel(["Here."])
    EncounterRunner(
        scripted_settings(tmp_path, patient_bias="self_diagnosis"), models={"doctor": doctor, "patient": patient}
    ).run(small_case())
    fragment = bias_fragment("patient", "self_diagnosis")
    assert fragment and fragment in patient.calls[0][0].content
    assert all(fragment not in m.content for call in doctor.calls for m in call)


def test_the_graph_does_not_count_what_the_patients_bias_asks_for_as_a_role_break(tmp_path):
    from sim.encounter.runner import EncounterRunner
    from tests.helpers import small_case

    fear = "I think I have lung cancer, I read about it online."
    for bias, flagged, calls in (("self_diagnosis", 0, 1), ("education", 1, 2)):
        doctor = ScriptedModel(["ASK: What worries you?", "DIAGNOSIS: Pneumonia"])
        patient = ScriptedModel([fear] * 2)  # one answer; a break is asked once more
        record = EncounterRunner(
            scripted_settings(tmp_path / bias, patient_bias=bias), models={"doctor": doctor, "patient": patient}
        ).run(small_case())
        assert (record.totals.role_breaks, len(patient.calls)) == (flagged, calls), bias


def test_a_run_recorded_before_a_setting_was_renamed_or_added_still_resumes(bank, tmp_path):
    """config.json of an older clinsim (encounter.top_k, no roles.doctor.vision) against today's settings: the
    same meaning, so --resume continues it; a setting whose value differs is still refused, by name."""
    from benchmark.api import RunConfig, run

    settings = scripted_settings(tmp_path)
    config = RunConfig(settings=settings, cases=load_cases(bank)[:2], out=tmp_path / "old", case_dir=bank)
    assert len(run(config, models=_models()).records) == 2
    recorded = json.loads((config.out / "config.json").read_text())
    encounter = recorded["settings"]["encounter"]
    encounter["top_k"] = encounter.pop("differential_size")
    del recorded["settings"]["roles"]["doctor"]["vision"]
    (config.out / "config.json").write_text(json.dumps(recorded))
    again = run(config.model_copy(update={"resume": True}), models=_models())
    assert again.outcome is not None and again.outcome.skipped == 2 and not again.failure
    changed = config.model_copy(update={"resume": True, "settings": settings.with_overrides({"encounter.turn_cap": 3})})
    with pytest.raises(InputError, match="settings.encounter.turn_cap"):
        run(changed, models=_models())


def test_an_ablation_arm_the_settings_refuse_is_said_before_any_arm_runs(bank, tmp_path):
    """vision on an embedded doctor is refused: with --axes vision the refusal names the arm and the setting,
    and the vision-off arm has not run first."""
    config = tmp_path / "clinsim.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[roles.patient]\nbackend = "scripted"\nscript = ["Here."]\n')
    out = tmp_path / "ablation"
    result = CliRunner().invoke(
        app,
        [
            "--config",
            str(config),
            "bench",
            "ablate",
            "--axes",
            "vision",
            "--cases",
            str(bank),
            "--out",
            str(out),
            "--limit",
            "1",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "arm vision-on: roles.doctor.vision: the embedded backend cannot take images" in result.output
    assert not out.exists()
