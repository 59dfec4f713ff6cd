"""From settings to the parts: where the store is, and which embedders fill and query it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from retrieval.embedders.base import Embedder
from retrieval.store import CaseStore, persistent_store_exists
from sim.core.config import Settings

STORE_DIR = "chroma"


def store_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / STORE_DIR


def store_label(settings: Settings, url: str = "") -> str:
    return url or settings.retrieval.chroma_url or str(store_path(settings))


def store_exists(settings: Settings, url: str = "") -> bool:
    """A server always counts as existing (whether it holds anything is asked later); a folder must be there."""
    return bool(url or settings.retrieval.chroma_url) or persistent_store_exists(store_path(settings))


def open_store(settings: Settings, url: str = "") -> CaseStore:
    url = url or settings.retrieval.chroma_url
    return CaseStore.open(path=None if url else store_path(settings), url=url)


def build_embedder(spec: str, settings: Settings) -> Embedder:
    """The embedder registry's factory (imported here so tests can replace this one function)."""
    from retrieval.embedder_registry import make_embedder

    return make_embedder(spec, settings)


def prepare_embedders(settings: Settings, console=None) -> None:
    """Train the configured embedder's weights if they are the project's own and missing (see
    retrieval/embedder_registry.py `prepare_weights`); ingest and the demo call this before embedding."""
    from retrieval.embedder_registry import prepare_weights

    prepare_weights(settings, console)


def build_text_embedder(spec: str, settings: Settings) -> Embedder:
    from retrieval.embedder_registry import make_text_embedder

    return make_text_embedder(spec, settings)


@dataclass
class Embedders:
    image: Embedder
    text: Embedder | None  # None: the image embedder has no text tower and no text embedder is configured

    @property
    def shared_space(self) -> bool:
        """Image and text vectors are comparable (one CLIP-style model), so text can re-rank image hits."""
        return self.text is self.image


def can_embed_text(embedder: Embedder) -> bool:
    try:
        embedder.embed_texts(["chest radiograph"])
    except (TypeError, NotImplementedError):
        return False
    return True


def embedders_for(settings: Settings) -> Embedders:
    image = build_embedder(settings.retrieval.image_embedder, settings)
    spec = settings.retrieval.text_embedder
    if spec == "same":
        return Embedders(image, image if can_embed_text(image) else None)
    return Embedders(image, build_text_embedder(spec, settings))
