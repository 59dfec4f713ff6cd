"""The work-up: the doctor's action grammar, its status line and repeat redirect, the patient's opening
statement and role-break repair, and the measures every record carries (facts elicited, role breaks)."""

from __future__ import annotations

import pytest

from agents.doctor import Workup, action_grammar, doctor_messages, workup_status
from agents.llm.scripted import ScriptedModel
from agents.patient import OPENING_QUESTION, LLMPatient, licensed_breaks, patient_name, with_article
from agents.prompts import bias_fragment
from agents.protocol import View
from agents.role_breaks import role_breaks
from sim.core.actions import RequestImage, RequestTest
from sim.core.case import PatientScript, Symptoms
from sim.core.transcript import Turn
from sim.encounter.elicitation import elicitation, script_facts
from sim.encounter.runner import EncounterRunner
from tests.helpers import scripted_settings, small_case


def doctor_turn(index: int, text: str, action: dict) -> Turn:
    return Turn(index=index, role="doctor", text=text, action=action)


# --- role breaks ---------------------------------------------------------------------------------------

BROKEN = [
    ("I'm here to help you with your chest pain and breathlessness.", {"plays_doctor"}),
    ("My name is Dr. Smith.", {"plays_doctor"}),
    ("The patient's name is Sarah.", {"third_person"}),
    ("The most likely diagnosis for this patient is Pneumonia.", {"third_person"}),
    ("I'm sorry, but I don't have enough information to determine the cause of my chest pain.", {"ai_voice"}),
    ("As an AI language model I cannot diagnose.", {"ai_voice"}),
    ("Do you have any fever or cough?", {"plays_doctor"}),
    ("I think I have pneumonia.", {"names_diagnosis"}),
    ("He has had a cough for three days.", {"third_person"}),
]
IN_CHARACTER = [
    "I've had a sharp pain on the right side of my chest since yesterday.",
    "No, I don't have a fever.",
    "My name is Robert.",
    "I smoked for about twenty years but stopped nine years ago.",
    "It's worse when I breathe in deeply.",
    "I don't know, doctor, is it serious?",
]


@pytest.mark.parametrize("text, kinds", BROKEN)
def test_role_breaks_are_caught_by_kind(text, kinds):
    assert {hit["kind"] for hit in role_breaks(text)} == kinds


@pytest.mark.parametrize("text", IN_CHARACTER)
def test_a_patient_in_character_breaks_nothing(text):
    assert role_breaks(text) == []


# --- the patient ---------------------------------------------------------------------------------------


def test_the_patient_opens_with_its_complaint_and_plays_a_named_person():
    script = small_case().patient
    model = ScriptedModel(["I've had a bad cough for four days."])
    reply = LLMPatient(model, script).generate_next_message(View(transcript=[], message=None))
    system, opening = model.calls[0]
    assert opening.content == f"Doctor: {OPENING_QUESTION}"
    assert f"You are {patient_name(script)}, a 54-year-old man." in system.content
    assert reply.text == "I've had a bad cough for four days." and not reply.meta
    assert patient_name(script) == patient_name(script.model_copy())  # the same case, the same name


def test_a_reply_out_of_character_is_asked_once_more_and_the_first_attempt_kept():
    model = ScriptedModel(["I'm here to help you with your cough.", "I've been coughing for four days."])
    reply = LLMPatient(model, small_case().patient).generate_next_message(View(transcript=[], message=None))
    assert reply.text == "I've been coughing for four days."
    assert [c.purpose for c in reply.calls] == ["act", "repair"]
    assert reply.meta["repaired_role_break"]["breaks"][0]["kind"] == "plays_doctor"
    assert "first person" in model.calls[1][-1].content


