"""Routing: pure functions of the state. The doctor's last action decides where the encounter goes."""

from __future__ import annotations

from langgraph.graph import END

from sim.core.transcript import TerminationReason
from sim.encounter.state import EncounterState

_STOP = {TerminationReason.error.value, TerminationReason.human_quit.value}
_JUDGE = {TerminationReason.diagnosed.value, TerminationReason.turn_cap.value}
_BY_KIND: dict[str | None, str] = {"ask": "patient", "test": "measurement", "image": "measurement"}


def at_start(state: EncounterState) -> str:
    return "patient" if state.get("opening") == "patient" and not state.get("turns") else "doctor"


def after_doctor(state: EncounterState) -> str:
    termination = state.get("termination")
    if termination in _STOP:
        return END
    if termination in _JUDGE:
        return "judge"
    kind = (state.get("last_action") or {}).get("kind")
    return _BY_KIND.get(kind, "judge")


def after_reply(state: EncounterState) -> str:
    return END if state.get("termination") in _STOP else "doctor"


def after_measurement(state: EncounterState) -> str:
    if state.get("termination") in _STOP:
        return END
    if state.get("last_images"):  # an image came back (also for a test that named an imaging study)
        return "retrieve"
    return "doctor"
