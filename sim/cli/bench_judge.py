"""`clinsim bench judge`: the rule judge's agreement with hand-written labels on look-alike bank answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sim.cli.common import console, fail, fail_problems
from sim.core.errors import InputError

DEFAULT_LABELS = Path("tests/data/judge_lookalike.jsonl")


def judge(
    labels: Annotated[
        Path, typer.Option("--labels", help="labelled answers (JSONL: answer, truth, correct, reason, source)")
    ] = DEFAULT_LABELS,
    show: Annotated[bool, typer.Option("--show", help="list the rows where the judge and the label differ")] = False,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="write the figures and every row's outcome to this file")
    ] = None,
) -> None:
    """Judge every labelled answer (rules only, no LLM) and count where the judge agrees with the label.

    A **false accept** is an answer the judge calls right and the label wrong (a look-alike passed as the
    cause); a **false reject** the other way (an alias or a qualified name refused). Exit code 1 on bad input,
    0 otherwise: the figure is a measurement, `tests/test_judge_labels.py` holds the bar.
    """
    from benchmark.judge_agreement import agreement, read_labelled_verdicts

    if not labels.exists():
        fail(f"{labels}: labelled answers not found (give --labels)")
    try:
        rows = read_labelled_verdicts(labels)
    except InputError as error:
        fail_problems(error)
    result = agreement(rows)
    ci = result.agreement
    table = Table(title=f"rule judge against {result.rows} labelled answers ({labels})")
    for column in ("agreement [95% CI]", "false accepts", "false rejects", "labelled right"):
        table.add_column(column)
    table.add_row(
        f"{100 * ci['mean']:.1f}% [{100 * ci['lo']:.1f}, {100 * ci['hi']:.1f}]",
        str(result.false_accepts),
        str(result.false_rejects),
        str(sum(r.correct for r in rows)),
    )
    console.print(table)
    if show:
        for judged in result.judged:
            if judged.outcome != "agree":
                row = judged.row
                console.print(
                    f"[yellow]{judged.outcome}[/] {row.answer!r} for {row.truth!r} (judge: {judged.method}); "
                    f"label: {row.reason}",
                    highlight=False,
                )
    if json_out is not None:
        json_out.write_text(json.dumps(result.model_dump(), indent=1) + "\n", encoding="utf-8")
