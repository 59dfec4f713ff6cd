"""`clinsim replay`: step through a stored encounter, or re-execute a whole run from its recordings."""

from __future__ import annotations

from pathlib import Path

import click
import typer
from rich.table import Table

from sim.cli.common import console, fail, fail_problems
from sim.cli.transcript_view import print_turn, print_verdict
from sim.core.errors import InputError


def replay(
    run_dir: Path = typer.Argument(..., help="run directory with episodes.jsonl"),
    episode: str = typer.Option(None, "--episode", "-e", help="episode id (default: the first; see --list)"),
    list_episodes: bool = typer.Option(False, "--list", help="list the run's episodes and exit"),
    show_all: bool = typer.Option(False, "--all", help="print the whole encounter instead of stepping"),
    rerun: bool = typer.Option(
        False,
        "--rerun",
        help="re-execute the run from its recorded responses (no model) and check the records are identical",
    ),
    out: Path = typer.Option(None, "--out", help="--rerun: where to write the new run (default: RUN_DIR-rerun)"),
) -> None:
    """Show a stored encounter turn by turn (Enter: next, a: all, q: quit), with the retrieved cases and
    experiences at each step; or re-execute a recorded run with --rerun."""
    from sim.core.records import read_records

    if rerun:
        _rerun(run_dir, out or run_dir.with_name(run_dir.name + "-rerun"))
        return
    try:
        records = read_records(run_dir / "episodes.jsonl")
    except InputError as error:
        fail_problems(error)
    if not records:
        fail(f"{run_dir / 'episodes.jsonl'}: no episodes")
    if list_episodes:
        table = Table(title=f"{len(records)} episodes in {run_dir}")
        for column in ("episode", "termination", "top-1", "truth", "differential"):
            table.add_column(column, overflow="fold")
        for r in records:
            table.add_row(
                r.episode_id, r.termination, "yes" if r.top1_correct else "no", r.truth, "; ".join(r.differential)
            )
        console.print(table)
        return
    record = next((r for r in records if r.episode_id == episode), None) if episode else records[0]
    if record is None:
        fail(f"{run_dir}: no episode '{episode}' (see --list)")
    console.rule(
        f"{record.episode_id} · {record.source} · models: "
        + ", ".join(f"{k}={v.model}" for k, v in record.models.items())
    )
    if record.experiences:
        console.print("[bold]Past encounters shown to the doctor:[/]")
        for item in record.experiences:
            console.print(
                f"  {item.get('case_id')}: answer {item.get('truth')} ({'right' if item.get('correct') else 'wrong'}), similarity {item.get('score')}"
            )
    stepping = not show_all and console.is_terminal
    for turn in record.turns:
        print_turn(turn)
        if turn.role == "retrieval":
            _print_retrieved(turn.meta.get("items", []))
        if stepping and turn is not record.turns[-1]:
            key = click.getchar()
            if key in ("q", "Q"):
                return
            if key in ("a", "A"):
                stepping = False
    print_verdict(record)


def _print_retrieved(items: list[dict]) -> None:
    if not items:
        return
    table = Table(show_header=True, header_style="magenta")
    for column in ("case", "diagnosis", "similarity", "OOD", "report"):
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(
            str(item.get("case_id", "")),
            str(item.get("diagnosis", "")),
            f"{item.get('score', 0):.3f}",
            "yes" if item.get("ood") else "no",
            str(item.get("report", item.get("excerpt", "")))[:120],
        )
    console.print(table)


def _rerun(run_dir: Path, out: Path) -> None:
    from benchmark.rerun import rerun

    try:
        with console.status(f"re-executing {run_dir} from its recorded responses ..."):
            result = rerun(run_dir, out)
    except InputError as error:
        fail_problems(error)
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    if result.identical == result.total:
        console.print(
            f"[green]identical:[/] {result.identical} of {result.total} episode records reproduced exactly -> {out}"
        )
        return
    console.print(
        f"[red]differs:[/] {result.identical} of {result.total} identical; different: {', '.join(result.differences[:10])}"
    )
    raise typer.Exit(1)
