"""`make_embedder(spec, settings)`: the one place that turns a config string into an embedder.

Image embedder specs (`settings.retrieval.image_embedder`):
- `bank`: the project's own open_clip checkpoint, trained on a generated bank by `prepare_weights` (which
  ingest and the demo call first) and kept in `DATA_DIR/models/`; building it never trains;
- `hf-hub:org/name`: an open_clip model from the Hugging Face hub (needs the network);
- `ARCH@PATH` or `ARCH@TAG`: an open_clip architecture with a local checkpoint file or a pretrained tag;
- `PATH`: a checkpoint file written by `clinsim embedder train` (its sidecar names the architecture);
- `ARCH`: an open_clip architecture with random weights (an untrained baseline);
- `pixels` / `pixels-centred`: the raw-pixel baseline (images only).
Text embedder specs (`settings.retrieval.text_embedder`): the TEXT_EMBEDDERS registry, `same`, `minilm`, `tfidf`.

Every embedder with fixed weights is wrapped in the content-hash cache in `DATA_DIR/cache/embeddings/`.
"""

from __future__ import annotations

import fcntl
import logging
import tempfile
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from retrieval.embedders.base import Embedder
from retrieval.embedders.cache import CACHE_FILE, CachedEmbedder, EmbeddingCache
from retrieval.embedders.open_clip_embedder import EmbedderUnavailable, OpenClipEmbedder
from retrieval.embedders.pixels import RawPixelEmbedder
from sim.core.config import DEFAULT_BANK, Settings
from sim.core.plugins import TEXT_EMBEDDERS, UnknownPlugin

log = logging.getLogger(__name__)

# The recipe of the default 'bank' embedder. Its training bank uses its own seed so that the user's
# bank (seed 0 by default) and the benchmark's bank stay unseen. Bump the version to retrain everywhere.
BANK_RECIPE_VERSION = 4  # 3: trained on the bank kind of the data directory; 4: 600 steps for look-alike films
BANK_TRAIN_SEED = 1009
BANK_TRAIN_CASES = 660
# Steps per bank kind. The look-alike films carry their sign beside co-findings, devices and more varied
# exposure; at 300 steps a 3-neighbour vote named the right picture group for 88.7% of 240 unseen films
# (most misses: a nodule read as a normal film, a consolidation as a mass), at 600 steps 92.9% (same data,
# side by side); see docs/lookalike-bank.md.
BANK_TRAIN_STEPS = {"lookalike": 600, "findings": 300}
# 64 pairs a step. 48 would save a fifth of the time but costs quality: over 5 training seeds each, side by
# side (`clinsim bench retrieval --dataset bank`), image->image P@10 0.850 (0.793-0.913) against 0.887
# (0.852-0.912), and twice as many in-distribution queries flagged out of distribution.
BANK_TRAIN_BATCH = 64
BANK_CHECKPOINT = Path("models") / "bank-embedder-{bank}.pt"  # one per bank kind: trained on the kind it serves


def make_embedder(spec: str, settings: Settings, *, cache: bool = True) -> Embedder:
    """The image (and, for open_clip, text) embedder named by `spec`; raises EmbedderUnavailable."""
    embedder = _build(spec.strip(), settings)
    if cache and not embedder.name.endswith("-random"):
        return CachedEmbedder(embedder, embedding_cache(settings.data_dir))
    return embedder


def make_text_embedder(spec: str, settings: Settings, image_embedder: Embedder | None = None) -> Embedder:
    """A report embedder from the TEXT_EMBEDDERS registry (sim/core/plugins.py): same, minilm or tfidf."""
    try:
        factory = TEXT_EMBEDDERS.load(spec)
    except UnknownPlugin as error:
        raise EmbedderUnavailable(str(error)) from None
    return factory(settings, image_embedder)


def same_text_embedder(settings: Settings, image_embedder: Embedder | None = None) -> Embedder:
    """The image embedder's own text tower (a CLIP model embeds reports in the images' space)."""
    return image_embedder or make_embedder(settings.retrieval.image_embedder, settings)


def minilm_text_embedder(settings: Settings, image_embedder: Embedder | None = None) -> Embedder:
    from retrieval.embedders.minilm import MiniLMEmbedder

    return CachedEmbedder(MiniLMEmbedder(), embedding_cache(settings.data_dir))


def tfidf_text_embedder(settings: Settings, image_embedder: Embedder | None = None) -> Embedder:
    """TF-IDF fitted on the bank's reports."""
    from retrieval.datasets import bank_pairs
    from retrieval.embedders.tfidf import TfidfEmbedder

    bank = settings.data_dir / "bank"
    if not (bank / "cases.jsonl").is_file():
        raise EmbedderUnavailable(f"the tfidf text embedder is fitted on the bank's reports; no bank in {bank}")
    return TfidfEmbedder.fit([pair.report for pair in bank_pairs(bank)], name="tfidf-bank")


def prepare_weights(settings: Settings, console: Console | None = None) -> None:
    """Train the default 'bank' embedder now if it is configured and has no checkpoint yet (a few minutes,
    with progress): what ingest and the demo call before they embed. Building an embedder never trains."""
    if settings.retrieval.image_embedder.strip() == "bank":
        ensure_bank_checkpoint(settings.data_dir, console=console)


def embedding_cache(data_dir: Path) -> EmbeddingCache:
    return EmbeddingCache(Path(data_dir) / "cache" / "embeddings" / CACHE_FILE)


