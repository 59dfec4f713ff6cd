"""`clinsim bench run | ablate | learn | rejudge | report | compare | table`: benchmark runs from the command
line. Each parses its options into a configuration of the Python API (benchmark/api.py) and calls it; the
API is imported when a command runs, so `clinsim --help` stays fast."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from sim.cli.common import ExitCode, console, fail, fail_model, fail_problems, resume_command, settings
from sim.cli.options import (
    CaseFlags,
    DoctorFlags,
    ModelFlags,
    TrialFlags,
    resolve_cases,
    with_groups,
)
from sim.core.config import BIASES, REFERENCE_DOCTORS, Settings
from sim.core.errors import InputError

if TYPE_CHECKING:
    from rich.progress import TaskID

    from benchmark.api import Hooks, RunConfig, RunResult
    from benchmark.harness import Progress as HarnessProgress
    from sim.core.records import EpisodeRecord

T = TypeVar("T")


class RunProgress:
    """The CLI's view of runs going through the Python API (benchmark/api.py Hooks): a progress bar per run,
    then its one-line result and anything that went wrong."""

    def __init__(self, arms: bool = False):
        self.arms = arms
        columns = [
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("acc {task.fields[acc]}"),
            TextColumn("{task.fields[rate]} ep/min"),
            TextColumn("{task.fields[tokens]} tok"),
            TextColumn("err {task.fields[errors]}"),
            TimeElapsedColumn(),
        ]
        self.bar = Progress(*columns, console=console)
        self.task: TaskID | None = None

    def hooks(self) -> Hooks:
        from benchmark.api import Hooks

        return Hooks(
            notify=lambda m: console.print(f"[dim]{m}[/]", highlight=False),
            on_start=self.start,
            on_progress=self.update,
            on_end=self.end,
        )

    def start(self, title: str, total: int) -> None:
        if self.arms:
            console.rule(title)
        self.bar.start()
        self.task = self.bar.add_task(title, total=total, acc="-", rate="-", tokens=0, errors=0)

    def update(self, progress: HarnessProgress, record: EpisodeRecord) -> None:
        if self.task is not None:
            self.bar.update(
                self.task,
                advance=1,
                acc=f"{100 * progress.accuracy:.0f}%",
                rate=f"{progress.per_minute:.1f}",
                tokens=progress.tokens,
                errors=progress.errors,
            )

    def stop(self) -> None:
        self.bar.stop()
        if self.task is not None:
            self.bar.remove_task(self.task)
            self.task = None

    def end(self, result: RunResult) -> None:
        from benchmark.metrics import format_ci

        self.stop()
        summary, out = result.summary, result.out
        if result.failure:
            console.print(f"[red]run stopped: {result.failure}[/]")
        if result.interrupted:
            console.print("[yellow]interrupted: in-flight episodes were written; continue with --resume[/]")
        if result.outcome and result.outcome.skipped:
            console.print(f"[dim]{result.outcome.skipped} episode(s) already recorded, skipped[/]")
        desk = summary.get("desk", {})
        answered = f"   requests answered {format_ci(desk['answered_share'])}" if desk.get("requests") else ""
        console.print(
            f"top-1 {format_ci(summary['top1'])}   top-{summary.get('k') or 'k'} {format_ci(summary['topk'])}"
            f"{answered}   errors {summary['errors']}/{summary['episodes']}   -> {out}/report.html"
        )


def run_through(call: Callable[[], T], progress: RunProgress) -> T:
    """Call the Python API; its located refusals (bad input, a model that will not start) end the command."""
    from benchmark.api import ModelStartError

    try:
        return call()
    except InputError as error:
        fail_problems(error)
    except ModelStartError as error:
        fail_model(error.role, error.error)
    finally:
        progress.stop()


def exit_for(results: list[RunResult], errors: str | None) -> None:
    """Exit STOPPED when a run stopped before its end, INTERRUPTED on Ctrl-C, EPISODE_ERRORS when episodes
    ended in error (`errors` says how many, and where); each with the command that continues or reruns."""
    if any(r.failure for r in results):
        console.print(f"continue with:\n  {resume_command()}", highlight=False, soft_wrap=True)
        raise typer.Exit(ExitCode.STOPPED)
    if any(r.interrupted for r in results):
        raise typer.Exit(ExitCode.INTERRUPTED)
    if errors:
        console.print(f"[red]{errors}[/]; run them again with:\n  {resume_command()}", highlight=False, soft_wrap=True)
        raise typer.Exit(ExitCode.EPISODE_ERRORS)


def run_config(
    source: CaseFlags, shape: TrialFlags, cfg: Settings, out: Path, resume: bool, apply_limit: bool = True, **more: Any
) -> RunConfig:
    """The run configuration the options describe (cases loaded, the bank generated when missing)."""
    from benchmark.api import RunConfig

    cases_path, loaded, case_dir, skipped = resolve_cases(source, cfg.data_dir, apply_limit=apply_limit)
    # Where the images came from identifies the run too (a resume with another folder is refused), and the
    # cases left out for a missing image are recorded with why (config.json, shown in report.html).
    images: dict[str, Any] = {k: str(v) for k, v in source.image_options().items()}
    if skipped:
        images["skipped_cases"] = skipped
    return RunConfig(
        settings=cfg,
        cases=loaded,
        out=out,
        case_source=str(cases_path),
        limit=source.limit,
        case_dir=case_dir,
        trials=shape.trials,
        seed=shape.seed,
        concurrency=shape.concurrency,
        processes=shape.processes,
        resume=resume,
        labels=images,
        **more,
    )


@with_groups
def bench_run(
    *,
    out: Path = typer.Option(
        ..., "--out", help="run directory (config.json, episodes.jsonl, summary.json, report.html)"
    ),
    source: CaseFlags,
    shape: TrialFlags,
    models: ModelFlags,
    resume: bool = typer.Option(
        False,
        "--resume",
        help="continue a run: skip recorded episodes, run failed (error) ones again; refuse a different config",
    ),
    doctor: DoctorFlags,
    experience: bool = typer.Option(
        None, "--experience/--no-experience", help="remember encounters and use past ones (default from config: off)"
    ),
    experience_from: Path = typer.Option(
        None, "--experience-from", help="warm-start the experience store from an earlier run directory"
    ),
    record_responses: bool = typer.Option(
        False, "--record-responses", help="save every model request and response (for `clinsim replay --rerun`)"
    ),
) -> None:
    """Run every (case, trial) as one episode; write episodes.jsonl, summary.json and report.html."""
    overrides = {**models.overrides(), **shape.overrides(), **doctor.overrides()}
    if experience is not None or experience_from is not None:
        overrides["experience.enabled"] = bool(experience) or (experience is None and experience_from is not None)
    from benchmark.api import run

    config = run_config(
        source,
        shape,
        settings(overrides),
        out,
        resume,
        experience_from=experience_from,
        record_responses=record_responses,
    )
    progress = RunProgress()
    result = run_through(lambda: run(config, hooks=progress.hooks()), progress)
    summary = result.summary
    exit_for(
        [result],
        f"{summary['errors']} of {summary['episodes']} episode(s) ended in error (causes in {config.out}/report.html)"
        if summary["errors"]
        else None,
    )


@with_groups
def bench_ablate(
    *,
    out: Path = typer.Option(
        ..., "--out", help="ablation directory: one run directory per arm, plus ablation.json and report.html"
    ),
    axes: str = typer.Option(
        None,
        "--axes",
        help="comma-separated axes (default: retrieval,experience); 'strategy' gives one arm per --strategies, 'bias' a no-bias arm and one per --biases",
    ),
    strategies: str = typer.Option(
        "direct,cot,self-consistency,conference", "--strategies", help="strategy axis: the strategies to compare"
    ),
    biases: str = typer.Option(
        "doctor:recency,doctor:confirmation,patient:self_diagnosis,patient:education",
        "--biases",
        help="bias axis: ROLE:BIAS arms, each against no bias; doctor biases: "
        f"{', '.join(BIASES['doctor'])}; patient biases: {', '.join(BIASES['patient'])}",
    ),
    source: CaseFlags,
    shape: TrialFlags,
    models: ModelFlags,
    resume: bool = typer.Option(False, "--resume", help="continue an ablation"),
    experience_from: Path = typer.Option(
        None,
        "--experience-from",
        help="warm-start the experience arms from an "
        "earlier run directory (otherwise they only see past encounters of cases "
        "outside the evaluated split, and with experience.allow_same_split)",
    ),
    with_knn: bool = typer.Option(
        False,
        "--with-knn",
        help="add an arm with the knn doctor (the retrieved cases' "
        "vote, no LLM) on the same cases and seeds: the floor a doctor with retrieval "
        "should reach",
    ),
    with_references: bool = typer.Option(
        False,
        "--with-references",
        help="add arms with the three reference "
        "doctors (no LLM): knn (the picture alone), text (the story alone) and "
        "knn+text (both): what each source of information is worth",
    ),
) -> None:
    """Run the same cases and seeds in every combination of the axes' arms; table of paired differences."""
    from pydantic import ValidationError

    from benchmark.api import AblationConfig, ablate

    base = {**models.overrides(), **shape.overrides()}
    try:
        config = AblationConfig(
            run=run_config(source, shape, settings(base), out, resume, experience_from=experience_from),
            axes=_listed(axes) if axes else ["retrieval", "experience"],
            strategies=_listed(strategies),
            biases=_listed(biases),
            references=list(REFERENCE_DOCTORS) if with_references else ["knn"] if with_knn else [],
        )
    except ValidationError as error:
        fail("; ".join(f"--{e['loc'][0]}: {e['msg'].removeprefix('Value error, ')}" for e in error.errors()))
    progress = RunProgress(arms=True)
    result = run_through(lambda: ablate(config, hooks=progress.hooks()), progress)
    if result.table is not None:
        _print_ablation(result.table)
    exit_for(
        list(result.arms.values()),
        f"{result.errors} episode(s) of the ablation ended in error" if result.errors else None,
    )


