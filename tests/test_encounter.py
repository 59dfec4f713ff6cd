"""Every branch of the encounter graph, driven by scripted models (fast and deterministic)."""

from __future__ import annotations

import pytest
from PIL import Image

from agents.llm.base import LLMError
from agents.llm.scripted import ScriptedModel
from sim.encounter.runner import EncounterRunner
from tests.helpers import scripted_settings, small_case


def _runner(tmp_path, doctor, patient=("I have had a cough for four days.",), judge=None, checkpoint=None, **enc):
    models = {"doctor": ScriptedModel(doctor), "patient": ScriptedModel(list(patient), cycle=True)}
    if judge is not None:
        models["judge"] = judge
    return EncounterRunner(scripted_settings(tmp_path, **enc), models=models, checkpoint_path=checkpoint), models


def test_each_action_kind_routes_to_its_node_and_diagnosis_is_judged(tmp_path):
    image = tmp_path / "cxr.png"
    Image.new("L", (32, 32), 80).save(image)
    runner, _models = _runner(
        tmp_path,
        [
            "ASK: How long have you had the cough?",
            "TEST: CBC",
            "IMAGE: chest x-ray",
            "DIAGNOSIS: Community acquired pneumonia; Bronchitis",
        ],
    )
    record = runner.run(small_case(str(image)))
    roles = [t.role for t in record.turns]
    assert roles == ["doctor", "patient", "doctor", "measurement", "doctor", "measurement", "doctor", "judge"]
    assert "WBC 15,200" in record.turns[3].text
    assert record.turns[5].images == [str(image)]
    assert "Right lower zone" not in record.turns[5].text  # report withheld by default
    assert record.termination == "diagnosed"
    assert record.top1_correct and record.topk_correct
    assert record.differential == ["Community acquired pneumonia", "Bronchitis"]
    assert record.totals.questions == 1 and record.totals.tests == 1 and record.totals.images == 1
    assert record.totals.by_role["doctor"]["calls"] == 4


def test_missing_test_gets_the_configured_answer(tmp_path):
    runner, _ = _runner(tmp_path, ["TEST: serum lipase", "DIAGNOSIS: pneumonia"], missing_test_answer="No such test.")
    record = runner.run(small_case())
    assert record.turns[1].text == "serum lipase: No such test."
    assert record.turns[1].meta["found"] is False


def test_repair_then_success_is_counted(tmp_path):
    runner, models = _runner(tmp_path, ["I would like to know more", "ASK: Any fever?", "DIAGNOSIS: pneumonia"])
    record = runner.run(small_case())
    first = record.turns[0]
    assert first.parse == "repaired" and first.text == "ASK: Any fever?"
    assert [c.purpose for c in first.calls] == ["act", "repair"]
    assert record.totals.repairs == 1 and record.totals.fallbacks == 0
    assert "did not follow the format" in models["doctor"].calls[1][-1].content


def test_repair_then_fallback_asks_the_raw_text(tmp_path):
    runner, _models = _runner(tmp_path, ["Tell me about your cough", "still no tag", "DIAGNOSIS: pneumonia"])
    record = runner.run(small_case())
    assert record.turns[0].parse == "fallback"
    assert record.turns[0].action.model_dump() == {"kind": "ask", "text": "Tell me about your cough"}
    assert record.turns[1].role == "patient"
    assert record.totals.fallbacks == 1 and record.totals.parse_failures == 1


def test_turn_cap_asks_for_the_final_answer(tmp_path):
    runner, models = _runner(tmp_path, ["ASK: Any fever?", "ASK: Any pain?", "DIAGNOSIS: Pneumonia"], turn_cap=3)
    record = runner.run(small_case())
    assert record.termination == "turn_cap"
    assert record.totals.doctor_turns == 3
    last_prompt = models["doctor"].calls[-1][-1].content
    assert "last turn" in last_prompt.lower()
    assert "last turn" not in models["doctor"].calls[0][-1].content.lower()
    assert record.top1_correct  # "Pneumonia" is an alias


