"""Ablations and comparisons: the same cases and seeds under different settings, compared pairwise."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from benchmark.metrics import accuracy, paired_difference, per_case, summarise
from benchmark.report import render_report, write_report
from sim.core.errors import InputError, Problem
from sim.core.records import EpisodeRecord, read_records


# Ablation axes. A toggle axis turns one setting off and on; a list axis gives one arm per chosen value, its
# first value the baseline. Each arm of an ablation is one value of every chosen axis (their product).
@dataclass(frozen=True)
class Axis:
    help: str
    arms: Callable[[list[str]], list[tuple[str, dict]]]  # chosen values -> [(label, setting overrides)]
    default: tuple[str, ...] = ()  # a list axis's values when none are given


def _toggle(name: str, key: str) -> Axis:
    return Axis(f"{key} off, on", lambda _values: [(f"{name}-off", {key: False}), (f"{name}-on", {key: True})])


def _strategy_arms(values: list[str]) -> list[tuple[str, dict]]:
    return [(value, {"strategy.name": value}) for value in values]


def _bias_arms(values: list[str]) -> list[tuple[str, dict]]:
    """'none' first (the baseline), then one arm per ROLE:BIAS with only that agent biased."""
    arms: list[tuple[str, dict]] = [("no-bias", {})]
    for value in values:
        role, _, bias = value.partition(":")
        arms.append((f"{role}-{bias}", {f"encounter.{role}_bias": bias}))
    return arms


AXES: dict[str, Axis] = {
    "retrieval": _toggle("retrieval", "retrieval.enabled"),
    "experience": _toggle("experience", "experience.enabled"),
    "vision": _toggle("vision", "roles.doctor.vision"),  # images to the doctor's model (docs/vision.md)
    "strategy": Axis(
        "one arm per strategy (--strategies)", _strategy_arms, ("direct", "cot", "self-consistency", "conference")
    ),
    "bias": Axis(
        "no bias, then one arm per ROLE:BIAS (--biases), only that agent biased",
        _bias_arms,
        ("doctor:recency", "doctor:confirmation", "patient:self_diagnosis", "patient:education"),
    ),
}


def bias_problems(values: list[str], known: dict[str, tuple[str, ...]]) -> list[str]:
    """What is wrong with --biases values ('ROLE:BIAS' with a role and a bias that exist)."""
    problems = []
    for value in values:
        role, sep, bias = value.partition(":")
        if not sep or role not in known:
            problems.append(f"'{value}': write ROLE:BIAS with ROLE one of {', '.join(known)}")
        elif bias not in known[role]:
            problems.append(f"'{value}': unknown {role} bias; choose from {', '.join(known[role])}")
    return problems


def ablation_arms(axes: list[str], values: dict[str, list[str]]) -> list[tuple[str, dict]]:
    """Every combination of the axes' arms: (name, setting overrides); names join the labels with '+'."""
    per_axis = [AXES[axis].arms(values.get(axis) or list(AXES[axis].default)) for axis in axes]
    arms = []
    for combination in itertools.product(*per_axis):
        name = "+".join(label for label, _ in combination) or "baseline"
        overrides: dict = {}
        for _, setting in combination:
            overrides.update(setting)
        arms.append((name, overrides))
    return arms


def _records(run_dir: Path) -> list[EpisodeRecord]:
    path = run_dir / "episodes.jsonl"
    if not path.is_file():
        raise InputError([Problem(str(path), None, "-", "not found: not a run directory")])
    return read_records(path)


def _correct(records: list[EpisodeRecord], attribute: str) -> dict[str, list[float]]:
    judged = [r for r in records if r.termination != "error"]
    return per_case(judged, lambda r: getattr(r, attribute))


def compare_runs(run_a: Path, run_b: Path) -> dict:
    a, b = _records(run_a), _records(run_b)
    result: dict = {"a": {}, "b": {}}
    for metric, attribute in (("top1", "top1_correct"), ("topk", "topk_correct")):
        result[metric] = paired_difference(_correct(a, attribute), _correct(b, attribute))
        result["a"][metric] = accuracy(a, metric)["mean"] or 0.0
        result["b"][metric] = accuracy(b, metric)["mean"] or 0.0
    return result


