"""Ingest: read a source completely and check it, then (only then) embed and write what is new.

    read = read_source("bank", Path("clinsim-data/bank"))      # items + located problems, nothing written
    summary = write_items(read.items, store, image_embedder, text_embedder)

Callers decide what problems mean: the CLI stops before writing unless --skip-bad is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from retrieval.ingest.agentclinic import read_agentclinic
from retrieval.ingest.bank import read_bank
from retrieval.ingest.common import Progress, SourceRead
from retrieval.ingest.folder import read_folder
from retrieval.ingest.npz import read_npz
from retrieval.ingest.write import IngestSummary, write_items

SourceKind = Literal["bank", "agentclinic", "folder", "npz"]
READERS = {"bank": read_bank, "agentclinic": read_agentclinic, "folder": read_folder, "npz": read_npz}

__all__ = ["READERS", "IngestSummary", "Progress", "SourceKind", "SourceRead", "read_source", "write_items"]


def read_source(
    kind: SourceKind, source: Path, progress: Progress = None, limit: int | None = None, **options: Any
) -> SourceRead:
    """Every item of a source and every problem in it; options are the reader's own (folder: images,
    npz: splits, labels)."""
    if kind not in READERS:
        raise ValueError(f"unknown source kind {kind!r}; expected one of {', '.join(READERS)}")
    return READERS[kind](Path(source), progress=progress, limit=limit, **options)
