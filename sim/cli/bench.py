"""`clinsim bench ...`: the benchmark command group. Each command is a function in its own module; this
module only names them (the command modules never import it)."""

from __future__ import annotations

from sim.cli import bench_desk, bench_judge, bench_perf, bench_retrieval, bench_run
from sim.cli.common import command_group

app = command_group(
    "Benchmarks: runs, ablations, comparisons, reports, retrieval, the measurement desk, the judge, performance."
)

for name, command in (
    ("run", bench_run.bench_run),
    ("ablate", bench_run.bench_ablate),
    ("compare", bench_run.bench_compare),
    ("report", bench_run.bench_report),
    ("table", bench_run.bench_table),
    ("learn", bench_run.bench_learn),
    ("rejudge", bench_run.bench_rejudge),
    ("retrieval", bench_retrieval.retrieval),
    ("desk", bench_desk.desk),
    ("judge", bench_judge.judge),
    ("perf", bench_perf.perf),
):
    app.command(name)(command)