def ablation_table(arms: dict[str, Path]) -> dict:
    """One row per arm; differences are paired by case against the first arm (everything off)."""
    names = list(arms)
    baseline = names[0]
    records = {name: _records(path) for name, path in arms.items()}
    base_top1 = _correct(records[baseline], "top1_correct")
    rows = []
    for name in names:
        summary = summarise(records[name])
        rows.append(
            {
                "name": name,
                "episodes": summary["episodes"],
                "errors": summary["errors"],
                "top1": summary["top1"],
                "topk": summary["topk"],
                "tokens_per_episode": summary["tokens"]["in_per_episode"] + summary["tokens"]["out_per_episode"],
                "wall_s_mean": summary["wall_s"]["mean"],
                "doctor_turns_mean": summary["turns"]["mean"],
                "elapsed_s": elapsed_s(records[name]),
                "elicited_share": summary["workup"]["elicited_share"],
                "desk_answered": summary["desk"]["answered_share"],
                "group_top1": summary["group_top1"],
                "discriminators_share": summary["workup"]["discriminators_share"],
                "tests_mean": summary["tests"]["mean"],
                "role_breaks_per_episode": summary["workup"]["role_breaks_per_episode"],
                "retrieval_hit_rate": summary["retrieval"]["hit_rate"],
                "first_is_nearest": summary["retrieval"]["first_is_nearest"],
                "diff_top1": paired_difference(base_top1, _correct(records[name], "top1_correct")),
            }
        )
    return {"baseline": baseline, "arms": rows}


def arms_of(directory: Path) -> dict[str, Path]:
    """An ablation directory's arms, baseline first: in ablation.json's order when the ablation finished,
    else (an ablation still running or stopped) the arm folders in the order they started."""
    if not directory.is_dir():
        raise InputError([Problem(str(directory), None, "-", "not found: not an ablation directory")])
    listed = directory / "ablation.json"
    if listed.is_file():
        try:
            names = [row["name"] for row in json.loads(listed.read_text(encoding="utf-8"))["arms"]]
        except json.JSONDecodeError as error:
            raise InputError([Problem(str(listed), error.lineno, "-", f"invalid JSON ({error.msg})")]) from None
        except (KeyError, TypeError):
            raise InputError(
                [Problem(str(listed), None, "arms", "missing or not a list of arms with a name")]
            ) from None
        return {name: directory / name for name in names if (directory / name / "episodes.jsonl").is_file()}
    started = []
    for arm in (p for p in directory.iterdir() if (p / "episodes.jsonl").is_file()):
        stamps = [r.started_at for r in _records(arm) if r.started_at]
        config = arm / "config.json"  # written as the arm starts; breaks ties of the stamps' whole seconds
        started.append((min(stamps) if stamps else "~", config.stat().st_mtime_ns if config.exists() else 0, arm))
    if not started:
        raise InputError(
            [Problem(str(directory), None, "-", "no arm folders with episodes.jsonl: not an ablation directory")]
        )
    return {arm.name: arm for *_, arm in sorted(started)}


def table_cells(table: dict) -> tuple[list[str], list[list[str]]]:
    """The ablation table's headers and one row of cell texts per arm: what the terminal and Markdown show.
    On a bank with look-alike groups it also says how often the answer was of the right group and how many of
    the facts that separate the look-alikes the doctor drew out."""
    grouped = any(row.get("group_top1") for row in table["arms"])
    headers = ["arm", "episodes", "top-1 [95% CI]", "top-k [95% CI]", f"Δ top-1 vs {table['baseline']} (paired)"]
    headers += (
        ["group top-1", "first answer = nearest case", "discriminators drawn out", "tests ordered"] if grouped else []
    )
    headers += [
        "tokens / encounter",
        "s / encounter",
        "doctor turns",
        "script elicited",
        "requests answered",
        "arm wall time",
        "errors",
    ]
    rows = []
    for row in table["arms"]:
        cells = [
            row["name"],
            str(row["episodes"]),
            _pct(row["top1"]),
            _pct(row["topk"]),
            "–" if row["name"] == table["baseline"] else _delta(row["diff_top1"]),
        ]
        if grouped:
            share = row.get("discriminators_share")
            nearest = row.get("first_is_nearest")
            cells += [
                _pct(row["group_top1"]) if row.get("group_top1") else "n/a",
                _pct(nearest) if nearest and nearest.get("n") else "n/a",
                _pct(share) if share and share.get("n") else "n/a",
                f"{row.get('tests_mean') or 0:.1f}",
            ]
        cells += [
            f"{row['tokens_per_episode']:,.0f}",
            f"{row['wall_s_mean'] or 0:.0f}",
            f"{row.get('doctor_turns_mean') or 0:.1f}",
            _pct(row["elicited_share"]),
            _pct(row["desk_answered"]) if row.get("desk_answered") else "n/a",
            minutes_text(row.get("elapsed_s")),
            str(row["errors"]),
        ]
        rows.append(cells)
    return headers, rows


