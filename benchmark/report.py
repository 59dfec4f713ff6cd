"""`report.html`: one self-contained page per run (plots embedded as PNG), written even for failed runs.

Shows accuracy with CI bars (per arm, source or condition), turns to diagnosis, the doctor's action mix
per turn, retrieval hit rate, tokens per encounter, and the slowest and failed episodes with links to
their transcripts further down the page.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from collections import Counter, defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt

from benchmark.metrics import format_ci
from sim.core.records import EpisodeRecord

ACTION_COLOURS = {"ask": "#4C72B0", "test": "#DD8452", "image": "#55A868", "diagnose": "#C44E52"}
MAX_TRANSCRIPTS = 40


def figure_png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def accuracy_plot(groups: dict[str, dict], title: str) -> str:
    """groups: name -> {"top1": ci, "topk": ci}."""
    names = [n for n, g in groups.items() if g["top1"].get("mean") is not None]
    if not names:
        return "<p>No judged episodes.</p>"
    figure, axis = plt.subplots(figsize=(max(4, 1.1 * len(names) + 2), 3.2))
    width = 0.38
    for offset, which, colour in ((-width / 2, "top1", "#4C72B0"), (width / 2, "topk", "#8DA0CB")):
        means = [100 * groups[n][which]["mean"] for n in names]
        lower = [100 * (groups[n][which]["mean"] - groups[n][which]["lo"]) for n in names]
        upper = [100 * (groups[n][which]["hi"] - groups[n][which]["mean"]) for n in names]
        axis.bar(
            [i + offset for i in range(len(names))],
            means,
            width,
            yerr=[lower, upper],
            capsize=3,
            color=colour,
            label=which.replace("topk", "top-k"),
        )
    axis.set_xticks(range(len(names)), names, rotation=30, ha="right")
    axis.set_ylabel("accuracy (%) with 95% CI")
    axis.set_ylim(0, 100)
    axis.set_title(title)
    axis.legend()
    return figure_png(figure)


def _histogram(values: list[float], title: str, xlabel: str) -> str:
    if not values:
        return f"<p>{html.escape(title)}: no data.</p>"
    figure, axis = plt.subplots(figsize=(5, 3))
    axis.hist(values, bins=min(20, max(5, len(set(values)))), color="#4C72B0")
    axis.set_title(title)
    axis.set_xlabel(xlabel)
    axis.set_ylabel("episodes")
    return figure_png(figure)


def action_mix_plot(records: list[EpisodeRecord]) -> str:
    counts: dict[int, Counter] = defaultdict(Counter)
    for record in records:
        doctor_turns = [t for t in record.turns if t.role == "doctor"]
        for index, turn in enumerate(doctor_turns, start=1):
            counts[index][turn.action.kind if turn.action else "?"] += 1
    if not counts:
        return "<p>No doctor turns.</p>"
    turns = sorted(counts)
    figure, axis = plt.subplots(figsize=(max(5, 0.35 * len(turns) + 2), 3))
    bottom = [0.0] * len(turns)
    for kind, colour in ACTION_COLOURS.items():
        shares = [counts[t][kind] / sum(counts[t].values()) for t in turns]
        axis.bar(turns, shares, bottom=bottom, color=colour, label=kind)
        bottom = [b + s for b, s in zip(bottom, shares)]
    axis.set_xlabel("doctor turn")
    axis.set_ylabel("share of actions")
    axis.set_title("Action mix per turn")
    axis.legend(fontsize=8, ncol=4)
    return figure_png(figure)


def _episode_anchor(record: EpisodeRecord) -> str:
    return "ep-" + "".join(ch if ch.isalnum() else "-" for ch in record.episode_id)


def _episode_rows(records: list[EpisodeRecord]) -> str:
    rows = []
    for r in records:
        rows.append(
            f'<tr><td><a href="#{_episode_anchor(r)}">{html.escape(r.episode_id)}</a></td>'
            f"<td>{html.escape(r.termination)}</td><td>{'yes' if r.top1_correct else 'no'}</td>"
            f"<td>{r.totals.doctor_turns}</td><td>{r.totals.wall_s:.1f}</td>"
            f"<td>{html.escape((r.error or '')[:160])}</td></tr>"
        )
    head = "<tr><th>episode</th><th>termination</th><th>top-1</th><th>turns</th><th>wall s</th><th>error</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>" if rows else "<p>None.</p>"


def _transcript(record: EpisodeRecord) -> str:
    lines = []
    for turn in record.turns:
        extra = f" <em>[{html.escape(turn.parse)}]</em>" if turn.parse in ("repaired", "fallback", "forced") else ""
        lines.append(f"<p><b>{html.escape(turn.role)}</b>{extra}: {html.escape(turn.text)}</p>")
    reason = record.verdict.reason if record.verdict else ""
    return (
        f'<details id="{_episode_anchor(record)}"><summary>{html.escape(record.episode_id)} '
        f"— {html.escape(record.termination)}, truth: {html.escape(record.truth)}, "
        f"differential: {html.escape('; '.join(record.differential) or '(none)')}</summary>"
        + "".join(lines)
        + f"<p><i>judge: {html.escape(reason)}</i></p>"
        + (f"<p class=err>error: {html.escape(record.error)}</p>" if record.error else "")
        + "</details>"
    )


def render_report(
    title: str,
    records: list[EpisodeRecord],
    summary: dict,
    config: dict | None = None,
    arms: dict[str, dict] | None = None,
    extra_html: str = "",
) -> str:
    sections = [f"<h1>{html.escape(title)}</h1>"]
    sections.append(
        "<table>"
        f"<tr><th>episodes</th><td>{summary['episodes']} ({summary['cases']} cases × {summary['trials']} trials)</td></tr>"
        f"<tr><th>top-1</th><td>{format_ci(summary['top1'])}</td></tr>"
        f"<tr><th>top-{summary.get('k') or 'k'}</th><td>{format_ci(summary['topk'])}</td></tr>"
        f"<tr><th>errors</th><td>{summary['errors']} ({100 * summary['error_rate']:.1f}%), counted apart from wrong answers</td></tr>"
        f"<tr><th>terminations</th><td>{html.escape(str(summary['terminations']))}</td></tr>"
        f"<tr><th>tokens per encounter</th><td>{summary['tokens']['in_per_episode']:.0f} in / {summary['tokens']['out_per_episode']:.0f} out</td></tr>"
        "</table>"
    )
    if config:
        models = config.get("settings", {}).get("roles", {})
        rows = "".join(
            f"<tr><td>{html.escape(role)}</td><td>{html.escape(spec.get('backend', ''))}</td>"
            f"<td>{html.escape(spec.get('model', '') or '-')}</td><td>{html.escape(spec.get('base_url', '') or '-')}</td></tr>"
            for role, spec in models.items()
        )
        sections.append(
            f"<h2>Models</h2><table><tr><th>role</th><th>backend</th><th>model</th><th>base URL</th></tr>{rows}</table>"
        )
        skipped = config.get("params", {}).get("skipped_cases") or []
        if skipped:  # left out on request (an image file missing, --skip-missing-images): said, never silent
            items = "".join(f"<li>{html.escape(str(line))}</li>" for line in skipped)
            sections.append(f"<h2>Cases skipped ({len(skipped)})</h2><ul>{items}</ul>")
    sections.append("<h2>Accuracy</h2>")
    if arms:
        sections.append(accuracy_plot(arms, "Accuracy per arm"))
    for key, label in (("by_source", "source"), ("by_condition", "condition")):
        if len(summary.get(key, {})) > 1 or (key == "by_source" and summary.get(key) and not arms):
            sections.append(accuracy_plot(summary[key], f"Accuracy per {label}"))
    judged = [r for r in records if r.termination != "error"]
    sections.append("<h2>Encounters</h2>")
    sections.append(
        _histogram(
            [r.totals.doctor_turns for r in judged if r.termination == "diagnosed"],
            "Turns to diagnosis",
            "doctor turns",
        )
    )
    sections.append(action_mix_plot(judged))
    sections.append(
        _histogram([r.totals.tokens_in + r.totals.tokens_out for r in records], "Tokens per encounter", "tokens")
    )
    retrieval = summary.get("retrieval", {})
    if retrieval.get("episodes_with_retrieval"):
        sections.append(
            f"<p>Retrieval hit rate (a retrieved case shares the true diagnosis): "
            f"{100 * retrieval['hit_rate']:.1f}% of {retrieval['episodes_with_retrieval']} episodes with retrieval. "
            f"Top-1 when a retrieved case shared the diagnosis: {format_ci(retrieval['top1_when_hit'])} "
            f"({retrieval['top1_when_hit']['n']} episodes); when none did: "
            f"{format_ci(retrieval['top1_when_miss'])} ({retrieval['top1_when_miss']['n']} episodes).</p>"
        )
    else:
        sections.append("<p>No retrieval in this run.</p>")
    workup = summary.get("workup", {})
    if workup.get("elicited_share", {}).get("n"):
        sections.append(
            f"<p>Work-up: the doctor drew out {format_ci(workup['elicited_share'])} of the patient "
            f"script's facts; patient role breaks {workup['role_breaks_per_episode']:.2f} per episode "
            f"({workup['episodes_with_role_break']} episodes with one); repeated requests redirected "
            f"{workup['redirects_per_episode']:.2f} per episode.</p>"
        )
    desk = summary.get("desk", {})
    if desk.get("requests"):
        sections.append(
            f"<p>Measurement desk: {desk['requests']} test, examination and image requests "
            f"({desk['requests_per_episode']:.1f} per episode), answered from the case: "
            f'{format_ci(desk["answered_share"])}; the rest were told "not available".</p>'
        )
    parse = summary.get("parse", {})
    sections.append(
        f"<p>Doctor output needing repair: {100 * parse.get('repaired_turn_rate', 0):.1f}% of turns; "
        f"unparseable after repair (asked as-is): {100 * parse.get('fallback_turn_rate', 0):.1f}%.</p>"
    )
    slowest = sorted(records, key=lambda r: r.totals.wall_s, reverse=True)[:10]
    failed = [r for r in records if r.termination == "error"]
    sections.append("<h2>Slowest episodes</h2>" + _episode_rows(slowest))
    sections.append(f"<h2>Failed episodes ({len(failed)})</h2>" + _episode_rows(failed))
    shown = {r.episode_id: r for r in [*failed, *slowest, *records[:MAX_TRANSCRIPTS]]}
    sections.append(
        "<h2>Transcripts</h2>" + "".join(_transcript(r) for r in list(shown.values())[: MAX_TRANSCRIPTS + 20])
    )
    sections.append(extra_html)
    style = (
        "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:90%}img{max-width:100%}"
        "details{margin:.4em 0;border-left:3px solid #ddd;padding-left:.6em}.err{color:#b00}"
    )
    return f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title><style>{style}</style></head><body>{''.join(sections)}</body></html>"


def write_report(path: Path, document: str) -> Path:
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(document, encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_summary_and_report(out: Path, records: list[EpisodeRecord], title: str, config: dict | None = None) -> dict:
    """The one place a run directory's summary.json and report.html are written (a run, a judged-again run,
    `clinsim bench report`); returns the summary. summary.json is replaced atomically like the report."""
    from benchmark.metrics import summarise

    summary = summarise(records)
    tmp = out / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    os.replace(tmp, out / "summary.json")
    write_report(out / "report.html", render_report(title, records, summary, config))
    return summary
