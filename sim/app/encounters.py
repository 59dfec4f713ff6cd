"""The app's encounters: one LangGraph thread each, checkpointed in SQLite under the data directory.

A browser keeps only the thread id. Everything else lives on the server: the encounter's spec (case
source, case id, human seats, models) in `spec.json` beside its checkpoint file, so after a browser
reload *or* a server restart `EncounterBook.find(thread_id)` rebuilds the encounter and the graph
continues where it stopped. Agents run in a worker thread; the UI polls the checkpoint for new turns,
which is what lets the chat fill in turn by turn while models think.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from sim.app.paths import AppPaths
from sim.app.sources import CaseSources, SourceError
from sim.core.case import Case
from sim.core.config import MODEL_ROLES, SEATS, Settings, parse_model_spec
from sim.core.errors import InputError
from sim.core.records import EpisodeRecord, append_record, now_iso, read_records
from sim.core.transcript import Turn
from sim.encounter import build
from sim.encounter.runner import EncounterRunner, EncounterSession, Step

log = logging.getLogger(__name__)

# Thread ids come back from browsers: they must match this before they touch a path.
THREAD_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{8}$")

RunnerFactory = Callable[[Settings, list[str], Path], EncounterRunner]


class EncounterSpec(BaseModel):
    thread_id: str
    source: str  # the case file or bank folder
    case_id: str
    human: list[str]
    models: dict[str, str] = Field(default_factory=dict)  # role -> 'embedded' | 'MODEL@URL' as chosen
    seed: int = 0
    started_at: str = ""
    saved_to: str = ""  # the episodes.jsonl holding the finished record

    @property
    def day(self) -> str:
        return self.thread_id[:8]


def new_thread_id() -> str:
    return f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(4)}"


def settings_with_models(base: Settings, models: dict[str, str]) -> Settings:
    """The base settings with each role's model spec applied ('embedded', 'scripted', MODEL@URL, or knn for
    the doctor); raises ValueError naming the role."""
    overrides: dict = {}
    for role, value in models.items():
        try:
            overrides |= parse_model_spec(role, value.strip())
        except ValueError as error:
            raise ValueError(f"{role} model: {error}") from None
    return base.with_overrides(overrides)


_retrievers: dict[str, object] = {}
_retriever_lock = threading.Lock()


def default_retriever(settings: Settings):
    """The retrieval step when the retrieval package provides one and a store exists; otherwise None
    (the encounter then runs without similar cases). Built once per data directory."""
    if not settings.retrieval.enabled:
        return None
    key = str(settings.data_dir)
    with _retriever_lock:
        if key not in _retrievers:
            try:
                _retrievers[key] = build.retriever(settings, notify=log.warning)
            except Exception as error:  # noqa: BLE001 - missing module or store: retrieval is simply off
                log.info("retrieval off: %s", error)
                _retrievers[key] = None
        return _retrievers[key]


class LazyRetriever:
    """The retrieval step, built on the first image an encounter sees: loading an embedder takes seconds,
    which should neither delay the start of an encounter nor be paid when no image is requested."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def __call__(self, case: Case, images: list[str]) -> tuple[str, list[dict]]:
        retriever = default_retriever(self.settings)
        return retriever(case, images) if retriever is not None else ("", [])


def default_runner_factory(settings: Settings, human: list[str], checkpoint: Path) -> EncounterRunner:
    retriever = LazyRetriever(settings) if settings.retrieval.enabled else None
    return EncounterRunner(settings, human=human, checkpoint_path=checkpoint, retriever=retriever)


