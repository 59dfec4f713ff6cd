"""`clinsim bench run | ablate | compare | report`: benchmark runs from the command line."""

from __future__ import annotations

import json
from pathlib import Path

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
from sim.core.config import BIASES, Settings
from sim.core.errors import InputError


def execute_run(cfg: Settings, params: dict, cases: list, case_dir: Path, out: Path,
                resume: bool, concurrency: int, title: str, experience_from: Path | None = None,
                models: dict | None = None) -> dict:
    """The Python run API (benchmark/api.py) with a progress bar. Exits STOPPED when the run stopped before
    its end, INTERRUPTED on Ctrl-C; episodes that ended in error are counted and said here (the caller
    decides the exit, so an ablation's later arms still run)."""
    from benchmark.api import ModelStartError, run
    from benchmark.metrics import format_ci

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("acc {task.fields[acc]}"), TextColumn("{task.fields[rate]} ep/min"),
               TextColumn("{task.fields[tokens]} tok"), TextColumn("err {task.fields[errors]}"), TimeElapsedColumn()]
    bar = Progress(*columns, console=console)
    task = None

    def start(total: int) -> None:
        nonlocal task
        bar.start()
        task = bar.add_task(title, total=total, acc="-", rate="-", tokens=0, errors=0)

    def update(progress, record) -> None:
        bar.update(task, advance=1, acc=f"{100 * progress.accuracy:.0f}%", rate=f"{progress.per_minute:.1f}",
                   tokens=progress.tokens, errors=progress.errors)

    extra = {k: v for k, v in params.items() if k not in ("trials", "seed", "concurrency", "processes")}
    try:
        result = run(cfg, cases, out, case_dir=case_dir, trials=params["trials"], seed=params["seed"],
                     concurrency=concurrency, processes=params.get("processes", 1), resume=resume, experience_from=experience_from,
                     record_responses=bool(params.get("record_responses")), params=extra, models=models, title=title,
                     on_start=start, on_progress=update, notify=lambda m: console.print(f"[dim]{m}[/]", highlight=False))
    except InputError as error:
        fail_problems(error)
    except ModelStartError as error:
        fail_model(error.role, error.error)
    finally:
        bar.stop()
    summary = result.summary
    if result.failure:
        console.print(f"[red]run stopped: {result.failure}[/]")
    if result.interrupted:
        console.print("[yellow]interrupted: in-flight episodes were written; continue with --resume[/]")
    if result.outcome and result.outcome.skipped:
        console.print(f"[dim]{result.outcome.skipped} episode(s) already recorded, skipped[/]")
    desk = summary.get("desk", {})
    answered = f"   requests answered {format_ci(desk['answered_share'])}" if desk.get("requests") else ""
    console.print(f"top-1 {format_ci(summary['top1'])}   top-{summary.get('k') or 'k'} {format_ci(summary['topk'])}"
                  f"{answered}   errors {summary['errors']}/{summary['episodes']}   -> {out}/report.html")
    if summary["errors"] and not (result.failure or result.interrupted):
        console.print(f"[red]{summary['errors']} of {summary['episodes']} episode(s) ended in error[/] (causes in "
                      f"{out}/report.html); run them again with:\n  {resume_command()}", highlight=False, soft_wrap=True)
    if result.failure:
        console.print(f"continue with:\n  {resume_command()}", highlight=False, soft_wrap=True)
        raise typer.Exit(ExitCode.STOPPED)
    if result.interrupted:
        raise typer.Exit(ExitCode.INTERRUPTED)  # ends the command, not only this run: no next arm starts
    return summary


@with_groups
def bench_run(
    out: Path = typer.Option(..., "--out", help="run directory (config.json, episodes.jsonl, summary.json, report.html)"),
    source: CaseFlags = ...,
    shape: TrialFlags = ...,
    models: ModelFlags = ...,
    resume: bool = typer.Option(False, "--resume", help="continue a run: skip recorded episodes, run failed (error) ones again; refuse a different config"),
    doctor: DoctorFlags = ...,
    experience: bool = typer.Option(None, "--experience/--no-experience", help="remember encounters and use past ones (default from config: off)"),
    experience_from: Path = typer.Option(None, "--experience-from", help="warm-start the experience store from an earlier run directory"),
    record_responses: bool = typer.Option(False, "--record-responses", help="save every model request and response (for `clinsim replay --rerun`)"),
) -> None:
    """Run every (case, trial) as one episode; write episodes.jsonl, summary.json and report.html."""
    overrides = {**models.overrides(), **shape.overrides(), **doctor.overrides()}
    if experience is not None or experience_from is not None:
        overrides["experience.enabled"] = bool(experience) or (experience is None and experience_from is not None)
    cfg = settings(overrides)
    cases_path, loaded, case_dir = resolve_cases(source, cfg.data_dir)
    params = {"cases": str(cases_path), "limit": source.limit, **shape.params(),
              "experience_from": str(experience_from) if experience_from else None,
              "record_responses": record_responses}
    summary = execute_run(cfg, params, loaded, case_dir, out, resume, shape.concurrency, f"run {out.name}",
                          experience_from=experience_from)
    if summary["errors"]:
        raise typer.Exit(ExitCode.EPISODE_ERRORS)


