"""Metrics over episode records, each score with a bootstrap 95% confidence interval.

The bootstrap resamples *cases* with replacement and keeps every trial of a drawn case together, so
repeated trials of one case do not pass for independent evidence. Errors are counted apart from wrong
answers: accuracy is over judged episodes (errors excluded) and `error_rate` says how many failed.

summary.json keys (all rates in [0, 1]):
- `episodes`, `cases`, `trials`, `errors`, `error_rate`, `terminations` {reason: count}
- `top1`, `topk`: {"mean", "lo", "hi", "n"} over judged episodes; `k`
- `by_source`, `by_condition`: {name: {"top1": {...}, "topk": {...}, "episodes": n}}
- `turns`, `questions`, `tests`, `images`: {"mean", "median", "p95"} per episode (doctor turns)
- `turns_to_diagnosis`: the same over episodes that ended `diagnosed`
- `parse`: {"repairs_per_episode", "fallbacks_per_episode", "repaired_turn_rate", "fallback_turn_rate"}
- `retrieval`: {"episodes_with_retrieval", "hit_rate", "top1_when_hit", "top1_when_miss", "first_is_nearest",
  "first_is_retrieved"} (hit = a retrieved case shares the true diagnosis; top-1 with its CI over the
  episodes with and without a hit: what the doctor adds beyond copying a neighbour; the share of episodes
  whose first answer names the nearest retrieved case's diagnosis, or any retrieved one, with CI: how much
  the doctor copies)
- `workup`: {"elicited_share" (share of the patient script's facts the doctor drew out, with CI),
  "discriminators_share" (share of the facts that separate the case from its look-alikes it drew out, with CI),
  "role_breaks_per_episode", "episodes_with_role_break", "redirects_per_episode"}
- `group_top1` (look-alike bank): the top-1 answer names a diagnosis of the case's look-alike group (the
  truth or one of its look-alikes): what the picture alone can give, with CI; None without groups
- `desk`: {"requests_per_episode", "answered_share" (share of the doctor's test, examination and image
  requests the measurement desk answered from the case rather than "not available", with CI over cases),
  "requests", "answered"}
- `tokens`: {"in_per_episode", "out_per_episode"}; `by_role`: {role: {"calls", "tokens_in", "tokens_out",
  "latency_s_mean" per call}}; `wall_s`: per episode {"mean", "median", "p95"}
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from agents.judge import score_candidate
from sim.core.case import Diagnosis
from sim.core.records import EpisodeRecord

BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 12345


def bootstrap_ci(
    groups: Sequence[Sequence[float]],
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = BOOTSTRAP_SEED,
    level: float = 0.95,
) -> dict:
    """Mean and percentile CI of the pooled values, resampling whole groups (one group = one case)."""
    groups = [list(g) for g in groups if len(g)]
    if not groups:
        return {"mean": None, "lo": None, "hi": None, "n": 0}
    sums = np.array([sum(g) for g in groups], dtype=float)
    counts = np.array([len(g) for g in groups], dtype=float)
    mean = float(sums.sum() / counts.sum())
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(groups), size=(samples, len(groups)))
    estimates = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(estimates, [alpha, 1.0 - alpha])
    return {"mean": mean, "lo": float(lo), "hi": float(hi), "n": int(counts.sum())}


def paired_difference(
    a: dict[str, list[float]],
    b: dict[str, list[float]],
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> dict:
    """B minus A over the cases both have (per case: mean over its trials), with a bootstrap CI."""
    shared = sorted(set(a) & set(b))
    if not shared:
        return {"diff": None, "lo": None, "hi": None, "cases": 0, "p_b_better": None}
    diffs = np.array([np.mean(b[c]) - np.mean(a[c]) for c in shared], dtype=float)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(diffs), size=(samples, len(diffs)))
    boot = diffs[draws].mean(axis=1)
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return {
        "diff": float(diffs.mean()),
        "lo": float(lo),
        "hi": float(hi),
        "cases": len(shared),
        "p_b_better": float((boot > 0).mean()),
    }


def _judged(records: list[EpisodeRecord]) -> list[EpisodeRecord]:
    return [r for r in records if r.termination != "error"]


def per_case(records: list[EpisodeRecord], value: Callable[[EpisodeRecord], float]) -> dict[str, list[float]]:
    grouped: dict[str, list[float]] = defaultdict(list)
    for record in records:
        grouped[record.case_id].append(float(value(record)))
    return dict(grouped)


def accuracy(records: list[EpisodeRecord], which: str = "top1") -> dict:
    attribute = "top1_correct" if which == "top1" else "topk_correct"
    return bootstrap_ci(list(per_case(_judged(records), lambda r: getattr(r, attribute)).values()))


def _spread(values: list[float]) -> dict:
    if not values:
        return {"mean": None, "median": None, "p95": None}
    array = np.asarray(values, dtype=float)
    return {"mean": float(array.mean()), "median": float(np.median(array)), "p95": float(np.quantile(array, 0.95))}


def retrieval_hit(record: EpisodeRecord) -> bool | None:
    """Did any retrieved case share the true diagnosis? None when nothing was retrieved."""
    items = [i for i in record.retrieved if i.get("diagnosis")]
    if not items:
        return None
    truth = Diagnosis(name=record.truth or "?", aliases=record.truth_aliases)
    return any(score_candidate(str(i["diagnosis"]), truth, 1).outcome == "correct" for i in items)


def copied(record: EpisodeRecord) -> tuple[bool, bool] | None:
    """Does the first answer name the nearest retrieved case's diagnosis, and any retrieved one? None when
    nothing was retrieved or nothing answered. The judge's rules decide "names" (aliases, qualifiers)."""
    items = [i for i in record.retrieved if i.get("diagnosis")]
    if not items or not record.differential:
        return None

    def names(diagnosis: object) -> bool:
        return score_candidate(record.differential[0], Diagnosis(name=str(diagnosis)), 1).outcome == "correct"

    nearest = max(items, key=lambda i: float(i.get("similarity", i.get("score", 0.0)) or 0.0))
    return names(nearest["diagnosis"]), any(names(i["diagnosis"]) for i in items)