def test_a_self_diagnosing_patient_may_name_the_illness_it_fears_and_its_bias_comes_first():
    fear = "I read online about my cough and I think I have lung cancer; please rule it out."
    assert {hit["kind"] for hit in role_breaks(fear)} == {"names_diagnosis"}
    assert role_breaks(fear, licensed_breaks("self_diagnosis")) == []
    assert licensed_breaks("education") == licensed_breaks("none") == frozenset()
    biased = ScriptedModel([fear])
    reply = LLMPatient(biased, small_case().patient, bias="self_diagnosis").generate_next_message(
        View(transcript=[], message=None)
    )
    assert reply.text == fear and [c.purpose for c in reply.calls] == ["act"]  # not "repaired" away
    system = biased.calls[0][0].content
    assert system.rstrip().endswith(bias_fragment("patient", "self_diagnosis").strip())
    assert "where this conflicts with the rules above, follow this" in system
    plain = ScriptedModel(
        [fear, "Just the cough."]
    )  # without the bias the same reply is a break and is asked once more
    LLMPatient(plain, small_case().patient).generate_next_message(View(transcript=[], message=None))
    assert len(plain.calls) == 2 and "follow this" not in plain.calls[0][0].content


def test_articles_and_names():
    assert with_article("18-year-old woman") == "an 18-year-old woman"
    assert with_article("64-year-old man") == "a 64-year-old man"
    woman = PatientScript(demographics="31-year-old woman")
    assert patient_name(woman) in ("Susan", "Maria", "Aisha", "Helen", "Mei", "Grace")


# --- the doctor's work-up ------------------------------------------------------------------------------


def test_status_line_counts_the_work_up_and_suggests_the_next_step():
    turns = [
        Turn(index=0, role="patient", text="I have a cough."),
        doctor_turn(1, "ASK: Since when?", {"kind": "ask", "text": "Since when?"}),
        Turn(index=2, role="patient", text="Four days."),
        doctor_turn(3, "TEST: chest examination", {"kind": "test", "name": "chest examination"}),
    ]
    status = workup_status(turns, 3, 6)
    assert status == (
        "(Turn 3 of 6. Done so far: 1 question; examination: chest examination; tests: none; "
        "imaging: none. Suggested next step: tests that fit.)"
    )
    assert "Suggested next step: imaging" in workup_status(turns, 5, 6)  # too few turns left: tests skipped
    assert "Suggested next step: DIAGNOSIS" in workup_status(turns, 6, 6)


def test_a_test_that_returned_an_image_counts_as_imaging_and_repeats_are_recognised():
    turns = [
        doctor_turn(0, "TEST: Chest X-ray", {"kind": "test", "name": "Chest X-ray"}),
        Turn(index=1, role="measurement", text="acquired", images=["a.png"]),
        doctor_turn(2, "TEST: CBC", {"kind": "test", "name": "CBC"}),
    ]
    workup = Workup.of(turns)
    assert workup.images == ["Chest X-ray"] and workup.tests == ["CBC"]
    assert workup.repeats(RequestImage(name="chest x-ray PA")) == "Chest X-ray"
    assert workup.repeats(RequestTest(name="complete blood count")) == "CBC"
    assert workup.repeats(RequestTest(name="D-dimer")) == ""


def test_the_status_line_is_on_the_newest_message_only():
    """Past messages are resent without it (a line per turn would grow every prompt); they are otherwise as sent."""
    turns = [
        Turn(index=0, role="patient", text="I have a cough."),
        doctor_turn(1, "ASK: Since when?", {"kind": "ask", "text": "Since when?"}),
        Turn(index=2, role="patient", text="Four days."),
    ]
    before = doctor_messages(View(transcript=turns[:1], doctor_turns=0, turn_cap=6), "system")
    after = doctor_messages(View(transcript=turns, doctor_turns=1, turn_cap=6), "system")
    assert "Patient: I have a cough." in before[-1].content and "(Turn 1 of 6." in before[-1].content
    assert after[1].content == "A new patient has come in.\n\nPatient: I have a cough."
    assert "(Turn 2 of 6." in after[-1].content and sum("(Turn" in m.content for m in after) == 1


