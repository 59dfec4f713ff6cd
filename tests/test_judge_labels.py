"""The rule judge against hand-written labels: answers the default doctor gave in look-alike bank runs, each
labelled correct or not by a person, with the reason (tests/data/judge_lookalike.jsonl; docs/lookalike-bank.md
says how the rows were drawn). Judge rules change only against this set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.judge_agreement import agreement, read_labelled_verdicts
from sim.core.errors import InputError

LABELS = Path(__file__).parent / "data" / "judge_lookalike.jsonl"


def test_the_labelled_set_holds_real_answers_of_both_kinds():
    rows = read_labelled_verdicts(LABELS)
    assert len(rows) >= 200
    assert len({(r.answer.lower(), r.truth) for r in rows}) == len(rows)  # each (answer, truth) once
    right = sum(r.correct for r in rows)
    assert right >= 10 and len(rows) - right >= 10, right  # both labels, so agreement can fail either way
    assert all(r.source for r in rows)  # every answer says which run and episode it came from


def test_the_rule_judge_agrees_with_the_labels():
    result = agreement(read_labelled_verdicts(LABELS))
    differ = [(j.row.answer, j.row.truth, j.outcome, j.method) for j in result.judged if j.outcome != "agree"]
    assert result.agreement["mean"] >= 0.95, differ
    assert result.false_accepts <= 2, differ  # a look-alike passed as the cause is the costlier mistake


def test_a_label_for_an_unknown_diagnosis_names_the_file_line_and_field(tmp_path):
    path = tmp_path / "labels.jsonl"
    rows = [
        {"answer": "Parapneumonic effusion", "truth": "Parapneumonic effusion", "correct": True, "reason": "the cause"},
        {"answer": "Effusion", "truth": "Pleural effusion", "correct": False, "reason": "the picture"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(InputError) as error:
        read_labelled_verdicts(path)
    assert f"{path}:2: truth:" in str(error.value)
