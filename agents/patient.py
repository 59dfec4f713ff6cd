"""The LLM patient: answers the doctor's questions in character from the patient script only.

It never receives the diagnosis, the exam or the test results: the case slice it is built from is
`case.patient`, and it sees only the questions and its own answers, not test or image results.
"""

from __future__ import annotations

import hashlib
import re

from agents.llm.base import ChatModel, Message
from agents.prompts import bias_fragment, render
from agents.protocol import Reply, View, call_record
from agents.role_breaks import role_breaks
from sim.core.actions import Ask
from sim.core.case import PatientScript

MAX_ANSWER_CHARS = 600
# What the patient answers when it speaks first (the encounter's opening statement).
OPENING_QUESTION = "Please tell me about the problem that brought you here today."
# A first name to play: small models asked "what is your name?" otherwise answer as the doctor. Chosen by
# the script's content, so a case always has the same name.
NAMES = {
    "female": ("Susan", "Maria", "Aisha", "Helen", "Mei", "Grace"),
    "male": ("Robert", "David", "Omar", "James", "Kenji", "Samuel"),
    "": ("Alex", "Sam", "Jordan", "Robin"),
}
_FEMALE = re.compile(r"\b(woman|female|girl|lady|mother|she)\b", re.IGNORECASE)
_MALE = re.compile(r"\b(man|male|boy|gentleman|father|he)\b", re.IGNORECASE)


def patient_name(script: PatientScript) -> str:
    text = f"{script.demographics} {script.history}"
    sex = "female" if _FEMALE.search(text) else "male" if _MALE.search(text) else ""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return NAMES[sex][digest[0] % len(NAMES[sex])]


# Biases that ask the patient for what the role-break rules otherwise flag: a self-diagnosing patient names
# the illness it fears, so there `names_diagnosis` is the bias at work, and repairing it would remove the bias.
_LICENSED_BREAKS = {"self_diagnosis": frozenset({"names_diagnosis"})}


def licensed_breaks(bias: str) -> frozenset[str]:
    """The role-break kinds a patient with this bias is meant to show."""
    return _LICENSED_BREAKS.get(bias, frozenset())


def patient_system_prompt(script: PatientScript, bias: str = "none") -> str:
    extra = "\n".join(f"{key.replace('_', ' ').capitalize()}: {value}" for key, value in script.extra.items())
    return render(
        "patient_system",
        name=patient_name(script),
        demographics=with_article(script.demographics.rstrip(". ") or "adult"),
        history=script.history or "not stated",
        primary_symptom=script.symptoms.primary or "not stated",
        secondary_symptoms=", ".join(script.symptoms.secondary) or "none",
        past_medical_history=script.past_medical_history or "nothing notable",
        social_history=script.social_history or "nothing notable",
        review_of_systems=script.review_of_systems or "nothing else",
        extra=extra,
        # Placed last and marked as coming first: the rules above (never name an illness) would otherwise
        # win over a bias such as self-diagnosis, and the bias would not show at all.
        bias=render("patient_bias", behaviour=fragment) if (fragment := bias_fragment("patient", bias)) else "",
    )


def with_article(noun_phrase: str) -> str:
    """'64-year-old man' -> 'a 64-year-old man'; '18-year-old woman' -> 'an 18-year-old woman'."""
    if re.match(r"(?i)(a|an|the)\s", noun_phrase):
        return noun_phrase
    vowel_sound = re.match(r"(?i)([aeio]|8|11\b|11-|18\b|18-|8\d\b|8\d-)", noun_phrase)
    return f"{'an' if vowel_sound else 'a'} {noun_phrase}"


def patient_messages(view: View, system: str) -> list[Message]:
    messages = [Message(role="system", content=system)]
    if not view.transcript or view.transcript[0].role == "patient":  # the patient opened the encounter
        messages.append(Message(role="user", content=f"Doctor: {OPENING_QUESTION}"))
    for turn in view.transcript:
        if turn.role == "doctor" and isinstance(turn.action, Ask):
            messages.append(Message(role="user", content=f"Doctor: {turn.action.text}"))
        elif turn.role == "patient":
            messages.append(Message(role="assistant", content=turn.text))
    return messages


class LLMPatient:
    role = "patient"

    def __init__(self, model: ChatModel, script: PatientScript, bias: str = "none", max_tokens: int | None = None):
        self.model = model
        self.name = patient_name(script)
        self.system = patient_system_prompt(script, bias)
        self.licensed = licensed_breaks(bias)
        self.max_tokens = max_tokens

    def generate_next_message(self, view: View) -> Reply:
        messages = patient_messages(view, self.system)
        result = self.model.complete(messages, seed=view.seed, max_tokens=self.max_tokens)
        text, calls, meta = clean_answer(result.text), [call_record("patient", "act", result)], {}
        broken = role_breaks(text, self.licensed)
        if broken:
            # One reminder, as a standardised-patient trainer would give; the graph's checker still flags
            # a reply that stays out of character, and the record keeps the first attempt.
            question = messages[-1].content.removeprefix("Doctor: ")
            retry = messages + [
                Message(role="assistant", content=result.text),
                Message(role="user", content=render("patient_repair", name=self.name, question=question).strip()),
            ]
            second = self.model.complete(retry, seed=view.seed, max_tokens=self.max_tokens)
            calls.append(call_record("patient", "repair", second))
            meta = {"repaired_role_break": {"first": text, "breaks": broken}}
            text = clean_answer(second.text)
        return Reply(text=text, calls=calls, meta=meta)


_SPEAKER_LABEL = re.compile(
    r"^\s*(patient|me|answer|" + "|".join(n for names in NAMES.values() for n in names) + r")\s*:\s*", re.IGNORECASE
)


def clean_answer(text: str) -> str:
    text = _SPEAKER_LABEL.sub("", text.strip())
    text = " ".join(text.split())
    if len(text) > MAX_ANSWER_CHARS:
        text = text[:MAX_ANSWER_CHARS].rsplit(" ", 1)[0] + " ..."
    return text or "I'm not sure."
