"""Running one encounter to its end and turning the final state into an EpisodeRecord.

The same runner serves the CLI, the benchmark and the web app. Human seats surface as interrupts:
`ask_human(payload)` is called for each and its answer resumes the thread. With a checkpoint file, an
encounter whose process died continues from its last completed turn when run again with the same thread.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from agents.leaks import redact_case
from agents.llm.base import ChatModel
from sim.core.case import Case
from sim.core.config import Settings
from sim.core.records import EpisodeRecord, compute_totals, config_hash, now_iso
from sim.core.transcript import TerminationReason, Turn
from sim.core.verdict import Verdict
from sim.encounter.build import Parts, check_seats
from sim.encounter.elicitation import elicitation
from sim.encounter.graph import Encounter, ExperienceSource, Retriever, encounter_graph
from sim.encounter.state import EncounterState, initial_state

HumanInput = Callable[[dict], object]


def open_checkpointer(path: Path | None):
    if path is None:
        return InMemorySaver()
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(str(path), check_same_thread=False)
    saver = SqliteSaver(connection)
    saver.setup()
    return saver


class EncounterRunner:
    """Runs encounters built from `parts` (sim/encounter/build.py); `human` names the seats people take."""

    def __init__(
        self,
        settings: Settings | Parts,
        models: dict[str, ChatModel] | None = None,
        human: Iterable[str] = (),
        checkpoint_path: Path | None = None,
        retriever: Retriever | None = None,
        experience: ExperienceSource | None = None,
    ):
        self.parts = settings if isinstance(settings, Parts) else Parts(settings, models, retriever, experience)
        self.settings = self.parts.settings
        self.human = set(human)
        check_seats(self.human)
        self.checkpointer = open_checkpointer(checkpoint_path)
        # A checkpoint in memory dies with the process, so saving one after every step buys nothing:
        # save when the run stops (at the end or at a human seat). A file checkpointer saves every step.
        self.durability = "exit" if checkpoint_path is None else "async"

    def model(self, role: str) -> ChatModel:
        return self.parts.model(role)

    def model_restarts(self) -> int:
        return self.parts.model_restarts()

    def models_exhausted(self) -> bool:
        return self.parts.models_exhausted()

    def compile(self):
        return encounter_graph(self.checkpointer)

    def session(
        self,
        case: Case,
        case_dir: Path | None = None,
        *,
        run_id: str = "adhoc",
        trial: int = 0,
        seed: int | None = None,
        thread_id: str | None = None,
    ) -> EncounterSession:
        return EncounterSession(self, case, case_dir, run_id=run_id, trial=trial, seed=seed, thread_id=thread_id)

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
        """Run to the end; human seats are answered by `ask_human(payload)`."""
        session = self.session(case, case_dir, run_id=run_id, trial=trial, seed=seed, thread_id=thread_id)
        shown = 0
        answer: object = None
        while True:
            step = session.advance(answer)
            if on_turn:
                for turn in step.turns[shown:]:
                    on_turn(turn)
                shown = len(step.turns)
            if step.record is not None:
                return step.record
            assert step.waiting_for is not None  # a step without its record waits for a human seat
            if ask_human is None:
                return session.error_record(
                    f"the {step.waiting_for.get('role', '?')} seat is human but no input was given"
                )
            try:
                answer = ask_human(step.waiting_for)
            except Exception as exc:  # noqa: BLE001 - the encounter stays resumable from its checkpoint
                return session.error_record(f"{type(exc).__name__}: {exc}")

    def record(
        self,
        case: Case,
        state: dict,
        *,
        run_id: str,
        trial: int,
        seed: int | None,
        error: str | None,
        started_at: str,
        wall_s: float,
        redactions: list[dict] | None = None,
    ) -> EpisodeRecord:
        turns = [Turn.model_validate(t) for t in state.get("turns", [])]
        termination = state.get("termination") or TerminationReason.error.value
        if error is None and state.get("error"):
            error = state["error"]
        if error is not None:
            termination = TerminationReason.error.value
        verdict = Verdict.model_validate(state["verdict"]) if state.get("verdict") else None
        return EpisodeRecord(
            run_id=run_id,
            episode_id=f"{case.id}:t{trial}",
            case_id=case.id,
            source=case.source,
            trial=trial,
            seed=seed,
            config_hash=config_hash(self.settings.model_dump(mode="json", exclude={"data_dir"})),
            models=self.parts.roles_info(turns, self.human),
            turns=turns,
            retrieved=state.get("retrieved", []),
            experiences=list({e["id"]: e for e in state.get("experiences", [])}.values()),
            redactions=redactions if redactions is not None else self._redactions(case),
            differential=state.get("differential", []),
            truth=case.diagnosis.name,
            truth_aliases=list(case.diagnosis.aliases),
            condition=str(case.metadata.get("condition", "")),
            group=str(case.metadata.get("group", "")),
            lookalikes=[o.text for o in case.options if not o.correct],
            elicitation=elicitation(
                case.patient,
                [t.text for t in turns if t.role == "patient"],
                _strings(case.metadata.get("discriminators")),
            ),
            verdict=verdict,
            top1_correct=bool(verdict and verdict.top1_correct),
            topk_correct=bool(verdict and verdict.topk_correct),
            termination=termination,
            error=error,
            totals=compute_totals(turns, wall_s),
            started_at=started_at,
            finished_at=now_iso(),
        )

    def _redactions(self, case: Case) -> list[dict]:
        """What the seats were not shown (for a session that could not build its seats)."""
        return redact_case(case)[1] if self.settings.encounter.redact_diagnosis else []


@dataclass
class Step:
    """Where a session stands: every turn so far, and either a human's question or the final record."""

    turns: list[Turn]
    waiting_for: dict | None = None  # the interrupt payload a human seat must answer
    record: EpisodeRecord | None = None


