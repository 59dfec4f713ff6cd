"""What one encounter says, turn by turn, and what each model call cost."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from sim.core.actions import DoctorAction

Role = Literal["doctor", "patient", "measurement", "retrieval", "judge"]


class TerminationReason(StrEnum):
    diagnosed = "diagnosed"
    turn_cap = "turn_cap"
    error = "error"
    human_quit = "human_quit"


class LLMCall(BaseModel):
    role: str
    purpose: str  # "act" | "repair" | "judge" | ...
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    latency_s: float = 0.0
    attempts: int = 1
    strategy: str = ""  # the doctor strategy the call served (direct, cot, self-consistency, conference)
    images: list[str] = Field(default_factory=list)  # image files the request carried (roles.doctor.vision)


class Turn(BaseModel):
    index: int
    role: Role
    text: str
    action: DoctorAction | None = None  # the doctor's parsed action
    images: list[str] = Field(default_factory=list)
    calls: list[LLMCall] = Field(default_factory=list)
    parse: str = ""  # doctor only: "json" | "tag" | "repaired" | "fallback" | "redirected" | "repeated" |
    # "deliberated" | "forced" | "human"
    human: bool = False
    raw: str = ""  # the doctor's raw reply when it differs from `text`
    meta: dict = Field(default_factory=dict)


def request_kind(turns: list[Turn], index: int) -> str | None:
    """The kind of the doctor's action at `index`, where a test answered with an image counts as imaging
    ("TEST: Chest X-ray" gets the radiograph): the work-up status and the episode totals count alike."""
    action = turns[index].action
    if action is None:
        return None
    answer = turns[index + 1] if index + 1 < len(turns) else None
    return "image" if action.kind == "test" and answer is not None and answer.images else action.kind
