"""Re-executing a recorded run with no model: the check that a published run reproduces exactly."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmark.experience_learner import make_learner
from benchmark.harness import (
    CONFIG_FILE,
    EPISODES_FILE,
    make_runner_factory,
    prepare_run_dir,
    read_run_config,
    settings_from_config,
)
from benchmark.recording import RESPONSES_FILE, WALL_CLOCK_FIELDS, replay_models
from sim.core.config import ROLES
from sim.core.errors import InputError, Problem
from sim.core.records import EpisodeRecord, append_record, read_records
from sim.encounter import build
from sim.loaders import load_cases


@dataclass
class RerunResult:
    total: int
    identical: int
    out: Path
    differences: list[str] = field(default_factory=list)


def _with_original_clock(record: EpisodeRecord, original: EpisodeRecord) -> EpisodeRecord:
    update = {name: getattr(original, name) for name in WALL_CLOCK_FIELDS}
    totals = record.totals.model_copy(update={"wall_s": original.totals.wall_s})
    return record.model_copy(update={**update, "totals": totals})


def rerun(run_dir: Path, out: Path) -> RerunResult:
    config_path = run_dir / CONFIG_FILE
    config = read_run_config(config_path)
    settings = settings_from_config(config, str(config_path))
    params = config["params"]
    if not isinstance(params.get("cases"), str):
        raise InputError([Problem(str(config_path), None, "params.cases", "missing: the run's case source")])
    originals = read_records(run_dir / EPISODES_FILE)
    cases_path = Path(params["cases"])
    by_id = {case.id: case for case in load_cases(cases_path)}
    case_dir = cases_path if cases_path.is_dir() else cases_path.parent
    ran = originals[0].models if originals else {}
    models = replay_models(
        run_dir / RESPONSES_FILE,
        [r for r in ROLES if r != "measurement"],
        {role: (info.model, info.sha256) for role, info in ran.items()},
    )
    prepare_run_dir(out, config, resume=False)
    experience_from = Path(params["experience_from"]) if params.get("experience_from") else None
    # The original split: every case of the run, as the harness excluded them.
    split = sorted({r.case_id for r in originals})
    provider, store = build.experience(settings, out, split, experience_from, notify=lambda m: None)
    factory = make_runner_factory(settings, models=models, retriever=build.retriever(settings), experience=provider)
    learner = make_learner(store, settings.experience.lessons, models)
    result = RerunResult(total=len(originals), identical=0, out=out)
    for original in originals:  # in the order they finished, so experiences accumulate as they did
        case = by_id.get(original.case_id)
        if case is None:
            raise InputError([Problem(str(cases_path), None, "-", f"case {original.case_id} of the run is missing")])
        record = factory().run(case, case_dir, run_id=original.run_id, trial=original.trial, seed=original.seed)
        record = _with_original_clock(record, original)
        append_record(out / EPISODES_FILE, record)
        if learner is not None:
            experience = learner.experience_for(case, record)
            if experience is not None:
                learner.remember(experience)
        if record.model_dump_json() == original.model_dump_json():
            result.identical += 1
        else:
            result.differences.append(original.episode_id)
    return result
