"""The LLM doctor: a typed action per turn, one repair request when a reply won't parse; strategies on top."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from agents.actions import Ask, Diagnose, DoctorAction, RequestImage, RequestTest, action_json_schema
from agents.llm.base import ChatModel, Completion, Message
from agents.parsing import fallback_ask, parse_action
from agents.prompts import bias_fragment, render
from agents.protocol import Reply, View, call_record
from agents.transcript import LLMCall

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


@dataclass
class DoctorStep:
    """One decided action and how it came about (parse method, raw reply, the calls it took)."""

    action: DoctorAction
    how: str
    raw: str
    calls: list[LLMCall] = field(default_factory=list)


class LLMDoctor:
    """The model doctor. How it reaches each action is its strategy (agents/strategies): the doctor offers
    the building blocks (its prompt, one model call, parse-with-repair) and the strategy combines them."""

    role = "doctor"

    def __init__(self, model: ChatModel, objective: str, turn_cap: int = 20, top_k: int = 5, bias: str = "none",
                 max_tokens: int | None = None, structured: bool = False, strategy=None):
        from agents.strategies import Direct

        self.model = model
        self.structured = structured
        self.schema = action_json_schema() if structured else None
        self.top_k = top_k
        self.system = render(
            "doctor_system_json" if structured else "doctor_system",
            objective=objective or "Find the most likely diagnosis.",
            turn_cap=turn_cap,
            top_k=top_k,
            bias=bias_fragment("doctor", bias),
            context="",
        )
        self.max_tokens = max_tokens
        self.strategy = strategy or Direct()

    def messages(self, view: View, extra: str = "") -> list[Message]:
        messages = doctor_messages(view, self.system, self.structured)
        if extra:
            last = messages[-1]
            messages[-1] = Message(role=last.role, content=f"{last.content}\n\n{extra.strip()}")
        return messages

    def call(self, messages: list[Message], view: View, purpose: str, *, constrained: bool = True,
             temperature: float | None = None, seed: int | None = None, max_tokens: int | None = None,
             model: ChatModel | None = None) -> tuple[Completion, LLMCall]:
        completion = (model or self.model).complete(
            messages, seed=view.seed if seed is None else seed, temperature=temperature,
            max_tokens=max_tokens or self.max_tokens, response_schema=self.schema if constrained else None,
        )
        record = call_record("doctor", purpose, completion)
        record.strategy = self.strategy.name
        return completion, record

    def step(self, messages: list[Message], view: View, purpose: str = "act") -> DoctorStep:
        """One action: a call, its parse, one repair request if needed, then the fallback."""
        first, call = self.call(messages, view, purpose)
        calls = [call]
        parsed = parse_action(first.text)
        action, how, raw = parsed.action, parsed.method, first.text
        if action is None:
            repair = messages + [
                Message(role="assistant", content=first.text or "(empty)"),
                Message(role="user", content=render("doctor_repair_json" if self.structured else "doctor_repair").strip()),
            ]
            second, call = self.call(repair, view, "repair")
            calls.append(call)
            parsed = parse_action(second.text)
            action, how = parsed.action, "repaired"
            if action is None:
                action, how = fallback_ask(first.text), "fallback"
        if view.final_turn and not isinstance(action, Diagnose):
            # Asked for the final answer and gave something else: read its words as the diagnosis.
            forced = as_diagnosis(raw if how != "fallback" else first.text, action)
            if forced is not None:
                action, how = forced, "forced"
        return DoctorStep(action, how, raw, calls)

    def reply(self, step: DoctorStep, meta: dict | None = None) -> Reply:
        text = action_text(step.action)
        return Reply(text=text, action=step.action.model_dump(), calls=step.calls, parse=step.how,
                     raw=step.raw if step.raw.strip() != text else "", meta=meta or {})

    def generate_next_message(self, view: View) -> Reply:
        return self.strategy.next_action(self, view)


def as_diagnosis(raw: str, action: DoctorAction | None = None) -> Diagnose | None:
    """Read free text as a one-item differential (what a doctor told to diagnose meant by its words)."""
    candidate = (getattr(action, "name", None) or getattr(action, "text", None) or raw) if action else raw
    line = next((ln.strip() for ln in (candidate or "").splitlines() if ln.strip()), "")
    line = line[:160]
    return Diagnose(differential=[line]) if line else None
