"""The LLM patient: answers the doctor's questions in character from the patient script only.

It never receives the diagnosis, the exam or the test results: the case slice it is built from is
`case.patient`, and it sees only the questions and its own answers, not test or image results.
"""

from __future__ import annotations

import re

from agents.llm.base import ChatModel, Message
from agents.prompts import bias_fragment, render
from agents.protocol import Reply, View, call_record
from sim.case import PatientScript

MAX_ANSWER_CHARS = 600


def patient_system_prompt(script: PatientScript, bias: str = "none") -> str:
    extra = "\n".join(f"{key.replace('_', ' ').capitalize()}: {value}" for key, value in script.extra.items())
    return render(
        "patient_system",
        demographics=script.demographics or "not stated",
        history=script.history or "not stated",
        primary_symptom=script.symptoms.primary or "not stated",
        secondary_symptoms=", ".join(script.symptoms.secondary) or "none",
        past_medical_history=script.past_medical_history or "nothing notable",
        social_history=script.social_history or "nothing notable",
        review_of_systems=script.review_of_systems or "nothing else",
        extra=extra,
        bias=bias_fragment("patient", bias),
    )


def patient_messages(view: View, system: str) -> list[Message]:
    messages = [Message(role="system", content=system)]
    for turn in view.transcript:
        if turn.role == "doctor" and (turn.action or {}).get("kind") == "ask":
            messages.append(Message(role="user", content=turn.action["text"]))
        elif turn.role == "patient":
            messages.append(Message(role="assistant", content=turn.text))
    return messages


class LLMPatient:
    role = "patient"

    def __init__(self, model: ChatModel, script: PatientScript, bias: str = "none", max_tokens: int | None = None):
        self.model = model
        self.system = patient_system_prompt(script, bias)
        self.max_tokens = max_tokens

    def generate_next_message(self, view: View) -> Reply:
        result = self.model.complete(patient_messages(view, self.system), seed=view.seed, max_tokens=self.max_tokens)
        return Reply(text=clean_answer(result.text), calls=[call_record("patient", "act", result)])


def clean_answer(text: str) -> str:
    text = re.sub(r"^\s*(patient|me|answer)\s*:\s*", "", text.strip(), flags=re.IGNORECASE)
    text = " ".join(text.split())
    if len(text) > MAX_ANSWER_CHARS:
        text = text[:MAX_ANSWER_CHARS].rsplit(" ", 1)[0] + " ..."
    return text or "I'm not sure."