def test_a_repeated_request_is_redirected_once(tmp_path):
    settings = scripted_settings(tmp_path, turn_cap=5)
    doctor = ScriptedModel(
        ["TEST: chest examination", "TEST: chest exam", "IMAGE: chest x-ray", "DIAGNOSIS: Pneumonia"]
    )
    runner = EncounterRunner(settings, models={"doctor": doctor, "patient": ScriptedModel(["Yes."], cycle=True)})
    record = runner.run(small_case(), seed=0)
    doctor_turns = [t for t in record.turns if t.role == "doctor"]
    assert [t.text for t in doctor_turns] == ["TEST: chest examination", "IMAGE: chest x-ray", "DIAGNOSIS: Pneumonia"]
    assert doctor_turns[1].parse == "redirected" and record.totals.redirects == 1
    assert "You already did that (chest examination)" in doctor.calls[2][-1].content


def test_the_last_turn_grammar_allows_only_a_diagnosis():
    """(That both grammars compile in llama.cpp and constrain its replies: tests/test_embedded.py.)"""
    assert "root ::= diagnosis" in action_grammar(True) and "root      ::= ask | test" in action_grammar(False)


def test_the_grammar_is_sent_only_to_a_backend_that_constrains(tmp_path):
    from agents.doctor import LLMDoctor

    model = ScriptedModel(["ASK: Since when?", "DIAGNOSIS: Pneumonia"], cycle=True)
    for mode, sent in (("grammar", True), ("off", False)):
        doctor = LLMDoctor(model, "find it", turn_cap=4, output_mode=mode)
        doctor.generate_next_message(View(transcript=[], turn_cap=4))
        assert (model.grammars[-1] is not None) is sent
    doctor = LLMDoctor(model, "find it", turn_cap=2, output_mode="grammar")
    reply = doctor.generate_next_message(View(transcript=[], doctor_turns=1, turn_cap=2))
    assert "root ::= diagnosis" in model.grammars[-1] and reply.action.kind == "diagnose"


def test_a_deliberating_doctor_on_the_grammar_decides_to_diagnose_and_writes_the_line_after_its_notes():
    """With the grammar the act call's diagnosis is the bare decision (the line it used to write was always
    replaced by the one after the notes); other actions are whole, and without notes nothing changes."""
    from agents.doctor import DECIDED, LLMDoctor

    model = ScriptedModel([DECIDED, "Right lower zone opacity and fever.", "DIAGNOSIS: Right lower lobe pneumonia"])
    doctor = LLMDoctor(model, "find it", turn_cap=6, output_mode="grammar", deliberate=True)
    reply = doctor.generate_next_message(View(transcript=[], doctor_turns=2, turn_cap=6))
    assert reply.action.differential == ["Right lower lobe pneumonia"] and reply.parse == "deliberated"
    assert [c.purpose for c in reply.calls] == ["act", "reasoning", "diagnose"]
    assert f'diagnosis ::= "{DECIDED}"' in model.grammars[0] and "root ::= diagnosis" in model.grammars[2]
    assert reply.meta["reasoning"] == "Right lower zone opacity and fever."
    asking = ScriptedModel(["ASK: Any fever?"])
    reply = LLMDoctor(asking, "find it", turn_cap=6, output_mode="grammar", deliberate=True).generate_next_message(
        View(transcript=[], doctor_turns=0, turn_cap=6)
    )
    assert reply.text == "ASK: Any fever?" and len(asking.calls) == 1
    plain = ScriptedModel(["DIAGNOSIS: Pneumonia"])
    LLMDoctor(plain, "find it", turn_cap=6, output_mode="grammar").generate_next_message(
        View(transcript=[], turn_cap=6)
    )
    assert f'"{DECIDED}"' not in plain.grammars[0]


def test_auto_output_mode_is_grammar_on_the_embedded_backend_only(tmp_path):
    settings = scripted_settings(tmp_path)
    assert settings.roles.doctor.model_copy(update={"backend": "embedded"}).output_mode() == "grammar"
    assert settings.roles.doctor.model_copy(update={"backend": "openai"}).output_mode() == "off"
    explicit = settings.roles.doctor.model_copy(update={"backend": "embedded", "structured_output": "json_object"})
    assert explicit.output_mode() == "json_object"


