"""Harness overhead: what an encounter costs besides its model calls.

Episodes run through the real harness (`plan_episodes`, `make_runner_factory`, `run_episodes`, one at a
time) with scripted models that sleep a fixed time per call. Each call is timed around the model, so
model time is what the models really took (a sleep on a loaded machine overshoots; that is not charged
to the harness). Overhead per turn = (episode wall time - model time) / doctor turns, one value per
episode, reported as a distribution; a turn is one doctor action and the reply it gets. The run-level
figure also counts what happens between episodes (building the runner, writing the record with fsync).
CPU time per turn is the process CPU the run used (the models only sleep), the figure least moved by
other work on the machine.

The share of encounter time: with the embedded model's measured per-call latency L and the calls a turn
makes, share = overhead / (overhead + calls_per_turn * L).
"""

from __future__ import annotations

import time
from pathlib import Path

from agents.llm.base import ChatModel, Completion
from benchmark.harness import make_runner_factory, plan_episodes, run_episodes
from benchmark.perf.scripted import perf_settings, scripted_models
from benchmark.perf.stats import distribution
from sim.core.case import Case


class TimedModel:
    """Wraps a model; each completion's latency becomes the measured time of the call."""

    def __init__(self, inner: ChatModel):
        self.inner = inner
        self.name = inner.name

    def complete(self, messages, **options) -> Completion:
        started = time.perf_counter()
        completion = self.inner.complete(messages, **options)
        return completion.model_copy(update={"latency_s": time.perf_counter() - started})


def measure_harness(cases: list[Case], case_dir: Path, work_dir: Path, episodes: int, delay_s: float) -> dict:
    settings = perf_settings(work_dir / "harness-data")
    models: dict[str, ChatModel] = {role: TimedModel(model) for role, model in scripted_models(delay_s).items()}
    factory = make_runner_factory(settings, models=models)
    planned = plan_episodes(cases, case_dir, trials=-(-episodes // len(cases)), run_seed=0)[:episodes]
    run_dir = work_dir / "harness-run"
    run_dir.mkdir(parents=True, exist_ok=True)
    warm = planned[0]  # one unrecorded episode first: imports, the compiled graph and caches are ready
    factory().run(warm.case, warm.case_dir, run_id="perf-warm-up", seed=warm.seed)
    cpu, wall = time.process_time(), time.perf_counter()
    outcome = run_episodes(planned, run_dir, factory, run_id="perf-harness", concurrency=1)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    records = outcome.records
    failed = [r for r in records if r.termination == "error"]
    if failed:
        raise RuntimeError(f"{len(failed)} scripted episode(s) failed, e.g. {failed[0].error}")
    turns = sum(r.totals.doctor_turns for r in records)
    calls = sum(int(v["calls"]) for r in records for v in r.totals.by_role.values())
    model_s = sum(r.totals.llm_latency_s for r in records)
    per_turn_ms = [1000 * (r.totals.wall_s - r.totals.llm_latency_s) / r.totals.doctor_turns for r in records]
    return {
        "episodes": len(records),
        "delay_s": delay_s,
        "turns_per_episode": round(turns / len(records), 2),
        "calls_per_turn": round(calls / turns, 3),
        "overhead_ms_per_turn": distribution(per_turn_ms),
        "run_overhead_ms_per_turn": round(1000 * (wall - model_s) / turns, 3),
        "cpu_ms_per_turn": round(1000 * cpu / turns, 3),
        "wall_s": round(wall, 3),
        "model_s": round(model_s, 3),
    }


def overhead_share(harness: dict, embedded_call_s: float | None) -> float | None:
    """Median overhead as a share of a turn's time with the embedded model (None without its latency)."""
    if not embedded_call_s:
        return None
    overhead_s = harness["overhead_ms_per_turn"]["p50"] / 1000
    return round(overhead_s / (overhead_s + harness["calls_per_turn"] * embedded_call_s), 5)
