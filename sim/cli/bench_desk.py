"""`clinsim bench desk`: how well the measurement desk hears requests, on a hand-labelled request set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sim.cli.common import console, fail, fail_problems, settings
from sim.core.errors import InputError

DEFAULT_REQUESTS = Path("tests/data/desk_requests.jsonl")
DEFAULT_CASES = Path("../shared/data/agentclinic/agentclinic_medqa.jsonl")
SHOWN = ("right", "wrong", "partial", "missed")


def desk(
    requests: Annotated[
        Path, typer.Option("--requests", help="labelled requests (JSONL: line, kind, request, expect, why)")
    ] = DEFAULT_REQUESTS,
    cases: Annotated[
        Path, typer.Option("--cases", help="the case file the rows' `line` numbers refer to")
    ] = DEFAULT_CASES,
    semantic: Annotated[
        bool, typer.Option("--semantic/--no-semantic", help="let the desk also match by meaning (MiniLM)")
    ] = True,
    show: Annotated[
        str, typer.Option("--show", help="list the rows of these outcomes, comma-separated: wrong,partial,missed,right")
    ] = "",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="write the figures and every row's outcome to this file")
    ] = None,
) -> None:
    """Ask the measurement desk every labelled request and count its answers.

    Each answer is **right** (the acceptable section or sub-entry), **wrong** (another section, or anything
    for a request the case cannot answer), **partial** (a related node at the wrong granularity) or
    **missed** ("not available" although the case holds it). Figures are given over all rows, the rows whose
    answer is in the case, and the rows asking for something absent. Exit code 1 on bad input.
    """
    from benchmark.desk import OUTCOMES, cases_by_source_line, check_paths, evaluate, read_labelled
    from sim.encounter.build import Parts
    from sim.loaders import load_cases

    wanted = [s for s in (p.strip() for p in show.split(",")) if s]
    unknown = [s for s in wanted if s not in SHOWN]
    if unknown:
        fail(f"--show takes {', '.join(SHOWN)}; got {', '.join(unknown)}")
    if not cases.exists():
        fail(f"{cases}: case file not found (give --cases)")
    overrides = {"encounter": {"desk_semantic": semantic}}
    try:
        rows = read_labelled(requests)
        by_line = cases_by_source_line(load_cases(cases))
        check_paths(rows, by_line, str(requests))
    except InputError as error:
        fail_problems(error)
    parts = Parts(settings(overrides))
    encoder = parts.desk_encoder()

    from agents.measurement import LookupMeasurement

    with console.status(f"asking the desk {len(rows)} requests"):
        report = evaluate(rows, by_line, lambda case: LookupMeasurement(case, encoder=encoder))
    figures = report.figures()
    table = Table(title=f"measurement desk on {requests} ({len(rows)} rows, semantic {'on' if semantic else 'off'})")
    table.add_column("rows")
    table.add_column("n", justify="right")
    for outcome in OUTCOMES:
        table.add_column(outcome, justify="right")
    for name in ("all", "present", "absent"):
        group = figures[name]
        cells = [f"{group[o]} ({100 * group[o + '_share']:.1f}%)" if group["rows"] else "-" for o in OUTCOMES]
        table.add_row(name, str(group["rows"]), *cells)
    console.print(table)
    for scored in report.scored:
        if scored.outcome in wanted:
            row = scored.row
            console.print(
                f"[bold]{scored.outcome}[/] line {row.line} {row.kind}: {row.request!r} -> "
                f"{scored.returned or 'not available'} ({scored.method}); expected {row.expect or 'not available'}",
                highlight=False,
                markup=True,
                soft_wrap=True,
            )
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        detail = [
            {
                "line": s.row.line,
                "request": s.row.request,
                "expect": s.row.expect,
                "returned": s.returned,
                "outcome": s.outcome,
                "method": s.method,
            }
            for s in report.scored
        ]
        json_out.write_text(json.dumps({"figures": figures, "rows": detail}, indent=2) + "\n", encoding="utf-8")
        console.print(f"[dim]wrote {json_out}[/]")