# --- the opening in the graph, and the record's measures ----------------------------------------------------


def test_the_patient_speaks_first_and_the_record_measures_the_work_up(tmp_path):
    settings = scripted_settings(tmp_path, patient_opens=True, turn_cap=4)
    patient = ScriptedModel(
        [
            "I have had a productive cough for four days.",
            "Yes, a fever and chills.",
            "I'm here to help you.",
            "I'm here to help you.",
        ]
    )
    doctor = ScriptedModel(["ASK: Any fever?", "ASK: Anything else?", "DIAGNOSIS: Pneumonia"])
    record = EncounterRunner(settings, models={"doctor": doctor, "patient": patient}).run(small_case(), seed=0)
    assert [t.role for t in record.turns[:3]] == ["patient", "doctor", "patient"]
    assert record.turns[0].text == "I have had a productive cough for four days."
    facts = script_facts(small_case().patient)
    assert record.elicitation.facts == len(facts)
    said = {"Productive cough", "Fever", "Chills", "Cough and fever for four days"}
    assert set(facts) - set(record.elicitation.missed) == said
    assert record.totals.role_breaks == 1  # the repaired reply broke the role again: flagged
    assert record.turns[4].meta["role_breaks"][0]["kind"] == "plays_doctor"
    assert record.models["measurement"].backend == "lookup"


def test_elicitation_counts_clauses_said_in_other_words():
    script = PatientScript(
        history="Sharp pain on the right side of the chest. Breathless since yesterday.",
        symptoms=Symptoms(primary="Right-sided chest pain", secondary=["Dry cough"]),
    )
    result = elicitation(script, ["My chest hurts on the right side, a sharp pain.", "Just a dry cough."])
    assert result.facts == 4 and result.elicited == 3 and result.missed == ["Breathless since yesterday"]
    assert elicitation(script, []).share == 0.0


def test_the_doctor_reasons_privately_before_its_diagnosis(tmp_path):
    settings = scripted_settings(tmp_path, turn_cap=3)
    settings.strategy.deliberate = True
    settings.strategy.reasoning_tokens = 48
    doctor = ScriptedModel(
        [
            "IMAGE: chest x-ray",
            "DIAGNOSIS: Bronchitis",
            "Fever, crackles and a right lower zone opacity: pneumonia.",
            "DIAGNOSIS: Pneumonia; Bronchitis",
        ]
    )
    record = EncounterRunner(settings, models={"doctor": doctor, "patient": ScriptedModel(["Yes."])}).run(small_case())
    final = [t for t in record.turns if t.role == "doctor"][-1]
    assert final.text == "DIAGNOSIS: Pneumonia; Bronchitis" and final.parse == "deliberated"
    assert [c.purpose for c in final.calls] == ["act", "reasoning", "diagnose"]
    assert final.meta["reasoning"] == "Fever, crackles and a right lower zone opacity: pneumonia."
    assert doctor.max_tokens[2] == 48  # the notes' budget is strategy.reasoning_tokens
    # the diagnosis is asked after the notes, kept as the doctor's own turn (so a server re-uses them evaluated)
    assert doctor.calls[3][:-2] == doctor.calls[2]
    assert doctor.calls[3][-2].role == "assistant" and doctor.calls[3][-2].content.startswith("Fever, crackles")
    assert doctor.calls[3][-1].role == "user" and "DIAGNOSIS:" in doctor.calls[3][-1].content
    assert record.top1_correct and "crackles" not in " ".join(t.text for t in record.turns if t.role == "patient")


