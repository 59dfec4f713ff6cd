"""Running one encounter to its end and turning the final state into an EpisodeRecord.

The same runner serves the CLI, the benchmark and the web app. Human seats surface as interrupts:
`ask_human(payload)` is called for each and its answer resumes the thread. With a checkpoint file, an
encounter whose process died continues from its last completed turn when run again with the same thread.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from collections.abc import Callable, Iterable
from pathlib import Path

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from agents.doctor import LLMDoctor
from agents.human import HumanSeat
from agents.knn_doctor import KnnDoctor
from agents.llm.base import ChatModel
from agents.measurement import LookupMeasurement
from agents.leaks import LeakCheck, redact_case
from agents.measurement_agent import LookupMeasurementAgent
from agents.patient import LLMPatient
from agents.transcript import TerminationReason, Turn
from benchmark.records import EpisodeRecord, RoleInfo, compute_totals, config_hash, now_iso
from sim.case import Case
from sim.config import ROLES, Settings
from sim.encounter.elicitation import elicitation
from sim.encounter.graph import Encounter, ExperienceSource, Retriever, Seats, encounter_graph
from sim.encounter.state import initial_state

HumanInput = Callable[[dict], object]
HUMAN_ROLES = ("doctor", "patient", "measurement")


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
        experience: ExperienceSource | None = None,
    ):
        self.settings = settings
        self.human = set(human)
        unknown = self.human - set(HUMAN_ROLES)
        if unknown:
            raise ValueError(f"a human can sit in {', '.join(HUMAN_ROLES)}, not {', '.join(sorted(unknown))}")
        self._redactions: dict[str, list[dict]] = {}
        self._models = dict(models or {})
        self.checkpointer = open_checkpointer(checkpoint_path)
        # A checkpoint in memory dies with the process, so saving one after every step buys nothing:
        # save when the run stops (at the end or at a human seat). A file checkpointer saves every step.
        self.durability = "exit" if checkpoint_path is None else "async"
        self.retriever = retriever
        self.experience = experience

    def model(self, role: str) -> ChatModel:
        if role not in self._models:
            from agents.llm.registry import model_for_role

            self._models[role] = model_for_role(self.settings, role)
        return self._models[role]

    def strategy(self):
        """The doctor's strategy from settings; conference panelists get their own models when configured."""
        from agents.strategies import ChainOfThought, Conference, Direct, Panelist, SelfConsistency

        spec = self.settings.strategy
        if spec.name == "cot":
            return ChainOfThought()
        if spec.name == "self-consistency":
            return SelfConsistency(spec.samples, spec.temperature)
        if spec.name == "conference":
            return Conference([Panelist(p.name, p.instruction, self._panel_model(p.model, p.name)) for p in spec.panel],
                              spec.rounds)
        return Direct()

    def _panel_model(self, spec: str, name: str) -> ChatModel | None:
        """A panelist's own model, or None for the doctor's."""
        if not spec:
            return self._panel_server(name)
        key = f"panel:{spec}"
        if key not in self._models:
            from agents.llm.registry import model_for_spec
            from sim.cli.model_flags import parse_model_flag

            flat = parse_model_flag("doctor", spec)
            role = self.settings.roles.doctor.model_copy(update={k.split(".")[-1]: v for k, v in flat.items()})
            self._models[key] = model_for_spec(self.settings, role, key)
        return self._models[key]

    def _panel_server(self, name: str) -> ChatModel | None:
        """A panelist on the embedded doctor's model with a server per role gets a server of its own: on
        the doctor's, each panelist and then the lead would evaluate its whole prompt again."""
        from agents.llm.embedded_roles import EmbeddedRoleModel

        doctor = None if "doctor" in self.human else self.model("doctor")
        if not isinstance(doctor, EmbeddedRoleModel) or doctor.slot == "shared":
            return None  # another backend, one shared server, or a wrapped (recorded) model: use the doctor's
        return doctor.sibling(f"panel-{name}")

    def opening(self) -> str:
        """Who speaks first. The knn baseline never listens to the patient, so it gets no opening statement."""
        knn = self.settings.roles.doctor.backend == "knn" and "doctor" not in self.human
        return "patient" if self.settings.encounter.patient_opens and not knn else "doctor"

    def roles_info(self, turns: list[Turn] = ()) -> dict[str, RoleInfo]:
        """Who played each role. A model's name is what answered (the server's reply, which for the embedded
        model is its GGUF name and hash), not what the settings asked for."""
        answered: dict[str, str] = {}
        for turn in turns:
            for call in turn.calls:
                answered.setdefault(call.role, call.model)
        info = {}
        for role in ROLES:
            spec = self.settings.role(role)
            if role in self.human:
                info[role] = RoleInfo(backend="human", model="human", human=True)
                continue
            if role == "measurement":  # a deterministic lookup in the case, never a model
                info[role] = RoleInfo(backend="lookup", model="case lookup")
                continue
            if role == "doctor" and spec.backend == "knn":
                info[role] = RoleInfo(backend="knn", model="knn retrieval vote")
                continue
            built = self._models.get(role)
            model = answered.get(role) or (built.name if built is not None else spec.model or spec.backend)
            info[role] = RoleInfo(backend=spec.backend, model=model, sha256=getattr(built, "sha256", ""),
                                  base_url=spec.base_url if spec.backend == "openai" else "")
        return info

    def seats(self, case: Case, case_dir: Path | None) -> Seats:
        """The three seats. Patient and measurement get the case with the diagnosis redacted."""
        enc = self.settings.encounter
        if enc.redact_diagnosis:
            case, self._redactions[case.id] = redact_case(case)
        lookup = LookupMeasurementAgent(
            LookupMeasurement(case, case_dir, enc.missing_test_answer, enc.show_image_report)
        )
        if "doctor" in self.human:
            doctor = HumanSeat("doctor")
        elif self.settings.roles.doctor.backend == "knn":
            doctor = KnnDoctor(top_k=enc.top_k)  # retrieval-only baseline: no model
        else:
            doctor = LLMDoctor(
                self.model("doctor"), case.objective, enc.turn_cap, enc.top_k, enc.doctor_bias,
                self.settings.roles.doctor.max_tokens,
                output_mode=self.settings.roles.doctor.output_mode(),
                deliberate=self.settings.strategy.deliberate,
                strategy=self.strategy(),
            )
        patient = HumanSeat("patient") if "patient" in self.human else LLMPatient(
            self.model("patient"), case.patient, enc.patient_bias, self.settings.roles.patient.max_tokens
        )
        measurement = HumanSeat("measurement", suggest=lookup) if "measurement" in self.human else lookup
        return Seats(doctor=doctor, patient=patient, measurement=measurement)

    def encounter(self, case: Case, case_dir: Path | None, seed: int | None) -> Encounter:
        """What the graph's nodes need for this case (passed to each graph run as its context)."""
        enc = self.settings.encounter
        judge = self.model("judge") if enc.llm_judge else None
        return Encounter(case, self.seats(case, case_dir), enc.turn_cap, enc.top_k, judge, self.retriever, seed,
                         self.experience, LeakCheck(case.diagnosis), enc.mask_leaks)

    def compile(self):
        return encounter_graph(self.checkpointer)

    def session(self, case: Case, case_dir: Path | None = None, *, run_id: str = "adhoc", trial: int = 0,
                seed: int | None = None, thread_id: str | None = None) -> EncounterSession:
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
            if ask_human is None:
                return session.finish_with_error(
                    f"the {step.waiting_for.get('role', '?')} seat is human but no input was given"
                ).record
            try:
                answer = ask_human(step.waiting_for)
            except Exception as exc:  # noqa: BLE001 - the encounter stays resumable from its checkpoint
                return session.finish_with_error(f"{type(exc).__name__}: {exc}").record

    def _redactions_of(self, case: Case) -> list[dict]:
        """What seats() redacted for this case (computed there once; again only if seats never ran)."""
        if not self.settings.encounter.redact_diagnosis:
            return []
        if case.id not in self._redactions:
            self._redactions[case.id] = redact_case(case)[1]
        return self._redactions[case.id]

    def record(self, case: Case, state: dict, *, run_id: str, trial: int, seed: int | None, error: str | None,
               started_at: str, wall_s: float) -> EpisodeRecord:
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
            models=self.roles_info(turns),
            turns=turns,
            retrieved=state.get("retrieved", []),
            experiences=list({e["id"]: e for e in state.get("experiences", [])}.values()),
            redactions=self._redactions_of(case),
            differential=state.get("differential", []),
            truth=case.diagnosis.name,
            truth_aliases=list(case.diagnosis.aliases),
            condition=str(case.metadata.get("condition", "")),
            elicitation=elicitation(case.patient, [t.text for t in turns if t.role == "patient"]),
            verdict=verdict,
            top1_correct=bool(verdict and verdict["top1_correct"]),
            topk_correct=bool(verdict and verdict["topk_correct"]),
            termination=termination,
            error=error,
            totals=compute_totals(turns, wall_s),
            started_at=started_at,
            finished_at=now_iso(),
        )


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

    def __init__(self, runner: EncounterRunner, case: Case, case_dir: Path | None, *, run_id: str, trial: int,
                 seed: int | None, thread_id: str | None):
        self.runner, self.case, self.case_dir = runner, case, case_dir
        self.run_id, self.trial, self.seed = run_id, trial, seed
        self.thread_id = thread_id or f"{run_id}:{case.id}:{trial}"
        self.started_at, self._started = now_iso(), time.perf_counter()
        self.config = {"configurable": {"thread_id": self.thread_id},
                       "recursion_limit": 10 * runner.settings.encounter.turn_cap + 50}
        self._graph = None
        self._context: Encounter | None = None
        self._compile_error: str | None = None
        try:
            self._context = runner.encounter(case, case_dir, seed)
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
            if waiting:
                pending = Command(resume=answer)
            else:
                pending = None if snapshot.values else initial_state(self.runner.opening())
            for _ in self._graph.stream(pending, self.config, stream_mode="updates", context=self._context,
                                        durability=self.runner.durability):
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
        state = {}
        try:
            state = self.state()
        except Exception:  # noqa: BLE001 - the error we report matters more than the state we lost
            pass
        return self._finished(state, error)

    def _finished(self, state: dict, error: str | None = None) -> Step:
        record = self.runner.record(self.case, state, run_id=self.run_id, trial=self.trial, seed=self.seed,
                                    error=error, started_at=self.started_at,
                                    wall_s=time.perf_counter() - self._started)
        return Step(record.turns, record=record)

    @staticmethod
    def _turns(values: dict) -> list[Turn]:
        return [Turn.model_validate(t) for t in (values or {}).get("turns", [])]


def _interrupts(snapshot) -> list[dict]:
    return [i.value for task in snapshot.tasks for i in task.interrupts]