@with_groups
def bench_ablate(
    out: Path = typer.Option(..., "--out", help="ablation directory: one run directory per arm, plus ablation.json and report.html"),
    axes: str = typer.Option(None, "--axes", help="comma-separated axes (default: retrieval,experience); 'strategy' gives one arm per --strategies, 'bias' a no-bias arm and one per --biases"),
    strategies: str = typer.Option("direct,cot,self-consistency,conference", "--strategies", help="strategy axis: the strategies to compare"),
    biases: str = typer.Option("doctor:recency,doctor:confirmation,patient:self_diagnosis,patient:education", "--biases",
                               help="bias axis: ROLE:BIAS arms, each against no bias; doctor biases: "
                               f"{', '.join(BIASES['doctor'])}; patient biases: {', '.join(BIASES['patient'])}"),
    source: CaseFlags = ...,
    shape: TrialFlags = ...,
    models: ModelFlags = ...,
    resume: bool = typer.Option(False, "--resume", help="continue an ablation"),
    experience_from: Path = typer.Option(None, "--experience-from", help="warm-start the experience arms from an "
                                         "earlier run directory (otherwise they only see past encounters of cases "
                                         "outside the evaluated split, and with experience.allow_same_split)"),
    with_knn: bool = typer.Option(False, "--with-knn", help="add an arm with the knn doctor (the retrieved cases' "
                                  "vote, no LLM) on the same cases and seeds: the floor a doctor with retrieval "
                                  "should reach"),
    with_references: bool = typer.Option(False, "--with-references", help="add arms with the three reference "
                                         "doctors (no LLM): knn (the picture alone), text (the story alone) and "
                                         "knn+text (both): what each source of information is worth"),
) -> None:
    """Run the same cases and seeds in every combination of the axes' arms; table of paired differences."""
    from benchmark.ablation import (
        AXES,
        ablation_arms,
        ablation_table,
        bias_problems,
        write_ablation,
    )
    from sim.core.plugins import STRATEGIES

    chosen = [a.strip() for a in axes.split(",")] if axes else ["retrieval", "experience"]
    unknown = [a for a in chosen if a not in AXES]
    if unknown:
        fail(f"--axes: unknown axis {', '.join(unknown)}; available: {', '.join(AXES)}")
    values = {"strategy": _listed(strategies), "bias": _listed(biases)}
    bad = [s for s in values["strategy"] if s not in STRATEGIES.names()]
    if bad:
        fail(f"--strategies: unknown strategy {', '.join(bad)}; choose from {', '.join(STRATEGIES.names())}")
    if "bias" in chosen and (problems := bias_problems(values["bias"], BIASES)):
        fail("--biases: " + "; ".join(problems))
    base = {**models.overrides(), **shape.overrides()}
    cases_path, loaded, case_dir = resolve_cases(source, settings(base).data_dir)
    planned = ablation_arms(chosen, values)
    references = ("knn", "text", "knn+text") if with_references else ("knn",) if with_knn else ()
    for doctor in references:  # the reference doctors, everything else as the other arms
        planned.append((doctor, {"encounter.doctor": doctor, "retrieval.enabled": True}))
    arms: dict[str, Path] = {}
    errors = 0
    for name, arm_overrides in planned:
        arm_settings = settings({**base, **arm_overrides})
        warm = experience_from if arm_settings.experience.enabled else None
        params = {"cases": str(cases_path), "limit": source.limit, **shape.params(), "arm": name,
                  "experience_from": str(warm) if warm else None}
        console.rule(f"arm {name}")
        summary = execute_run(arm_settings, params, loaded, case_dir, out / name, resume, shape.concurrency,
                              f"arm {name}", experience_from=warm)
        errors += summary["errors"]
        arms[name] = out / name
    table = ablation_table(arms)
    write_ablation(out, table, arms)
    _print_ablation(table)
    if errors:
        console.print(f"[red]{errors} episode(s) of the ablation ended in error[/]; run them again with:\n  "
                      f"{resume_command()}", highlight=False, soft_wrap=True)
        raise typer.Exit(ExitCode.EPISODE_ERRORS)


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
    from benchmark.harness import read_run_config
    from benchmark.metrics import format_ci, summarise
    from benchmark.report import render_report, write_report
    from sim.core.records import read_records

    episodes = run_dir / "episodes.jsonl"
    config_path = run_dir / "config.json"
    if not episodes.is_file():
        fail(f"{episodes}: not found (is {run_dir} a run directory?)")
    try:
        records = read_records(episodes)
        # The report shows the run's config when it has one; episodes alone still make a report.
        config = read_run_config(config_path) if config_path.exists() else None
    except InputError as error:
        fail_problems(error)
    summary = summarise(records)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    write_report(run_dir / "report.html", render_report(f"run {run_dir.name}", records, summary, config))
    console.print(f"{len(records)} episodes: top-1 {format_ci(summary['top1'])}; wrote {run_dir / 'report.html'}")


