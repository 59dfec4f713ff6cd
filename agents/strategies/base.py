"""The strategy interface, and the narrow view of the doctor a strategy works with.

A strategy decides how the doctor reaches its next action from the doctor's building blocks (its prompt,
one model call, parse-with-repair, the reply); it never imports the doctor itself, only this protocol.
"""

from __future__ import annotations

from typing import Protocol

from agents.llm.base import ChatModel, Completion, Message
from agents.protocol import Reply, View
from sim.core.actions import DoctorAction
from sim.core.transcript import LLMCall


class DoctorStepLike(Protocol):
    """One decided action (a strategy may replace it or add calls) and what the doctor's reply records of it."""

    action: DoctorAction
    how: str
    raw: str
    calls: list[LLMCall]
    notes: str


class DoctorTools(Protocol):
    """What a strategy may use of the model doctor (agents/doctor.py implements it)."""

    top_k: int

    def messages(self, view: View, extra: str = "") -> list[Message]: ...

    def step(self, messages: list[Message], view: View, purpose: str = "act") -> DoctorStepLike: ...

    def call(
        self,
        messages: list[Message],
        view: View,
        purpose: str,
        *,
        constrained: bool = True,
        temperature: float | None = None,
        seed: int | None = None,
        max_tokens: int | None = None,
        model: ChatModel | None = None,
        diagnosis_only: bool = False,
    ) -> tuple[Completion, LLMCall]: ...

    def reply(self, step: DoctorStepLike, meta: dict | None = None) -> Reply: ...


class Strategy(Protocol):
    name: str

    def next_action(self, doctor: DoctorTools, view: View) -> Reply: ...