def _build(spec: str, settings: Settings) -> Embedder:
    if spec == "bank":
        checkpoint = bank_checkpoint_path(settings.data_dir)
        if not _current_bank_checkpoint(checkpoint):
            raise EmbedderUnavailable(
                f"the default 'bank' embedder is not trained yet ({checkpoint}): `clinsim store "
                "ingest` and `clinsim demo` train it on first use, or `clinsim embedder train`"
            )
        return OpenClipEmbedder.load(_architecture_of(checkpoint), checkpoint)
    if spec in ("pixels", "pixels-centred"):
        return RawPixelEmbedder(size=32, centre=spec.endswith("centred"))
    if spec.startswith("hf-hub:"):
        return OpenClipEmbedder.from_hub(spec)
    if "@" in spec:
        architecture, weights = spec.split("@", 1)
        if Path(weights).expanduser().is_file():
            return OpenClipEmbedder.load(architecture, Path(weights).expanduser())
        return _pretrained_tag(architecture, weights)
    path = Path(spec).expanduser()
    if path.is_file():
        return OpenClipEmbedder.load(_architecture_of(path), path)
    if path.suffix in (".pt", ".bin", ".pth", ".safetensors"):
        raise EmbedderUnavailable(f"checkpoint {path} not found")
    return OpenClipEmbedder.load(spec)


def _pretrained_tag(architecture: str, tag: str) -> Embedder:
    import open_clip

    from retrieval.embedders.open_clip_embedder import hub_offline

    if hub_offline():
        raise EmbedderUnavailable(
            f"{architecture}@{tag}: pretrained tags are downloaded, but HF_HUB_OFFLINE is set; "
            "pass a local checkpoint path instead"
        )
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(architecture, pretrained=tag)
    except Exception as error:
        raise EmbedderUnavailable(f"could not load {architecture} with pretrained={tag!r}: {error}") from error
    return OpenClipEmbedder(model, preprocess, open_clip.get_tokenizer(architecture), f"openclip-{architecture}-{tag}")


def _architecture_of(checkpoint: Path) -> str:
    from retrieval.training import ARCHITECTURES, read_sidecar

    return str(read_sidecar(checkpoint).get("architecture", ARCHITECTURES["clip"]))


def bank_checkpoint_path(data_dir: Path) -> Path:
    """The 'bank' embedder of a data directory: trained on generated cases of the kind its bank holds (the
    default kind when it has none yet), so a look-alike store is searched by a look-alike-trained model."""
    return Path(data_dir) / str(BANK_CHECKPOINT).format(bank=_bank_of(Path(data_dir)))


def _bank_of(data_dir: Path) -> str:
    from sim.bank.generate import bank_kind

    return bank_kind(data_dir / "bank") or DEFAULT_BANK


def ensure_bank_checkpoint(
    data_dir: Path,
    *,
    steps: int | None = None,
    n_cases: int = BANK_TRAIN_CASES,
    console: Console | None = None,
) -> Path:
    """The default embedder's checkpoint, trained now if missing or from an older recipe.

    `steps` defaults to the recipe of the data directory's bank kind. Tests may call it first with small
    `steps`/`n_cases` to get a quick model at the same path.
    A file lock keeps two processes from training it at the same time.
    """

    checkpoint = bank_checkpoint_path(data_dir)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    with open(checkpoint.parent / ".bank-embedder.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _current_bank_checkpoint(checkpoint):
            return checkpoint
        bank = _bank_of(Path(data_dir))
        _train_bank_embedder(
            checkpoint, steps or BANK_TRAIN_STEPS[bank], n_cases, console or Console(stderr=True), bank
        )
    return checkpoint


def _current_bank_checkpoint(checkpoint: Path) -> bool:
    from retrieval.training import read_sidecar

    return checkpoint.is_file() and read_sidecar(checkpoint).get("recipe_version") == BANK_RECIPE_VERSION


def _train_bank_embedder(
    checkpoint: Path, steps: int, n_cases: int, console: Console, bank: str = DEFAULT_BANK
) -> None:
    import json

    from retrieval.datasets import bank_pairs
    from retrieval.training import TrainConfig, read_sidecar, sidecar_path, train_embedder
    from sim.bank import generate_bank

    console.print(f"[dim]training the default 'bank' image embedder (first use): {n_cases} generated {bank} cases, "
                  f"{steps} steps on CPU; saved to {checkpoint}[/]")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="clinsim-bank-train-") as folder, _progress(console) as progress:
        generating = progress.add_task("generating the training bank", total=n_cases, loss="")
        generate_bank(
            n_cases,
            BANK_TRAIN_SEED,
            Path(folder),
            progress=lambda done: progress.update(generating, completed=done),
            bank=bank,
        )
        pairs = bank_pairs(Path(folder))
        training = progress.add_task("training", total=steps, loss="")
        result = train_embedder(
            pairs, checkpoint, TrainConfig(steps=steps, seed=BANK_TRAIN_SEED, batch_size=BANK_TRAIN_BATCH),
            on_step=lambda step, loss: progress.update(training, completed=step, loss=f"loss {loss:.3f}"),
            source=f"{bank} bank seed={BANK_TRAIN_SEED} n={n_cases}",
        )  # fmt: skip
    meta = read_sidecar(checkpoint) | {"recipe_version": BANK_RECIPE_VERSION}
    sidecar_path(checkpoint).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    message = (f"trained the bank embedder in {result.seconds:.0f} s ({steps} steps, {len(pairs)} pairs, "
               f"loss {result.first_loss():.2f} -> {result.last_loss():.2f}): {checkpoint}")  # fmt: skip
    log.info(message)
    console.print(f"[dim]{message}[/]")


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[loss]}"), TimeElapsedColumn(), console=console, transient=False,
    )  # fmt: skip
