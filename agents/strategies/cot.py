"""`cot`: private reasoning before each action. The reasoning is kept in the turn's record
(`meta.reasoning`) and fed to the doctor's own action call; the patient and measurement agents only
ever see the action itself."""

from __future__ import annotations

from agents.prompts import render
from agents.protocol import Reply, View
from agents.strategies.base import DoctorTools

REASONING_TOKENS = 160


class ChainOfThought:
    @classmethod
    def from_settings(cls, spec, panel_model=None) -> ChainOfThought:
        return cls()

    name = "cot"

    def next_action(self, doctor: DoctorTools, view: View) -> Reply:
        thought, call = doctor.call(
            doctor.messages(view, extra=render("cot_reasoning")),
            view,
            "reasoning",
            constrained=False,
            max_tokens=REASONING_TOKENS,
        )
        reasoning = " ".join(thought.text.split())
        step = doctor.step(doctor.messages(view, extra=render("cot_action", reasoning=reasoning or "(none)")), view)
        step.calls.insert(0, call)
        return doctor.reply(step, meta={"reasoning": reasoning})
