"""The learning curve: cases in a fixed random order, one after another, with the experience store growing,
next to the same sequence with experience off. Does the doctor get better as it sees more patients?

Experiences of earlier cases in the sequence are allowed (that is the point), the same case never.
Each arm is an ordinary run directory (resumable; benchmark/api.py `learn` runs them); `curve.json` and
`report.html` sit beside them.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

from benchmark.metrics import summarise
from benchmark.report import figure_png, plt, render_report, write_report
from sim.core.case import Case
from sim.core.records import EpisodeRecord


def ordered(cases: list[Case], order_seed: int) -> list[Case]:
    order = list(cases)
    random.Random(order_seed).shuffle(order)
    return order


def moving_window(correct: list[bool], window: int) -> list[dict]:
    """Accuracy over the last `window` encounters at each point, with a Wilson 95% interval."""
    points = []
    for end in range(1, len(correct) + 1):
        chunk = correct[max(0, end - window) : end]
        k, n = int(sum(chunk)), len(chunk)
        interval = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        points.append({"seen": end, "accuracy": k / n, "lo": float(interval.low), "hi": float(interval.high), "n": n})
    return points


def curve_plot(curves: dict[str, list[dict]], window: int) -> str:
    figure, axis = plt.subplots(figsize=(6.5, 3.4))
    for arm, colour in zip(curves, ("#C44E52", "#4C72B0")):
        points = curves[arm]
        if not points:
            continue
        seen = [p["seen"] for p in points]
        axis.plot(seen, [100 * p["accuracy"] for p in points], color=colour, label=arm)
        axis.fill_between(
            seen, [100 * p["lo"] for p in points], [100 * p["hi"] for p in points], color=colour, alpha=0.15
        )
    axis.set_xlabel("encounters seen")
    axis.set_ylabel(f"top-1 accuracy, last {window} (%)")
    axis.set_ylim(0, 100)
    axis.set_title("Learning curve (shaded: Wilson 95% CI)")
    axis.legend()
    return figure_png(figure)


def write_learning_outputs(out: Path, arms: dict[str, list[EpisodeRecord]], window: int, order_seed: int) -> dict:
    curves = {arm: moving_window([r.top1_correct for r in records], window) for arm, records in arms.items()}
    halves = {}
    for arm, records in arms.items():
        half = len(records) // 2
        halves[arm] = {
            "first_half": float(np.mean([r.top1_correct for r in records[:half]])) if half else None,
            "second_half": float(np.mean([r.top1_correct for r in records[half:]])) if records[half:] else None,
            "experiences_used_per_episode": float(np.mean([len(r.experiences) for r in records])) if records else 0.0,
        }
    summaries = {arm: summarise(records) for arm, records in arms.items()}
    result = {"order_seed": order_seed, "window": window, "curves": curves, "halves": halves, "summary": summaries}
    (out / "curve.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    everything = [r for records in arms.values() for r in records]
    groups = {arm: {"top1": s["top1"], "topk": s["topk"]} for arm, s in summaries.items()}
    rows = "".join(
        f"<tr><td>{arm}</td><td>{h['first_half']}</td><td>{h['second_half']}</td>"
        f"<td>{h['experiences_used_per_episode']:.2f}</td></tr>"
        for arm, h in halves.items()
    )
    extra = (
        "<h2>Learning curve</h2>"
        + curve_plot(curves, window)
        + "<table><tr><th>arm</th><th>top-1, first half</th><th>top-1, second half</th>"
        f"<th>experiences shown per encounter</th></tr>{rows}</table>"
    )
    write_report(
        out / "report.html",
        render_report(f"learning curve {out.name}", everything, summarise(everything), arms=groups, extra_html=extra),
    )
    return result
