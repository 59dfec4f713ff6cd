"""The scripted encounter the performance measurements share: a doctor that asks, tests, images and
diagnoses over eight turns, and a patient that answers from its own script.

Replies depend only on the conversation so far (not on call order), so concurrent episodes and the HTTP
test server give the same transcripts as a sequential run. The same functions answer `ScriptedModel`
calls (messages with `.role`/`.content`) and HTTP requests (dicts with "role"/"content").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.llm.scripted import ScriptedModel
from sim.core.config import Settings, load_settings

DOCTOR_SCRIPT = (
    "ASK: What brought you in today, and when did it start?",
    "ASK: Do you have any other symptoms, such as fever, cough or breathlessness?",
    "TEST: complete blood count",
    "TEST: C reactive protein",
    "IMAGE: chest x-ray",
    "ASK: Have you had anything like this before, and do you smoke?",
    "TEST: arterial blood gas",
    "DIAGNOSIS: Community-acquired pneumonia; Right pneumothorax; Pleural effusion",
)
# The lines of the patient's system prompt the scripted patient answers from, in order (see patient_system.txt).
PATIENT_FACTS = ("What happened:", "Other symptoms:", "Past medical history:", "Social history:", "Main complaint:")


def _role(message: Any) -> str:
    return message["role"] if isinstance(message, dict) else message.role


def _content(message: Any) -> str:
    return message["content"] if isinstance(message, dict) else message.content


def doctor_reply(messages: list) -> str:
    turns = sum(1 for m in messages if _role(m) == "assistant")
    return DOCTOR_SCRIPT[min(turns, len(DOCTOR_SCRIPT) - 1)]


def patient_reply(messages: list) -> str:
    """The next fact of the patient's script (from its system prompt), as a patient would say it."""
    system = next((_content(m) for m in messages if _role(m) == "system"), "")
    facts = {line.split(":", 1)[0] + ":": line.split(":", 1)[1].strip() for line in system.splitlines() if ":" in line}
    answered = sum(1 for m in messages if _role(m) == "assistant")
    key = PATIENT_FACTS[answered % len(PATIENT_FACTS)]
    return facts.get(key) or "I'm not sure."


def is_doctor_request(messages: list) -> bool:
    """Tells the doctor's requests from the patient's on a server both roles share."""
    system = next((_content(m) for m in messages if _role(m) == "system"), "")
    return "DIAGNOSIS:" in system


def scripted_models(delay_s: float = 0.0) -> dict[str, ScriptedModel]:
    return {
        "doctor": ScriptedModel(doctor_reply, name="scripted-doctor", delay_s=delay_s),
        "patient": ScriptedModel(patient_reply, name="scripted-patient", delay_s=delay_s),
    }


def perf_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for measured runs (the usual sources, then these): room for the whole script, no LLM judge
    (the string rules decide), no retrieval or experience store (both are measured on their own)."""
    values = {
        "data_dir": str(data_dir),
        "encounter.turn_cap": 20,
        "encounter.llm_judge": False,
        "retrieval.enabled": False,
        "experience.enabled": False,
        "strategy.name": "direct",
    }
    values.update(overrides)
    return load_settings(None, values)
