"""`clinsim bench ...`: the benchmark command group. Each command lives in its own module and registers
itself on `app` (imported at the bottom so the modules can import `app` from here)."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Benchmarks: runs, ablations, comparisons, reports, retrieval, performance.")

from sim.cli import bench_run  # noqa: E402,F401  (registers run, ablate, compare, report)
from sim.cli import bench_retrieval  # noqa: E402,F401  (registers retrieval)
from sim.cli import bench_perf  # noqa: E402,F401  (registers perf)
