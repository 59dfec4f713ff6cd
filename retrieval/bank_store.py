"""Filling an empty case store from the generated bank, so the first encounter a newcomer sees already has
its retrieval step: `clinsim demo` and `clinsim run` on the data directory's bank call this.

Nothing is done when the store already holds images embedded with the configured image embedder (a
user's own store is never touched), or when retrieval is off or goes to a Chroma server.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from retrieval import wiring
from retrieval.ingest import read_source, write_items
from retrieval.ingest.common import Progress
from retrieval.ingest.write import IngestSummary
from retrieval.search import ImageIndex
from retrieval.wiring import embedders_for, open_store, store_exists
from sim.core.config import Settings


def store_needs_bank(settings: Settings) -> bool:
    """The persistent store is missing or has no images for the configured image embedder."""
    if not settings.retrieval.enabled or settings.retrieval.chroma_url:
        return False
    if not store_exists(settings):
        return True
    store = open_store(settings)
    return not any(c.meta.get("kind") == "image" and c.count() for c in store.collections())


def fill_store_from_bank(
    settings: Settings, bank: Path, progress: Progress = None, say: Callable[[str], None] = lambda message: None
) -> IngestSummary | None:
    """Ingest the bank when the store needs it (see store_needs_bank); returns what was written, or None."""
    if not store_needs_bank(settings):
        return None
    read = read_source("bank", bank, progress=progress)
    if read.problems or not read.items:
        say(f"the case store stays empty: {bank} has {len(read.problems)} problem(s) and {len(read.items)} item(s)")
        return None
    say(f"filling the empty case store with the {len(read.items)} bank cases in {bank} (once)")
    wiring.prepare_embedders(settings)  # trains the default 'bank' embedder on first use (with progress)
    embedders = embedders_for(settings)
    store = open_store(settings)
    if ImageIndex.open(store, embedders.image) is not None:
        return None
    return write_items(read.items, store, embedders.image, embedders.text, progress=progress)