def _retrieval_summary(judged: list[EpisodeRecord]) -> dict:
    hit_of = {id(r): retrieval_hit(r) for r in judged}
    hits = [h for h in hit_of.values() if h is not None]
    copies = {id(r): c for r in judged if (c := copied(r)) is not None}
    with_retrieval = [r for r in judged if id(r) in copies]
    return {
        "episodes_with_retrieval": len(hits),
        "hit_rate": (sum(hits) / len(hits)) if hits else None,
        "top1_when_hit": accuracy([r for r in judged if hit_of[id(r)] is True]),
        "top1_when_miss": accuracy([r for r in judged if hit_of[id(r)] is False]),
        "first_is_nearest": bootstrap_ci(list(per_case(with_retrieval, lambda r: copies[id(r)][0]).values())),
        "first_is_retrieved": bootstrap_ci(list(per_case(with_retrieval, lambda r: copies[id(r)][1]).values())),
    }


def _elicited_share(record: EpisodeRecord) -> float:
    return record.elicitation.share if record.elicitation is not None else 0.0


def _discriminators_share(record: EpisodeRecord) -> float:
    found = record.elicitation
    return found.discriminators_elicited / found.discriminators if found is not None and found.discriminators else 0.0


def _workup_summary(judged: list[EpisodeRecord]) -> dict:
    with_script = [r for r in judged if r.elicitation is not None and r.elicitation.facts]
    episodes = max(1, len(judged))
    marked = [r for r in judged if r.elicitation is not None and r.elicitation.discriminators]
    return {
        "elicited_share": bootstrap_ci(list(per_case(with_script, _elicited_share).values())),
        "discriminators_share": bootstrap_ci(list(per_case(marked, _discriminators_share).values())),
        "role_breaks_per_episode": sum(r.totals.role_breaks for r in judged) / episodes,
        "episodes_with_role_break": sum(1 for r in judged if r.totals.role_breaks),
        "redirects_per_episode": sum(r.totals.redirects for r in judged) / episodes,
    }


def desk_answers(record: EpisodeRecord) -> list[bool]:
    """Whether the measurement desk answered each request of the episode from the case. Read from the turns,
    so records written before the totals counted it say it too."""
    return [bool(t.meta["found"]) for t in record.turns if t.role == "measurement" and "found" in t.meta]


def in_group(record: EpisodeRecord) -> bool:
    """The top-1 answer names the truth or one of its look-alikes: the right picture, whatever the cause."""
    if not record.differential:
        return False
    answer = record.differential[0]
    names = [Diagnosis(name=record.truth or "?", aliases=record.truth_aliases)]
    names += [Diagnosis(name=other) for other in record.lookalikes]
    return record.top1_correct or any(score_candidate(answer, n, 1).outcome == "correct" for n in names)


