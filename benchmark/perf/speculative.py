"""Speculative decoding on real encounters: the same perf cases with `embedded.speculative` off and in each
mode (arm), side by side in one run, each arm on a llama.cpp server of its own, the arms alternating over
rounds (the order reversed every other round, so a drift of the machine's load falls on every arm alike).

Per arm: the encounter's median and p95 and their ratio to off (pooled over the rounds, and per round against
that round's off), what each role evaluated and generated and how fast (the server's own log), how many
drafted tokens the model kept, the server's peak memory and start-up, top-1; and whether the text changed:
each encounter's doctor lines (with its private notes and raw replies) and patient replies against the same
encounter with the mode off in the same round. At temperature 0 a mode that keeps every drafted token the
model would have chosen gives the same text, up to the floating-point differences of checking a batch of
tokens at once; off against off of another round is the noise floor of that comparison.

An arm is written `MODE[:FIELD=VALUE...]` with FIELDs of `embedded` (sim/core/config.py EmbeddedServer), e.g.
`off`, `ngram-mod:ngram_mod_n_match=16:ngram_mod_n_min=2`, `draft:draft_n_max=3:draft_p_min=0.75`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from benchmark.perf.stats import distribution
from sim.core.case import Case
from sim.core.config import SPECULATIVE_MODES, EmbeddedServer, Settings
from sim.core.records import EpisodeRecord

DIFFERENCES_KEPT = 3  # per arm: the first differing turn of this many encounters, quoted


@dataclass(frozen=True)
class Arm:
    label: str  # as written: "off", "ngram-mod", "draft:draft_n_max=3"
    overrides: dict[str, Any] = field(default_factory=dict)  # embedded settings, speculative included

    @property
    def off(self) -> bool:
        return self.overrides.get("speculative", "off") == "off"


def parse_arms(text: str, embedded: EmbeddedServer) -> list[Arm]:
    """Arms from `MODE[:FIELD=VALUE...]` separated by commas, each checked against the embedded settings (a
    ValueError names the arm and what is wrong). `off` is added first when missing: every ratio needs it."""
    arms: list[Arm] = []
    for spec in (part.strip() for part in text.split(",")):
        if not spec:
            continue
        mode, *settings = spec.split(":")
        if mode not in SPECULATIVE_MODES:
            raise ValueError(
                f"speculative arm {spec!r}: unknown mode {mode!r}; choose from {', '.join(SPECULATIVE_MODES)}"
            )
        overrides: dict[str, Any] = {"speculative": mode}
        for setting in settings:
            key, sep, value = setting.partition("=")
            if not sep or key not in EmbeddedServer.model_fields or key == "speculative":
                raise ValueError(
                    f"speculative arm {spec!r}: {setting!r} is not FIELD=VALUE with a field of embedded "
                    "(e.g. draft_n_max=3, ngram_mod_n_min=2)"
                )
            overrides[key] = value
        try:
            checked = EmbeddedServer.model_validate({**embedded.model_dump(), **overrides})
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'embedded'}: {e['msg']}" for e in error.errors()
            )
            raise ValueError(f"speculative arm {spec!r}: {problems}") from None
        arm = Arm(spec, {key: getattr(checked, key) for key in overrides})
        if arm.label in (a.label for a in arms):
            raise ValueError(f"speculative arm {spec!r} is given twice")
        arms.append(arm)
    if not arms:
        raise ValueError("no speculative arms given")
    if not any(arm.off for arm in arms):
        arms.insert(0, Arm("off", {"speculative": "off"}))
    return arms


def available(settings: Settings, arms: list[Arm]) -> tuple[list[Arm], dict[str, str]]:
    """The arms whose models can be had here, and why the others cannot (a draft arm without the optional
    `clinsim[draft]` packages is left out of a full run, not its failure). The draft model is assembled here,
    once, so no arm's start-up pays for it."""
    from agents.llm.errors import ConfigError
    from agents.llm.speculative import draft_model

    kept, unavailable = [], {}
    for arm in arms:
        try:
            draft_model(settings.embedded.model_copy(update=arm.overrides))
        except ConfigError as error:
            unavailable[arm.label] = str(error)
            continue
        kept.append(arm)
    return kept, unavailable


def _texts(record: EpisodeRecord) -> list[tuple[int, str, str]]:
    """What the models wrote, turn by turn: (turn, role, text) of the doctor (its line, raw reply and private
    notes) and the patient."""
    texts = []
    for turn in record.turns:
        if turn.role == "doctor":
            texts.append(
                (
                    turn.index,
                    "doctor",
                    "\n".join(filter(None, (turn.text, turn.raw, str(turn.meta.get("reasoning") or "")))),
                )
            )
        elif turn.role == "patient":
            texts.append((turn.index, "patient", turn.text))
    return texts


