"""`clinsim bench retrieval`: embedders compared on image and report retrieval, and OOD detection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sim.cli.common import console, fail, settings

METRIC_COLUMNS = ("R@1", "R@5", "R@10", "P@10", "mAP", "nDCG@10")


def retrieval(
    dataset: Annotated[str, typer.Option("--dataset", help="bank[:DIR] | pneumoniamnist:NPZ | iu-xray:TGZ")] = "bank",
    json_out: Annotated[Path | None, typer.Option("--json", help="write all figures to this JSON file")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="at most N queries per task (quick runs)")] = None,
    gallery_limit: Annotated[
        int | None, typer.Option("--gallery-limit", help="PneumoniaMNIST: at most N gallery images")
    ] = None,
    bank_cases: Annotated[int, typer.Option("--bank-cases", help="size of the generated evaluation bank")] = 330,
    embedder: Annotated[list[str], typer.Option("--embedder", help="extra embedder spec to compare (repeatable)")] = [],  # noqa: B006
    train_steps: Annotated[
        int, typer.Option("--train-steps", help="steps of the dataset-specific open_clip model; 0 = none")
    ] = 600,
    loss: Annotated[str, typer.Option("--loss", help="loss of the dataset-specific model: clip | siglip")] = "clip",
    bank_embedder: Annotated[
        bool, typer.Option("--bank-embedder/--no-bank-embedder", help="include the default 'bank' embedder")
    ] = True,
    minilm: Annotated[bool, typer.Option("--minilm/--no-minilm", help="include MiniLM when installed")] = True,
    latency_samples: Annotated[int, typer.Option("--latency-samples", help="queries timed one by one per method")] = 20,
    ood_other: Annotated[
        str,
        typer.Option(
            "--ood-other",
            help="other-dataset OOD images: bank | pneumoniamnist:NPZ | none "
            "(default: bank for image datasets other than the bank)",
        ),
    ] = "",
) -> None:
    """Compare retrieval methods (random, raw pixels, TF-IDF, each embedder) with exact search.

    Per task and method: R@1/5/10 (hit rate), P@10, mAP, nDCG@10 and single-query latency p50/p95;
    per image method: OOD AUROC against noise, photographs and another dataset's images.
    """
    from benchmark.retrieval import data as rd
    from benchmark.retrieval.bench import run_benchmark
    from benchmark.retrieval.data import parse_dataset
    from benchmark.retrieval.methods import build_methods
    from retrieval.embedders.open_clip_embedder import EmbedderUnavailable
    from retrieval.training import LOSSES

    if loss not in LOSSES:
        fail(f"--loss must be clip or siglip, got {loss!r}")
    cfg = settings()
    try:
        name, path = parse_dataset(dataset)
    except ValueError as error:
        fail(str(error))
    with _progress() as progress:
        task = progress.add_task("loading data", total=None, loss="")
        data = _load(name, path, cfg.data_dir, bank_cases, limit, gallery_limit)
        if data.ood is not None:
            other = ood_other or ("none" if name == "bank" else "bank")
            data.ood.outliers = rd.outlier_images(30, seed=1, **_other_images(other, cfg.data_dir))

        def train_progress(description: str, steps: int):
            bar = progress.add_task(description, total=steps, loss="")
            return lambda step, value: progress.update(bar, completed=step, loss=f"loss {value:.3f}")

        progress.update(task, description="building methods")
        try:
            methods, notes = build_methods(data, cfg, extra_specs=embedder, train_steps=train_steps, loss=loss,
                                           use_bank_embedder=bank_embedder, use_minilm=minilm,
                                           train_progress=train_progress)  # fmt: skip
        except EmbedderUnavailable as error:
            fail(str(error))
        report = run_benchmark(data, methods, latency_samples=latency_samples,
                               on_step=lambda step: progress.update(task, description=step))  # fmt: skip
        progress.update(task, description="done", total=1, completed=1)
    report["dataset_spec"] = dataset
    report["notes"] = notes
    _print(report)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        console.print(f"[dim]wrote {json_out}[/]")


def _load(name, path, data_dir: Path, bank_cases: int, limit, gallery_limit):
    from benchmark.retrieval import data as rd

    if name == "bank":
        return rd.load_bank(path, Path(data_dir) / "cache" / "bench", bank_cases, limit)
    if name == "pneumoniamnist":
        return rd.load_pneumoniamnist(path, limit, gallery_limit)
    return rd.load_iu_xray(path, limit)


def _other_images(spec: str, data_dir: Path) -> dict:
    """Images of another dataset that must come out OOD: a generated bank's or PneumoniaMNIST's test images."""
    from benchmark.retrieval.data import DEFAULT_BANK_SEED
    from retrieval.datasets import bank_pairs, pneumoniamnist_pairs
    from sim.bank import generate_bank

    if spec == "none":
        return {}
    if spec == "bank":
        folder = Path(data_dir) / "cache" / "bench" / f"bank-s{DEFAULT_BANK_SEED}-n60"
        if not (folder / "cases.jsonl").is_file():
            generate_bank(60, DEFAULT_BANK_SEED, folder)
        return {"other": [pair.image for pair in bank_pairs(folder)], "other_name": "bank"}
    if spec.startswith("pneumoniamnist:") and Path(spec.split(":", 1)[1]).expanduser().is_file():
        pairs = pneumoniamnist_pairs(Path(spec.split(":", 1)[1]).expanduser(), "test")[:60]
        return {"other": [pair.image for pair in pairs], "other_name": "pneumoniamnist"}
    fail(f"--ood-other: expected bank, none or pneumoniamnist:NPZ (an existing file), got {spec!r}")


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[loss]}"),
                    TimeElapsedColumn(), console=console, transient=True)  # fmt: skip


def _print(report: dict) -> None:
    # Nine numeric columns do not fit 80 characters: when the output is a file or a pipe, print wider.
    out = console if console.is_terminal else Console(width=max(console.width, 132), highlight=False)
    for task_name, entry in report["tasks"].items():
        table = Table(title=f"{report['dataset']}: {task_name}  ({entry['n_queries']} queries, {entry['n_gallery']} "
                            f"gallery; relevant = {entry['relevance']})", title_justify="left")  # fmt: skip
        table.add_column("method", no_wrap=True)
        for column in (*METRIC_COLUMNS, "p50 ms", "p95 ms"):
            table.add_column(column, justify="right")
        for method, values in entry["methods"].items():
            latency = [f"{values[key]:.1f}" if key in values else "" for key in ("latency_ms_p50", "latency_ms_p95")]
            table.add_row(method, *[f"{values[c]:.3f}" for c in METRIC_COLUMNS], *latency)
        out.print(table)
    ood = report.get("ood")
    if ood:
        sets = list(ood["outlier_sets"])
        table = Table(title=f"{report['dataset']}: OOD AUROC (k={ood['k']}; in brackets: share flagged at the "
                            f"threshold calibrated on held-out in-distribution queries)", title_justify="left")  # fmt: skip
        table.add_column("method", no_wrap=True)
        for name in sets:
            table.add_column(f"{name} ({ood['outlier_sets'][name]})", justify="right")
        table.add_column("in-dist. flagged", justify="right")
        for method, values in ood["methods"].items():
            cells = [f"{values[s]['auroc']:.3f} ({values[s]['flagged']:.0%})" for s in sets]
            table.add_row(method, *cells, f"{values['in_distribution_flagged']:.0%}")
        out.print(table)
    for note in report.get("notes", []):
        out.print(f"[dim]note: {note}[/]")
