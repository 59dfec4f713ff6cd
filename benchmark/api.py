"""The Python run API: one call runs a set of cases and leaves a complete run directory behind.

    from benchmark.api import run
    result = run(settings, cases, Path("runs/mine"), trials=3, concurrency=2)
    print(result.summary["top1"])

`clinsim bench run`, each arm of `bench ablate` and `bench learn`, and notebooks all go through here, so
they build the same parts (sim/encounter/build.py) and write the same files: config.json, episodes.jsonl
(appended as episodes finish), summary.json and report.html (written even when the run fails).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agents.llm.base import ChatModel
from benchmark.harness import (
    EPISODES_FILE,
    Progress,
    RunOutcome,
    check_run_dir,
    make_runner_factory,
    plan_episodes,
    prepare_run_dir,
    run_config,
    run_episodes,
)
from benchmark.learner import make_learner
from benchmark.metrics import summarise
from benchmark.report import render_report, write_report
from sim.core.case import Case
from sim.core.config import Settings
from sim.core.errors import InputError, Problem
from sim.core.records import EpisodeRecord, read_records
from sim.encounter import build


class ModelStartError(RuntimeError):
    """A role's model could not be made or started; `role` says which (nothing was written)."""

    def __init__(self, role: str, error: Exception):
        super().__init__(f"{role}: {error}")
        self.role = role
        self.error = error


@dataclass
class RunResult:
    out: Path
    summary: dict
    records: list[EpisodeRecord]
    outcome: RunOutcome | None = None
    failure: str | None = None  # the run itself stopped (failed episodes are recorded, not this)
    notes: list[str] = field(default_factory=list)

    @property
    def interrupted(self) -> bool:
        return bool(self.outcome and self.outcome.interrupted)


def run(
    settings: Settings,
    cases: list[Case],
    out: Path,
    *,
    case_dir: Path | None = None,
    trials: int = 1,
    seed: int = 0,
    concurrency: int = 1,
    processes: int = 1,
    resume: bool = False,
    experience_from: Path | None = None,
    record_responses: bool = False,
    params: dict | None = None,
    models: dict[str, ChatModel] | None = None,
    title: str | None = None,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[Progress, EpisodeRecord], None] | None = None,
    notify: Callable[[str], None] = lambda message: None,
) -> RunResult:
    """Run every (case, trial) not yet recorded in `out`. Raises InputError for a directory this run must not
    write to (checked before any model starts) and ModelStartError when a model cannot start; after that,
    every outcome (finished, interrupted, failed) leaves summary.json and report.html. `processes` > 1 runs
    the episodes in worker processes (remote models only: benchmark/processes.py says why; InputError
    otherwise)."""
    # What identifies the run (config.json): the caller's parameters (the case source, say) and these.
    params = {"trials": trials, "seed": seed, "concurrency": concurrency, **(params or {})}
    config = run_config(settings, params)
    models = {} if models is None else models
    wrap = None
    if record_responses:
        from benchmark.recording import RESPONSES_FILE, RecordingModel, ResponseLog

        log = ResponseLog(out / RESPONSES_FILE)
        wrap = lambda role, model: RecordingModel(model, role, log)
    # The run directory is checked, then the models start, and only then is anything written: a refused
    # directory costs no server start, and a model that cannot start leaves no half-made run behind.
    if processes > 1:
        from benchmark.processes import processes_refusal

        if refusal := processes_refusal(settings, models, record_responses):
            raise InputError([Problem("--processes", None, "processes", refusal)])
    check_run_dir(out, config, resume)
    retriever = build.retriever(settings, notify)
    notify("starting models...")
    try:
        make_runner_factory(settings, models=models, wrap=wrap)
    except Exception as error:  # a settings problem or a server that will not start
        raise ModelStartError(next((r for r in ("doctor", "patient", "judge") if r not in models), "a"), error) from error
    done = prepare_run_dir(out, config, resume)
    provider, store = build.experience(settings, out, [c.id for c in cases], experience_from, notify)
    learner = make_learner(store, settings.experience.lessons, models)
    episodes = plan_episodes(cases, case_dir, trials, seed)
    factory = make_runner_factory(settings, models=models, retriever=retriever, experience=provider)
    result = RunResult(out=out, summary={}, records=[])
    try:
        if on_start:
            on_start(len(episodes) - len(done & {e.key for e in episodes}))
        execute = None
        if processes > 1:
            from benchmark.processes import process_executor

            execute = process_executor(settings, run_id=out.name, processes=processes, concurrency=concurrency)
        result.outcome = run_episodes(episodes, out, factory, run_id=out.name, concurrency=concurrency, done=done,
                                      on_progress=on_progress, learner=learner, execute=execute,
                                      outage_window_s=settings.run.outage_window_s)
        result.failure = result.outcome.stopped
    except Exception as error:  # noqa: BLE001 - the summary and report below are still written
        result.failure = str(getattr(error, "cause", error))
    finally:
        result.records = read_records(out / EPISODES_FILE) if (out / EPISODES_FILE).exists() else []
        result.summary = summarise(result.records)
        try:
            (out / "summary.json").write_text(json.dumps(result.summary, indent=2), encoding="utf-8")
            write_report(out / "report.html", render_report(title or f"run {out.name}", result.records,
                                                            result.summary, config))
        except OSError as error:  # a full disk: the records are what counts; `bench report` writes these later
            result.failure = "; ".join(filter(None, [result.failure, f"summary and report not written: {error}"]))
    return result
