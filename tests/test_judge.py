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
        (["Severe right lower lobe pneumonia"], True, True, 1),  # the truth plus a qualifier: more specific
        (["Pneumonia (right lower lobe, severe)"], True, True, 1),
        (["Right lower lobe pneumonia complicated by empyema formation"], False, False, None),  # too much added: LLM
        (["Severe left lower lobe pneumonia"], False, False, None),
        (["Right lower lobe pneumonia (consolidation with air bronchograms)"], True, True, 1),  # a remark
        (["Pneumonia (left lower lobe)"], False, False, None),  # the remark still counts for the side
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


def test_rejudge_scores_recorded_episodes_again_without_touching_them(tmp_path):
    """A run judged by older rules: `bench rejudge` rescores it into a new directory; the source stays."""
    import json

    from typer.testing import CliRunner

    from benchmark.harness import run_config
    from sim.cli.main import app
    from sim.core.records import EpisodeRecord, append_record
    from sim.core.transcript import Turn
    from tests.helpers import scripted_settings

    run = tmp_path / "run"
    run.mkdir()
    settings = scripted_settings(tmp_path)
    (run / "config.json").write_text(json.dumps(run_config(settings, {"trials": 1, "seed": 0})))
    old = {"top1_correct": False, "topk_correct": False, "k": 5, "reason": "old rules"}
    for index, answer in enumerate(["Moderate right pleural effusion", "Left pleural effusion"]):
        append_record(
            run / "episodes.jsonl",
            EpisodeRecord(
                run_id="run",
                episode_id=f"c{index}:t0",
                case_id=f"c{index}",
                source="bank",
                truth="Right pleural effusion",
                differential=[answer],
                verdict=old,
                termination="diagnosed",
                turns=[Turn(index=0, role="judge", text="incorrect: old rules")],
            ),
        )
    before = (run / "episodes.jsonl").read_bytes()
    result = CliRunner().invoke(
        app,
        ["--data-dir", str(tmp_path / "data"), "bench", "rejudge", str(run), "--out", str(tmp_path / "again")],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    again = [json.loads(line) for line in (tmp_path / "again" / "episodes.jsonl").read_text().splitlines()]
    assert [r["top1_correct"] for r in again] == [True, False]
    assert again[0]["turns"][0]["text"].startswith("correct: 'Moderate right pleural effusion' (rank 1)")
    assert (run / "episodes.jsonl").read_bytes() == before and (tmp_path / "again" / "report.html").is_file()
    assert "50.0%" in result.output  # top-1 after


def test_a_look_alike_of_the_case_is_wrong_without_asking_the_llm_judge():
    from agents.judge import judge_differential
    from sim.core.case import Diagnosis as Truth

    truth = Truth(name="Parapneumonic effusion", aliases=["empyema"])
    lookalikes = ["Malignant pleural effusion", "Tuberculous pleural effusion", "Hepatic hydrothorax"]

    class Refusing:
        name = "must not be asked"

        def complete(self, *args, **kwargs):
            raise AssertionError("the LLM judge was asked about a look-alike")

    verdict = judge_differential(
        ["Malignant pleural effusion (right)", "Right-sided parapneumonic effusion"],
        truth,
        llm=Refusing(),
        lookalikes=lookalikes,
    )
    assert not verdict.top1_correct and verdict.topk_correct and verdict.matched_rank == 2
    assert verdict.candidates[0].method == "lookalike" and verdict.candidates[0].matched == "Malignant pleural effusion"
    alone = judge_differential(["Malignant pleural effusion"], truth, lookalikes=lookalikes)
    assert (
        alone.reason
        == "'Malignant pleural effusion' (rank 1) names the look-alike 'Malignant pleural effusion', not 'Parapneumonic effusion'"
    )
