"""Concurrency: throughput of C concurrent episodes (the harness's `--concurrency`) against model servers.

The scripted OpenAI-compatible server of `scripted_server.py` (a fixed latency per request, requests served
in parallel, so the ideal speed-up is C), reached through the real `openai` backend; and the embedded
llama.cpp servers, each of which computes one request at a time: measured as one shared server, a server
per role, and a server per role and lane (C lanes for C episodes at once). Throughput is model calls per
second (episodes of a real model differ in length); speed-ups are against the first row, run before and
after the others (their mean), and each row records the load average when it started."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from agents.llm.base import ChatModel
from benchmark.harness import make_runner_factory, plan_episodes, run_episodes
from benchmark.perf.scripted import perf_settings
from benchmark.perf.stats import distribution
from sim.core.case import Case
from sim.core.config import Settings

EFFICIENCY_TARGET = 0.7


def measure_level(
    settings: Settings,
    models: dict[str, ChatModel],
    planned: list,
    run_dir: Path,
    level: int,
    judge: bool = False,
    retriever=None,
    processes: int = 1,
) -> dict:
    """The planned episodes at concurrency `level`: calls per second and the load when it started; with
    `judge`, also each encounter's wall time, its split (model calls vs the rest) and top-1 accuracy. With
    `processes` > 1 the episodes run in worker processes that build their models from `settings`."""
    run_dir.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    factory = make_runner_factory(settings, models=models, retriever=retriever) if processes == 1 else None
    started = time.perf_counter()
    execute = None
    if processes > 1:
        from benchmark.processes import process_executor

        execute = process_executor(settings, run_id=f"perf-{run_dir.name}", processes=processes, concurrency=level)
    records = run_episodes(
        planned, run_dir, factory, run_id=f"perf-{run_dir.name}", concurrency=level, execute=execute
    ).records
    wall = time.perf_counter() - started
    calls = sum(int(v["calls"]) for r in records for v in r.totals.by_role.values())
    errors = [r.error for r in records if r.termination == "error"]
    row: dict[str, Any] = {
        "concurrency": level,
        "episodes": len(records),
        "errors": len(errors),
        "calls": calls,
        "wall_s": round(wall, 2),
        "calls_per_s": round(calls / wall, 3),
        "episodes_per_s": round(len(records) / wall, 3),
        "load_avg_1m": None if load is None else round(load, 2),
    }
    if judge and records:
        walls = [r.totals.wall_s for r in records]
        row["encounter_s"] = distribution(walls)
        row["top1"] = round(sum(bool(r.verdict and r.verdict.top1_correct) for r in records) / len(records), 3)
        model_s = sum(r.totals.llm_latency_s for r in records)
        row["model_share"] = round(model_s / sum(walls), 4) if sum(walls) else None
        row["tokens_per_encounter"] = round(
            sum(r.totals.tokens_in + r.totals.tokens_out for r in records) / len(records)
        )
    if errors:
        row["first_error"] = errors[0]
    return row


def _plan(cases: list[Case], case_dir: Path, episodes: int) -> list:
    return plan_episodes(cases, case_dir, trials=-(-episodes // len(cases)), run_seed=0)[:episodes]


def with_speedups(rows: list[dict], repeat: dict) -> dict:
    """Speed-ups against the mean of the first row and its repeat (the machine's load drifts in a run)."""
    base = (rows[0]["calls_per_s"] + repeat["calls_per_s"]) / 2
    for row in rows:
        row["speedup"] = round(row["calls_per_s"] / base, 2) if base else None
        row["efficiency"] = (
            round(row["speedup"] * rows[0]["concurrency"] / row["concurrency"], 2) if row["speedup"] else None
        )
    return {"levels": rows, "first_level_again_calls_per_s": repeat["calls_per_s"]}


def run_levels(
    settings: Settings,
    models: dict[str, ChatModel],
    cases: list[Case],
    case_dir: Path,
    work_dir: Path,
    levels: list[int],
    episodes: int,
    processes: int = 1,
) -> dict:
    """Each level in turn, then the first level again; speed-ups against the mean of the two; with
    `processes` > 1, the highest level once more in that many worker processes. A level runs at least two
    episodes per worker (so every worker is busy for most of the level), and says what the harness itself
    cost: CPU per episode (its worker processes' included) and the process's peak memory during the level
    (its workers': the largest child process so far)."""
    import resource

    from benchmark.perf.store_child import peak_rss_mb, reset_peak_rss

    def children_cpu() -> float:  # worker processes count once they have ended (they are joined)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    rows: list[dict] = []
    runs = [(level, 1) for level in ([*levels, levels[0]] if len(levels) > 1 else levels)]
    runs += [(levels[-1], processes)] if processes > 1 and len(levels) > 1 else []
    for level, workers in runs:
        planned = _plan(cases, case_dir, max(episodes, 2 * level))
        fresh_peak = reset_peak_rss()  # else a full run reports the peak of the sections before this one
        cpu, child_cpu = time.process_time(), children_cpu()
        name = (f"c{level}-again" if rows and level == levels[0] and workers == 1 else f"c{level}") + (
            f"-p{workers}" if workers > 1 else ""
        )
        row = measure_level(settings, models, planned, work_dir / name, level, processes=workers)
        spent = time.process_time() - cpu + children_cpu() - child_cpu
        row["processes"] = workers
        row["harness_cpu_ms_per_episode"] = round(1000 * spent / max(1, row["episodes"]), 1)
        row["peak_rss_mb"] = peak_rss_mb()
        row["peak_rss_of"] = "this level" if fresh_peak else "the process so far"
        if workers > 1:
            row["worker_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
        rows.append(row)
    extra = [row for row in rows if row["processes"] > 1]
    rows = [row for row in rows if row["processes"] == 1]
    repeat = rows.pop() if len(levels) > 1 else rows[0]
    return with_speedups(rows + extra, repeat)


def scripted_server_levels(
    cases: list[Case],
    case_dir: Path,
    work_dir: Path,
    levels: list[int],
    episodes: int,
    latency_s: float,
    processes: int = 1,
) -> dict:
    from agents.llm.registry import model_for_role
    from benchmark.perf.scripted_server import MODEL, scripted_server

    with scripted_server(latency_s) as server:
        remote = perf_settings(
            work_dir / "data",
            **{
                f"roles.{role}.{key}": value
                for role in ("doctor", "patient")
                for key, value in (
                    ("backend", "openai"),
                    ("model", MODEL),
                    ("base_url", server.base_url),
                    ("api_key_env", ""),
                )
            },
        )
        models = {role: model_for_role(remote, role) for role in ("doctor", "patient")}
        result = run_levels(remote, models, cases, case_dir, work_dir / "scripted", levels, episodes, processes)
        peak = server.stats()["peak_in_flight"]
    rows = result["levels"]
    return {
        "latency_s": latency_s,
        **result,
        "peak_in_flight": peak,
        "met": all(r["efficiency"] is not None and r["efficiency"] >= EFFICIENCY_TARGET for r in rows),
    }


def embedded_levels(
    settings: Settings,
    cases: list[Case],
    case_dir: Path,
    work_dir: Path,
    levels: list[int],
    episodes: int,
    turn_cap: int,
) -> dict:
    """The same episodes with one shared slot for every role (C=1, the roles evict each other's evaluated
    transcript), a slot per role (C=1, the default), and a slot per role and lane at each higher level C;
    then the shared C=1 again. `settings` say how to start the server and whether retrieval runs; each row
    also says how long an encounter took, its accuracy, and where the time went."""
    from agents.llm.embedded_server import running_server
    from agents.llm.embedded_slots import EmbeddedRoleModel
    from benchmark.perf.embedded_latency import embedded_models
    from benchmark.perf.server_log import log_offset, timings_by_role
    from sim.encounter import build

    retriever = build.retriever(settings, lambda message: None)  # the data directory's store, when filled
    short = settings.model_copy(update={"encounter": settings.encounter.model_copy(update={"turn_cap": turn_cap})})
    planned = _plan(cases, case_dir, episodes)

    def measure(servers: str, level: int, name: str) -> dict:
        started = settings.model_copy(
            update={"embedded": settings.embedded.model_copy(update={"servers": servers, "lanes": level})}
        )
        models = embedded_models(started)
        for model in models.values():
            assert isinstance(model, EmbeddedRoleModel)  # the embedded backend's model
            model.start_lanes()
        doctor = models["doctor"]
        assert isinstance(doctor, EmbeddedRoleModel)
        server = running_server(doctor.base_url)
        log = server.log_file if server else None
        offset = log_offset(log)
        row = measure_level(
            short, models, planned, work_dir / "embedded" / name, level, judge=True, retriever=retriever
        )
        if server is not None:
            row["by_role"] = timings_by_role(log, offset, server.slot_names())
            row["server_peak_rss_mb"] = server.peak_rss_mb()
            if level == 2:
                row["decode_batching"] = decode_batching(server, sorted(server.slot_names().values())[:2])
        return {"servers": servers, **row}

    rows = [measure("shared", 1, "shared-c1"), measure("per-role", 1, "per-role-c1")]
    rows += [measure("per-role", level, f"per-role-c{level}") for level in levels if level > 1]
    repeat = measure("shared", 1, "shared-c1-again")
    return {
        "turn_cap": turn_cap,
        "retrieval": retriever is not None,
        **with_speedups(rows, repeat),
        "note": "one llama-server process: a slot per role keeps each role's transcript evaluated; lanes give "
        "concurrent episodes slots of their own, decoded together in one batch",
    }


def decode_batching(server, slots: list[int], tokens: int = 128) -> dict:
    """What one batch of two decode streams buys on this machine, the ceiling of C=2 if generation were all an
    encounter did (prompt evaluation is compute-bound and gains nothing): two generation-only requests on two
    slots of `server` (a running `LlamaServer`) one after the other, then together."""

    def generate(slot: int) -> None:
        server.post(
            "/completion",
            {
                "prompt": f"Case {slot}:",
                "n_predict": tokens,
                "temperature": 0,
                "ignore_eos": True,
                "cache_prompt": False,
                "id_slot": slot,
            },
        )

    generate(slots[0])  # warm-up
    started = time.perf_counter()
    for slot in slots:
        generate(slot)
    one_after_other = time.perf_counter() - started
    started = time.perf_counter()
    with ThreadPoolExecutor(len(slots)) as pool:
        list(pool.map(generate, slots))
    together = time.perf_counter() - started
    return {
        "tokens_each": tokens,
        "one_after_the_other_s": round(one_after_other, 2),
        "together_s": round(together, 2),
        "speedup": round(one_after_other / together, 2),
    }
