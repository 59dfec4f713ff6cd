"""`clinsim embedder train`: train the project's small open_clip model on image-report pairs, on CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sim.cli.common import command_group, console, fail, fail_problems, settings
from sim.core.errors import InputError

app = command_group("Train the project's open_clip image-report embedders.")


@app.command("train")
def train(
    source: Annotated[
        str, typer.Option("--source", help="a bank folder (DIR with cases.jsonl) or pneumoniamnist:NPZ (train split)")
    ],
    steps: Annotated[int, typer.Option("--steps", min=1, help="optimizer steps")] = 300,
    loss: Annotated[str, typer.Option("--loss", help="clip (InfoNCE) or siglip (pairwise sigmoid)")] = "clip",
    out: Annotated[
        Path | None, typer.Option("--out", help="checkpoint file (default DATA_DIR/models/NAME-LOSS-STEPS.pt)")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=2, help="pairs per step")] = 64,
    learning_rate: Annotated[
        float, typer.Option("--lr", help="peak learning rate (warm-up, then cosine decay)")
    ] = 2e-3,
    seed: Annotated[int, typer.Option("--seed", help="seed of initialisation, batches and augmentation")] = 0,
) -> None:
    """Train a small open_clip model (clinsim-tiny) contrastively on image-report pairs.

    The checkpoint loads with open_clip (`create_model_and_transforms("clinsim-tiny", pretrained=PATH)`)
    and can be used as `retrieval.image_embedder = "PATH"`.
    """
    from retrieval.training import LOSSES, TrainConfig, train_embedder

    if loss not in LOSSES:
        fail(f"--loss must be clip or siglip, got {loss!r}")
    cfg = settings()
    pairs, name = _pairs(source)
    if len(pairs) < 2:
        fail(f"{source}: training needs at least 2 image-report pairs, found {len(pairs)}")
    out = out or Path(cfg.data_dir) / "models" / f"{name}-{loss}-{steps}.pt"
    config = TrainConfig(loss=loss, steps=steps, batch_size=batch_size, learning_rate=learning_rate, seed=seed)
    console.print(f"training {config.architecture} on {len(pairs)} pairs from {source} ({steps} steps, {loss} loss)")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[loss]}"),
                  TimeElapsedColumn(), console=console) as progress:  # fmt: skip
        bar = progress.add_task("training", total=steps, loss="")
        result = train_embedder(pairs, out, config, source=source,
                                on_step=lambda step, value: progress.update(bar, completed=step, loss=f"loss {value:.3f}"))  # fmt: skip
    console.print(f"trained in {result.seconds:.0f} s; loss {result.first_loss():.3f} -> {result.last_loss():.3f}")
    console.print(f'checkpoint: {out}  (use it with image_embedder = "{out}")')


def _pairs(source: str):
    from retrieval.datasets import bank_pairs, pneumoniamnist_pairs

    if source.startswith("pneumoniamnist:"):
        path = Path(source.split(":", 1)[1]).expanduser()
        if not path.is_file():
            fail(f"{path}: file not found")
        try:
            return pneumoniamnist_pairs(path, "train"), "pneumoniamnist"
        except (KeyError, ValueError, OSError) as error:
            fail(f"{path}: not a MedMNIST-style npz with train_images/train_labels ({error})")
    folder = Path(source).expanduser()
    if not folder.exists():
        fail(f"{folder}: not found (expected a bank folder or pneumoniamnist:NPZ)")
    try:
        return bank_pairs(folder), folder.name if folder.is_dir() else folder.stem
    except InputError as error:
        fail_problems(error)