def markdown_table(table: dict) -> str:
    """The ablation table as Markdown, the form docs/results.md uses."""
    headers, rows = table_cells(table)
    return "\n".join(
        ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        + ["| " + " | ".join(cells) + " |" for cells in rows]
    )


def elapsed_s(records: list[EpisodeRecord]) -> float | None:
    """The time during which at least one of the arm's episodes ran: the union of their [start, finish]
    intervals. Concurrent episodes count once (less than the sum of their wall times), and the pause of an
    arm stopped and resumed in a later session does not count."""
    stamps = sorted(
        (datetime.fromisoformat(r.started_at), datetime.fromisoformat(r.finished_at))
        for r in records
        if r.started_at and r.finished_at
    )
    if not stamps:
        return None
    total, (start, end) = 0.0, stamps[0]
    for next_start, next_end in stamps[1:]:
        if next_start > end:
            total += (end - start).total_seconds()
            start, end = next_start, next_end
        else:
            end = max(end, next_end)
    return total + (end - start).total_seconds()


def write_ablation(out: Path, table: dict, arms: dict[str, Path]) -> None:
    (out / "ablation.json").write_text(json.dumps(table, indent=2), encoding="utf-8")
    everything = [r for path in arms.values() for r in _records(path)]
    groups = {row["name"]: {"top1": row["top1"], "topk": row["topk"]} for row in table["arms"]}
    rows = "".join(
        f"<tr><td>{row['name']}</td><td>{row['episodes']}</td><td>{_pct(row['top1'])}</td><td>{_pct(row['topk'])}</td>"
        f"<td>{_delta(row['diff_top1']) if row['name'] != table['baseline'] else '-'}</td>"
        f"<td>{row['tokens_per_episode']:.0f}</td><td>{(row['wall_s_mean'] or 0):.1f}</td>"
        f"<td>{minutes_text(row.get('elapsed_s'))}</td><td>{row.get('doctor_turns_mean') or 0:.1f}</td>"
        f"<td>{_pct(row['elicited_share'])}</td>"
        f"<td>{row['role_breaks_per_episode']:.2f}</td></tr>"
        for row in table["arms"]
    )
    extra = (
        cost_benefit_plot(table)
        + "<h2>Ablation table</h2><table><tr><th>arm</th><th>episodes</th><th>top-1</th><th>top-k</th>"
        f"<th>Δ top-1 vs {table['baseline']} (paired)</th><th>tokens/episode</th><th>wall s/episode</th>"
        f"<th>arm elapsed</th><th>doctor turns/episode</th><th>script elicited</th><th>role breaks/episode</th></tr>{rows}</table>"
    )
    write_report(
        out / "report.html",
        render_report(f"ablation {out.name}", everything, summarise(everything), arms=groups, extra_html=extra),
    )


def cost_benefit_plot(table: dict) -> str:
    """Accuracy (with CI) against tokens and wall time per encounter, one point per arm."""
    from benchmark.report import figure_png, plt

    rows = [row for row in table["arms"] if row["top1"]["mean"] is not None]
    if not rows:
        return ""
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    for axis, key, label in (
        (axes[0], "tokens_per_episode", "tokens per encounter"),
        (axes[1], "wall_s_mean", "wall seconds per encounter"),
    ):
        for row in rows:
            mean, lo, hi = (100 * row["top1"][k] for k in ("mean", "lo", "hi"))
            axis.errorbar(row[key] or 0, mean, yerr=[[mean - lo], [hi - mean]], fmt="o", capsize=3)
            axis.annotate(row["name"], (row[key] or 0, mean), textcoords="offset points", xytext=(4, 4), fontsize=8)
        axis.set_xlabel(label)
    axes[0].set_ylabel("top-1 accuracy (%) with 95% CI")
    figure.suptitle("Cost and benefit per arm")
    return "<h2>Cost and benefit</h2>" + figure_png(figure)


def _pct(ci: dict) -> str:
    return "n/a" if ci["mean"] is None else f"{100 * ci['mean']:.1f}% [{100 * ci['lo']:.1f}, {100 * ci['hi']:.1f}]"


def _delta(d: dict) -> str:
    return "n/a" if d["diff"] is None else f"{100 * d['diff']:+.1f} [{100 * d['lo']:+.1f}, {100 * d['hi']:+.1f}]"


def minutes_text(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds / 60:.1f} min"
