"""The run harness: every (case, trial) is one episode with its own seed, run concurrently, appended to
`episodes.jsonl` as it finishes, resumable, and stopped cleanly by Ctrl-C.

A run directory holds `config.json` (what was run: the effective settings with secrets masked, the case
source and the run parameters), `episodes.jsonl`, and after the run `summary.json` and `report.html`.
`--resume` refuses a directory whose config differs and skips episodes already recorded by
(case, trial, seed). Failed episodes are recorded with termination `error` and the run goes on; a resumed
run tries them again (their records are dropped first), so a finished run has one record per episode.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from agents.llm.base import ChatModel
from benchmark.provenance import code_identity
from sim.core.case import Case
from sim.core.config import Settings, upgrade_recorded_settings
from sim.core.errors import InputError, Problem, pydantic_problems
from sim.core.lanes import lane_numbering
from sim.core.records import EpisodeRecord, append_record, drop_records, now_iso, read_records, repair_tail
from sim.encounter.build import Parts
from sim.encounter.runner import EncounterRunner

CONFIG_FILE = "config.json"
EPISODES_FILE = "episodes.jsonl"
# Parameters that may change between a run and its resumption: they do not change what is measured.
VOLATILE_PARAMS = {"concurrency", "processes", "resume"}
# Settings that do not change what is computed: where the data lives and how the embedded server runs (a
# run may resume on another port, with other threads or another prompt-cache size).
VOLATILE_SETTINGS = {
    "settings.data_dir",
    "settings.embedded.host",
    "settings.embedded.port",
    "settings.embedded.n_threads",
    "settings.embedded.startup_timeout_s",
    "settings.embedded.prompt_cache_mb",
    "settings.embedded.servers",
    "settings.embedded.lanes",
    "settings.embedded.server_binary",
    "settings.embedded.max_restarts",
    "settings.embedded.restart_backoff_s",
    "settings.run",
}


@dataclass(frozen=True)
class Episode:
    case: Case
    case_dir: Path | None
    trial: int
    seed: int

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.case.id, self.trial, self.seed)


def episode_seed(run_seed: int, case_id: str, trial: int) -> int:
    """A seed per episode that depends only on the run seed, the case and the trial (not on order)."""
    digest = hashlib.sha256(f"{run_seed}:{case_id}:{trial}".encode()).hexdigest()
    return int(digest[:8], 16)


def plan_episodes(cases: list[Case], case_dir: Path | None, trials: int, run_seed: int) -> list[Episode]:
    return [
        Episode(case, case_dir, trial, episode_seed(run_seed, case.id, trial))
        for trial in range(trials)
        for case in cases
    ]


def run_config(settings: Settings, params: dict) -> dict:
    """What identifies a run (stored as config.json; compared on --resume) and the code that ran it."""
    return {"settings": settings.masked(), "params": params, "code": code_identity()}


def config_differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Dotted paths where two configs differ (volatile run parameters ignored)."""
    differences: list[str] = []
    for key in sorted(set(old) | set(new)):
        path = f"{prefix}.{key}" if prefix else key
        if prefix == "params" and key in VOLATILE_PARAMS:
            continue
        if path in VOLATILE_SETTINGS or path == "code":
            continue
        a, b = old.get(key, "<missing>"), new.get(key, "<missing>")
        if prefix == "params" and all(v is None or v is False or v == "<missing>" for v in (a, b)):
            continue  # an option left at its default is recorded by some versions and not by others
        if isinstance(a, dict) and isinstance(b, dict):
            differences.extend(config_differences(a, b, path))
        elif a != b:
            differences.append(f"{path}: {json.dumps(a)} -> {json.dumps(b)}")
    return differences


def settings_from_config(config: dict, where: str = "config.json") -> Settings:
    """The run's settings as stored in config.json (the masked key markers are not settings)."""
    data = upgrade_recorded_settings(config["settings"])
    for role in (data.get("roles") or {}).values():
        if isinstance(role, dict):
            role.pop("api_key", None)
    try:
        return Settings.model_validate(data)
    except ValidationError as error:
        raise InputError(pydantic_problems(where, None, error, prefix="settings")) from None


