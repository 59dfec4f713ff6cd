"""Memory: peak resident memory of a scripted N-episode run, measured in a process of its own.

Run as `python -m benchmark.perf.memory BANK_DIR EPISODES WORK_DIR`: it prints one JSON line with the
resident memory after the imports (what any clinsim process pays) and the peak over the run. The store's
query process is measured by the store benchmark itself (`store_child.py`, `peak_rss_mb`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agents.llm.base import ChatModel


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def measure_episode_memory(bank: Path, episodes: int, work_dir: Path, timeout_s: float = 1800) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "benchmark.perf.memory", str(bank), str(episodes), str(work_dir)],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"the {episodes}-episode memory run failed: {tail}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _main(bank: Path, episodes: int, work_dir: Path) -> dict:
    from benchmark.harness import make_runner_factory, plan_episodes, run_episodes
    from benchmark.perf.scripted import perf_settings, scripted_models
    from benchmark.perf.store_child import peak_rss_mb
    from sim.loaders import load_cases

    cases = load_cases(bank)
    after_imports = current_rss_mb()
    planned = plan_episodes(cases, bank, trials=-(-episodes // len(cases)), run_seed=0)[:episodes]
    run_dir = work_dir / "memory-run"
    run_dir.mkdir(parents=True, exist_ok=True)
    models: dict[str, ChatModel] = dict(scripted_models())
    factory = make_runner_factory(perf_settings(work_dir / "memory-data"), models=models)
    outcome = run_episodes(planned, run_dir, factory, run_id="perf-memory", concurrency=1)
    return {"episodes": len(outcome.records), "rss_after_imports_mb": after_imports, "peak_rss_mb": peak_rss_mb()}


if __name__ == "__main__":
    print(json.dumps(_main(Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))))