def compare_texts(base: list[EpisodeRecord], other: list[EpisodeRecord]) -> dict:
    """Encounter by encounter (same case and trial): the same doctor text, patient text, both, and
    differential; and where the first difference fell."""
    by_key = {(r.case_id, r.trial): r for r in base}
    result: dict[str, Any] = {
        "compared": 0,
        "same_text": 0,
        "same_doctor": 0,
        "same_patient": 0,
        "same_differential": 0,
        "differences": [],
    }
    for record in other:
        original = by_key.get((record.case_id, record.trial))
        if original is None:
            continue
        result["compared"] += 1
        mine, theirs = _texts(record), _texts(original)
        doctor = [t for t in mine if t[1] == "doctor"] == [t for t in theirs if t[1] == "doctor"]
        patient = [t for t in mine if t[1] == "patient"] == [t for t in theirs if t[1] == "patient"]
        result["same_doctor"] += doctor
        result["same_patient"] += patient
        result["same_text"] += doctor and patient
        result["same_differential"] += record.differential == original.differential
        if not (doctor and patient):
            was, now = next(((a, b) for a, b in zip(theirs, mine, strict=False) if a != b), (None, None))
            if was is None and now is None:  # one transcript goes on where the other ended
                was = theirs[len(mine)] if len(theirs) > len(mine) else None
                now = mine[len(theirs)] if len(mine) > len(theirs) else None
            where = was or now
            result["differences"].append(
                {
                    "case_id": record.case_id,
                    "trial": record.trial,
                    "turn": where[0] if where else None,
                    "role": where[1] if where else None,
                    "off": was[2][:200] if was else None,
                    "arm": now[2][:200] if now else None,
                    "turns_off": len(theirs),
                    "turns_arm": len(mine),
                }
            )
    return result


def _sum_roles(rounds: list[dict]) -> dict[str, dict]:
    """Each role's server-log figures summed over the rounds, with its rates."""
    total: dict[str, dict] = {}
    for one in rounds:
        for role, figures in (one.get("by_role") or {}).items():
            entry = total.setdefault(role, {})
            for key in (
                "prompt_tokens",
                "prompt_s",
                "gen_tokens",
                "gen_s",
                "requests",
                "draft_tokens",
                "draft_accepted",
            ):
                if key in figures:
                    entry[key] = entry.get(key, 0) + figures[key]
    for entry in total.values():
        entry["prompt_tokens_per_s"] = (
            round(entry["prompt_tokens"] / entry["prompt_s"], 1) if entry.get("prompt_s") else None
        )
        entry["gen_tokens_per_s"] = round(entry["gen_tokens"] / entry["gen_s"], 1) if entry.get("gen_s") else None
        entry["prompt_s"], entry["gen_s"] = round(entry.get("prompt_s", 0.0), 2), round(entry.get("gen_s", 0.0), 2)
        if entry.get("draft_tokens"):
            entry["draft_acceptance"] = round(entry["draft_accepted"] / entry["draft_tokens"], 3)
    return total


