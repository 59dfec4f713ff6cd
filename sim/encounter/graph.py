"""Building the encounter graph for one case: one node one job, routing in `routing.py`.

    doctor --ask--> patient ----------------------> doctor
           --test/image--> measurement --image--> retrieve --> doctor
           --diagnose / turn cap--> judge --> END

A model failure in any node ends the encounter with TerminationReason.error and the cause, so a run
records it and goes on. Human seats pause inside their node (see agents/human.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from langgraph.graph import END, START, StateGraph

from agents.llm.base import ChatModel, LLMError
from agents.judge import judge_differential
from agents.leaks import LeakCheck
from agents.protocol import Participant, Reply, View
from agents.transcript import TerminationReason, Turn
from sim.case import Case
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


def _turns(state: EncounterState) -> list[Turn]:
    return [Turn.model_validate(t) for t in state.get("turns", [])]


def _turn(role: str, index: int, reply: Reply) -> dict:
    return Turn(index=index, role=role, text=reply.text, action=reply.action, images=reply.images,
                calls=reply.calls, parse=reply.parse, human=reply.human, raw=reply.raw, meta=reply.meta).model_dump()


def _failed(role: str, error: LLMError) -> dict:
    return {"termination": TerminationReason.error.value, "error": f"{role}: {error.cause}"}


def build_graph(
    case: Case,
    seats: Seats,
    turn_cap: int = 20,
    top_k: int = 5,
    judge_model: ChatModel | None = None,
    retriever: Retriever | None = None,
    seed: int | None = None,
    experience: ExperienceSource | None = None,
    leak_check: LeakCheck | None = None,
    mask_leaks: bool = True,
) -> StateGraph:
    def view(state: EncounterState, message: Turn | None = None) -> View:
        return View(transcript=_turns(state), message=message, doctor_turns=state.get("doctor_turns", 0),
                    turn_cap=turn_cap, seed=seed)

    def recall(state: EncounterState, transcript: list[Turn]) -> dict:
        """Past encounters before the first question, refreshed (at most twice) once new findings exist,
        so the doctor sees them before it diagnoses."""
        if experience is None:
            return {}
        results = sum(1 for t in transcript if t.role == "measurement")
        first = state.get("doctor_turns", 0) == 0
        fresh = results > state.get("experience_results_seen", 0) and state.get("experience_refreshes", 0) < MAX_EXPERIENCE_REFRESHES
        if not (first or fresh):
            return {}
        text, items = experience(case, transcript)
        return {"experience_context": text, "experience_results_seen": results,
                "experience_refreshes": state.get("experience_refreshes", 0) + (0 if first else 1),
                "experiences": items}

    def doctor(state: EncounterState) -> dict:
        current = view(state)
        memory = recall(state, current.transcript)
        current.context = memory.get("experience_context", state.get("experience_context", ""))
        try:
            reply = seats.doctor.generate_next_message(current)
        except LLMError as error:
            return _failed("doctor", error)
        if reply.quit:
            return {"termination": TerminationReason.human_quit.value}
        action = reply.action or {}
        update: dict = {
            **memory,
            "turns": [_turn("doctor", len(current.transcript), reply)],
            "doctor_turns": current.doctor_turns + 1,
            "last_action": action,
            "last_images": [],
        }
        if action.get("kind") == "diagnose":
            update["differential"] = action["differential"]
            update["termination"] = (TerminationReason.turn_cap if current.final_turn else TerminationReason.diagnosed).value
        elif current.final_turn:
            update["termination"] = TerminationReason.turn_cap.value
        return update

    def answer_with(seat: Participant, role: str) -> Callable[[EncounterState], dict]:
        def node(state: EncounterState) -> dict:
            transcript = _turns(state)
            try:
                reply = seat.generate_next_message(view(state, message=transcript[-1]))
            except LLMError as error:
                return _failed(role, error)
            if reply.quit:
                return {"termination": TerminationReason.human_quit.value}
            leak = leak_check.check(reply.text) if leak_check is not None else None
            if leak is not None:
                # Flag always; mask what can be masked, so the doctor does not read the answer.
                meta = {**reply.meta, "leak": leak}
                text = leak_check.mask(reply.text) if mask_leaks else reply.text
                reply = reply.model_copy(update={"meta": meta, "text": text, "raw": reply.text})
            return {"turns": [_turn(role, len(transcript), reply)], "last_images": list(reply.images)}

        node.__name__ = role
        return node

    def retrieve(state: EncounterState) -> dict:
        # Filled by the retrieval step when a store is configured; a pass-through otherwise.
        if retriever is None:
            return {}
        text, items = retriever(case, list(state.get("last_images", [])))
        if not text:
            return {"retrieved": items}
        index = len(state.get("turns", []))
        turn = Turn(index=index, role="retrieval", text=text, meta={"items": items}).model_dump()
        return {"turns": [turn], "retrieved": items}

    def judge(state: EncounterState) -> dict:
        verdict = judge_differential(state.get("differential", []), case.diagnosis, k=top_k, llm=judge_model)
        index = len(state.get("turns", []))
        outcome = "correct" if verdict.top1_correct else ("correct in top-%d" % top_k if verdict.topk_correct else "incorrect")
        turn = Turn(index=index, role="judge", text=f"{outcome}: {verdict.reason}", calls=verdict.calls).model_dump()
        return {"verdict": verdict.model_dump(), "turns": [turn]}

    graph = StateGraph(EncounterState)
    graph.add_node("doctor", doctor)
    graph.add_node("patient", answer_with(seats.patient, "patient"))
    graph.add_node("measurement", answer_with(seats.measurement, "measurement"))
    graph.add_node("retrieve", retrieve)
    graph.add_node("judge", judge)
    graph.add_edge(START, "doctor")
    graph.add_conditional_edges("doctor", routing.after_doctor, ["patient", "measurement", "judge", END])
    graph.add_conditional_edges("patient", routing.after_reply, ["doctor", END])
    graph.add_conditional_edges("measurement", routing.after_measurement, ["retrieve", "doctor", END])
    graph.add_edge("retrieve", "doctor")
    graph.add_edge("judge", END)
    return graph
