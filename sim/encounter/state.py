"""The encounter's typed state. Values are plain JSON-able data so the SQLite checkpointer can store
every step and an interrupted encounter continues from its last completed turn."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict


class EncounterState(TypedDict, total=False):
    turns: Annotated[list[dict], operator.add]  # Turn.model_dump() each, appended by the nodes
    doctor_turns: int
    last_action: dict | None  # the doctor's last action: routing depends only on its kind
    last_images: list[str]  # images the measurement node just returned (the retrieve node reads them)
    differential: list[str]
    verdict: dict | None
    termination: str | None  # TerminationReason value once the encounter is over
    error: str | None
    retrieved: Annotated[list[dict], operator.add]
    experience_context: str  # past encounters shown to the doctor (refreshed when findings arrive)
    experience_results_seen: int
    experience_refreshes: int
    experiences: Annotated[list[dict], operator.add]
    opening: str  # who speaks first: "patient" (states why they came) or "doctor"


def initial_state(opening: str = "doctor") -> EncounterState:
    return EncounterState(
        opening=opening,
        turns=[],
        doctor_turns=0,
        last_action=None,
        last_images=[],
        differential=[],
        verdict=None,
        termination=None,
        error=None,
        retrieved=[],
        experience_context="",
        experience_results_seen=0,
        experience_refreshes=0,
        experiences=[],
    )
