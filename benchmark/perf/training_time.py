"""First-use training of the default `bank` embedder: what a newcomer waits for on the first ingest or demo.

Two figures from one run: a probe of a few training steps with the text tower on all 128 positions (open_clip's
own pass, the baseline) and on the positions the batch uses (clinsim's), side by side on the same pairs; and,
in a full run, the whole first use (generating the training bank + the recipe's steps) into a fresh data
directory, as `ensure_bank_checkpoint` does it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from sim.core.config import DEFAULT_BANK

TARGET_S = 60.0


def probe_steps(pairs: list, steps: int) -> dict:
    """ms per training step of the recipe's batch, text tower on all positions vs on the used ones (same pairs,
    same seed)."""
    from retrieval.embedder_registry import BANK_TRAIN_BATCH
    from retrieval.training import TrainConfig, train_embedder

    result = {}
    with tempfile.TemporaryDirectory(prefix="clinsim-train-probe-") as folder:
        for name, trim in (("padded", False), ("trimmed", True)):
            run = train_embedder(
                pairs,
                Path(folder) / f"{name}.pt",
                TrainConfig(steps=steps, trim_text=trim, batch_size=BANK_TRAIN_BATCH),
            )
            result[f"{name}_ms_per_step"] = round(1000 * run.seconds / steps, 1)
    result["speedup"] = round(result["padded_ms_per_step"] / result["trimmed_ms_per_step"], 2)
    result["steps"] = steps
    return result


def measure_training(probe_cases: int, probe: int, first_use: bool) -> dict:
    import torch

    from retrieval.datasets import bank_pairs
    from retrieval.embedder_registry import (
        BANK_TRAIN_BATCH,
        BANK_TRAIN_CASES,
        BANK_TRAIN_SEED,
        BANK_TRAIN_STEPS,
        ensure_bank_checkpoint,
    )
    from retrieval.training import read_sidecar
    from sim.bank import generate_bank

    result: dict = {
        "recipe": {"cases": BANK_TRAIN_CASES, "steps": BANK_TRAIN_STEPS[DEFAULT_BANK], "batch": BANK_TRAIN_BATCH}
    }
    with tempfile.TemporaryDirectory(prefix="clinsim-train-bench-") as folder:
        generate_bank(probe_cases, BANK_TRAIN_SEED, Path(folder) / "bank", bank=DEFAULT_BANK)
        result["probe"] = probe_steps(bank_pairs(Path(folder) / "bank"), probe)
        result["torch_threads"] = torch.get_num_threads()
        if first_use:
            started = time.perf_counter()
            checkpoint = ensure_bank_checkpoint(Path(folder) / "data")
            result["first_use_s"] = round(time.perf_counter() - started, 1)
            result["training_s"] = read_sidecar(checkpoint).get("seconds")
            result["generating_s"] = round(result["first_use_s"] - (result["training_s"] or 0), 1)
    return result