class EncounterSession:
    """An encounter advanced step by step, for UIs: `advance(answer)` runs until a human seat must answer
    or the encounter ends. State lives in the checkpointer, so a new session object on the same thread
    (after a browser reload or a server restart) picks up exactly where the last one stopped."""

    def __init__(
        self,
        runner: EncounterRunner,
        case: Case,
        case_dir: Path | None,
        *,
        run_id: str,
        trial: int,
        seed: int | None,
        thread_id: str | None,
    ):
        self.runner, self.case, self.case_dir = runner, case, case_dir
        self.run_id, self.trial, self.seed = run_id, trial, seed
        self.thread_id = thread_id or f"{run_id}:{case.id}:{trial}"
        self.started_at, self._started = now_iso(), time.perf_counter()
        self.config = {
            "configurable": {"thread_id": self.thread_id},
            "recursion_limit": 10 * runner.settings.encounter.turn_cap + 50,
        }
        self._graph = None
        self._context: Encounter | None = None
        self._redactions: list[dict] | None = None
        self._compile_error: str | None = None
        try:
            self._context, self._redactions = runner.parts.encounter(case, case_dir, seed, runner.human)
            self._graph = runner.compile()
        except Exception as exc:  # noqa: BLE001 - e.g. a model that cannot start: recorded as an error
            self._compile_error = f"{type(exc).__name__}: {exc}"

    def advance(self, answer: object = None) -> Step:
        if self._graph is None:
            return self.finish_with_error(self._compile_error or "the encounter could not start")
        try:
            snapshot = self._graph.get_state(self.config)
            waiting = _interrupts(snapshot)
            if snapshot.values and not snapshot.next:
                return self._finished(dict(snapshot.values))
            if waiting and answer is None:
                return Step(self._turns(snapshot.values), waiting_for=waiting[0])
            pending: Command | EncounterState | None
            if waiting:
                pending = Command(resume=answer)
            else:
                pending = None if snapshot.values else initial_state(self.runner.parts.opening(self.runner.human))
            for _ in self._graph.stream(
                pending, self.config, stream_mode="updates", context=self._context, durability=self.runner.durability
            ):
                pass
            snapshot = self._graph.get_state(self.config)
        except Exception as exc:  # noqa: BLE001 - any failure becomes a recorded `error` episode
            return self.finish_with_error(f"{type(exc).__name__}: {exc}")
        waiting = _interrupts(snapshot)
        if waiting:
            return Step(self._turns(snapshot.values), waiting_for=waiting[0])
        return self._finished(dict(snapshot.values))

    def state(self) -> dict:
        return dict(self._graph.get_state(self.config).values) if self._graph is not None else {}

    def finish_with_error(self, error: str) -> Step:
        record = self.error_record(error)
        return Step(record.turns, record=record)

    def error_record(self, error: str) -> EpisodeRecord:
        """The episode ended by `error`, with what its checkpoint holds."""
        state = {}
        with contextlib.suppress(Exception):  # the error we report matters more than the state we lost
            state = self.state()
        return self._record(state, error)

    def _finished(self, state: dict, error: str | None = None) -> Step:
        record = self._record(state, error)
        return Step(record.turns, record=record)

    def _record(self, state: dict, error: str | None) -> EpisodeRecord:
        return self.runner.record(
            self.case,
            state,
            run_id=self.run_id,
            trial=self.trial,
            seed=self.seed,
            error=error,
            started_at=self.started_at,
            wall_s=time.perf_counter() - self._started,
            redactions=self._redactions,
        )

    @staticmethod
    def _turns(values: dict) -> list[Turn]:
        return [Turn.model_validate(t) for t in (values or {}).get("turns", [])]


def _interrupts(snapshot) -> list[dict]:
    return [i.value for task in snapshot.tasks for i in task.interrupts]


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []
