"""One look-alike bank case from (seed, index): a diagnosis by stratified draw, its story, its film, its report.

Case i depends only on (seed, i), as in the findings bank: every block of 24 consecutive cases holds each
diagnosis once, and each aspect (story, film, report, answer options) has its own generator, so a bank of 10
is the first 10 cases of a bank of 20 and re-running gives byte-identical files.
"""

from __future__ import annotations

import numpy as np

from sim.bank.conditions import regions_for
from sim.bank.lookalike.catalogue import BY_KEY, DIAGNOSES, GROUPS, Diagnosis, members
from sim.bank.lookalike.film import plan_film, render_film
from sim.bank.lookalike.report import film_report
from sim.bank.lookalike.stories import build_story
from sim.bank.regions import Side, Zone
from sim.bank.sampling import block_permutation, case_generators
from sim.core.case import AnswerOption, Case, CaseImage
from sim.core.case import Diagnosis as CaseDiagnosis

BANK = "lookalike"
GENERATOR_VERSION = 1  # bumped whenever the same seed would give different cases
OBJECTIVE = "Find the cause: take a history, examine, and order the tests and images you need."


def case_id(seed: int, index: int) -> str:
    return f"lookalike-s{seed}-{index:05d}"


def diagnosis_for(seed: int, index: int) -> Diagnosis:
    """Stratified: every block of len(DIAGNOSES) consecutive cases holds each diagnosis once."""
    block, slot = divmod(index, len(DIAGNOSES))
    return DIAGNOSES[block_permutation(seed, block, len(DIAGNOSES))[slot]]


def _site(diagnosis: Diagnosis, rng: np.random.Generator) -> tuple[Side | None, Zone | None]:
    if not diagnosis.sites:
        return None, None
    weights = np.array([w for *_, w in diagnosis.sites], dtype=float)
    side, zone, _ = diagnosis.sites[int(rng.choice(len(diagnosis.sites), p=weights / weights.sum()))]
    return side, zone


def _options(rng: np.random.Generator, correct: Diagnosis) -> list[AnswerOption]:
    """The answer and its three look-alikes (the same picture): what a multiple-choice reader must tell apart."""
    options = [AnswerOption(text=d.name, correct=d.key == correct.key) for d in members(correct.group)]
    return [options[int(i)] for i in rng.permutation(len(options))]


def build_lookalike_case(seed: int, index: int, size: int) -> tuple[Case, np.ndarray]:
    streams = case_generators(seed, index)
    chosen = diagnosis_for(seed, index)
    side, zone = _site(chosen, streams["clinical"])
    story = build_story(chosen.key, streams["clinical"], side, zone)
    plan = plan_film(chosen, streams["image"], side, zone)
    film = render_film(plan, streams["image"], size)
    report = film_report(film, streams["report"])
    identifier = case_id(seed, index)
    main = plan.signs[0] if plan.signs and plan.main != "none" else None
    lesion = GROUPS[chosen.group].lesion if main is None else main.kind  # a Sign's kind: any str (devices too)
    # fmt: off
    regions = regions_for(lesion, main.side if main else None, main.level if main else None)  # type: ignore[arg-type]  # why: the main sign is a lesion
    # fmt: on
    image = CaseImage(
        path=f"images/{identifier}.png",
        modality="X-ray",
        body_region="chest",
        view=plan.projection,
        regions=regions,
        report=report,
    )
    case = Case(
        id=identifier,
        source="bank",
        objective=OBJECTIVE,
        patient=story.patient,
        exam=story.exam,
        tests=story.tests,
        images=[image],
        diagnosis=CaseDiagnosis(name=chosen.name, aliases=list(chosen.aliases)),
        options=_options(streams["options"], chosen),
        metadata={
            "bank": BANK,
            "condition": chosen.key,
            "group": chosen.group,
            "theme": chosen.theme,
            "context": story.context,
            "discriminators": list(story.discriminators),
            "seed": seed,
            "index": index,
            "generator": "sim.bank.lookalike",
            "generator_version": GENERATOR_VERSION,
            "age": story.age,
            "sex": story.sex,
            "site": {"side": side, "level": zone},
            "image_size": size,
            "film": {
                "projection": plan.projection,
                "signs": [
                    {
                        "kind": s.kind,
                        "side": s.side,
                        "level": s.level,
                        "size": round(s.size, 3),
                        "calcified": s.calcified,
                    }
                    for s in plan.signs
                ],
                **{k: v for k, v in film.measured.items() if k != "projection"},
            },
            "nuisance": film.radiograph.nuisance.as_metadata(),
        },
    )
    return case, film.pixels


__all__ = ["BANK", "BY_KEY", "DIAGNOSES", "build_lookalike_case", "case_id", "diagnosis_for"]
