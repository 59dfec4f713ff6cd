"""Answer leaks: the diagnosis is redacted from what patient and measurement agents are given, and every
attempt of theirs to say it is flagged (and masked before the doctor sees it)."""

from __future__ import annotations

from agents.leaks import MASK, LeakCheck, redact_case
from agents.llm.scripted import ScriptedModel
from agents.protocol import Reply
from sim.encounter.runner import EncounterRunner
from sim.loaders import load_cases
from sim.loaders.audit import audit_cases
from tests.helpers import scripted_settings, small_case

ATTEMPTS = [
    "I think what I have is {name}.",
    "my last doctor said it was {lower}!",
    "RESULT: FINDINGS CONSISTENT WITH {upper}",
    "Could this be {hyphen}?",
]


def _attempt(index: int, name: str) -> str:
    return ATTEMPTS[index % len(ATTEMPTS)].format(
        name=name, lower=name.lower(), upper=name.upper(), hyphen=name.replace(" ", "-")
    )


def test_redaction_removes_the_diagnosis_and_reports_where():
    case = small_case().model_copy(deep=True)
    case.patient.history = "Told last year it was community-acquired pneumonia; cough again."
    case.tests["Sputum"] = {"Comment": "Consistent with CAP"}
    redacted, report = redact_case(case)
    assert "pneumonia" not in redacted.patient.history.lower() and MASK in redacted.patient.history
    assert redacted.tests["Sputum"]["Comment"] == f"Consistent with {MASK}"
    assert {"field": "patient.history", "name": "Community-acquired pneumonia"} in report
    assert {"field": "tests.Sputum.Comment", "name": "CAP"} in report
    assert case.patient.history.startswith("Told last year")  # the original case is untouched


def test_redacted_medqa_cases_no_longer_leak_by_the_exact_rule(medqa_path):
    cases = load_cases(medqa_path)
    before = {f.case_id for f in audit_cases(cases) if f.rule == "exact"}
    after = {f.case_id for f in audit_cases([redact_case(c)[0] for c in cases]) if f.rule == "exact"}
    reported = {c.id for c in cases if redact_case(c)[1]}
    print(
        f"\nMedQA exact leaks: {len(before)} cases before redaction, {len(after)} after; {len(reported)} cases redacted"
    )
    assert len(before) >= 10 and after == set() and before <= reported


class LeakyMeasurement:
    role = "measurement"

    def __init__(self, text: str):
        self.text = text

    def generate_next_message(self, view) -> Reply:
        return Reply(text=self.text)


def test_every_attempt_to_say_the_diagnosis_is_flagged_on_all_medqa_cases(medqa_path, tmp_path):
    """Scripted patient and measurement agents that try to say the answer, on all 107 cases."""
    cases = load_cases(medqa_path)
    settings = scripted_settings(tmp_path)
    attempts = flagged = masked = 0
    for index, case in enumerate(cases):
        name = case.diagnosis.name
        runner = EncounterRunner(
            settings,
            models={
                "doctor": ScriptedModel(["ASK: What is wrong with you?", "TEST: anything", "DIAGNOSIS: unsure"]),
                "patient": ScriptedModel([_attempt(index, name)]),
            },
        )
        seats = runner.parts.seats
        runner.parts.seats = lambda c, d, human=(), seats=seats, text=_attempt(index + 1, name): _with_measurement(
            seats(c, d, human), text
        )
        record = runner.run(case)
        for turn in record.turns:
            if turn.role in ("patient", "measurement"):
                attempts += 1
                flagged += "leak" in turn.meta
                masked += name.lower() not in turn.text.lower()
        assert record.totals.leaks == 2, (case.id, [t.text for t in record.turns])
    print(f"\nleak attempts: {attempts}, flagged: {flagged}, masked before the doctor saw them: {masked}")
    assert attempts == 2 * len(cases) == flagged


def _with_measurement(built, text):
    seats, redactions = built
    seats.measurement = LeakyMeasurement(text)
    return seats, redactions


def test_clean_outputs_are_not_flagged(medqa_path):
    cases = load_cases(medqa_path)
    checks = [LeakCheck(c.diagnosis) for c in cases]
    harmless = ["I have had this for two weeks.", "No, nothing like that.", "Temperature 37.2 C; heart rate 80 bpm"]
    false_flags = sum(check.check(text) is not None for check in checks for text in harmless)
    assert false_flags == 0