def test_turn_cap_without_a_diagnosis_reads_the_reply_as_one(tmp_path):
    runner, _ = _runner(tmp_path, ["ASK: Any fever?", "ASK: Is it bronchitis?"], turn_cap=2)
    record = runner.run(small_case())
    assert record.termination == "turn_cap"
    assert record.turns[-2].parse == "forced"
    assert record.differential == ["Is it bronchitis?"]
    assert not record.topk_correct


def test_model_failure_ends_with_error_and_cause(tmp_path):
    class Down:
        name = "down"

        def complete(self, messages, **kwargs):
            raise LLMError("APIConnectionError from http://127.0.0.1:9/v1: Connection error.", attempts=3)

    runner = EncounterRunner(
        scripted_settings(tmp_path), models={"doctor": ScriptedModel(["ASK: Any fever?"]), "patient": Down()}
    )
    record = runner.run(small_case())
    assert record.termination == "error"
    assert record.error.startswith("patient: APIConnectionError")
    assert [t.role for t in record.turns] == ["doctor"]


def test_inconclusive_candidate_goes_to_the_llm_judge(tmp_path):
    judge = ScriptedModel(["VERDICT: correct\nREASON: same disease"])
    runner, _ = _runner(tmp_path, ["DIAGNOSIS: lobar pneumonia of the lung, right base"], judge=judge, llm_judge=True)
    record = runner.run(small_case())
    assert record.verdict.method == "llm" and record.top1_correct
    assert record.totals.by_role["judge"]["calls"] == 1


def test_patient_prompt_never_contains_the_diagnosis(tmp_path):
    runner, models = _runner(tmp_path, ["ASK: What do you think you have?", "DIAGNOSIS: pneumonia"])
    runner.run(small_case())
    prompt = "\n".join(m.content for m in models["patient"].calls[0]).lower()
    assert "pneumonia" not in prompt and "15,200" not in prompt and "crackles" not in prompt
    assert "productive cough" in prompt


def test_human_doctor_is_resumed_through_command(tmp_path):
    settings = scripted_settings(tmp_path)
    runner = EncounterRunner(settings, models={"patient": ScriptedModel(["Four days."], cycle=True)}, human=["doctor"])
    answers = iter(
        [
            "How long have you been coughing?",
            "TEST: complete blood count",
            {"kind": "diagnose", "differential": ["CAP"]},
        ]
    )
    seen = []

    def ask(payload):
        seen.append(payload)
        return next(answers)

    record = runner.run(small_case(), ask_human=ask)
    assert [p["role"] for p in seen] == ["doctor"] * 3
    assert record.turns[0].human and record.turns[0].action.kind == "ask"
    assert "WBC" in record.turns[3].text
    assert record.termination == "diagnosed" and record.top1_correct
    assert record.models["doctor"].human


def test_human_patient_and_measurement_with_lookup_suggestion(tmp_path):
    runner = EncounterRunner(
        scripted_settings(tmp_path),
        models={"doctor": ScriptedModel(["ASK: Where does it hurt?", "TEST: CRP", "DIAGNOSIS: pneumonia"])},
        human=["patient", "measurement"],
    )
    payloads = []

    def ask(payload):
        payloads.append(payload)
        return "In my chest." if payload["role"] == "patient" else ""  # Enter accepts the lookup

    record = runner.run(small_case(), ask_human=ask)
    assert [p["role"] for p in payloads] == ["patient", "measurement"]
    assert "120 mg/L" in payloads[1]["suggestion"]["text"]
    assert record.turns[1].text == "In my chest." and record.turns[1].human
    assert "120 mg/L" in record.turns[3].text


def test_human_quit_ends_the_encounter(tmp_path):
    runner = EncounterRunner(scripted_settings(tmp_path), models={"patient": ScriptedModel(["Yes."])}, human=["doctor"])
    record = runner.run(small_case(), ask_human=lambda payload: "/quit")
    assert record.termination == "human_quit" and record.turns == []


