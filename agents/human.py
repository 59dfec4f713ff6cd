"""A human in any seat: the node pauses with LangGraph's `interrupt()` and the caller (terminal, web app,
test) resumes the thread with `Command(resume=answer)`. Humans speak the same protocol as models.
"""

from __future__ import annotations

from langgraph.types import interrupt

from agents.doctor import action_text
from agents.parsing import fallback_ask, parse_action
from agents.patient import OPENING_QUESTION
from agents.protocol import Reply, View
from sim.core.actions import Diagnose

QUIT_WORDS = {"/quit", "/exit", "quit()", ":q"}


def _is_quit(answer: object) -> bool:
    if isinstance(answer, dict):
        return bool(answer.get("quit"))
    return isinstance(answer, str) and answer.strip().lower() in QUIT_WORDS


class HumanSeat:
    def __init__(self, role: str, suggest=None):
        self.role = role
        self.suggest = suggest  # for the measurement seat: the lookup's answer, offered as a default

    def generate_next_message(self, view: View) -> Reply:
        payload = {
            "role": self.role,
            "message": view.message.text if view.message else (OPENING_QUESTION if self.role == "patient" else ""),
            "request": view.message.action.model_dump() if view.message and view.message.action else {},
            "doctor_turns": view.doctor_turns,
            "turn_cap": view.turn_cap,
            "final_turn": view.final_turn,
        }
        suggestion = self.suggest.generate_next_message(view) if self.suggest is not None else None
        if suggestion is not None:
            payload["suggestion"] = {"text": suggestion.text, "images": suggestion.images}
        answer = interrupt(payload)
        if _is_quit(answer):
            return Reply(text="(left the encounter)", human=True, quit=True)
        if self.role == "doctor":
            return _doctor_reply(answer)
        if isinstance(answer, dict):
            text, images = str(answer.get("text", "")), list(answer.get("images", []))
        else:
            text, images = str(answer or ""), []
        if not text.strip() and suggestion is not None:
            text, images = suggestion.text, suggestion.images
        return Reply(text=text.strip() or "(no answer)", images=images, human=True)


def _doctor_reply(answer: object) -> Reply:
    if isinstance(answer, dict) and answer.get("kind"):
        from sim.core.actions import ACTION_ADAPTER

        action = ACTION_ADAPTER.validate_python(answer)
        how = "human"
    else:
        parsed = parse_action(str(answer))
        # A human typing a plain sentence is asking the patient, not failing a format.
        action, how = (parsed.action, "human") if parsed.action else (fallback_ask(str(answer)), "human")
    if isinstance(action, Diagnose):
        action = Diagnose(differential=action.differential)
    return Reply(text=action_text(action), action=action, parse=how, human=True)
