"""The Python API of the benchmark: what `clinsim bench run | ablate | learn | rejudge | report` do, callable
from a notebook. The CLI only parses options into these configurations and calls these functions.

    from benchmark.api import RunConfig, load_cases, run
    cases = load_cases("bank", settings)
    result = run(RunConfig(settings=settings, cases=cases.cases, case_source=cases.source, out=Path("runs/mine")))
    print(result.summary["top1"])

Each call leaves the same directory the CLI leaves: config.json, episodes.jsonl (appended as episodes
finish), summary.json and report.html (written even when the run fails); an ablation adds one run
directory per arm and ablation.json; a learning curve its two arms and curve.json. docs/python-api.md shows
a whole session.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agents.llm.base import ChatModel
from benchmark.experience_learner import make_learner
from benchmark.harness import (
    CONFIG_FILE,
    EPISODES_FILE,
    Progress,
    RunOutcome,
    check_run_dir,
    make_runner_factory,
    plan_episodes,
    prepare_run_dir,
    read_run_config,
    run_config,
    run_episodes,
    settings_from_config,
)
from benchmark.report import write_summary_and_report
from sim.core.case import Case
from sim.core.config import BIASES, REFERENCE_DOCTORS, Settings
from sim.core.errors import InputError, Problem, pydantic_problems
from sim.core.records import EpisodeRecord, read_records
from sim.encounter import build

Wrap = Callable[[str, ChatModel], ChatModel]


class ModelStartError(RuntimeError):
    """A role's model could not be made or started; `role` says which (nothing was written)."""

    def __init__(self, role: str, error: Exception):
        super().__init__(f"{role}: {error}")
        self.role = role
        self.error = error


# --- configurations ------------------------------------------------------------------------------------------