def bench_table(
    directory: Path = typer.Argument(..., help="ablation directory (finished, or still running: the arms so far)"),
) -> None:
    """Print an ablation's table in Markdown (as in docs/results.md): paired differences against the
    first arm, recomputed from the arms' episodes.jsonl."""
    from benchmark.ablation import ablation_table, arms_of, markdown_table

    try:
        table = ablation_table(arms_of(directory))
    except InputError as error:
        fail_problems(error)
    print(markdown_table(table))


def _listed(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _print_ablation(table: dict) -> None:
    from benchmark.ablation import table_cells

    headers, rows = table_cells(table)
    view = Table(title=f"ablation (paired against {table['baseline']})")
    for column in headers:
        view.add_column(column)
    for cells in rows:
        view.add_row(*cells)
    console.print(view)


def bench_compare(
    run_a: Path = typer.Argument(..., help="first run directory (the reference)"),
    run_b: Path = typer.Argument(..., help="second run directory"),
) -> None:
    """Paired bootstrap difference B - A in top-1 and top-k over the cases both runs have."""
    from benchmark.ablation import compare_runs

    try:
        result = compare_runs(run_a, run_b)
    except InputError as error:
        fail_problems(error)
    view = Table(title=f"{run_b.name} minus {run_a.name} ({result['top1']['cases']} shared cases)")
    for column in ("metric", "A", "B", "B - A [95% CI]", "P(B better)"):
        view.add_column(column)
    for metric in ("top1", "topk"):
        d = result[metric]
        delta = "n/a" if d["diff"] is None else f"{100 * d['diff']:+.1f} [{100 * d['lo']:+.1f}, {100 * d['hi']:+.1f}]"
        better = "n/a" if d["p_b_better"] is None else f"{d['p_b_better']:.2f}"
        view.add_row(metric, f"{100 * result['a'][metric]:.1f}%", f"{100 * result['b'][metric]:.1f}%", delta, better)
    console.print(view)


def bench_report(run_dir: Path = typer.Argument(..., help="run directory with episodes.jsonl")) -> None:
    """(Re)write summary.json and report.html for a run directory."""
    from benchmark.api import report
    from benchmark.metrics import format_ci

    if not (run_dir / "episodes.jsonl").is_file():
        fail(f"{run_dir / 'episodes.jsonl'}: not found (is {run_dir} a run directory?)")
    try:
        summary = report(run_dir)
    except InputError as error:
        fail_problems(error)
    console.print(
        f"{summary['episodes']} episodes: top-1 {format_ci(summary['top1'])}; wrote {run_dir / 'report.html'}"
    )


@with_groups
def bench_learn(
    *,
    out: Path = typer.Option(..., "--out", help="directory for both arms, curve.json and report.html"),
    source: CaseFlags,
    models: ModelFlags,
    order_seed: int = typer.Option(0, "--order-seed", help="seed of the order the cases are seen in"),
    window: int = typer.Option(10, "--window", min=2, help="moving-window size of the accuracy curve"),
    resume: bool = typer.Option(False, "--resume", help="continue both arms where they stopped"),
    doctor: DoctorFlags,
) -> None:
    """Learning curve: cases in sequence with the experience store growing, against the same sequence
    with experience off; accuracy vs encounters seen with a moving-window CI."""
    from benchmark.api import LEARNING_ARMS, Hooks, LearnConfig, ModelStartError, learn

    shape = TrialFlags(trials=1, concurrency=1, seed=order_seed, processes=1)
    cfg = settings({**models.overrides(), **doctor.overrides()})
    config = LearnConfig(
        run=run_config(source, shape, cfg, out, resume, apply_limit=False), order_seed=order_seed, window=window
    )
    total = len(config.run.cases[: source.limit or None])
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("acc {task.fields[acc]}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        tasks = {arm: bar.add_task(arm, total=total, acc="-") for arm in LEARNING_ARMS}
        current: dict[str, Any] = {}

        def start(title: str, _todo: int) -> None:
            current["task"] = tasks[title.rsplit(", ", 1)[-1]]

        def step(progress: HarnessProgress, _record: EpisodeRecord) -> None:
            bar.update(current["task"], completed=progress.done, acc=f"{100 * progress.accuracy:.0f}%")

        hooks = Hooks(notify=lambda m: console.print(f"[dim]{m}[/]", highlight=False), on_start=start, on_progress=step)
        try:
            result = learn(config, hooks=hooks)
        except InputError as error:
            fail_problems(error)
        except ModelStartError as error:
            fail_model(error.role, error.error)
        except RuntimeError as error:  # an arm's run stopped before its end; what it did is written
            fail(f"run stopped: {error}; continue with:\n  {resume_command()}", ExitCode.STOPPED)
    view = Table(title=f"learning curve ({total} cases, order seed {order_seed})")
    for column in ("arm", "top-1 first half", "top-1 second half", "experiences shown / encounter"):
        view.add_column(column)
    for arm, half in result.curve["halves"].items():
        view.add_row(
            arm, _share(half["first_half"]), _share(half["second_half"]), f"{half['experiences_used_per_episode']:.2f}"
        )
    console.print(view)
    console.print(f"curve: {out / 'curve.json'}; plot in {out / 'report.html'}")
    if result.interrupted:
        raise typer.Exit(ExitCode.INTERRUPTED)
    errors = sum(r.termination == "error" for records in result.arms.values() for r in records)
    exit_for([], f"{errors} episode(s) ended in error" if errors else None)


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def bench_rejudge(
    source: Path = typer.Argument(..., help="run directory, or ablation directory (every arm is judged)"),
    out: Path = typer.Option(
        ..., "--out", help="where the judged-again run (or ablation) goes; the source is not changed"
    ),
) -> None:
    """Score recorded episodes again with the current judge (string rules, then the run's judge model when
    they cannot decide), without running the encounters again; writes a complete run (or ablation) to --out."""
    from benchmark.api import ModelStartError, rejudge

    try:
        with console.status("judging again..."):
            results = rejudge(source, out, data_dir=settings().data_dir)
    except InputError as error:
        fail_problems(error)
    except ModelStartError as error:
        fail_model(error.role, error.error)
    view = Table(title=f"judged again -> {out}")
    for column in ("run", "episodes", "verdicts changed", "top-1 before", "top-1 after"):
        view.add_column(column)
    for r in results:
        view.add_row(Path(r.run).name, str(r.episodes), str(r.changed), _share(r.top1_before), _share(r.top1_after))
    console.print(view)