def speculative_arms(
    settings: Settings,
    arms: list[Arm],
    cases: list[Case],
    case_dir: Path,
    work_dir: Path,
    episodes: int,
    turn_cap: int,
    rounds: int,
    step=lambda message: None,
) -> dict:
    """Every arm on the same planned encounters, `rounds` times, alternating; one server per arm and round,
    stopped before the next starts (memory is measured per arm, and no idle server holds its model)."""
    from agents.llm.embedded_server import running_server
    from agents.llm.embedded_slots import EmbeddedRoleModel
    from benchmark.harness import EPISODES_FILE, plan_episodes
    from benchmark.perf.concurrency import measure_level
    from benchmark.perf.embedded_latency import embedded_models
    from benchmark.perf.server_log import log_offset, timings_by_role
    from sim.core.records import read_records
    from sim.encounter import build

    arms, unavailable = available(settings, arms)
    retriever = build.retriever(settings, lambda message: None)  # the data directory's store, when filled
    planned = plan_episodes(cases, case_dir, trials=-(-episodes // len(cases)), run_seed=0)[:episodes]
    per_arm: dict[str, list[dict]] = {arm.label: [] for arm in arms}
    records: dict[tuple[str, int], list[EpisodeRecord]] = {}
    names: dict[str, str] = {}
    for number in range(rounds):
        for arm in arms if number % 2 == 0 else arms[::-1]:
            step(f"speculative decoding: {arm.label}, round {number + 1} of {rounds}")
            embedded = settings.embedded.model_copy(update={**arm.overrides, "servers": "per-role", "lanes": 1})
            arm_settings = settings.model_copy(
                update={"embedded": embedded, "encounter": settings.encounter.model_copy(update={"turn_cap": turn_cap})}
            )
            started = time.perf_counter()
            models = embedded_models(arm_settings)
            for model in models.values():
                assert isinstance(model, EmbeddedRoleModel)  # the embedded backend's model
                model.start_lanes()
            startup_s = time.perf_counter() - started
            doctor = models["doctor"]
            assert isinstance(doctor, EmbeddedRoleModel)
            names[arm.label] = doctor.name
            server = running_server(doctor.base_url)
            log = server.log_file if server else None
            offset = log_offset(log)
            run_dir = work_dir / "speculative" / f"round{number + 1}" / arm.label.replace(":", "_").replace("=", "-")
            row = measure_level(arm_settings, models, planned, run_dir, 1, judge=True, retriever=retriever)
            row["round"] = number + 1
            row["startup_s"] = round(startup_s, 2)
            if server is not None:
                row["by_role"] = timings_by_role(log, offset, server.slot_names())
                row["server_peak_rss_mb"] = server.peak_rss_mb()
                server.stop()
            records[(arm.label, number)] = read_records(run_dir / EPISODES_FILE)
            per_arm[arm.label].append(row)
    off = next(arm for arm in arms if arm.off)
    off_rounds = per_arm[off.label]
    off_p50 = _pooled(records, off.label, rounds)["p50"]
    result_arms = []
    for arm in arms:
        rows = per_arm[arm.label]
        pooled = _pooled(records, arm.label, rounds)
        roles = _sum_roles(rows)
        drafted = sum(r.get("draft_tokens", 0) for r in roles.values())
        accepted = sum(r.get("draft_accepted", 0) for r in roles.values())
        n = len(planned) * rounds
        behaviour = [compare_texts(records[(off.label, k)], records[(arm.label, k)]) for k in range(rounds)]
        if arm.off:  # the noise floor: off against off of the first round (none with one round)
            behaviour = [compare_texts(records[(off.label, 0)], records[(off.label, k)]) for k in range(1, rounds)]
        same = {
            key: sum(b[key] for b in behaviour)
            for key in ("compared", "same_text", "same_doctor", "same_patient", "same_differential")
        }
        same["differences"] = [d for b in behaviour for d in b["differences"]][:DIFFERENCES_KEPT]
        same["against"] = (
            "off in the same round"
            if not arm.off
            else "off in round 1 (the noise floor)"
            if rounds > 1
            else "nothing (one round: no noise floor)"
        )
        episodes_done = sum(r["episodes"] for r in rows)
        result_arms.append(
            {
                "label": arm.label,
                "mode": arm.overrides.get("speculative", "off"),
                "settings": arm.overrides,
                "model": names.get(arm.label, ""),
                "encounter_s": pooled,
                "ratio_to_off": round(pooled["p50"] / off_p50, 3) if pooled["p50"] and off_p50 else None,
                "round_ratios": [
                    round(r["encounter_s"]["p50"] / o["encounter_s"]["p50"], 3)
                    if r.get("encounter_s") and o.get("encounter_s")
                    else None
                    for r, o in zip(rows, off_rounds, strict=True)
                ],
                "errors": sum(r["errors"] for r in rows),
                "top1": round(sum(r["top1"] * r["episodes"] for r in rows if "top1" in r) / episodes_done, 3)
                if episodes_done
                else None,
                "by_role": roles,
                "per_encounter_s": {
                    role: {"prompt": round(v["prompt_s"] / n, 2), "generation": round(v["gen_s"] / n, 2)}
                    for role, v in roles.items()
                },
                "draft_tokens": drafted,
                "draft_accepted": accepted,
                "draft_acceptance": round(accepted / drafted, 3) if drafted else None,
                "server_peak_rss_mb": max((r.get("server_peak_rss_mb") or 0 for r in rows), default=None) or None,
                "startup_s": max(r["startup_s"] for r in rows),
                "behaviour": same,
                "rounds": rows,
            }
        )
    return {
        "turn_cap": turn_cap,
        "episodes": len(planned),
        "rounds": rounds,
        "retrieval": retriever is not None,
        "temperature": {"doctor": settings.roles.doctor.temperature, "patient": settings.roles.patient.temperature},
        "arms": result_arms,
        "unavailable": unavailable,
        "note": "one server per arm and round (started, measured, stopped); arms alternate, reversed every other "
        "round; ratios are medians against off pooled over the rounds, round_ratios per round",
    }


def _pooled(records: dict[tuple[str, int], list[EpisodeRecord]], label: str, rounds: int) -> dict:
    return distribution(
        [r.totals.wall_s for k in range(rounds) for r in records[(label, k)] if r.termination != "error"]
    )
