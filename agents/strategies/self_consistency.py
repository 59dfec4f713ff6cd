"""`self-consistency`: when the doctor is ready to diagnose, N differentials are sampled (different seeds,
a higher temperature) and merged by rank-weighted voting over normalised diagnoses. The votes are kept
in the turn's record (`meta.votes`)."""

from __future__ import annotations

from rapidfuzz import fuzz

from agents.parsing import parse_action
from agents.prompts import render
from agents.protocol import Reply, View
from agents.strategies.base import DoctorTools
from agents.synonyms import normalise
from sim.core.actions import MAX_DIFFERENTIAL, Diagnose

SAME_DIAGNOSIS = 90.0  # token-sort similarity at which two names count as one diagnosis


def rank_vote(differentials: list[list[str]], top_k: int = MAX_DIFFERENTIAL) -> tuple[list[str], list[dict]]:
    """Merge ranked lists: rank r scores 1/r. Ties: more first places, then the earliest appearance
    (sample, rank), so the result is deterministic. Returns the differential and the tally."""
    groups: list[dict] = []
    for sample, differential in enumerate(differentials):
        for rank, name in enumerate(differential[:top_k], start=1):
            key = normalise(name)
            if not key:
                continue
            group = next((g for g in groups if fuzz.token_sort_ratio(g["key"], key) >= SAME_DIAGNOSIS), None)
            if group is None:
                group = {"key": key, "name": name, "score": 0.0, "firsts": 0, "first_seen": (sample, rank), "votes": 0}
                groups.append(group)
            group["score"] += 1.0 / rank
            group["firsts"] += rank == 1
            group["votes"] += 1
    ranked = sorted(groups, key=lambda g: (-g["score"], -g["firsts"], g["first_seen"]))
    tally = [
        {"diagnosis": g["name"], "score": round(g["score"], 4), "votes": g["votes"], "first_places": g["firsts"]}
        for g in ranked
    ]
    return [g["name"] for g in ranked[:top_k]], tally


class SelfConsistency:
    name = "self-consistency"

    @classmethod
    def from_settings(cls, spec, panel_model=None) -> SelfConsistency:
        return cls(spec.samples, spec.temperature)

    def __init__(self, samples: int = 5, temperature: float = 0.7):
        self.samples = max(1, samples)
        self.temperature = temperature

    def next_action(self, doctor: DoctorTools, view: View) -> Reply:
        step = doctor.step(doctor.messages(view), view)
        if not isinstance(step.action, Diagnose):
            return doctor.reply(step)
        differentials = [step.action.differential]
        forced = doctor.messages(view, extra="" if view.final_turn else render("doctor_final_turn"))
        base_seed = view.seed or 0
        for i in range(1, self.samples):
            completion, call = doctor.call(forced, view, "sample", temperature=self.temperature, seed=base_seed + i)
            step.calls.append(call)
            parsed = parse_action(completion.text).action
            if isinstance(parsed, Diagnose):
                differentials.append(parsed.differential)
        merged, tally = rank_vote(differentials, doctor.top_k)
        step.action = Diagnose(differential=merged)
        return doctor.reply(step, meta={"votes": tally, "samples": differentials})
