"""`clinsim store ...`: fill the case store, describe it, and search it.

The store is Chroma: a folder (DATA_DIR/chroma) by default, a server with --chroma-url. Ingest reads and
checks the whole source first and writes nothing when a row is bad, unless --skip-bad is given.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Self

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from sim.cli.common import command_group, console, err_console, fail, settings

app = command_group("Fill, describe and search the image-report case store.")

ChromaUrl = Annotated[
    str | None,
    typer.Option(
        "--chroma-url", help="Chroma server (http://HOST:PORT); default: retrieval.chroma_url, else DATA_DIR/chroma"
    ),
]


class SourceKind(str, Enum):
    bank = "bank"
    agentclinic = "agentclinic"
    folder = "folder"
    npz = "npz"


class _Bar:
    """A rich progress bar with one line per stage; callable as the library's progress(stage, done, total)."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> Self:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)


def _problems(problems) -> None:
    for problem in problems:
        typer.echo(str(problem), err=True)  # plain: rich would wrap lines and read [..] as markup


@app.command()
def ingest(
    source: Annotated[
        Path,
        typer.Argument(
            help="bank folder or case file, AgentClinic JSONL, folder/CSV/JSONL of image reports, or .npz file"
        ),
    ],
    kind: Annotated[SourceKind, typer.Option("--kind", help="what SOURCE is")] = SourceKind.bank,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="skip bad rows (reported) instead of writing nothing")
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="ingest only the first N rows (per split)")
    ] = None,
    images: Annotated[
        Path | None, typer.Option("--images", help="folder: where image files are (default: beside the reports file)")
    ] = None,
    split: Annotated[str, typer.Option("--split", help="npz: comma-separated splits to ingest")] = "train",
    labels: Annotated[
        str | None, typer.Option("--labels", help="npz: label names, 'normal,pneumonia' or '0=normal,1=pneumonia'")
    ] = None,
    chroma_url: ChromaUrl = None,
) -> None:
    """Embed a source's images and reports into the store. Re-ingesting adds only what is new."""
    from retrieval.ingest import read_source, write_items
    from retrieval.ingest.npz import parse_labels
    from retrieval.ingest.write import MAX_IDENTICAL_REPORTS
    from retrieval.store import StoreError
    from retrieval.wiring import embedders_for, open_store, prepare_embedders, store_label

    cfg = settings()
    options: dict = {}
    if kind is SourceKind.folder and images is not None:
        options["images"] = images
    if kind is SourceKind.npz:
        options["splits"] = tuple(s.strip() for s in split.split(",") if s.strip())
        if labels:
            try:
                options["labels"] = parse_labels(labels)
            except ValueError as error:
                fail(f"--labels: {error}")
    if not source.exists():
        fail(f"{source}: no such file or folder")
    with _Bar() as bar:
        read = read_source(kind.value, source, progress=bar, limit=limit, **options)
    if read.problems:
        _problems(read.problems)
        if not skip_bad:
            fail(
                f"nothing written: {len(read.problems)} problem(s) in {source}; fix them, or pass --skip-bad to "
                "skip those rows"
            )
        err_console.print(f"[yellow]skipping {len(read.problems)} bad row(s)[/]", highlight=False)
    if not read.items:
        fail(f"{source}: nothing to ingest")
    try:
        prepare_embedders(cfg, console=err_console)  # the default embedder is trained on first use (minutes)
        with console.status("loading the embedder..."):
            embedders = embedders_for(cfg)
        store = open_store(cfg, chroma_url or "")
        with _Bar() as bar:
            summary = write_items(read.items, store, embedders.image, embedders.text, progress=bar)
    except (StoreError, RuntimeError, OSError, ImportError) as error:
        fail(str(error))
    table = Table(title=f"store {store_label(cfg, chroma_url or '')}")
    for column in ("collection", "embedder", "in source", "added", "total", "OOD threshold"):
        table.add_column(column, overflow="fold")
    for c in summary.collections:
        threshold = f"{c.calibration['threshold']:.4f} (k={c.calibration['k']})" if c.calibration else "-"
        table.add_row(c.name, c.embedder, str(c.offered), str(c.added), str(c.total), threshold)
    console.print(table)
    for c in summary.collections:
        if c.duplicates:
            console.print(
                f"[dim]{c.name}: {c.duplicates} identical reports not stored again (at most "
                f"{MAX_IDENTICAL_REPORTS} copies of one report keep the index healthy)[/]",
                highlight=False,
            )
    rate = f", {summary.added / summary.seconds:.1f} records/s" if summary.added and summary.seconds else ""
    console.print(
        f"{len(read.items)} items read; {summary.added} records added in {summary.seconds:.1f} s{rate}", highlight=False
    )


