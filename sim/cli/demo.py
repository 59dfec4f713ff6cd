"""`clinsim demo`: the main job on embedded defaults: the generated bank, a case store filled from it, the
embedded model, and one encounter with its retrieval step."""

from __future__ import annotations

import typer

from sim.cli.common import console, settings

DEMO_BANK_SIZE = 200
DEMO_SEED = 0
DEMO_CASE = "lookalike-s0-00090"  # a malignant effusion: the film shows an effusion, the story (asked) says which


def demo(
    case_id: str = typer.Option(DEMO_CASE, "--case-id", help="which bank case to run"),
    turn_cap: int = typer.Option(6, "--turn-cap", help="maximum doctor turns for the demo"),
) -> None:
    """Generate the case bank and fill the case store (if missing), then run one encounter with the embedded
    model: the patient states the complaint, the doctor takes a history, examines, orders tests and a chest
    X-ray, sees the most similar archived cases, and commits to a differential that the judge scores."""
    from sim.bank.generate import BankMismatch, ensure_bank
    from sim.cli.common import fail
    from sim.cli.run import run
    from sim.cli.store import fill_from_bank_if_empty

    cfg = settings()
    bank = cfg.data_dir / "bank"
    try:
        with console.status(f"generating {DEMO_BANK_SIZE} bank cases in {bank} (once) ..."):
            ensure_bank(bank, DEMO_BANK_SIZE, DEMO_SEED)
    except BankMismatch as error:
        fail(str(error))
    fill_from_bank_if_empty(cfg, bank)
    console.print(
        f"[dim]bank: {bank}; running case {case_id} with the embedded model ({cfg.embedded.model})[/]", highlight=False
    )
    run(cases=bank, case_id=case_id, seed=DEMO_SEED, turn_cap=turn_cap)  # every other option at its default