def test_on_the_last_turn_the_doctor_writes_its_notes_without_a_diagnosis_line_first(tmp_path):
    """The last turn's answer is a diagnosis, asked after the notes: a usual call first would be thrown away."""
    settings = scripted_settings(tmp_path, turn_cap=2)
    settings.strategy.deliberate = True
    doctor = ScriptedModel(["IMAGE: chest x-ray", "Crackles and a right lower zone opacity.", "DIAGNOSIS: Pneumonia"])
    record = EncounterRunner(settings, models={"doctor": doctor, "patient": ScriptedModel(["Yes."])}).run(small_case())
    final = [t for t in record.turns if t.role == "doctor"][-1]
    assert [c.purpose for c in final.calls] == ["reasoning", "diagnose"] and len(doctor.calls) == 3
    assert final.parse == "deliberated" and final.meta["reasoning"] == "Crackles and a right lower zone opacity."
    assert "last turn" in doctor.calls[1][-1].content.lower() and record.top1_correct


def test_on_the_last_turn_an_unreadable_diagnosis_line_falls_back_to_the_usual_call(tmp_path):
    settings = scripted_settings(tmp_path, turn_cap=2)
    settings.strategy.deliberate = True
    doctor = ScriptedModel(
        ["IMAGE: chest x-ray", "Right lower zone opacity.", "I am not sure.", "DIAGNOSIS: Pneumonia"]
    )
    record = EncounterRunner(settings, models={"doctor": doctor, "patient": ScriptedModel(["Yes."])}).run(small_case())
    final = [t for t in record.turns if t.role == "doctor"][-1]
    assert [c.purpose for c in final.calls] == ["reasoning", "diagnose", "act"]
    assert final.text == "DIAGNOSIS: Pneumonia" and final.meta["reasoning"] == "Right lower zone opacity."


def test_a_study_the_doctor_ordered_is_dropped_from_its_differential(tmp_path):
    """Seen in the demo with the default model: 'DIAGNOSIS: Right pneumothorax; Dry cough; Chest X-ray'."""
    settings = scripted_settings(tmp_path, turn_cap=4)
    doctor = ScriptedModel(
        [
            "TEST: chest examination",
            "IMAGE: chest x-ray PA",
            "DIAGNOSIS: Pneumonia; Chest X-ray; Respiratory examination; Lung cancer",
        ]
    )
    record = EncounterRunner(settings, models={"doctor": doctor, "patient": ScriptedModel(["Yes."], cycle=True)}).run(
        small_case(), seed=0
    )
    assert record.differential == ["Pneumonia", "Lung cancer"]
    workup = Workup.of([doctor_turn(0, "TEST: Lung function tests", {"kind": "test", "name": "Lung function tests"})])
    assert not workup.requested("Lung cancer") and workup.requested("lung function tests")


@pytest.mark.parametrize("deliberate", [False, True])
def test_a_doctor_that_repeats_itself_after_the_reminder_diagnoses_then(tmp_path, deliberate):
    """Seen in the demo: the same chest x-ray ordered twice and the same question asked twice, each a wasted
    turn and a second retrieval. Reminded once and still repeating, the doctor has nothing new: it diagnoses."""
    settings = scripted_settings(tmp_path, turn_cap=6)
    settings.strategy.deliberate = deliberate
    script = ["TEST: chest examination", "TEST: chest exam", "TEST: Chest examination"]
    script += ["Crackles on the right: pneumonia."] if deliberate else []
    doctor = ScriptedModel(script + ["DIAGNOSIS: Pneumonia"])
    record = EncounterRunner(settings, models={"doctor": doctor, "patient": ScriptedModel(["Yes."], cycle=True)}).run(
        small_case(), seed=0
    )
    doctor_turns = [t for t in record.turns if t.role == "doctor"]
    assert [t.text for t in doctor_turns] == ["TEST: chest examination", "DIAGNOSIS: Pneumonia"]
    assert [c.purpose for c in doctor_turns[1].calls][:2] == ["act", "redirect"]
    assert doctor_turns[1].calls[-1].purpose == "diagnose" and record.termination == "diagnosed"
    assert record.top1_correct and record.totals.redirects == 1 and doctor_turns[1].parse == "repeated"
