"""Running one encounter to its end and turning the final state into an EpisodeRecord.

The same runner serves the CLI, the benchmark and the web app. Human seats surface as interrupts:
`ask_human(payload)` is called for each and its answer resumes the thread. With a checkpoint file, an
encounter whose process died continues from its last completed turn when run again with the same thread.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from agents.doctor import LLMDoctor
from agents.human import HumanSeat
from agents.llm.base import ChatModel
from agents.measurement import LookupMeasurement
from agents.measurement_agent import LookupMeasurementAgent
from agents.patient import LLMPatient
from agents.transcript import TerminationReason, Turn
from benchmark.records import EpisodeRecord, RoleInfo, compute_totals, config_hash, now_iso
from sim.case import Case
from sim.config import ROLES, Settings
from sim.encounter.graph import Retriever, Seats, build_graph
from sim.encounter.state import initial_state

HumanInput = Callable[[dict], object]
HUMAN_ROLES = ("doctor", "patient", "measurement")


class HumanInputRequired(RuntimeError):
    pass


def open_checkpointer(path: Path | None):
    if path is None:
        return InMemorySaver()
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(str(path), check_same_thread=False)
    saver = SqliteSaver(connection)
    saver.setup()
    return saver


class EncounterRunner:
    def __init__(
        self,
        settings: Settings,
        models: dict[str, ChatModel] | None = None,
        human: Iterable[str] = (),
        checkpoint_path: Path | None = None,
        retriever: Retriever | None = None,
    ):
        self.settings = settings
        self.human = set(human)
        unknown = self.human - set(HUMAN_ROLES)
        if unknown:
            raise ValueError(f"a human can sit in {', '.join(HUMAN_ROLES)}, not {', '.join(sorted(unknown))}")
        self._models = dict(models or {})
        self.checkpointer = open_checkpointer(checkpoint_path)
        self.retriever = retriever

    def model(self, role: str) -> ChatModel:
        if role not in self._models:
            from agents.llm.registry import model_for_role

            self._models[role] = model_for_role(self.settings, role)
        return self._models[role]

    def roles_info(self) -> dict[str, RoleInfo]:
        info = {}
        for role in ROLES:
            spec = self.settings.role(role)
            human = role in self.human
            model = "human" if human else (spec.model or ("smollm2-135m-instruct-q4_1" if spec.backend == "embedded" else spec.backend))
            info[role] = RoleInfo(backend="human" if human else spec.backend, model=model,
                                  base_url="" if human or spec.backend != "openai" else spec.base_url, human=human)
        return info

    def seats(self, case: Case, case_dir: Path | None) -> Seats:
        enc = self.settings.encounter
        lookup = LookupMeasurementAgent(
            LookupMeasurement(case, case_dir, enc.missing_test_answer, enc.show_image_report)
        )
        doctor = HumanSeat("doctor") if "doctor" in self.human else LLMDoctor(
            self.model("doctor"), case.objective, enc.turn_cap, enc.top_k, enc.doctor_bias,
            self.settings.roles.doctor.max_tokens,
            structured=self.settings.roles.doctor.structured_output != "off",
        )
        patient = HumanSeat("patient") if "patient" in self.human else LLMPatient(
            self.model("patient"), case.patient, enc.patient_bias, self.settings.roles.patient.max_tokens
        )
        measurement = HumanSeat("measurement", suggest=lookup) if "measurement" in self.human else lookup
        return Seats(doctor=doctor, patient=patient, measurement=measurement)

    def run(
        self,
        case: Case,
        case_dir: Path | None = None,
        *,
        run_id: str = "adhoc",
        trial: int = 0,
        seed: int | None = None,
        thread_id: str | None = None,
        on_turn: Callable[[Turn], None] | None = None,
        ask_human: HumanInput | None = None,
    ) -> EpisodeRecord:
        enc = self.settings.encounter
        thread_id = thread_id or f"{run_id}:{case.id}:{trial}"
        started_at, started = now_iso(), time.perf_counter()
        state: dict = {}
        error: str | None = None
        try:
            judge = self.model("judge") if enc.llm_judge else None
            graph = build_graph(case, self.seats(case, case_dir), enc.turn_cap, enc.top_k, judge,
                                self.retriever, seed).compile(checkpointer=self.checkpointer)
            state = self._drive(graph, thread_id, on_turn, ask_human)
        except HumanInputRequired as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - any failure becomes a recorded `error` episode
            error = f"{type(exc).__name__}: {exc}"
        turns = [Turn.model_validate(t) for t in state.get("turns", [])]
        termination = state.get("termination") or TerminationReason.error.value
        if error is None and state.get("error"):
            error = state["error"]
        if error is not None:
            termination = TerminationReason.error.value
        verdict = state.get("verdict") or None
        return EpisodeRecord(
            run_id=run_id,
            episode_id=f"{case.id}:t{trial}",
            case_id=case.id,
            source=case.source,
            trial=trial,
            seed=seed,
            config_hash=config_hash(self.settings.model_dump(mode="json", exclude={"data_dir"})),
            models=self.roles_info(),
            turns=turns,
            retrieved=state.get("retrieved", []),
            differential=state.get("differential", []),
            truth=case.diagnosis.name,
            verdict=verdict,
            top1_correct=bool(verdict and verdict["top1_correct"]),
            topk_correct=bool(verdict and verdict["topk_correct"]),
            termination=termination,
            error=error,
            totals=compute_totals(turns, time.perf_counter() - started),
            started_at=started_at,
            finished_at=now_iso(),
        )

    def _drive(self, graph, thread_id: str, on_turn, ask_human) -> dict:
        config = {"configurable": {"thread_id": thread_id}, "recursion_limit": 10 * self.settings.encounter.turn_cap + 50}
        snapshot = graph.get_state(config)
        if snapshot.values and not snapshot.next:
            return dict(snapshot.values)  # finished earlier
        if snapshot.values:
            for turn in snapshot.values.get("turns", []):  # continuing: show what happened before
                if on_turn:
                    on_turn(Turn.model_validate(turn))
            pending = None
        else:
            pending = initial_state()
        while True:
            for update in graph.stream(pending, config, stream_mode="updates"):
                for node_update in update.values():
                    if on_turn and isinstance(node_update, dict):
                        for turn in node_update.get("turns", []):
                            on_turn(Turn.model_validate(turn))
            snapshot = graph.get_state(config)
            interrupts = [i for task in snapshot.tasks for i in task.interrupts]
            if not interrupts:
                return dict(snapshot.values)
            if ask_human is None:
                raise HumanInputRequired(f"the {interrupts[0].value.get('role', '?')} seat is human but no input was given")
            pending = Command(resume=ask_human(interrupts[0].value))