@with_groups
def bench_learn(
    out: Path = typer.Option(..., "--out", help="directory for both arms, curve.json and report.html"),
    source: CaseFlags = ...,
    models: ModelFlags = ...,
    order_seed: int = typer.Option(0, "--order-seed", help="seed of the order the cases are seen in"),
    window: int = typer.Option(10, "--window", min=2, help="moving-window size of the accuracy curve"),
    resume: bool = typer.Option(False, "--resume", help="continue both arms where they stopped"),
    doctor: DoctorFlags = ...,
) -> None:
    """Learning curve: cases in sequence with the experience store growing, against the same sequence
    with experience off; accuracy vs encounters seen with a moving-window CI."""
    from benchmark.api import ModelStartError
    from benchmark.harness import make_runner_factory
    from benchmark.learning import ARMS, ordered, run_sequence, write_learning_outputs

    cfg = settings({**models.overrides(), **doctor.overrides()})
    _cases_path, loaded, case_dir = resolve_cases(source, cfg.data_dir, apply_limit=False)
    sequence = ordered(loaded, order_seed)[: source.limit or None]
    models: dict = {}
    try:
        with console.status("starting models..."):
            make_runner_factory(cfg, models=models)
    except Exception as error:  # noqa: BLE001 - a settings problem or a server that will not start
        fail_model(next((r for r in ("doctor", "patient", "judge") if r not in models), "a"), error)
    arms = {}
    try:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("acc {task.fields[acc]}"), TimeElapsedColumn(), console=console) as bar:
            for arm in ARMS:
                task = bar.add_task(arm, total=len(sequence), acc="-")
                hits = {"n": 0, "correct": 0}

                def step(arm_name, index, record, task=task, hits=hits):
                    hits["n"] += 1
                    hits["correct"] += record.top1_correct
                    bar.update(task, completed=index + 1, acc=f"{100 * hits['correct'] / hits['n']:.0f}%")

                arms[arm] = run_sequence(cfg, arm, sequence, case_dir, out, order_seed, models, resume, step)
    except InputError as error:
        fail_problems(error)
    except ModelStartError as error:
        fail_model(error.role, error.error)
    except RuntimeError as error:  # the arm's run stopped before its end; what it did is written
        fail(f"run stopped: {error}; continue with:\n  {resume_command()}", ExitCode.STOPPED)
    result = write_learning_outputs(out, arms, window, order_seed)
    view = Table(title=f"learning curve ({len(sequence)} cases, order seed {order_seed})")
    for column in ("arm", "top-1 first half", "top-1 second half", "experiences shown / encounter"):
        view.add_column(column)
    for arm, half in result["halves"].items():
        fmt = lambda v: "n/a" if v is None else f"{100 * v:.1f}%"
        view.add_row(arm, fmt(half["first_half"]), fmt(half["second_half"]), f"{half['experiences_used_per_episode']:.2f}")
    console.print(view)
    console.print(f"curve: {out / 'curve.json'}; plot in {out / 'report.html'}")
    errors = sum(r.termination == "error" for records in arms.values() for r in records)
    if errors:
        console.print(f"[red]{errors} episode(s) ended in error[/]; run them again with:\n  {resume_command()}",
                      highlight=False, soft_wrap=True)
        raise typer.Exit(ExitCode.EPISODE_ERRORS)


def bench_rejudge(
    source: Path = typer.Argument(..., help="run directory, or ablation directory (every arm is judged)"),
    out: Path = typer.Option(..., "--out", help="where the judged-again run (or ablation) goes; the source is not changed"),
) -> None:
    """Score recorded episodes again with the current judge (string rules, then the run's judge model when
    they cannot decide), without running the encounters again; writes a complete run (or ablation) to --out."""
    from agents.llm.registry import model_for_role
    from benchmark.harness import CONFIG_FILE, read_run_config
    from benchmark.rejudge import ABLATION_FILE, rejudge
    from benchmark.rerun import settings_from_config

    first = source
    if (source / ABLATION_FILE).is_file():
        rows = json.loads((source / ABLATION_FILE).read_text(encoding="utf-8"))["arms"]
        first = source / rows[0]["name"]
    try:
        run_settings = settings_from_config(read_run_config(first / CONFIG_FILE), str(first / CONFIG_FILE))
    except InputError as error:
        fail_problems(error)
    run_settings = run_settings.model_copy(update={"data_dir": settings().data_dir})
    judge = None
    if run_settings.encounter.llm_judge:
        try:
            with console.status("starting the judge model..."):
                judge = model_for_role(run_settings, "judge")
        except Exception as error:  # noqa: BLE001 - a settings problem or a server that will not start
            fail_model("judge", error)
    try:
        results = rejudge(source, out, judge)
    except InputError as error:
        fail_problems(error)
    view = Table(title=f"judged again -> {out}")
    for column in ("run", "episodes", "verdicts changed", "top-1 before", "top-1 after"):
        view.add_column(column)
    for r in results:
        pct = lambda v: "n/a" if v is None else f"{100 * v:.1f}%"
        view.add_row(Path(r.run).name, str(r.episodes), str(r.changed), pct(r.top1_before), pct(r.top1_after))
    console.print(view)
