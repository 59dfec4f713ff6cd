"""A baseline doctor prompt in the style of AgentClinic, for the prompt-token comparison only.

What it reproduces is the cost structure, not any text (the wording and the action tags are ours, the
same tags our doctor uses, so only the structure differs): every turn is one
prompt made of instructions, the FULL case (every examination finding and test result, as AgentClinic's
measurement agent is given them with each request) and the whole dialogue so far pasted in as one block
of text, followed by the latest reply. Nothing is sent once and remembered: everything is sent again
every turn. `history_only=True` leaves the case out, to show how much of the difference the case is.
"""

from __future__ import annotations

import json

from agents.llm.base import Message
from sim.core.case import Case
from sim.core.transcript import Turn

INSTRUCTIONS = (
    "You play the doctor in a simulated consultation. Work out the diagnosis by talking with the patient.\n"
    "Ask one question at a time. To order an examination or a test, write 'TEST: <name>'; for imaging, "
    "'IMAGE: <name>'. When you are sure, write 'DIAGNOSIS: <diagnosis>'.\n"
    "You may ask {turn_cap} questions in total; you have asked {asked}. Reply in one or two sentences."
)
SPEAKER = {"doctor": "Doctor", "patient": "Patient", "measurement": "Measurement", "retrieval": "Archive"}


def case_block(case: Case) -> str:
    return json.dumps(
        {"Objective": case.objective, "Physical_Examination_Findings": case.exam, "Test_Results": case.tests},
        ensure_ascii=False,
    )


def baseline_messages(case: Case, transcript: list[Turn], turn_cap: int, history_only: bool = False) -> list[Message]:
    """The prompt of the doctor turn that follows `transcript`."""
    asked = sum(1 for t in transcript if t.role == "doctor")
    history = "\n".join(f"{SPEAKER.get(t.role, t.role)}: {t.text}" for t in transcript if t.role in SPEAKER)
    latest = next((t.text for t in reversed(transcript) if t.role != "doctor"), "The patient has just arrived.")
    parts = [] if history_only else [f"Case information available in this encounter: {case_block(case)}"]
    parts += [f"Dialogue history so far:\n{history or '(none yet)'}", f"Latest message: {latest}", "Your reply:"]
    return [
        Message(role="system", content=INSTRUCTIONS.format(turn_cap=turn_cap, asked=asked)),
        Message(role="user", content="\n\n".join(parts)),
    ]