@app.command()
def info(chroma_url: ChromaUrl = None) -> None:
    """List the store's collections: kind, embedder, records, regions and the OOD calibration."""
    from retrieval.store import StoreError
    from retrieval.wiring import open_store, store_exists, store_label

    cfg = settings()
    where = store_label(cfg, chroma_url or "")
    if not store_exists(cfg, chroma_url or ""):
        console.print(
            f"no case store at {where} yet; fill it with `clinsim store ingest SOURCE --kind ...`", highlight=False
        )
        return
    try:
        collections = open_store(cfg, chroma_url or "").collections()
    except StoreError as error:
        fail(str(error))
    table = Table(title=f"store {where}")
    for column in ("collection", "kind", "embedder", "dim", "records", "regions", "OOD calibration"):
        table.add_column(column, overflow="fold")
    for c in collections:
        cal = c.calibration
        ood = (
            (
                f"k={cal['k']}: threshold {cal['threshold']:.4f} (p{cal['percentile']:g} "
                f"{cal.get('percentile_distance', cal['threshold']):.4f} + margin; {cal['queries']} queries)"
            )
            if cal
            else "-"
        )
        vectors = str(c.meta.get("vectors", c.embedder_name))
        embedder = c.embedder_name if vectors == c.embedder_name else f"{vectors} (for {c.embedder_name})"
        table.add_row(
            c.name,
            str(c.meta.get("kind", "")),
            embedder,
            str(c.meta.get("dim", "")),
            str(c.count()),
            str(len(c.regions)),
            ood,
        )
    console.print(table)
    console.print(
        f"configured embedders: image '{cfg.retrieval.image_embedder}', text '{cfg.retrieval.text_embedder}'",
        highlight=False,
    )