class LiveEncounter:
    """One encounter in this server process: its session, and the worker advancing it."""

    def __init__(
        self,
        spec: EncounterSpec,
        case: Case,
        case_dir: Path,
        runner: EncounterRunner,
        book: EncounterBook,
        record: EpisodeRecord | None = None,
    ):
        self.spec, self.case, self.case_dir, self.runner, self.book = spec, case, case_dir, runner, book
        self.step: Step | None = Step(record.turns, record=record) if record is not None else None
        self._session: EncounterSession | None = None
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self.failure: str | None = None

    @property
    def thread_id(self) -> str:
        return self.spec.thread_id

    @property
    def busy(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    @property
    def finished(self) -> bool:
        return self.step is not None and self.step.record is not None

    def begin(self, answer: object = None) -> bool:
        """Advance in a worker thread: run the agents until a human must answer or the end. False when
        the encounter is already advancing (a second click) or is over."""
        with self._lock:
            if self.busy or self.finished:
                return False
            self._worker = threading.Thread(
                target=self._advance, args=(answer,), daemon=True, name=f"encounter-{self.thread_id}"
            )
            self._worker.start()
            return True

    def follow(self, poll_s: float = 0.3) -> Iterator[list[Turn]]:
        """While the worker runs: the turns so far, each time they change. Returns when it is done."""
        shown = -1
        while self.busy:
            assert self._worker is not None  # busy: a worker runs
            self._worker.join(poll_s)
            turns = self.turns_now()
            if len(turns) != shown:
                shown = len(turns)
                yield turns

    def turns_now(self) -> list[Turn]:
        state = self._state_now()
        if state is not None:
            return [Turn.model_validate(t) for t in state.get("turns", [])]
        return list(self.step.turns) if self.step else []

    def experiences_now(self) -> list[dict]:
        """Past encounters the doctor has been shown so far (one entry per experience)."""
        if self.step is not None and self.step.record is not None:
            return list(self.step.record.experiences)
        state = self._state_now() or {}
        return list({e.get("id", i): e for i, e in enumerate(state.get("experiences", []))}.values())

    def _state_now(self) -> dict | None:
        if self._session is None:
            return None
        try:
            return self._session.state()
        except Exception:  # noqa: BLE001 - mid-write or a broken graph: show what we had
            return None

    def _advance(self, answer: object) -> None:
        # The session catches agent failures itself (they end the encounter as an `error` episode);
        # what reaches here is the app's own trouble, e.g. a full disk while saving.
        try:
            if self._session is None:
                self._session = self.runner.session(
                    self.case,
                    self.case_dir,
                    run_id=f"app-{self.spec.day}",
                    seed=self.spec.seed,
                    thread_id=self.thread_id,
                )
            step = self._session.advance(answer)
            if step.record is not None:
                step = Step(step.turns, record=self.book.save(self, step.record))
            self.step, self.failure = step, None
        except Exception as error:  # shown to the user; the checkpoint keeps the thread
            log.exception("encounter %s", self.thread_id)
            self.failure = f"{type(error).__name__}: {error}"


class EncounterBook:
    """Every encounter of the app, live in memory or rebuilt from its spec on disk."""

    def __init__(
        self, settings: Settings, paths: AppPaths, sources: CaseSources, runner_factory: RunnerFactory | None = None
    ):
        self.settings, self.paths, self.sources = settings, paths, sources
        self.runner_factory = runner_factory or default_runner_factory
        self._live: dict[str, LiveEncounter] = {}
        self._lock = threading.Lock()

    def start(self, source: Path, case: Case, human: list[str], models: dict[str, str], seed: int = 0) -> LiveEncounter:
        unknown = set(human) - set(SEATS)
        if unknown:
            raise ValueError(f"a human can sit in {', '.join(SEATS)}, not {', '.join(sorted(unknown))}")
        agent_models = {
            role: value
            for role, value in models.items()
            if value and value.strip() and role not in human and role in MODEL_ROLES
        }
        spec = EncounterSpec(
            thread_id=new_thread_id(),
            source=str(source),
            case_id=case.id,
            human=sorted(human),
            models=agent_models,
            seed=seed,
            started_at=now_iso(),
        )
        encounter = self._build(spec, case)  # validates the models before anything is written
        self._write_spec(spec)
        with self._lock:
            self._live[spec.thread_id] = encounter
        return encounter

    def find(self, thread_id: str | None) -> LiveEncounter | None:
        """The encounter of a thread id from a browser; rebuilt from disk after a restart; None if unknown."""
        if not thread_id or not THREAD_ID.match(thread_id):
            return None
        with self._lock:
            if thread_id in self._live:
                return self._live[thread_id]
        spec_file = self._folder(thread_id) / "spec.json"
        if not spec_file.is_file():
            return None
        spec = EncounterSpec.model_validate_json(spec_file.read_text(encoding="utf-8"))
        source = Path(spec.source)
        matches = [c for c in self.sources.cases(source) if c.id == spec.case_id]
        if not matches:
            raise SourceError(f"case {spec.case_id} is no longer in {source}")
        encounter = self._build(spec, matches[0], record=self._saved_record(spec))
        with self._lock:
            return self._live.setdefault(thread_id, encounter)

    def save(self, encounter: LiveEncounter, record: EpisodeRecord) -> EpisodeRecord:
        """Append the finished record to the day's run directory, once, like a benchmark episode."""
        spec = encounter.spec
        record = record.model_copy(update={"episode_id": f"{record.case_id}:{spec.thread_id}"})
        if not spec.saved_to:
            episodes = self.paths.runs / spec.day / "episodes.jsonl"
            append_record(episodes, record)
            spec.saved_to = str(episodes)
            self._write_spec(spec)
        return record

    def _build(self, spec: EncounterSpec, case: Case, record: EpisodeRecord | None = None) -> LiveEncounter:
        settings = settings_with_models(self.settings, spec.models)
        runner = self.runner_factory(settings, list(spec.human), self._folder(spec.thread_id) / "checkpoints.sqlite")
        source = Path(spec.source)
        return LiveEncounter(spec, case, self.sources.case_dir(source), runner, self, record=record)

    def _saved_record(self, spec: EncounterSpec) -> EpisodeRecord | None:
        if not spec.saved_to:
            return None
        try:
            records = read_records(Path(spec.saved_to))
        except InputError:
            return None
        episode = f"{spec.case_id}:{spec.thread_id}"
        return next((r for r in records if r.episode_id == episode), None)

    def _folder(self, thread_id: str) -> Path:
        return self.paths.encounters / thread_id

    def _write_spec(self, spec: EncounterSpec) -> None:
        folder = self._folder(spec.thread_id)
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / "spec.json.tmp"
        temporary.write_text(spec.model_dump_json(indent=2), encoding="utf-8")
        temporary.replace(folder / "spec.json")
