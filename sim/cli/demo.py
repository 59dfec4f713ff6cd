"""`clinsim demo`: the main job on embedded defaults: a bank case, the llama.cpp model, one encounter."""

from __future__ import annotations

import typer

from sim.cli.common import console, settings

DEMO_BANK_SIZE = 30
DEMO_SEED = 0


def demo(
    case_index: int = typer.Option(0, "--case-index", help="which bank case to run (0-based)"),
    turn_cap: int = typer.Option(8, "--turn-cap", help="maximum doctor turns for the demo"),
) -> None:
    """Generate the synthetic case bank (if missing) and run one encounter on it with the embedded model."""
    from sim.bank import generate_bank
    from sim.cli.run import run
    from sim.loaders import load_cases

    cfg = settings()
    bank = cfg.data_dir / "bank"
    if not (bank / "cases.jsonl").is_file():
        with console.status(f"generating {DEMO_BANK_SIZE} bank cases in {bank} ..."):
            generate_bank(DEMO_BANK_SIZE, DEMO_SEED, bank)
    cases = load_cases(bank)
    case = cases[case_index % len(cases)]
    console.print(f"[dim]bank: {len(cases)} cases in {bank}; running case {case.id} with the embedded model[/]")
    run(cases=bank, case_id=case.id, pick_random=False, out=None, human=[], seed=DEMO_SEED, turn_cap=turn_cap,
        fetch_images=False, no_retrieval=False, strategy=None, doctor_model=None, patient_model=None, measurement_model=None, judge_model=None)
