"""The encounter graph: one node one job, routing in `routing.py`.

    START --> patient (opening statement, unless the doctor speaks first) --> doctor
    doctor --ask--> patient ----------------------> doctor
           --test/image--> measurement --image--> retrieve --> doctor
           --diagnose / turn cap--> judge --> END

The graph's shape is the same for every case, so it is compiled once per process (`encounter_graph`);
what one encounter needs (the case, the seats, its models and settings) travels as the run's context, an
`Encounter`, which LangGraph hands every node as `runtime.context` (it is never checkpointed).

A model failure in any node ends the encounter with TerminationReason.error and the cause, so a run
records it and goes on. Human seats pause inside their node (see agents/human.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from agents.judge import judge_differential
from agents.leaks import LeakCheck
from agents.llm.base import ChatModel, LLMError
from agents.protocol import Participant, Reply, View
from agents.role_breaks import role_breaks
from sim.core.case import Case
from sim.core.transcript import TerminationReason, Turn
from sim.encounter import routing
from sim.encounter.state import EncounterState

# The retrieve step: images of this case -> (text for the doctor, retrieved items for the record).
Retriever = Callable[[Case, list[str]], tuple[str, list[dict]]]
# Past encounters: (case, transcript so far) -> (context for the doctor, experiences used).
ExperienceSource = Callable[[Case, list[Turn]], tuple[str, list[dict]]]
MAX_EXPERIENCE_REFRESHES = 2


@dataclass
class Seats:
    doctor: Participant
    patient: Participant
    measurement: Participant


@dataclass
class Encounter:
    """What the nodes of one encounter need besides its state (the graph run's context)."""

    case: Case
    seats: Seats
    turn_cap: int
    differential_size: int  # the judge scores top-k over this many
    judge_model: ChatModel | None = None
    retriever: Retriever | None = None
    seed: int | None = None
    experience: ExperienceSource | None = None
    leak_check: LeakCheck | None = None
    mask_leaks: bool = True
    licensed_breaks: frozenset[str] = frozenset()  # role-break kinds the patient's bias asks for (not flagged)
    _transcript: list[Turn] = field(default_factory=list, repr=False)

    def transcript(self, state: EncounterState) -> list[Turn]:
        """The turns so far as models. Turns are only ever appended, so only the new ones are validated
        (re-validating the whole transcript at every node made each turn cost more than the last)."""
        raw = state.get("turns", [])
        if len(raw) < len(self._transcript):  # not the encounter this cache was built for: start over
            self._transcript = []
        self._transcript.extend(Turn.model_validate(t) for t in raw[len(self._transcript) :])
        return list(self._transcript)

    def view(self, state: EncounterState, message: Turn | None = None) -> View:
        return View(
            transcript=self.transcript(state),
            message=message,
            doctor_turns=state.get("doctor_turns", 0),
            turn_cap=self.turn_cap,
            seed=self.seed,
        )


def _turn(role: str, index: int, reply: Reply) -> dict:
    return Turn(
        index=index,
        role=role,
        text=reply.text,
        action=reply.action,
        images=reply.images,
        calls=reply.calls,
        parse=reply.parse,
        human=reply.human,
        raw=reply.raw,
        meta=reply.meta,
    ).model_dump()


def _failed(role: str, error: LLMError) -> dict:
    return {"termination": TerminationReason.error.value, "error": f"{role}: {error.cause}"}


def _recall(encounter: Encounter, state: EncounterState, transcript: list[Turn]) -> dict:
    """Past encounters before the first question, refreshed (at most twice) once new findings exist,
    so the doctor sees them before it diagnoses."""
    if encounter.experience is None:
        return {}
    results = sum(1 for t in transcript if t.role == "measurement")
    first = state.get("doctor_turns", 0) == 0
    fresh = (
        results > state.get("experience_results_seen", 0)
        and state.get("experience_refreshes", 0) < MAX_EXPERIENCE_REFRESHES
    )
    if not (first or fresh):
        return {}
    text, items = encounter.experience(encounter.case, transcript)
    return {
        "experience_context": text,
        "experience_results_seen": results,
        "experience_refreshes": state.get("experience_refreshes", 0) + (0 if first else 1),
        "experiences": items,
    }


def _doctor(state: EncounterState, runtime: Runtime[Encounter]) -> dict:
    encounter = runtime.context
    current = encounter.view(state)
    memory = _recall(encounter, state, current.transcript)
    current.context = memory.get("experience_context", state.get("experience_context", ""))
    try:
        reply = encounter.seats.doctor.generate_next_message(current)
    except LLMError as error:
        return _failed("doctor", error)
    if reply.quit:
        return {"termination": TerminationReason.human_quit.value}
    action = reply.action.model_dump() if reply.action else {}
    update: dict = {
        **memory,
        "turns": [_turn("doctor", len(current.transcript), reply)],
        "doctor_turns": current.doctor_turns + 1,
        "last_action": action,
        "last_images": [],
    }
    if action.get("kind") == "diagnose":
        update["differential"] = action["differential"]
        update["termination"] = (
            TerminationReason.turn_cap if current.final_turn else TerminationReason.diagnosed
        ).value
    elif current.final_turn:
        update["termination"] = TerminationReason.turn_cap.value
    return update


def _answer(role: str, state: EncounterState, encounter: Encounter) -> dict:
    """The patient's or the measurement agent's reply to the doctor's last turn, leak-checked."""
    seat = encounter.seats.patient if role == "patient" else encounter.seats.measurement
    transcript = encounter.transcript(state)
    try:
        # No message to answer: the patient's opening statement, before the doctor's first turn.
        reply = seat.generate_next_message(encounter.view(state, message=transcript[-1] if transcript else None))
    except LLMError as error:
        return _failed(role, error)
    if reply.quit:
        return {"termination": TerminationReason.human_quit.value}
    if role == "patient" and not reply.human:
        breaks = role_breaks(reply.text, encounter.licensed_breaks)
        if breaks:
            reply = reply.model_copy(update={"meta": {**reply.meta, "role_breaks": breaks}})
    leak_check = encounter.leak_check
    leak = leak_check.check(reply.text) if leak_check is not None else None
    if leak_check is not None and leak is not None:
        # Flag always; mask what can be masked, so the doctor does not read the answer.
        meta = {**reply.meta, "leak": leak}
        text = leak_check.mask(reply.text) if encounter.mask_leaks else reply.text
        reply = reply.model_copy(update={"meta": meta, "text": text, "raw": reply.text})
    return {"turns": [_turn(role, len(transcript), reply)], "last_images": list(reply.images)}


def _patient(state: EncounterState, runtime: Runtime[Encounter]) -> dict:
    return _answer("patient", state, runtime.context)


def _measurement(state: EncounterState, runtime: Runtime[Encounter]) -> dict:
    return _answer("measurement", state, runtime.context)


def _retrieve(state: EncounterState, runtime: Runtime[Encounter]) -> dict:
    # Filled by the retrieval step when a store is configured; a pass-through otherwise.
    encounter = runtime.context
    if encounter.retriever is None:
        return {}
    text, items = encounter.retriever(encounter.case, list(state.get("last_images", [])))
    if not text:
        return {"retrieved": items}
    index = len(state.get("turns", []))
    turn = Turn(index=index, role="retrieval", text=text, meta={"items": items}).model_dump()
    return {"turns": [turn], "retrieved": items}


def _judge(state: EncounterState, runtime: Runtime[Encounter]) -> dict:
    encounter = runtime.context
    top_k = encounter.differential_size
    lookalikes = [o.text for o in encounter.case.options if not o.correct]
    verdict = judge_differential(
        state.get("differential", []),
        encounter.case.diagnosis,
        k=top_k,
        llm=encounter.judge_model,
        lookalikes=lookalikes,
    )
    index = len(state.get("turns", []))
    outcome = (
        "correct" if verdict.top1_correct else (f"correct in top-{top_k}" if verdict.topk_correct else "incorrect")
    )
    turn = Turn(index=index, role="judge", text=f"{outcome}: {verdict.reason}", calls=verdict.calls).model_dump()
    return {"verdict": verdict.model_dump(), "turns": [turn]}


EncounterGraph = StateGraph[EncounterState, Encounter, EncounterState, EncounterState]
CompiledEncounterGraph = CompiledStateGraph[EncounterState, Encounter, EncounterState, EncounterState]


def build_graph() -> EncounterGraph:
    graph = StateGraph(EncounterState, context_schema=Encounter)
    graph.add_node("doctor", _doctor)
    graph.add_node("patient", _patient)
    graph.add_node("measurement", _measurement)
    graph.add_node("retrieve", _retrieve)
    graph.add_node("judge", _judge)
    graph.add_conditional_edges(START, routing.at_start, ["patient", "doctor"])
    graph.add_conditional_edges("doctor", routing.after_doctor, ["patient", "measurement", "judge", END])
    graph.add_conditional_edges("patient", routing.after_reply, ["doctor", END])
    graph.add_conditional_edges("measurement", routing.after_measurement, ["retrieve", "doctor", END])
    graph.add_edge("retrieve", "doctor")
    graph.add_edge("judge", END)
    return graph


@functools.cache
def _compiled() -> CompiledEncounterGraph:
    return build_graph().compile()


def encounter_graph(checkpointer) -> CompiledEncounterGraph:
    """The compiled graph bound to `checkpointer`. Compiling costs more CPU than running a scripted
    encounter's graph steps, so it happens once per process; binding a checkpointer is a shallow copy."""
    return _compiled().copy(update={"checkpointer": checkpointer})
