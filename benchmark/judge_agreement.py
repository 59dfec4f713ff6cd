"""The judge against hand-written labels: does the rule judge call an answer right exactly when a person does?

Each labelled row is one answer a doctor gave in a look-alike bank run, the case's true cause, the label a
person wrote (correct or not) and why. The judge sees the answer alone as a one-item differential, with the
case's look-alikes as the bank gives them, and no LLM: the rules are what the labels check. Judge rules change
only against this set (see docs/lookalike-bank.md), never after reading one run's answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.judge import judge_differential
from sim.bank.lookalike.catalogue import DIAGNOSES, members
from sim.core.case import Diagnosis
from sim.core.errors import InputError, Problem
from sim.core.jsonlines import read_models

Outcome = Literal["agree", "false accept", "false reject"]


class LabelledVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: str = Field(min_length=1, description="one diagnosis as a doctor wrote it")
    truth: str = Field(min_length=1, description="the case's cause, a look-alike bank diagnosis name")
    correct: bool = Field(description="the label: does the answer name the truth")
    reason: str = Field(min_length=3, description="why, in a few words")
    source: str = Field("", description="where the answer came from (run/episode)")


class JudgedRow(BaseModel):
    row: LabelledVerdict
    judged: bool
    method: str
    outcome: Outcome


class Agreement(BaseModel):
    rows: int
    agreement: dict  # mean, lo, hi (Wilson 95% interval: a percentile bootstrap of all-agree rows is [1, 1]), n
    false_accepts: int  # the judge said right, the label wrong
    false_rejects: int
    judged: list[JudgedRow]


def read_labelled_verdicts(path: Path) -> list[LabelledVerdict]:
    rows = read_models(Path(path), LabelledVerdict, "labelled verdicts")
    names = {d.name for d in DIAGNOSES}
    problems = [
        Problem(str(path), number, "truth", f"{row.truth!r} is not a look-alike bank diagnosis")
        for number, row in enumerate(rows, start=1)
        if row.truth not in names
    ]
    if problems:
        raise InputError(problems)
    return rows


def judge_row(row: LabelledVerdict) -> JudgedRow:
    truth = next(d for d in DIAGNOSES if d.name == row.truth)
    lookalikes = [d.name for d in members(truth.group) if d.key != truth.key]
    verdict = judge_differential(
        [row.answer], Diagnosis(name=truth.name, aliases=list(truth.aliases)), k=1, lookalikes=lookalikes
    )
    judged = verdict.top1_correct
    method = verdict.candidates[0].method if verdict.candidates else "none"
    outcome: Outcome = "agree" if judged == row.correct else "false accept" if judged else "false reject"
    return JudgedRow(row=row, judged=judged, method=method, outcome=outcome)


def agreement(rows: list[LabelledVerdict]) -> Agreement:
    from scipy.stats import binomtest

    judged = [judge_row(row) for row in rows]
    agreed = sum(j.outcome == "agree" for j in judged)
    interval = binomtest(agreed, len(rows)).proportion_ci(method="wilson") if rows else None
    return Agreement(
        rows=len(rows),
        agreement={
            "mean": agreed / len(rows) if rows else None,
            "lo": interval.low if interval else None,
            "hi": interval.high if interval else None,
            "n": len(rows),
        },
        false_accepts=sum(j.outcome == "false accept" for j in judged),
        false_rejects=sum(j.outcome == "false reject" for j in judged),
        judged=judged,
    )