@app.command()
def query(
    image: Annotated[Path | None, typer.Option("--image", help="find cases with similar images")] = None,
    text: Annotated[str | None, typer.Option("--text", help="find cases with similar reports")] = None,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            help="only cases labelled with this anatomical region, re-ranked by it (e.g. 'right lower zone')",
        ),
    ] = None,
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=100, help="how many cases")] = 5,
    exclude_case: Annotated[str | None, typer.Option("--exclude-case", help="leave out this case id")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    chroma_url: ChromaUrl = None,
) -> None:
    """Search the store by image or by report text; every result says whether the query is out of distribution."""
    from retrieval.items import excerpt, impression
    from retrieval.search import ImageIndex, search
    from retrieval.store import StoreError
    from retrieval.wiring import embedders_for, open_store, store_exists, store_label

    if (image is None) == (text is None):
        fail("give exactly one of --image PATH or --text TEXT")
    if image is not None and not image.is_file():
        fail(f"{image}: no such image file")
    cfg = settings()
    url = chroma_url or ""
    if not store_exists(cfg, url):
        fail(f"no case store at {store_label(cfg, url)}; fill it with `clinsim store ingest SOURCE --kind ...`")
    try:
        with console.status("loading the embedder..."):
            embedders = embedders_for(cfg)
        store = open_store(cfg, url)
        if image is not None:
            index = ImageIndex.open(store, embedders.image)
            if index is None:
                fail(f"the store has no images embedded with {embedders.image.name}; ingest a source first")
            collection = index.images
            region = _known_region(region, collection.regions) if region is not None else None
            text_space = embedders.image if embedders.shared_space else None
            try:
                (result,) = index.search([image], k, region=region, exclude=exclude_case, text_space=text_space)
            except OSError as error:
                fail(f"{image}: unreadable image: {error}")
        else:
            assert text is not None  # exactly one of --image and --text (checked above)
            if embedders.text is None:
                fail(f"the image embedder {embedders.image.name} cannot embed text; set retrieval.text_embedder")
            reports = store.collection("report", embedders.text.name)
            if reports is None or reports.count() == 0:
                fail(f"the store has no reports embedded with {embedders.text.name}; ingest a source first")
            collection = reports
            region = _known_region(region, collection.regions) if region is not None else None
            result = search(
                collection,
                embedders.text.embed_texts([text])[0],
                k,
                region=region,
                exclude=exclude_case,
                text_space=embedders.text,
            )
    except (StoreError, RuntimeError, ImportError) as error:
        fail(str(error))
    verdict = result.ood
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "collection": collection.name,
                    "region": region,
                    **verdict.record(),
                    "ood_thresholds": verdict.thresholds,
                    "results": [n.record() for n in result.neighbours],
                },
                indent=2,
            )
        )
        return
    flag = "-" if verdict.ood is None else ("yes" if verdict.ood else "no")
    ood_cell = f"{flag} {verdict.score:.2f}" if verdict.score is not None else flag
    table = Table(title=f"{collection.name}{f', region {region}' if region else ''}")
    table.add_column("#", no_wrap=True)
    table.add_column("case id", no_wrap=True)
    table.add_column("diagnosis")
    table.add_column("similarity", no_wrap=True)
    table.add_column("regions")
    table.add_column("OOD", no_wrap=True)
    table.add_column("impression", ratio=1)
    for rank, n in enumerate(result.neighbours, start=1):
        table.add_row(
            str(rank),
            n.case_id,
            n.diagnosis,
            f"{n.similarity:.3f}",
            "; ".join(n.regions),
            ood_cell,
            excerpt(impression(n.report), 90),
        )
    console.print(table)
    if verdict.ood:
        detail = ", ".join(
            f"{name} {verdict.distances[name]:.3f} vs threshold {verdict.thresholds[name]:.3f}"
            for name in verdict.distances
        )
        console.print(
            f"[bold yellow]out of distribution[/] (score {verdict.score:.2f} > 1; k-th neighbour distance: "
            f"{detail}): nothing in the store is like this query",
            highlight=False,
        )
    elif verdict.ood is None:
        console.print("[dim]OOD not calibrated (too few cases in this collection)[/]")


def _known_region(region: str, known: list[str]) -> str:
    by_lower = {r.lower(): r for r in known}
    wanted = " ".join(region.lower().split())
    if wanted in by_lower:
        return by_lower[wanted]
    shown = ", ".join(known) if known else "none (no source with labelled regions was ingested)"
    fail(f"--region: unknown region '{region}'; this collection knows: {shown}")


def fill_from_bank_if_empty(cfg, bank: Path) -> None:
    """`clinsim demo` and `clinsim run` on the data directory's bank: an empty store is filled from the
    bank first, so the encounter's retrieval step has cases to show (see retrieval/bank_store.py)."""
    from retrieval.bank_store import fill_store_from_bank
    from retrieval.store import StoreError

    try:
        with _Bar() as bar:
            summary = fill_store_from_bank(
                cfg, bank, progress=bar, say=lambda m: console.print(f"[dim]{m}[/]", highlight=False)
            )
    except (StoreError, RuntimeError, OSError, ImportError) as error:
        err_console.print(f"[yellow]could not fill the case store: {error}[/]", highlight=False)
        return
    if summary is not None:
        added = sum(c.added for c in summary.collections)
        console.print(f"[dim]case store ready: {added} records from {bank}[/]", highlight=False)
