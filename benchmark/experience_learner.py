"""Learning from judged encounters: each becomes an experience (with a lesson the doctor model writes after a
wrong answer) stored for later encounters to recall (retrieval/experience.py)."""

from __future__ import annotations

from agents.lesson import write_lesson
from agents.llm.base import ChatModel
from retrieval.experience import Experience, ExperienceStore, experience_id, experience_summary
from sim.core.case import Case
from sim.core.records import EpisodeRecord


class Learner:
    """Turns judged episodes into experiences and stores them (one writer at a time, in this one process)."""

    def __init__(self, store: ExperienceStore, lesson_model: ChatModel | None = None):
        self.store = store
        self.lesson_model = lesson_model

    def experience_for(self, case: Case, record: EpisodeRecord) -> Experience | None:
        if record.termination == "error" or record.verdict is None:
            return None
        summary = experience_summary(case, record.turns)
        lesson = ""
        if not record.top1_correct and self.lesson_model is not None:
            lesson = write_lesson(self.lesson_model, summary, record.differential, record.truth)
        return Experience(
            id=experience_id(record.run_id, record.episode_id),
            run_id=record.run_id,
            episode_id=record.episode_id,
            case_id=record.case_id,
            source=record.source,
            summary=summary,
            differential=record.differential,
            correct=record.top1_correct,
            truth=record.truth,
            lesson=lesson,
        )

    def remember(self, experience: Experience) -> None:
        self.store.add([experience])


def make_learner(store: ExperienceStore | None, lessons: bool, models: dict[str, ChatModel]) -> Learner | None:
    """A learner when experience is on (`store`); lessons come from the doctor's model when enabled."""
    if store is None:
        return None
    return Learner(store, models.get("doctor") if lessons else None)