class RunConfig(BaseModel):
    """One run: which cases, how often, where it goes. What identifies it (config.json, compared on resume) is
    the settings plus `params()`; `concurrency`, `processes` and `resume` change how it runs, not what."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    settings: Settings
    cases: list[Case]
    out: Path
    case_source: str | None = Field(None, description="where the cases came from (recorded as params.cases)")
    limit: int | None = Field(None, ge=1, description="the cases were cut to the first N (recorded)")
    case_dir: Path | None = Field(None, description="folder the cases' image paths are relative to")
    trials: int = Field(1, ge=1)
    seed: int = 0
    concurrency: int = Field(1, ge=1)
    processes: int = Field(1, ge=1, description="worker processes (remote models only)")
    resume: bool = False
    experience_from: Path | None = Field(None, description="warm-start the experience store from this run")
    record_responses: bool = Field(False, description="save every model request and response")
    labels: dict[str, Any] = Field(
        default_factory=dict,
        description="more that identifies the run, as JSON "
        "(an arm's name, the cases left out for a missing image, say)",
    )
    title: str | None = None

    def params(self) -> dict[str, Any]:
        """The run parameters recorded in config.json, as `clinsim bench run` has always recorded them."""
        params: dict[str, Any] = {"trials": self.trials, "seed": self.seed, "concurrency": self.concurrency}
        if self.case_source is not None:
            params |= {"cases": self.case_source, "limit": self.limit}
        params["experience_from"] = str(self.experience_from) if self.experience_from else None
        if self.record_responses:
            params["record_responses"] = True
        return params | self.labels


class AblationConfig(BaseModel):
    """The same cases and seeds under every combination of the axes' arms (benchmark/ablation.py AXES), plus
    reference doctors (no LLM) when asked. `run.out` is the ablation directory; each arm is a run inside it."""

    model_config = ConfigDict(extra="forbid")

    run: RunConfig
    axes: list[str] = Field(default_factory=lambda: ["retrieval", "experience"])
    strategies: list[str] = Field(default_factory=lambda: ["direct", "cot", "self-consistency", "conference"])
    biases: list[str] = Field(
        default_factory=lambda: ["doctor:recency", "doctor:confirmation", "patient:self_diagnosis", "patient:education"]
    )
    references: list[str] = Field(
        default_factory=list, description="reference doctors to add as arms: " + ", ".join(REFERENCE_DOCTORS)
    )

    @field_validator("axes")
    @classmethod
    def _known_axes(cls, axes: list[str]) -> list[str]:
        from benchmark.ablation import AXES

        if unknown := [a for a in axes if a not in AXES]:
            raise ValueError(f"unknown axis {', '.join(unknown)}; available: {', '.join(AXES)}")
        return axes

    @field_validator("strategies")
    @classmethod
    def _known_strategies(cls, strategies: list[str]) -> list[str]:
        from sim.core.plugins import STRATEGIES

        if bad := [s for s in strategies if s not in STRATEGIES.names()]:
            raise ValueError(f"unknown strategy {', '.join(bad)}; choose from {', '.join(STRATEGIES.names())}")
        return strategies

    @field_validator("biases")
    @classmethod
    def _known_biases(cls, biases: list[str]) -> list[str]:
        from benchmark.ablation import bias_problems

        if problems := bias_problems(biases, BIASES):
            raise ValueError("; ".join(problems))
        return biases

    @field_validator("references")
    @classmethod
    def _known_references(cls, references: list[str]) -> list[str]:
        if bad := [r for r in references if r not in REFERENCE_DOCTORS]:
            raise ValueError(f"unknown reference doctor {', '.join(bad)}; choose from {', '.join(REFERENCE_DOCTORS)}")
        return references


class LearnConfig(BaseModel):
    """The learning curve: `run.cases` in a random order (`order_seed`), one after another, with the experience
    store growing, next to the same sequence with experience off. `run.out` holds both arms and curve.json."""

    model_config = ConfigDict(extra="forbid")

    run: RunConfig
    order_seed: int = 0
    window: int = Field(10, ge=2, description="moving-window size of the accuracy curve")


# --- results and progress ------------------------------------------------------------------------------------


@dataclass
class RunResult:
    out: Path
    summary: dict
    records: list[EpisodeRecord]
    outcome: RunOutcome | None = None
    failure: str | None = None  # the run itself stopped (failed episodes are recorded, not this)
    notes: list[str] = field(default_factory=list)

    @property
    def interrupted(self) -> bool:
        return bool(self.outcome and self.outcome.interrupted)

    @property
    def ended_early(self) -> bool:
        """Stopped or interrupted: what comes after it (an ablation's next arm) should not start."""
        return bool(self.failure or self.interrupted)


@dataclass
class AblationResult:
    out: Path
    arms: dict[str, RunResult]
    table: dict | None  # None when an arm ended early (the table of the arms so far: `clinsim bench table`)

    @property
    def errors(self) -> int:
        return sum(r.summary.get("errors", 0) for r in self.arms.values())


@dataclass
class LearnResult:
    out: Path
    arms: dict[str, list[EpisodeRecord]]  # each arm's records in the order the cases were seen
    curve: dict  # curve.json
    interrupted: bool = False  # Ctrl-C: the arms hold what finished; resume continues


@dataclass
class Hooks:
    """What a caller sees while a run goes: messages, a run starting (its title and the episodes it will run),
    each finished episode, each run's end. The CLI draws its progress bars with these."""

    notify: Callable[[str], None] = lambda message: None
    on_start: Callable[[str, int], None] | None = None
    on_progress: Callable[[Progress, EpisodeRecord], None] | None = None
    on_end: Callable[[RunResult], None] | None = None


# --- cases and models ----------------------------------------------------------------------------------------


@dataclass
class CaseSet:
    cases: list[Case]
    source: str  # what config.json records
    case_dir: Path  # the folder image paths are relative to


def load_cases(
    source: str | Path,
    settings: Settings,
    *,
    limit: int | None = None,
    bank_size: int = 200,
    notify: Callable[[str], None] = lambda message: None,
) -> CaseSet:
    """A case file or bank folder, or "bank": the data directory's bank (generated when missing). Raises
    InputError for a bad file (file, line, field), BankMismatch for a bank of another size or kind."""
    from sim.bank.generate import ensure_bank
    from sim.loaders import load_cases as read_cases

    if str(source) == "bank":
        path = settings.data_dir / "bank"
        notify(f"generating a {bank_size}-case bank in {path} (once) ...")
        ensure_bank(path, bank_size, 0)
    else:
        path = Path(source)
    loaded = read_cases(path)
    return CaseSet(loaded[:limit] if limit else loaded, str(path), path if path.is_dir() else path.parent)


def start_models(
    settings: Settings, models: dict[str, ChatModel] | None = None, wrap: Wrap | None = None
) -> dict[str, ChatModel]:
    """Make (start) every model the settings need that `models` does not hold yet; returns the dict, filled.
    Raises ModelStartError naming the role that could not start. Models given are used as they are."""
    models = {} if models is None else models
    try:
        build.Parts(settings, models).start_models(wrap=wrap)
    except Exception as error:  # a settings problem or a server that will not start
        raise ModelStartError(
            next((r for r in ("doctor", "patient", "judge") if r not in models), "a"), error
        ) from error
    return models


# --- run -----------------------------------------------------------------------------------------------------


def run(config: RunConfig, *, models: dict[str, ChatModel] | None = None, hooks: Hooks | None = None) -> RunResult:
    """Run every (case, trial) not yet recorded in `config.out`. Raises InputError for a directory this run
    must not write to (checked before any model starts) and ModelStartError when a model cannot start; after
    that, every outcome (finished, interrupted, stopped) leaves summary.json and report.html. `models` are
    used for their roles (scripted ones in tests, say); the rest start here, once."""
    hooks = hooks or Hooks()
    settings, out = config.settings, config.out
    run_identity = run_config(settings, config.params())
    wrap = None
    if config.record_responses:
        from benchmark.recording import RESPONSES_FILE, RecordingModel, ResponseLog

        log = ResponseLog(out / RESPONSES_FILE)
        wrap = lambda role, model: RecordingModel(model, role, log)
    # The run directory is checked, then the models start, and only then is anything written: a refused
    # directory costs no server start, and a model that cannot start leaves no half-made run behind.
    if config.processes > 1:
        from benchmark.processes import processes_refusal

        if refusal := processes_refusal(settings, models or {}, config.record_responses):
            raise InputError([Problem("--processes", None, "processes", refusal)])
    check_run_dir(out, run_identity, config.resume)
    retriever = build.retriever(settings, hooks.notify)
    hooks.notify("starting models...")
    models = start_models(settings, models, wrap)
    done = prepare_run_dir(out, run_identity, config.resume)
    provider, store = build.experience(
        settings, out, [c.id for c in config.cases], config.experience_from, hooks.notify
    )
    learner = make_learner(store, settings.experience.lessons, models)
    episodes = plan_episodes(config.cases, config.case_dir, config.trials, config.seed)
    factory = make_runner_factory(settings, models=models, retriever=retriever, experience=provider)
    title = config.title or f"run {out.name}"
    result = RunResult(out=out, summary={}, records=[])
    try:
        if hooks.on_start:
            hooks.on_start(title, len(episodes) - len(done & {e.key for e in episodes}))
        execute = None
        if config.processes > 1:
            from benchmark.processes import process_executor

            execute = process_executor(
                settings, run_id=out.name, processes=config.processes, concurrency=config.concurrency
            )
        result.outcome = run_episodes(
            episodes,
            out,
            factory,
            run_id=out.name,
            concurrency=config.concurrency,
            done=done,
            on_progress=hooks.on_progress,
            learner=learner,
            execute=execute,
            outage_window_s=settings.run.outage_window_s,
        )
        result.failure = result.outcome.stopped
    except Exception as error:  # noqa: BLE001 - the summary and report below are still written
        result.failure = str(getattr(error, "cause", error))
    finally:
        result.records = read_records(out / EPISODES_FILE) if (out / EPISODES_FILE).exists() else []
        try:
            result.summary = write_summary_and_report(out, result.records, title, run_identity)
        except OSError as error:  # a full disk: the records are what counts; `bench report` writes these later
            from benchmark.metrics import summarise

            result.summary = summarise(result.records)
            result.failure = "; ".join(filter(None, [result.failure, f"summary and report not written: {error}"]))
        if hooks.on_end:
            hooks.on_end(result)
    return result


# --- ablate --------------------------------------------------------------------------------------------------


def ablation_plan(config: AblationConfig) -> list[tuple[str, dict[str, Any]]]:
    """The arms, in order: (name, setting overrides). The reference doctors come last, with retrieval on."""
    from benchmark.ablation import ablation_arms

    planned = ablation_arms(config.axes, {"strategy": config.strategies, "bias": config.biases})
    planned += [(doctor, {"encounter.doctor": doctor, "retrieval.enabled": True}) for doctor in config.references]
    return planned


def ablate(
    config: AblationConfig, *, models: dict[str, ChatModel] | None = None, hooks: Hooks | None = None
) -> AblationResult:
    """Every arm as a run in `config.run.out / ARM`, then ablation.json and report.html with paired differences
    against the first arm. An arm that ends early (stopped, interrupted) ends the ablation: the arms so far are
    kept, no table is written (`clinsim bench table` shows the arms so far). Each arm starts the models its
    settings need; `models` given are shared by every arm."""
    from benchmark.ablation import ablation_table, write_ablation

    base = config.run
    out = base.out
    result = AblationResult(out=out, arms={}, table=None)
    # Every arm's settings are made (and checked) before the first arm runs: an arm the settings refuse (vision
    # on an embedded doctor, say) is said at once, not after the arms before it.
    planned, problems = [], []
    for name, overrides in ablation_plan(config):
        try:
            planned.append((name, base.settings.with_overrides(overrides)))
        except ValidationError as error:
            problems += pydantic_problems(f"arm {name}", None, error)
    if problems:
        raise InputError(problems)
    for name, settings in planned:
        warm = base.experience_from if settings.experience.enabled else None
        arm = base.model_copy(
            update={
                "settings": settings,
                "out": out / name,
                "experience_from": warm,
                "labels": {**base.labels, "arm": name},
                "title": f"arm {name}",
            }
        )
        result.arms[name] = run(arm, models=dict(models or {}), hooks=hooks)
        if result.arms[name].ended_early:
            return result
    paths = {name: r.out for name, r in result.arms.items()}
    result.table = ablation_table(paths)
    write_ablation(out, result.table, paths)
    return result


# --- learn ---------------------------------------------------------------------------------------------------


LEARNING_ARMS = ("experience-on", "experience-off")


def learn(
    config: LearnConfig, *, models: dict[str, ChatModel] | None = None, hooks: Hooks | None = None
) -> LearnResult:
    """Both arms of the learning curve, strictly one case after the other (one worker, so each encounter sees
    every earlier experience), then curve.json and report.html. The models start once, for both arms. Raises
    RuntimeError when an arm stopped before its end (what it did is written; resume continues it)."""
    from benchmark.learning_curve import ordered, write_learning_outputs

    base = config.run
    sequence = ordered(base.cases, config.order_seed)[: base.limit or None]
    (hooks or Hooks()).notify("starting models...")
    models = start_models(base.settings, models)
    arms: dict[str, list[EpisodeRecord]] = {}
    interrupted = False
    for arm in LEARNING_ARMS:
        settings = base.settings.with_overrides(
            {
                "experience.enabled": arm == "experience-on",
                # earlier cases of the sequence are the point; the same case never
                "experience.allow_same_split": True,
            }
        )
        arm_config = base.model_copy(
            update={
                "settings": settings,
                "cases": sequence,
                "out": base.out / arm,
                "trials": 1,
                "seed": config.order_seed,
                "concurrency": 1,
                "labels": {**base.labels, "order_seed": config.order_seed, "arm": arm},
                "title": f"learning curve, {arm}",
            }
        )
        result = run(arm_config, models=models, hooks=hooks)
        if result.failure:
            raise RuntimeError(result.failure)
        by_case = {r.case_id: r for r in result.records}
        arms[arm] = [by_case[c.id] for c in sequence if c.id in by_case]
        if result.interrupted:
            interrupted = True
            break
    curve = write_learning_outputs(base.out, arms, config.window, config.order_seed)
    return LearnResult(out=base.out, arms=arms, curve=curve, interrupted=interrupted)


# --- rejudge and report --------------------------------------------------------------------------------------


def rejudge(source: Path, out: Path, *, data_dir: Path | None = None, judge: ChatModel | None = None):
    """Score a run's (or an ablation's) recorded episodes again with the current judge; a complete run (or
    ablation) goes to `out`, the source is not changed. The run's own judge model is started when its settings
    let the judge ask a model and `judge` is not given. Returns one `Rejudged` per run."""
    from benchmark import rejudge as rejudging

    first = source
    if (source / rejudging.ABLATION_FILE).is_file():
        rows = json.loads((source / rejudging.ABLATION_FILE).read_text(encoding="utf-8"))["arms"]
        first = source / rows[0]["name"]
    settings = settings_from_config(read_run_config(first / CONFIG_FILE), str(first / CONFIG_FILE))
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    if judge is None and settings.encounter.llm_judge:
        from agents.llm.registry import model_for_role

        try:
            judge = model_for_role(settings, "judge")
        except Exception as error:  # a settings problem or a server that will not start
            raise ModelStartError("judge", error) from error
    return rejudging.rejudge(source, out, judge)


def report(run_dir: Path) -> dict:
    """(Re)write summary.json and report.html of a run directory from its episodes; returns the summary.
    Raises InputError when it is not a run directory."""
    episodes = run_dir / EPISODES_FILE
    if not episodes.is_file():
        raise InputError([Problem(str(episodes), None, "-", f"not found (is {run_dir} a run directory?)")])
    records = read_records(episodes)
    # The report shows the run's config when it has one; episodes alone still make a report.
    config_path = run_dir / CONFIG_FILE
    config = read_run_config(config_path) if config_path.exists() else None
    return write_summary_and_report(run_dir, records, f"run {run_dir.name}", config)
