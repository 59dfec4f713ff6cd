"""`clinsim run`: one encounter, streamed live, its verdict printed and its record written."""

from __future__ import annotations

import random
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.prompt import Prompt

from sim.cli.common import ExitCode, console, fail, fail_model, fail_problems, settings
from sim.cli.options import (
    DEFAULT_BANK_SIZE,
    DoctorFlags,
    ImageDir,
    ModelFlags,
    SkipMissingImages,
    load_with_skips,
    with_groups,
)
from sim.cli.transcript_view import print_turn, print_verdict
from sim.core.errors import InputError

HUMAN_HINTS = {
    "doctor": "Your move: a question, or TEST: name, IMAGE: name, DIAGNOSIS: a; b; c  (/quit to stop)",
    "patient": "Answer as the patient (/quit to stop)",
    "measurement": "Answer as the measurement agent; Enter accepts the lookup shown (/quit to stop)",
}


def ask_in_terminal(payload: dict) -> str:
    role = payload.get("role", "?")
    if role == "measurement" and payload.get("suggestion"):
        console.print(f"[dim]lookup says:[/] {payload['suggestion']['text']}", markup=True, highlight=False)
    if payload.get("final_turn") and role == "doctor":
        console.print("[bold]Last turn: give your DIAGNOSIS.[/]")
    hint = f"[bold]{HUMAN_HINTS.get(role, role)}[/]\n>"
    return Prompt.ask(hint, default="") if role == "measurement" else Prompt.ask(hint)


@with_groups
def run(
    *,
    cases: Path = typer.Option(None, "--cases", help="case file or bank folder (default: the bank in the data dir)"),
    case_id: str = typer.Option(None, "--case-id", help="id of the case to run (default: the first)"),
    pick_random: bool = typer.Option(False, "--random", help="pick a random case (uses --seed)"),
    out: Path = typer.Option(None, "--out", help="run directory for episodes.jsonl (default: DATA_DIR/runs/...)"),
    human: list[str] = typer.Option([], "--human", help="seat(s) you play: doctor, patient, measurement"),
    seed: int = typer.Option(0, "--seed", help="seed sent to the models and used by --random"),
    fetch_images: bool = typer.Option(False, "--fetch-images", help="download remote case images (NEJM) when online"),
    image_dir: Path = ImageDir,
    skip_missing_images: bool = SkipMissingImages,
    doctor: DoctorFlags,
    models: ModelFlags,
) -> None:
    """Run one encounter: the transcript streams live, then the verdict; the record goes to episodes.jsonl."""
    from sim.core.config import SEATS
    from sim.core.records import append_record
    from sim.encounter import build
    from sim.encounter.runner import EncounterRunner

    cfg = settings({**models.overrides(), **doctor.overrides()})
    bad_seats = sorted(set(human) - set(SEATS))
    if bad_seats:
        fail(f"--human: unknown seat(s) {', '.join(bad_seats)}; choose from {', '.join(SEATS)}")
    source = cases or cfg.data_dir / "bank"
    if cases is None:  # the data directory's bank, generated on first use (as `clinsim demo` does)
        from sim.bank.generate import BankMismatch, ensure_bank

        try:
            with console.status(f"generating a {DEFAULT_BANK_SIZE}-case bank in {source} (once) ..."):
                ensure_bank(source, DEFAULT_BANK_SIZE, 0)
        except BankMismatch as error:
            fail(str(error))
    try:
        images: dict[str, Any] = (
            {"image_dir": image_dir, "missing_images": "skip" if skip_missing_images else "error"} if image_dir else {}
        )
        loaded = load_with_skips(
            source, fetch_images=fetch_images, image_cache=cfg.data_dir / "cache" / "images", **images
        )
    except InputError as error:
        fail_problems(error)
    if case_id:
        matches = [c for c in loaded if c.id == case_id]
        if not matches:
            fail(f"{source}: no case with id '{case_id}' ({len(loaded)} cases; see `clinsim cases show`)")
        case = matches[0]
    else:
        case = random.Random(seed).choice(loaded) if pick_random else loaded[0]
    case_dir = source if source.is_dir() else source.parent
    run_dir = out or cfg.data_dir / "runs" / f"{datetime.now():%Y%m%d-%H%M%S}-{case.id}"
    run_dir.mkdir(parents=True, exist_ok=True)

    if source.resolve() == (cfg.data_dir / "bank").resolve():
        from sim.cli.store import fill_from_bank_if_empty

        fill_from_bank_if_empty(cfg, source)
    console.rule(f"case {case.id} ({case.source})")
    console.print(f"[bold]Objective:[/] {case.objective or 'find the diagnosis'}", highlight=False)
    retriever = build.retriever(cfg, notify=lambda message: console.print(f"[dim]{message}[/]", highlight=False))
    runner = EncounterRunner(cfg, human=human, checkpoint_path=run_dir / "checkpoints.sqlite", retriever=retriever)
    with console.status("starting models...") if not human else nullcontext():
        for role in runner.parts.needed_roles(human):
            try:
                runner.model(role)
            except Exception as error:  # noqa: BLE001 - shown as a clean message
                fail_model(role, error)
    record = runner.run(case, case_dir, run_id=run_dir.name, seed=seed, on_turn=print_turn, ask_human=ask_in_terminal)
    append_record(run_dir / "episodes.jsonl", record)
    print_verdict(record)
    console.print(f"record written to {run_dir / 'episodes.jsonl'}", highlight=False)
    if record.termination == "error":
        raise typer.Exit(ExitCode.EPISODE_ERRORS)
