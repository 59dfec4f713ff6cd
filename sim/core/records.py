"""The episode record: one JSON line per (run, case, trial), the contract between runs, reports and replay.

Appends are crash-safe: each record is written with one `write` of a complete line followed by fsync,
and readers ignore a trailing line without its newline (what a crash mid-write can leave behind);
`repair_tail` removes such a line before a resumed run appends to the file. `drop_records` rewrites the
file without some records (a resumed run retries failed episodes) by writing a new file and renaming it
over the old one, so a crash leaves either the old file or the new one, never a mix.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from sim.core.jsonlines import append_lines, complete_lines, read_models
from sim.core.transcript import Turn, request_kind
from sim.core.verdict import Verdict

RECORD_VERSION = 1


class RoleInfo(BaseModel):
    backend: str
    model: str  # what answered: the server's model name (embedded: GGUF general.name and hash prefix)
    sha256: str = ""  # the embedded model file's SHA-256
    base_url: str = ""
    human: bool = False


class Totals(BaseModel):
    doctor_turns: int = 0
    questions: int = 0
    tests: int = 0
    images: int = 0
    parse_failures: int = 0
    repairs: int = 0
    fallbacks: int = 0
    leaks: int = 0  # patient/measurement outputs that named the diagnosis (flagged, masked by default)
    role_breaks: int = 0  # patient replies out of character (agents/role_breaks.py), counted once per reply
    redirects: int = 0  # doctor requests that repeated an earlier one: replaced after one reminder, or a diagnosis
    desk_requests: int = 0  # tests, examinations and images the measurement desk was asked for
    desk_answered: int = 0  # ... of which it answered from the case (the rest: "not available")
    tokens_in: int = 0
    tokens_out: int = 0
    llm_latency_s: float = 0.0
    wall_s: float = 0.0
    by_role: dict[str, dict[str, float]] = Field(default_factory=dict)


class Elicitation(BaseModel):
    """How much of the patient script the patient said (sim/encounter/elicitation.py computes it)."""

    facts: int = 0
    elicited: int = 0
    share: float = 0.0
    missed: list[str] = Field(default_factory=list)
    discriminators: int = 0  # facts marked as separating the case from its look-alikes (look-alike bank)
    discriminators_elicited: int = 0


class EpisodeRecord(BaseModel):
    record_version: int = RECORD_VERSION
    run_id: str
    episode_id: str
    case_id: str
    source: str
    trial: int = 0
    seed: int | None = None
    config_hash: str = ""
    models: dict[str, RoleInfo] = Field(default_factory=dict)
    turns: list[Turn] = Field(default_factory=list)
    retrieved: list[dict] = Field(default_factory=list)
    experiences: list[dict] = Field(default_factory=list)
    redactions: list[dict] = Field(default_factory=list)  # diagnosis mentions removed from agents' context
    differential: list[str] = Field(default_factory=list)
    truth: str = ""
    truth_aliases: list[str] = Field(default_factory=list)
    condition: str = ""  # the case's condition or category when the source has one (the bank does)
    group: str = ""  # the look-alike group (the picture the diagnosis shares), when the source has one
    lookalikes: list[str] = Field(default_factory=list)  # the case's other answer options: the diagnoses to tell apart
    elicitation: Elicitation | None = None  # share of the patient script's facts the patient said
    verdict: Verdict | None = None
    top1_correct: bool = False
    topk_correct: bool = False
    termination: str
    error: str | None = None
    totals: Totals = Field(default_factory=Totals)
    started_at: str = ""
    finished_at: str = ""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def config_hash(config: dict) -> str:
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def compute_totals(turns: list[Turn], wall_s: float) -> Totals:
    totals = Totals(wall_s=round(wall_s, 4))
    for index, turn in enumerate(turns):
        if turn.role == "doctor":
            totals.doctor_turns += 1
            kind = request_kind(turns, index)
            totals.questions += kind == "ask"
            totals.tests += kind == "test"
            totals.images += kind == "image"
            totals.repairs += turn.parse == "repaired"
            totals.redirects += turn.parse in ("redirected", "repeated")
            totals.fallbacks += turn.parse == "fallback"
            totals.parse_failures += turn.parse in ("repaired", "fallback")
        if turn.role == "measurement" and "found" in turn.meta:
            totals.desk_requests += 1
            totals.desk_answered += bool(turn.meta["found"])
        totals.leaks += "leak" in turn.meta
        totals.role_breaks += bool(turn.meta.get("role_breaks"))
        for call in turn.calls:
            totals.tokens_in += call.tokens_in
            totals.tokens_out += call.tokens_out
            totals.llm_latency_s += call.latency_s
            role = totals.by_role.setdefault(call.role, {"calls": 0, "tokens_in": 0, "tokens_out": 0, "latency_s": 0.0})
            role["calls"] += 1
            role["tokens_in"] += call.tokens_in
            role["tokens_out"] += call.tokens_out
            role["latency_s"] = round(role["latency_s"] + call.latency_s, 4)
    totals.llm_latency_s = round(totals.llm_latency_s, 4)
    return totals


def append_record(path: Path, record: EpisodeRecord) -> None:
    append_lines(path, [record.model_dump_json()])


def repair_tail(path: Path) -> bool:
    """Cut a trailing partial line left by a crash. Returns True if something was cut."""
    if not path.is_file():
        return False
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return False
    keep = data[: data.rfind(b"\n") + 1]
    with open(path, "r+b") as handle:
        handle.truncate(len(keep))
    return True


def drop_records(path: Path, drop: Callable[[EpisodeRecord], bool]) -> list[EpisodeRecord]:
    """Remove the records for which `drop` is true; returns the records kept. Kept lines stay byte for byte."""
    records = read_records(path)  # raises on a corrupt line before anything is touched
    lines = [raw for _, raw in complete_lines(path)]
    kept = [(line, record) for line, record in zip(lines, records, strict=True) if not drop(record)]
    if len(kept) == len(records):
        return records
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(b"".join(line + b"\n" for line, _ in kept))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)  # make the rename itself durable
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return [record for _, record in kept]


def read_records(path: Path) -> list[EpisodeRecord]:
    """All complete records; a bad complete line is a located error, a partial last line is ignored."""
    return read_models(path, EpisodeRecord, "episodes")
