"""The LLM doctor: one call per turn, a typed action out, one repair request when the reply won't parse."""

from __future__ import annotations

import json

from agents.actions import Ask, Diagnose, DoctorAction, RequestImage, RequestTest, action_json_schema
from agents.llm.base import ChatModel, Message
from agents.parsing import fallback_ask, parse_action
from agents.prompts import bias_fragment, render
from agents.protocol import Reply, View, call_record

OPENING = "A new patient has come in. Begin."


def action_text(action: DoctorAction) -> str:
    """The canonical tagged form of an action, as the doctor sees its own past turns."""
    if isinstance(action, Ask):
        return f"ASK: {action.text}"
    if isinstance(action, RequestTest):
        return f"TEST: {action.name}"
    if isinstance(action, RequestImage):
        return f"IMAGE: {action.name}"
    return "DIAGNOSIS: " + "; ".join(action.differential)


def doctor_messages(view: View, system: str, structured: bool = False) -> list[Message]:
    """System prompt, then the encounter as a chat: the doctor's actions as its own turns, the rest as user
    turns. Only what the doctor needs is resent: its actions in tagged form and each reply once."""
    # Past encounters go with the instructions, not into the dialogue, so they are not repeated per turn.
    messages = [Message(role="system", content=f"{system.rstrip()}\n\n{view.context}" if view.context else system)]
    pending = [OPENING]
    for turn in view.transcript:
        if turn.role == "doctor":
            messages.append(Message(role="user", content="\n\n".join(pending)))
            pending = []
            own = json.dumps(turn.action) if structured and turn.action else turn.text
            messages.append(Message(role="assistant", content=own))
        elif turn.role == "patient":
            pending.append(f"Patient: {turn.text}")
        elif turn.role == "measurement":
            pending.append(f"Result: {turn.text}")
        elif turn.role == "retrieval":
            pending.append(turn.text)
    if view.final_turn:
        pending.append(render("doctor_final_turn_json" if structured else "doctor_final_turn").strip())
    messages.append(Message(role="user", content="\n\n".join(pending) or "Continue."))
    return messages


class LLMDoctor:
    role = "doctor"

    def __init__(self, model: ChatModel, objective: str, turn_cap: int = 20, top_k: int = 5, bias: str = "none",
                 max_tokens: int | None = None, structured: bool = False):
        self.model = model
        self.structured = structured
        self.schema = action_json_schema() if structured else None
        self.system = render(
            "doctor_system_json" if structured else "doctor_system",
            objective=objective or "Find the most likely diagnosis.",
            turn_cap=turn_cap,
            top_k=top_k,
            bias=bias_fragment("doctor", bias),
            context="",
        )
        self.max_tokens = max_tokens

    def _complete(self, messages: list[Message], view: View):
        return self.model.complete(messages, seed=view.seed, max_tokens=self.max_tokens, response_schema=self.schema)

    def generate_next_message(self, view: View) -> Reply:
        messages = doctor_messages(view, self.system, self.structured)
        first = self._complete(messages, view)
        calls = [call_record("doctor", "act", first)]
        parsed = parse_action(first.text)
        action, how, raw = parsed.action, parsed.method, first.text
        if action is None:
            repair = messages + [
                Message(role="assistant", content=first.text or "(empty)"),
                Message(role="user", content=render("doctor_repair_json" if self.structured else "doctor_repair").strip()),
            ]
            second = self._complete(repair, view)
            calls.append(call_record("doctor", "repair", second))
            parsed = parse_action(second.text)
            action, how = parsed.action, "repaired"
            if action is None:
                action, how = fallback_ask(first.text), "fallback"
        if view.final_turn and not isinstance(action, Diagnose):
            # Asked for the final answer and gave something else: read its words as the diagnosis.
            forced = _as_diagnosis(raw if how != "fallback" else first.text, action)
            if forced is not None:
                action, how = forced, "forced"
        return Reply(
            text=action_text(action),
            action=action.model_dump(),
            calls=calls,
            parse=how,
            raw=raw if raw.strip() != action_text(action) else "",
        )


def _as_diagnosis(raw: str, action: DoctorAction) -> Diagnose | None:
    candidate = getattr(action, "name", None) or getattr(action, "text", None) or raw
    line = next((ln.strip() for ln in candidate.splitlines() if ln.strip()), "")
    line = line[:160]
    return Diagnose(differential=[line]) if line else None

