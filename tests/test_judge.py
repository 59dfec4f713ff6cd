import pytest

from agents.judge import judge_differential
from agents.llm.scripted import ScriptedModel
from sim.core.case import Diagnosis

TRUTH = Diagnosis(name="Right lower lobe pneumonia", aliases=["RLL pneumonia"])


@pytest.mark.parametrize(
    "differential, top1, topk, rank",
    [
        (["Right lower lobe pneumonia"], True, True, 1),
        (["right-lower-lobe pneumonia."], True, True, 1),
        (["RLL Pneumonia"], True, True, 1),
        (["Pneumonia of the right lower lobe"], True, True, 1),  # same words, other order
        (["Asthma", "RLL pneumonia"], False, True, 2),
        (["Left lower lobe pneumonia"], False, False, None),  # side conflict is never a match
        (["Right upper lobe pneumonia"], False, False, None),
        (["Pulmonary embolism", "Heart failure"], False, False, None),
        ([], False, False, None),
    ],
)
def test_string_rules(differential, top1, topk, rank):
    verdict = judge_differential(differential, TRUTH, k=5)
    assert (verdict.top1_correct, verdict.topk_correct, verdict.matched_rank) == (top1, topk, rank)
    assert verdict.reason


def test_only_the_top_k_are_scored():
    verdict = judge_differential(["a", "b", "RLL pneumonia"], TRUTH, k=2)
    assert not verdict.topk_correct


def test_inconclusive_goes_to_the_llm_and_its_verdict_counts():
    llm = ScriptedModel(["VERDICT: incorrect\nREASON: too vague"])
    verdict = judge_differential(["Pneumonia"], TRUTH, k=5, llm=llm)
    assert verdict.method == "none" and not verdict.topk_correct
    assert verdict.candidates[0].method == "llm" and len(verdict.calls) == 1
    assert "Right lower lobe pneumonia" in llm.calls[0][0].content


def test_inconclusive_without_llm_is_wrong_and_says_why():
    verdict = judge_differential(["Pneumonia"], TRUTH, k=5)
    assert not verdict.topk_correct and "no LLM judge" in verdict.reason


def test_clear_cases_never_call_the_llm():
    llm = ScriptedModel([])
    judge_differential(["RLL pneumonia", "Pulmonary embolism"], TRUTH, k=5, llm=llm)
    judge_differential(["Pulmonary embolism"], TRUTH, k=5, llm=llm)
    assert llm.calls == []


def test_acute_and_chronic_are_different_conditions():
    """'acute'/'chronic' are ignored when only one name has them, but a clash is wrong (a measured judge
    error: 'Chronic bronchitis' was once scored correct for 'Acute bronchitis')."""
    truth = Diagnosis(name="Acute bronchitis", aliases=["acute viral bronchitis"])
    assert not judge_differential(["Chronic bronchitis"], truth, k=5).topk_correct
    assert judge_differential(["Bronchitis"], truth, k=5).top1_correct
