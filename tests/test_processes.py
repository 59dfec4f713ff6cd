"""Episodes in worker processes (benchmark/processes.py): the same records as in one process, one writer,
and a clear refusal where processes cannot work."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from benchmark.harness import make_runner_factory, plan_episodes, prepare_run_dir, run_config, run_episodes
from benchmark.processes import process_executor, processes_refusal
from sim.bank import generate_bank
from sim.cli.main import app
from sim.core.config import load_settings
from sim.core.records import read_records
from sim.loaders import load_cases
from tests.helpers import stable_record


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    out = tmp_path_factory.mktemp("bank")
    generate_bank(6, 5, out)
    return out


def _scripted(tmp_path, **extra):
    values = {
        "data_dir": str(tmp_path / "data"),
        "encounter.llm_judge": False,
        "encounter.patient_opens": False,
        "strategy.deliberate": False,
        "retrieval.enabled": False,
        "roles.doctor.backend": "scripted",
        "roles.doctor.script": ["DIAGNOSIS: Cardiomegaly"],  # same reply in any order
        "roles.patient.backend": "scripted",
        "roles.patient.script": ["Here."],
    }
    values.update(extra)
    return load_settings(None, values)


def test_worker_processes_give_the_records_of_one_process(bank, tmp_path):
    settings = _scripted(tmp_path)
    episodes = plan_episodes(load_cases(bank), bank, 2, run_seed=3)
    outcomes = {}
    for processes in (1, 2):
        out = tmp_path / f"p{processes}"
        prepare_run_dir(out, run_config(settings, {"trials": 2}), resume=False)
        factory = make_runner_factory(settings) if processes == 1 else None
        execute = process_executor(settings, run_id="r", processes=2, concurrency=4) if processes == 2 else None
        outcomes[processes] = run_episodes(episodes, out, factory, run_id="r", concurrency=4, execute=execute)
    key = lambda r: (r.case_id, r.trial)
    one, two = (sorted(outcomes[p].records, key=key) for p in (1, 2))
    assert len(one) == len(two) == 12 and not outcomes[2].interrupted
    assert [stable_record(r) for r in one] == [stable_record(r) for r in two]
    assert sorted(map(key, read_records(tmp_path / "p2" / "episodes.jsonl"))) == sorted(map(key, one))
    done = {e.key for e in episodes}  # a resumed run with nothing left starts no worker
    again = run_episodes(
        episodes,
        tmp_path / "p2",
        None,
        run_id="r",
        done=done,
        execute=process_executor(settings, run_id="r", processes=2, concurrency=4),
    )
    assert again.skipped == 12 and not again.records


def test_processes_are_refused_where_they_cannot_work(tmp_path):
    assert processes_refusal(_scripted(tmp_path)) is None
    embedded = _scripted(tmp_path, **{"roles.patient.backend": "embedded"})
    assert "embedded model plays patient" in processes_refusal(embedded)
    assert "experience" in processes_refusal(_scripted(tmp_path, **{"experience.enabled": True}))
    assert "Python objects" in processes_refusal(_scripted(tmp_path), models={"doctor": object()})


def test_cli_run_with_processes_and_a_refusal(bank, tmp_path):
    config = tmp_path / "clinsim.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[retrieval]\nenabled = false\n'
        '[roles.doctor]\nbackend = "scripted"\nscript = ["DIAGNOSIS: Cardiomegaly"]\n'
        '[roles.patient]\nbackend = "scripted"\nscript = ["Yes."]\n[encounter]\nllm_judge = false\n'
    )
    runner = CliRunner()
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "--config",
            str(config),
            "bench",
            "run",
            "--cases",
            str(bank),
            "--out",
            str(out),
            "-j",
            "4",
            "--processes",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["episodes"] == 6
    refused = runner.invoke(
        app,
        [
            "--config",
            str(config),
            "bench",
            "run",
            "--cases",
            str(bank),
            "--out",
            str(tmp_path / "x"),
            "--processes",
            "2",
            "--patient-model",
            "embedded",
        ],
    )
    assert refused.exit_code == 1 and "embedded model plays patient" in refused.output, refused.output
    assert "Traceback" not in refused.output and not (tmp_path / "x").exists()