def recorded_as_today(config: dict) -> dict:
    """A recorded config.json with its settings in today's shape (renamed settings under their new names;
    settings added since at their defaults, which is how the code that recorded it behaved), so resuming an
    older run compares what the settings mean, not how they were spelled. Settings today's code cannot read
    stay as recorded (and are then reported as differences); the recorded key markers are kept."""
    try:
        today = settings_from_config(config).model_dump(mode="json")
    except InputError:
        return config
    for role, spec in (config["settings"].get("roles") or {}).items():
        if isinstance(spec, dict) and "api_key" in spec:
            today["roles"][role]["api_key"] = spec["api_key"]
    return {**config, "settings": today}


def read_run_config(path: Path) -> dict:
    """A run directory's config.json, checked for its shape: {"settings": {...}, "params": {...}}."""
    if not path.is_file():
        raise InputError([Problem(str(path), None, "-", "missing: not a run directory (no config.json)")])
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise InputError(
            [Problem(str(path), None, "-", f"not a readable run config: not UTF-8 ({error.reason})")]
        ) from None
    except json.JSONDecodeError as error:
        raise InputError(
            [
                Problem(
                    str(path),
                    error.lineno,
                    "-",
                    f"not a readable run config: invalid JSON ({error.msg}, column {error.colno})",
                )
            ]
        ) from None
    if not isinstance(config, dict):
        raise InputError(
            [
                Problem(
                    str(path),
                    None,
                    "-",
                    "not a run config: expected a JSON object with "
                    f"'settings' and 'params', got {type(config).__name__}",
                )
            ]
        )
    wrong = [key for key in ("settings", "params") if not isinstance(config.get(key), dict)]
    if wrong:
        raise InputError([Problem(str(path), None, key, "missing or not an object: not a run config") for key in wrong])
    return config


def check_run_dir(run_dir: Path, config: dict, resume: bool) -> None:
    """Refuse a directory this run must not write to; writes nothing (callers check before starting models)."""
    config_path = run_dir / CONFIG_FILE
    episodes_path = run_dir / EPISODES_FILE
    if config_path.exists():
        if not resume:
            raise InputError(
                [
                    Problem(
                        str(run_dir),
                        None,
                        "-",
                        "run directory already holds a run; pass --resume to continue it or choose another --out",
                    )
                ]
            )
        differences = config_differences(recorded_as_today(read_run_config(config_path)), config)
        if differences:
            raise InputError(
                [
                    Problem(str(config_path), None, d.split(":")[0], "differs from this run: " + d.split(": ", 1)[1])
                    for d in differences
                ]
            )
        if episodes_path.exists():
            read_records(episodes_path)  # a corrupt complete line is the user's to fix, never ours to drop
    elif episodes_path.exists() and episodes_path.stat().st_size:
        raise InputError(
            [Problem(str(config_path), None, "-", "missing: episodes.jsonl exists without its config.json")]
        )


def prepare_run_dir(run_dir: Path, config: dict, resume: bool) -> set[tuple[str, int, int | None]]:
    """Create or check the run directory; returns the episode keys already recorded.

    On resume, episodes recorded as `error` are not done: their records are removed (the file is
    rewritten atomically, see drop_records) and the harness runs them again. Removing rather than
    appending a second record keeps the rule every reader relies on: one record per (case, trial)."""
    check_run_dir(run_dir, config, resume)
    config_path = run_dir / CONFIG_FILE
    episodes_path = run_dir / EPISODES_FILE
    if config_path.exists():
        _note_resuming_code(config_path, config.get("code"))
        repair_tail(episodes_path)
        if not episodes_path.exists():
            return set()
        kept = drop_records(episodes_path, lambda record: record.termination == "error")
        return {(r.case_id, r.trial, r.seed) for r in kept}
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_config(config_path, config)
    return set()


