"""Scoring recorded episodes again with the current judge, without running the encounters again: a judge
fix (a string rule, another judge model) applies to runs already made.

The episodes keep everything but their verdict: `verdict`, `top1_correct`, `topk_correct` and the judge's
turn (its text and calls) are recomputed from the recorded differential and truth. An ablation directory is
judged arm by arm and its table rebuilt. The originals are never changed: everything goes to `out`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from agents.judge import judge_differential
from agents.llm.base import ChatModel
from benchmark.ablation import ablation_table, write_ablation
from benchmark.harness import CONFIG_FILE, EPISODES_FILE, read_run_config, settings_from_config
from benchmark.metrics import summarise
from benchmark.report import write_summary_and_report
from sim.core.case import Diagnosis
from sim.core.errors import InputError, Problem
from sim.core.records import EpisodeRecord, append_record, read_records
from sim.core.transcript import Turn

ABLATION_FILE = "ablation.json"


@dataclass
class Rejudged:
    run: str
    episodes: int
    changed: int
    top1_before: float | None
    top1_after: float | None


def rejudge_record(record: EpisodeRecord, llm: ChatModel | None, k: int) -> EpisodeRecord:
    if record.termination == "error" or record.verdict is None:
        return record
    truth = Diagnosis(name=record.truth, aliases=record.truth_aliases)
    verdict = judge_differential(record.differential, truth, k=k, llm=llm, lookalikes=record.lookalikes)
    outcome = "correct" if verdict.top1_correct else (f"correct in top-{k}" if verdict.topk_correct else "incorrect")
    turns = [
        t
        if t.role != "judge"
        else Turn(index=t.index, role="judge", text=f"{outcome}: {verdict.reason}", calls=verdict.calls)
        for t in record.turns
    ]
    return record.model_copy(
        update={
            "verdict": verdict,
            "top1_correct": verdict.top1_correct,
            "topk_correct": verdict.topk_correct,
            "turns": turns,
        }
    )


def rejudge_run(run_dir: Path, out: Path, judge: ChatModel | None) -> Rejudged:
    config = read_run_config(run_dir / CONFIG_FILE)
    settings = settings_from_config(config, str(run_dir / CONFIG_FILE))
    records = read_records(run_dir / EPISODES_FILE)
    out.mkdir(parents=True, exist_ok=True)
    if (out / EPISODES_FILE).exists():
        raise InputError([Problem(str(out / EPISODES_FILE), None, "-", "already exists: choose another --out")])
    shutil.copy2(run_dir / CONFIG_FILE, out / CONFIG_FILE)
    llm = judge if settings.encounter.llm_judge else None
    again = [rejudge_record(r, llm, settings.encounter.differential_size) for r in records]
    for record in again:
        append_record(out / EPISODES_FILE, record)
    summary = write_summary_and_report(out, again, f"run {out.name} (judged again)", config)
    before = summarise(records)["top1"]["mean"]
    return Rejudged(
        str(run_dir),
        len(again),
        sum(a.top1_correct != b.top1_correct or a.topk_correct != b.topk_correct for a, b in zip(again, records)),
        before,
        summary["top1"]["mean"],
    )


def rejudge(source: Path, out: Path, judge: ChatModel | None) -> list[Rejudged]:
    """A run directory, or an ablation directory (its arms, then its table)."""
    if (source / ABLATION_FILE).is_file():
        table = json.loads((source / ABLATION_FILE).read_text(encoding="utf-8"))
        arms = {row["name"]: out / row["name"] for row in table["arms"]}
        results = [rejudge_run(source / name, path, judge) for name, path in arms.items()]
        write_ablation(out, ablation_table(arms), arms)
        return results
    return [rejudge_run(source, out, judge)]
