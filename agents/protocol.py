"""The one protocol every participant speaks, human or model: `generate_next_message(view) -> Reply`.

A `View` is what the participant is allowed to see at this point of the encounter: the transcript (which
each agent filters to its own need), the message it must answer, and whether this is the last turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, Field

from sim.core.actions import DoctorAction
from sim.core.config import EncounterSettings
from sim.core.transcript import LLMCall, Turn


@dataclass
class View:
    transcript: list[Turn]
    message: Turn | None = None  # what this participant is answering (None for the doctor)
    doctor_turns: int = 0
    turn_cap: int = EncounterSettings.model_fields["turn_cap"].default  # one default: the setting's
    context: str = ""  # retrieved cases and experiences shown to the doctor
    seed: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def final_turn(self) -> bool:
        return self.doctor_turns >= self.turn_cap - 1


class Reply(BaseModel):
    text: str
    action: DoctorAction | None = None
    images: list[str] = Field(default_factory=list)
    calls: list[LLMCall] = Field(default_factory=list)
    parse: str = ""
    human: bool = False
    quit: bool = False
    raw: str = ""
    meta: dict = Field(default_factory=dict)


class Participant(Protocol):
    role: str

    def generate_next_message(self, view: View) -> Reply: ...


def call_record(role: str, purpose: str, completion) -> LLMCall:
    return LLMCall(
        role=role,
        purpose=purpose,
        model=completion.model,
        tokens_in=completion.tokens_in,
        tokens_out=completion.tokens_out,
        latency_s=completion.latency_s,
        attempts=completion.attempts,
    )