def _write_config(path: Path, config: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _note_resuming_code(config_path: Path, code: dict | None) -> None:
    """A run resumed by other code than started it says so: the resuming code joins `code.resumed_with`."""
    stored = read_run_config(config_path)
    started_by = stored.get("code")
    if not code or not isinstance(started_by, dict):
        return
    identity = {key: started_by.get(key) for key in code}
    resumed_with = started_by.setdefault("resumed_with", [])
    if code != identity and code not in resumed_with:
        resumed_with.append(code)
        _write_config(config_path, stored)


@dataclass
class Progress:
    """What the harness tells its caller after each episode (the CLI turns it into a progress bar)."""

    done: int = 0
    total: int = 0
    correct: int = 0
    errors: int = 0
    tokens: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def accuracy(self) -> float:
        judged = self.done - self.errors
        return self.correct / judged if judged else 0.0

    @property
    def per_minute(self) -> float:
        elapsed = time.perf_counter() - self.started
        return 60.0 * self.done / elapsed if elapsed > 0 else 0.0


RunnerFactory = Callable[[], EncounterRunner]


def make_runner_factory(
    settings: Settings,
    models: dict[str, ChatModel] | None = None,
    retriever=None,
    experience=None,
    wrap: Callable[[str, ChatModel], ChatModel] | None = None,
) -> RunnerFactory:
    """The run's parts (sim/encounter/build.py) are built once: models are made (the embedded servers start)
    once and shared by every episode's runner; each episode gets its own runner and in-memory checkpointer,
    so concurrent episodes never share graph state."""
    parts = Parts(settings, models if models is not None else {}, retriever, experience)
    parts.start_models(wrap=wrap)
    return lambda: EncounterRunner(parts)


@dataclass
class RunOutcome:
    records: list[EpisodeRecord]
    skipped: int
    interrupted: bool
    stopped: str | None = None  # why the run stopped starting episodes before its end (a model gone for good)


def run_episodes(
    episodes: Iterable[Episode],
    run_dir: Path,
    runner_factory: RunnerFactory | None,
    *,
    run_id: str,
    concurrency: int = 1,
    done: set[tuple[str, int, int | None]] | None = None,
    on_progress: Callable[[Progress, EpisodeRecord], None] | None = None,
    learner=None,
    execute: Callable[[list[Episode], Callable[[EpisodeRecord], None]], bool] | None = None,
    outage_window_s: float | None = None,
) -> RunOutcome:
    """Run what is not done yet; append each record as it finishes (one writer: this thread).
    With a learner, each judged episode also becomes an experience (written by this thread too).
    `execute(todo, emit)` runs the episodes elsewhere (worker processes: benchmark/processes.py) and hands
    each record to `emit` in this thread; it returns True when Ctrl-C stopped it.

    When every episode that ended during `outage_window_s` seconds ended in error (an endpoint that stays
    down), or a model's server cannot be revived, no further episode starts: the outcome says why in
    `stopped`, and `--resume` continues the run."""
    done = done or set()
    episodes = list(episodes)
    todo = [e for e in episodes if e.key not in done]
    progress = Progress(total=len(todo))
    records: list[EpisodeRecord] = []
    episodes_path = run_dir / EPISODES_FILE
    stop = threading.Event()
    why: list[str] = []  # the reason the run stopped, set once
    last_ok = time.monotonic()

    def halt(reason: str) -> None:
        if not why:
            why.append(reason)
        stop.set()

    def finish(record: EpisodeRecord) -> None:
        nonlocal last_ok
        append_record(episodes_path, record)
        records.append(record)
        if record.termination != "error":
            last_ok = time.monotonic()
        elif outage_window_s is not None and time.monotonic() - last_ok >= outage_window_s:
            halt(
                f"every episode that ended in the last {time.monotonic() - last_ok:.0f} s ended in error "
                f"(run.outage_window_s = {outage_window_s:g}); the last: {record.error}"
            )
        progress.done += 1
        progress.correct += record.top1_correct
        progress.errors += record.termination == "error"
        progress.tokens += record.totals.tokens_in + record.totals.tokens_out
        if on_progress:
            on_progress(progress, record)

    if execute is not None:
        interrupted = execute(todo, finish)
    else:
        if runner_factory is None:
            raise ValueError("a runner factory is needed to run episodes in this process")
        interrupted = execute_episodes(
            todo,
            runner_factory,
            run_id=run_id,
            concurrency=concurrency,
            emit=finish,
            learner=learner,
            stop=stop,
            halt=halt,
        )
    stopped = why[0] if why else None
    if stopped:
        stopped += f"; {len(todo) - len(records)} episode(s) not started"
    return RunOutcome(
        records=records, skipped=len(episodes) - len(todo), interrupted=interrupted and not stopped, stopped=stopped
    )


def execute_episodes(
    todo: list[Episode],
    runner_factory: RunnerFactory,
    *,
    run_id: str,
    concurrency: int,
    emit: Callable[[EpisodeRecord], None],
    learner=None,
    stop=None,
    halt: Callable[[str], None] | None = None,
) -> bool:
    """Run the episodes on `concurrency` threads and hand each record to `emit` in this thread as it
    finishes; True when Ctrl-C stopped it (episodes already running still finish and are emitted). `stop`
    (an event) ends it the same way from outside: episodes not yet started are skipped.

    An episode during which a model's server died and was restarted (agents/llm/embedded_server.py) lost its
    server mid-way: it runs again from its start, once, before its record counts. A server that cannot be
    revived any more calls `halt` with the reason."""

    def attempt(episode: Episode):
        runner = runner_factory()
        restarts = getattr(runner, "model_restarts", lambda: 0)
        before = restarts()
        record = runner.run(episode.case, episode.case_dir, run_id=run_id, trial=episode.trial, seed=episode.seed)
        return record, restarts() != before, getattr(runner, "models_exhausted", lambda: False)()

    def work(episode: Episode) -> EpisodeRecord | None:
        if stop is not None and stop.is_set():
            return None
        try:
            record, lost_server, exhausted = attempt(episode)
            if lost_server and not exhausted:
                record, _, exhausted = attempt(episode)
            if exhausted and halt is not None:  # a server beyond revival, or one refusing images: stop
                halt(record.error or "a model's server died with no restart left (embedded.max_restarts)")
        except Exception as exc:  # noqa: BLE001 - an episode that cannot even start is still recorded
            record = EpisodeRecord(
                run_id=run_id,
                episode_id=f"{episode.case.id}:t{episode.trial}",
                case_id=episode.case.id,
                source=episode.case.source,
                trial=episode.trial,
                seed=episode.seed,
                truth=episode.case.diagnosis.name,
                termination="error",
                error=f"{type(exc).__name__}: {exc}",
                started_at=now_iso(),
                finished_at=now_iso(),
            )
        if learner is not None:
            # Stored before this worker takes its next episode, so with one worker every episode sees
            # exactly the experiences of the episodes before it (what makes a rerun reproducible).
            experience = learner.experience_for(episode.case, record)
            if experience is not None:
                learner.remember(experience)
        return record

    def deliver(future: Future) -> None:
        record = future.result()
        if record is not None:
            emit(record)

    interrupted = False
    collected: set[Future] = set()
    # Each worker keeps to a lane of its own (sim/core/lanes.py: the embedded server gives each its own slots).
    pool = ThreadPoolExecutor(
        max_workers=max(1, concurrency), thread_name_prefix="episode", initializer=lane_numbering()
    )
    futures: list[Future] = [pool.submit(work, episode) for episode in todo]
    try:
        for future in as_completed(futures):
            collected.add(future)
            deliver(future)
    except KeyboardInterrupt:
        # Stop cleanly: nothing new starts; episodes already running finish and are written.
        interrupted = True
        for future in futures:
            future.cancel()
        for future in futures:
            if future not in collected and not future.cancelled():
                deliver(future)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return interrupted or bool(stop is not None and stop.is_set())
