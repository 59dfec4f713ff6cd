"""The optional parts of a run, built from its settings: the retrieval step and the experience memory.
Shared by `bench run`, `bench ablate`, `bench learn` and `replay --rerun`, so all build them alike."""

from __future__ import annotations

from pathlib import Path

from benchmark.harness import Learner
from sim.config import Settings


def make_retriever(settings: Settings):
    """The doctor's retrieval step when enabled and a store exists; None otherwise (retrieval off)."""
    if not settings.retrieval.enabled:
        return None
    try:
        from retrieval.retriever import make_retriever as build
    except ImportError:
        return None
    return build(settings)


def make_experience(settings: Settings, out: Path, case_ids: list[str], experience_from: Path | None = None,
                    notify=print):
    """(provider for the graph, (store, lessons on?) for the learner) when experience is on, else (None, None).
    The store lives in the run directory and is mirrored to RUN_DIR/experiences.jsonl. Raises InputError
    for an unreadable warm-start file."""
    if not settings.experience.enabled:
        return None, None
    from retrieval.experience import (EXPERIENCES_FILE, ExperienceProvider, ExperienceStore, experience_embedder,
                                      read_experiences)

    store = ExperienceStore(out / "experience-store", experience_embedder(settings.experience.embedder),
                            mirror=out / EXPERIENCES_FILE)
    if experience_from is not None:
        added = store.add(read_experiences(experience_from / EXPERIENCES_FILE), mirror=False)
        notify(f"experience store warm-started with {added} experience(s) from {experience_from}")
    split = [] if settings.experience.allow_same_split else list(case_ids)
    provider = ExperienceProvider(store, settings.experience.k, settings.experience.only_correct, split)
    return provider, (store, settings.experience.lessons)


def make_learner(memory, models: dict) -> Learner | None:
    if memory is None:
        return None
    store, lessons = memory
    return Learner(store, models.get("doctor") if lessons else None)
