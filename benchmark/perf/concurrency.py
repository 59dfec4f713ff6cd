"""Concurrency: throughput of C concurrent episodes (the harness's `--concurrency`) against one model server.

Two servers: the scripted OpenAI-compatible server of `scripted_server.py` (a fixed latency per request,
requests served in parallel, so the ideal speed-up is C), reached through the real `openai` backend; and
the embedded llama.cpp server, which computes one request at a time, so it is saturated by one episode
and the expected speed-up is about 1 whatever C. Throughput is model calls per second (episodes of a
real model differ in length); the speed-up is against C=1 in the same run, run before and after the
other levels (their mean), and each level records the load average when it started.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from agents.llm.base import ChatModel
from benchmark.harness import make_runner_factory, plan_episodes, run_episodes
from benchmark.perf.scripted import perf_settings
from sim.case import Case
from sim.config import Settings

EFFICIENCY_TARGET = 0.7


def run_levels(settings: Settings, models: dict[str, ChatModel], cases: list[Case], case_dir: Path, work_dir: Path,
               levels: list[int], episodes: int) -> dict:
    """Each level in turn, then the first level again: the machine's load drifts during a run, so the
    speed-ups are against the mean of the two first-level runs (both are reported)."""
    planned = plan_episodes(cases, case_dir, trials=-(-episodes // len(cases)), run_seed=0)[:episodes]

    def run(level: int, name: str) -> dict:
        run_dir = work_dir / name
        run_dir.mkdir(parents=True, exist_ok=True)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        factory = make_runner_factory(settings, models=models)
        started = time.perf_counter()
        records = run_episodes(planned, run_dir, factory, run_id=f"perf-{name}", concurrency=level).records
        wall = time.perf_counter() - started
        calls = sum(int(v["calls"]) for r in records for v in r.totals.by_role.values())
        errors = [r.error for r in records if r.termination == "error"]
        row = {"concurrency": level, "episodes": len(records), "errors": len(errors), "calls": calls,
               "wall_s": round(wall, 2), "calls_per_s": round(calls / wall, 3),
               "episodes_per_s": round(len(records) / wall, 3), "load_avg_1m": None if load is None else round(load, 2)}
        if errors:
            row["first_error"] = errors[0]
        return row

    rows = [run(level, f"c{level}") for level in levels]
    repeat = run(levels[0], f"c{levels[0]}-again") if len(levels) > 1 else rows[0]
    base = (rows[0]["calls_per_s"] + repeat["calls_per_s"]) / 2
    for row in rows:
        row["speedup"] = round(row["calls_per_s"] / base, 2) if base else None
        row["efficiency"] = round(row["speedup"] * levels[0] / row["concurrency"], 2) if row["speedup"] else None
    return {"levels": rows, "first_level_again_calls_per_s": repeat["calls_per_s"]}


def scripted_server_levels(cases: list[Case], case_dir: Path, work_dir: Path, levels: list[int], episodes: int,
                           latency_s: float) -> dict:
    from agents.llm.registry import model_for_role
    from benchmark.perf.scripted_server import MODEL, scripted_server

    with scripted_server(latency_s) as server:
        remote = perf_settings(work_dir / "data", **{f"roles.{role}.{key}": value for role in ("doctor", "patient")
                                                     for key, value in (("backend", "openai"), ("model", MODEL),
                                                                        ("base_url", server.base_url), ("api_key_env", ""))})
        models = {role: model_for_role(remote, role) for role in ("doctor", "patient")}
        result = run_levels(remote, models, cases, case_dir, work_dir / "scripted", levels, episodes)
        peak = server.counter.peak
    rows = result["levels"]
    return {"latency_s": latency_s, **result, "peak_in_flight": peak,
            "met": all(r["efficiency"] is not None and r["efficiency"] >= EFFICIENCY_TARGET for r in rows)}


def embedded_levels(settings: Settings, cases: list[Case], case_dir: Path, work_dir: Path, levels: list[int],
                    episodes: int, turn_cap: int) -> dict:
    """`settings` says how to start the embedded server; the encounters use the measured-run settings."""
    from benchmark.perf.embedded_latency import embedded_models

    short = perf_settings(work_dir / "data", **{"encounter.turn_cap": turn_cap})
    result = run_levels(short, embedded_models(settings), cases, case_dir, work_dir / "embedded", levels, episodes)
    return {"turn_cap": turn_cap, **result,
            "note": "the llama.cpp server computes one request at a time: it is saturated at C=1, so ~1x is expected"}
