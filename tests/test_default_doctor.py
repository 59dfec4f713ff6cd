"""Integration: the default embedded doctor (Qwen2.5-Coder-1.5B-Instruct) on an easy bank case, with the
retrieval step over a real Chroma store: a coherent encounter, every doctor turn one valid action."""

from __future__ import annotations

import pytest

from agents.llm.catalogue import DEFAULT_MODEL
from retrieval.ingest import read_source, write_items
from retrieval.retriever import make_retriever
from retrieval.wiring import open_store
from sim.core.config import load_settings
from sim.encounter.runner import EncounterRunner
from sim.loaders import load_cases

pytestmark = pytest.mark.integration


def test_the_default_doctor_works_up_a_pneumothorax_and_uses_the_retrieved_cases(
    tmp_path, tiny_bank, archive_bank, tiny_embedder
):
    cfg = load_settings(
        None,
        {
            "data_dir": str(tmp_path / "data"),
            "embedded.model": DEFAULT_MODEL,
            "encounter.turn_cap": 6,
            "encounter.llm_judge": False,
        },
    )
    write_items(read_source("bank", archive_bank).items, open_store(cfg), tiny_embedder, tiny_embedder)
    case = next(c for c in load_cases(tiny_bank) if "pneumothorax" in c.diagnosis.name.lower())
    record = EncounterRunner(cfg, retriever=make_retriever(cfg)).run(case, tiny_bank, seed=0)

    assert record.termination in ("diagnosed", "turn_cap"), record.error
    assert record.models["doctor"].model.startswith("Qwen2.5 Coder 1.5B Instruct GGUF (sha256 cc324af070c2")
    roles = [t.role for t in record.turns]
    assert roles[0] == "patient" and "retrieval" in roles, roles  # the complaint first; the archive consulted
    doctor = [t for t in record.turns if t.role == "doctor"]
    # "repeated": the doctor asked again for something answered and, redirected once, had nothing new, so it
    # diagnosed there; a designed path, not a parse failure (those are "repaired" and "fallback").
    valid = ("tag", "redirected", "deliberated", "repeated")
    assert all(t.parse in valid for t in doctor), [(t.parse, t.raw) for t in doctor]
    assert record.totals.fallbacks == 0 and record.totals.repairs == 0
    assert record.retrieved and all(item["case_id"] != case.id for item in record.retrieved)
    # Names are capped in words, never cut mid-word (the grammar allows at most 8 words a condition).
    assert record.differential and all(len(name.split()) <= 8 for name in record.differential)
    assert record.elicitation is not None and record.elicitation.elicited >= 1