def test_human_seat_without_input_is_an_error_not_a_hang(tmp_path):
    runner = EncounterRunner(scripted_settings(tmp_path), models={"patient": ScriptedModel(["Yes."])}, human=["doctor"])
    record = runner.run(small_case())
    assert record.termination == "error" and "no input" in record.error


def test_interrupted_encounter_continues_from_its_last_turn(tmp_path):
    """A process dies while a human doctor thinks; a new process with the same thread continues."""
    checkpoint = tmp_path / "checkpoints.sqlite"
    settings = scripted_settings(tmp_path)

    class Crash(Exception):
        pass

    answers = iter(["ASK: Any fever?", "TEST: CBC"])

    def crash_on_third(payload):
        try:
            return next(answers)
        except StopIteration:
            raise Crash() from None

    first = EncounterRunner(
        settings,
        models={"patient": ScriptedModel(["Yes, high fever."], cycle=True)},
        human=["doctor"],
        checkpoint_path=checkpoint,
    )
    broken = first.run(small_case(), thread_id="enc-1", ask_human=crash_on_third)
    assert broken.termination == "error"

    replayed = []
    second = EncounterRunner(
        settings,
        models={"patient": ScriptedModel(["unused"], cycle=True)},
        human=["doctor"],
        checkpoint_path=checkpoint,
    )
    record = second.run(
        small_case(), thread_id="enc-1", on_turn=replayed.append, ask_human=lambda payload: "DIAGNOSIS: pneumonia"
    )
    assert [t.text for t in record.turns[:4]] == [
        "ASK: Any fever?",
        "Yes, high fever.",
        "TEST: CBC",
        record.turns[3].text,
    ]
    assert "WBC" in record.turns[3].text
    assert record.termination == "diagnosed" and record.totals.doctor_turns == 3
    assert len(replayed) == len(record.turns)  # earlier turns shown again, then the new ones


def test_unknown_human_seat_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="judge"):
        EncounterRunner(scripted_settings(tmp_path), human=["judge"])


def test_structured_doctor_sends_the_schema_and_reads_json(tmp_path):
    settings = scripted_settings(tmp_path).model_copy(deep=True)
    settings.roles.doctor.structured_output = "json_object"
    doctor = ScriptedModel(['{"kind": "test", "name": "CBC"}', '{"kind": "diagnose", "differential": ["CAP"]}'])
    record = EncounterRunner(settings, models={"doctor": doctor, "patient": ScriptedModel(["Yes."])}).run(small_case())
    assert [t.parse for t in record.turns if t.role == "doctor"] == ["json", "json"]
    assert doctor.schemas[0]["anyOf"][0]["properties"]["kind"] == {"const": "ask"}
    assert '"kind": "test"' in doctor.calls[1][2].content  # its own past turn, shown as JSON
    assert "JSON object" in doctor.calls[0][0].content and record.top1_correct


def test_session_steps_until_a_human_must_answer_and_survives_a_restart(tmp_path):
    """What the web app does: advance, show the question, come back later (new objects, same thread)."""
    checkpoint = tmp_path / "app.sqlite"
    settings = scripted_settings(tmp_path)

    def session():
        runner = EncounterRunner(
            settings,
            models={"patient": ScriptedModel(["Since Monday."], cycle=True)},
            human=["doctor"],
            checkpoint_path=checkpoint,
        )
        return runner.session(small_case(), thread_id="web-1")

    step = session().advance()
    assert step.waiting_for["role"] == "doctor" and step.turns == [] and step.record is None
    step = session().advance("When did it start?")
    assert [t.role for t in step.turns] == ["doctor", "patient"] and step.waiting_for["role"] == "doctor"
    again = session().advance()  # a reload: nothing new is run, the same question is pending
    assert len(again.turns) == 2 and again.waiting_for["role"] == "doctor"
    final = session().advance("DIAGNOSIS: pneumonia")
    assert final.record is not None and final.record.termination == "diagnosed" and final.record.top1_correct
    assert session().advance().record.top1_correct  # finished threads stay finished
