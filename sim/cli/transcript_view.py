"""Printing an encounter as it happens (and the verdict) with rich."""

from __future__ import annotations

from rich.panel import Panel

from sim.cli.common import console
from sim.core.records import EpisodeRecord
from sim.core.transcript import Turn

STYLES = {"doctor": "bold cyan", "patient": "green", "measurement": "yellow", "retrieval": "magenta", "judge": "bold"}


def print_turn(turn: Turn) -> None:
    style = STYLES.get(turn.role, "")
    label = turn.role.upper() + (" (you)" if turn.human else "")
    notes = []
    if turn.parse in ("repaired", "fallback", "forced"):
        notes.append(f"parse: {turn.parse}")
    tokens = sum(c.tokens_in + c.tokens_out for c in turn.calls)
    if tokens:
        notes.append(f"{tokens} tok, {sum(c.latency_s for c in turn.calls):.1f}s")
    suffix = f"  [dim]({'; '.join(notes)})[/]" if notes else ""
    console.print(f"[{style}]{label}[/]{suffix}")
    console.print(turn.text, markup=False, highlight=False)
    for image in turn.images:
        console.print(f"  [dim]image: {image}[/]")
    if turn.raw and turn.role == "doctor":
        console.print(f"  [dim]raw reply: {' '.join(turn.raw.split())[:200]}[/]", markup=True, highlight=False)


def print_verdict(record: EpisodeRecord) -> None:
    verdict = record.verdict
    if record.top1_correct:
        headline = "[bold green]CORRECT[/]"
    elif record.topk_correct:
        headline = f"[bold yellow]CORRECT IN TOP-{verdict.k if verdict else '?'}[/]"
    elif record.termination == "error":
        headline = "[bold red]ERROR[/]"
    else:
        headline = "[bold red]INCORRECT[/]"
    lines = [
        f"{headline}   termination: {record.termination}",
        f"differential: {'; '.join(record.differential) or '(none)'}",
        f"true diagnosis: {record.truth}",
    ]
    if verdict is not None and verdict.reason:
        lines.append(f"judge: {verdict.reason}")
    if record.error:
        lines.append(f"[red]error: {record.error}[/]")
    t = record.totals
    lines.append(
        f"doctor turns {t.doctor_turns} (questions {t.questions}, tests {t.tests}, images {t.images}); "
        f"repairs {t.repairs}, fallbacks {t.fallbacks}; tokens {t.tokens_in} in / {t.tokens_out} out; "
        f"{t.wall_s:.1f}s"
    )
    console.print(Panel("\n".join(lines), title=f"case {record.case_id}", expand=False))