def group_accuracy(records: list[EpisodeRecord]) -> dict | None:
    grouped = [r for r in _judged(records) if r.group]
    return bootstrap_ci(list(per_case(grouped, in_group).values())) if grouped else None


def _desk_summary(judged: list[EpisodeRecord]) -> dict:
    groups: dict[str, list[float]] = defaultdict(list)
    for record in judged:  # each request one value, a case's requests (over its trials) kept together
        groups[record.case_id] += [float(found) for found in desk_answers(record)]
    requests = sum(len(values) for values in groups.values())
    return {
        "requests_per_episode": requests / max(1, len(judged)),
        "requests": requests,
        "answered": int(sum(sum(values) for values in groups.values())),
        "answered_share": bootstrap_ci(list(groups.values())),
    }


def summarise(records: list[EpisodeRecord]) -> dict:
    judged = _judged(records)
    errors = len(records) - len(judged)
    summary: dict = {
        "episodes": len(records),
        "cases": len({r.case_id for r in records}),
        "trials": len({r.trial for r in records}),
        "errors": errors,
        "error_rate": errors / len(records) if records else 0.0,
        "terminations": dict(Counter(r.termination for r in records)),
        "k": next((r.verdict.k for r in judged if r.verdict), None),
        "top1": accuracy(records, "top1"),
        "topk": accuracy(records, "topk"),
        "group_top1": group_accuracy(records),
    }
    for name, key in (("by_source", lambda r: r.source), ("by_condition", lambda r: r.condition)):
        grouped: dict[str, list[EpisodeRecord]] = defaultdict(list)
        for record in records:
            if key(record):
                grouped[key(record)].append(record)
        summary[name] = {
            g: {"top1": accuracy(rs, "top1"), "topk": accuracy(rs, "topk"), "episodes": len(rs)}
            for g, rs in sorted(grouped.items())
        }
    for name in ("doctor_turns", "questions", "tests", "images"):
        summary["turns" if name == "doctor_turns" else name] = _spread([getattr(r.totals, name) for r in judged])
    summary["turns_to_diagnosis"] = _spread([r.totals.doctor_turns for r in judged if r.termination == "diagnosed"])
    doctor_turns = sum(r.totals.doctor_turns for r in records) or 1
    summary["parse"] = {
        "repairs_per_episode": sum(r.totals.repairs for r in records) / max(1, len(records)),
        "fallbacks_per_episode": sum(r.totals.fallbacks for r in records) / max(1, len(records)),
        "repaired_turn_rate": sum(r.totals.repairs for r in records) / doctor_turns,
        "fallback_turn_rate": sum(r.totals.fallbacks for r in records) / doctor_turns,
    }
    summary["retrieval"] = _retrieval_summary(judged)
    summary["workup"] = _workup_summary(judged)
    summary["desk"] = _desk_summary(judged)
    summary["tokens"] = {
        "in_per_episode": float(np.mean([r.totals.tokens_in for r in records])) if records else 0.0,
        "out_per_episode": float(np.mean([r.totals.tokens_out for r in records])) if records else 0.0,
    }
    by_role: dict[str, dict] = defaultdict(lambda: {"calls": 0, "tokens_in": 0, "tokens_out": 0, "latency_s": 0.0})
    for record in records:
        for role, stats in record.totals.by_role.items():
            for field in ("calls", "tokens_in", "tokens_out", "latency_s"):
                by_role[role][field] += stats.get(field, 0)
    summary["by_role"] = {
        role: {
            "calls": s["calls"],
            "tokens_in": s["tokens_in"],
            "tokens_out": s["tokens_out"],
            "latency_s_mean": s["latency_s"] / s["calls"] if s["calls"] else None,
        }
        for role, s in sorted(by_role.items())
    }
    summary["wall_s"] = _spread([r.totals.wall_s for r in records])
    return summary


def format_ci(stat: dict, percent: bool = True) -> str:
    if stat.get("mean") is None:
        return "n/a"
    scale = 100.0 if percent else 1.0
    unit = "%" if percent else ""
    return f"{stat['mean'] * scale:.1f}{unit} [{stat['lo'] * scale:.1f}, {stat['hi'] * scale:.1f}]"
