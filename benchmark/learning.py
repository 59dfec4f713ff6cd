"""The learning curve: cases in a fixed random order, one after another, with the experience store growing,
next to the same sequence with experience off. Does the doctor get better as it sees more patients?

Experiences of earlier cases in the sequence are allowed (that is the point), the same case never.
Each arm is an ordinary run directory (resumable); `curve.json` and `report.html` sit beside them.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

from benchmark.harness import (EPISODES_FILE, Learner, make_runner_factory, plan_episodes, prepare_run_dir,
                               run_config)
from benchmark.metrics import summarise
from benchmark.records import EpisodeRecord, append_record, read_records
from benchmark.report import figure_png, plt, render_report, write_report
from sim.case import Case
from sim.config import Settings

ARMS = ("experience-on", "experience-off")


def ordered(cases: list[Case], order_seed: int) -> list[Case]:
    order = list(cases)
    random.Random(order_seed).shuffle(order)
    return order


def moving_window(correct: list[bool], window: int) -> list[dict]:
    """Accuracy over the last `window` encounters at each point, with a Wilson 95% interval."""
    points = []
    for end in range(1, len(correct) + 1):
        chunk = correct[max(0, end - window):end]
        k, n = int(sum(chunk)), len(chunk)
        interval = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        points.append({"seen": end, "accuracy": k / n, "lo": float(interval.low), "hi": float(interval.high), "n": n})
    return points


def run_sequence(cfg: Settings, arm: str, cases: list[Case], case_dir: Path | None, out: Path, order_seed: int,
                 models: dict, resume: bool, on_step: Callable[[str, int, EpisodeRecord], None] | None = None
                 ) -> list[EpisodeRecord]:
    """One arm: strictly one case after the other, so each sees every earlier experience."""
    from retrieval.experience import EXPERIENCES_FILE, ExperienceProvider, ExperienceStore, experience_embedder

    arm_dir = out / arm
    use_experience = arm == "experience-on"
    arm_cfg = cfg.model_copy(deep=True)
    arm_cfg.experience.enabled = use_experience
    arm_cfg.experience.allow_same_split = True
    done = prepare_run_dir(arm_dir, run_config(arm_cfg, {"order_seed": order_seed, "cases": len(cases), "arm": arm}), resume)
    provider = learner = None
    if use_experience:
        store = ExperienceStore(arm_dir / "experience-store", experience_embedder(cfg.experience.embedder),
                                mirror=arm_dir / EXPERIENCES_FILE)
        provider = ExperienceProvider(store, cfg.experience.k, cfg.experience.only_correct)
    factory = make_runner_factory(arm_cfg, models=models, experience=provider)
    if use_experience:
        learner = Learner(store, models.get("doctor") if cfg.experience.lessons else None)
    for index, episode in enumerate(plan_episodes(cases, case_dir, 1, order_seed)):
        if episode.key in done:
            continue
        record = factory().run(episode.case, episode.case_dir, run_id=arm_dir.name, trial=0, seed=episode.seed)
        append_record(arm_dir / EPISODES_FILE, record)
        if learner is not None:
            experience = learner.experience_for(episode.case, record)
            if experience is not None:
                learner.remember(experience)
        if on_step:
            on_step(arm, index, record)
    by_case = {r.case_id: r for r in read_records(arm_dir / EPISODES_FILE)}
    return [by_case[c.id] for c in cases if c.id in by_case]


def curve_plot(curves: dict[str, list[dict]], window: int) -> str:
    figure, axis = plt.subplots(figsize=(6.5, 3.4))
    for arm, colour in zip(curves, ("#C44E52", "#4C72B0")):
        points = curves[arm]
        if not points:
            continue
        seen = [p["seen"] for p in points]
        axis.plot(seen, [100 * p["accuracy"] for p in points], color=colour, label=arm)
        axis.fill_between(seen, [100 * p["lo"] for p in points], [100 * p["hi"] for p in points], color=colour, alpha=0.15)
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
    result = {"order_seed": order_seed, "window": window, "curves": curves, "halves": halves,
              "summary": {arm: summarise(records) for arm, records in arms.items()}}
    (out / "curve.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    everything = [r for records in arms.values() for r in records]
    groups = {arm: {"top1": s["top1"], "topk": s["topk"]} for arm, s in result["summary"].items()}
    rows = "".join(f"<tr><td>{arm}</td><td>{h['first_half']}</td><td>{h['second_half']}</td>"
                   f"<td>{h['experiences_used_per_episode']:.2f}</td></tr>" for arm, h in halves.items())
    extra = ("<h2>Learning curve</h2>" + curve_plot(curves, window)
             + "<table><tr><th>arm</th><th>top-1, first half</th><th>top-1, second half</th>"
             f"<th>experiences shown per encounter</th></tr>{rows}</table>")
    write_report(out / "report.html", render_report(f"learning curve {out.name}", everything, summarise(everything),
                                                    arms=groups, extra_html=extra))
    return result
