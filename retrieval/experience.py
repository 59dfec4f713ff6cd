"""The experience store: the doctor's memory of past encounters, retrieved by similarity.

After each judged encounter an `Experience` is written: a summary of what the encounter revealed
(presenting problem, what the patient said, tests ordered and their results, images seen), the doctor's
differential, whether it was right, the true diagnosis, and, after a wrong answer, a short lesson the
doctor model writes. Experiences are embedded by us (MiniLM by default, or a hashing vectoriser that
needs no model) into a Chroma collection and mirrored as `experiences.jsonl`, so a store can always be
rebuilt from files. Retrieval never returns the current case, nor any case of the current evaluation
split unless that is explicitly allowed.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from retrieval.embedders.base import Embedder, l2_normalise
from sim.core.case import Case
from sim.core.jsonlines import append_lines, read_models
from sim.core.transcript import Turn

EXPERIENCES_FILE = "experiences.jsonl"
COLLECTION = "clinsim-experiences"
MAX_SUMMARY_CHARS = 1200


# What the doctor reads before the recalled encounters (they go into its instructions, see agents/doctor.py).
EXPERIENCE_HEADER = "Past encounters similar to this one (yours, with what the answer turned out to be):"


class Experience(BaseModel):
    id: str
    run_id: str
    episode_id: str
    case_id: str
    source: str = ""
    summary: str
    differential: list[str] = Field(default_factory=list)
    correct: bool
    truth: str
    lesson: str = ""

    def as_context(self, rank: int) -> str:
        said = "; ".join(self.differential[:3]) or "no diagnosis"
        outcome = "right" if self.correct else "wrong"
        # The outcome goes before the old answers: after them, a small model copied "Asthma (wrong)" as a diagnosis.
        line = f"{rank}. {self.summary[:400]} The answer was: {self.truth}. Your answer then ({outcome}): {said}."
        return line + (f" Lesson: {self.lesson}" if self.lesson else "")


def experience_summary(case: Case, turns: Iterable[Turn]) -> str:
    """What the encounter revealed, in the doctor's own terms (never the case file's hidden parts)."""
    said, results, images = [], [], []
    for turn in turns:
        if turn.role == "patient":
            said.append(turn.text)
        elif turn.role == "measurement":
            request = turn.meta.get("request", "")
            if turn.images:
                images.append(request or "image")
            else:
                results.append(" ".join(turn.text.split())[:200])
    parts = [f"Presenting: {case.objective}" if case.objective else ""]
    if said:
        parts.append("Patient said: " + " ".join(said)[:400])
    if results:
        parts.append("Findings: " + " | ".join(results))
    if images:
        parts.append("Images seen: " + ", ".join(images))
    return " ".join(p for p in parts if p)[:MAX_SUMMARY_CHARS]


def experience_id(run_id: str, episode_id: str) -> str:
    return "exp-" + hashlib.sha256(f"{run_id}|{episode_id}".encode()).hexdigest()[:16]


class HashingTextEmbedder:
    """Word uni- and bigrams hashed into 1,024 dimensions (scikit-learn): no model, fully offline."""

    name = "hashing-1024"
    dim = 1024

    def __init__(self) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        self._vectorizer = HashingVectorizer(
            n_features=self.dim, ngram_range=(1, 2), alternate_sign=False, norm="l2", stop_words="english"
        )

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        return l2_normalise(self._vectorizer.transform(texts).toarray())

    def embed_images(self, images):  # pragma: no cover - text only
        raise TypeError("the hashing embedder embeds texts only")


def experience_embedder(spec: str) -> Embedder:
    if spec == "hashing":
        return HashingTextEmbedder()
    if spec == "minilm":
        from retrieval.embedders.minilm import MiniLMEmbedder

        return MiniLMEmbedder()
    raise ValueError(f"experience.embedder: unknown embedder '{spec}' (choose minilm or hashing)")


class ExperienceStore:
    """A Chroma text collection of experiences plus its JSONL mirror. One writer (the harness thread)."""

    def __init__(self, folder: Path, embedder: Embedder, mirror: Path | None = None):
        import chromadb

        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.embedder = embedder
        self.mirror = mirror or folder / EXPERIENCES_FILE
        self._client = chromadb.PersistentClient(
            path=str(folder), settings=chromadb.Settings(anonymized_telemetry=False)
        )
        self._collection = self._client.get_or_create_collection(
            f"{COLLECTION}-{embedder.name}",
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"embedder": embedder.name},
        )
        self._lock = threading.Lock()
        self._mirrored: set[str] | None = None  # ids in the mirror, read on the first mirrored add

    def count(self) -> int:
        return self._collection.count()

    def add(self, experiences: list[Experience], mirror: bool = True) -> int:
        """Add what is not stored yet (ids are content-stable); returns how many were new."""
        if not experiences:
            return 0
        with self._lock:
            if mirror:
                # The mirror first: it is what a store is rebuilt from, so a process killed between the two
                # writes must not lose the experience there (with Chroma first it was lost: the rerun found
                # the id in Chroma and skipped both). Ids the mirror already has are not written twice.
                if self._mirrored is None:
                    self._mirrored = _mirrored_ids(self.mirror)
                unmirrored = [e for e in experiences if e.id not in self._mirrored]
                append_lines(self.mirror, [e.model_dump_json() for e in unmirrored])
                self._mirrored.update(e.id for e in unmirrored)
            existing = set(self._collection.get(ids=[e.id for e in experiences])["ids"])
            new = [e for e in experiences if e.id not in existing]
            if not new:
                return 0
            vectors = self.embedder.embed_texts([e.summary for e in new])
            self._collection.add(
                ids=[e.id for e in new],
                embeddings=vectors.tolist(),
                documents=[e.summary for e in new],
                metadatas=[{"case_id": e.case_id, "correct": e.correct, "json": e.model_dump_json()} for e in new],
            )
            return len(new)

    def search(
        self, text: str, k: int, exclude_cases: Iterable[str] = (), only_correct: bool = False
    ) -> list[tuple[Experience, float]]:
        if not text or self.count() == 0:
            return []
        excluded = sorted(set(exclude_cases))
        conditions: list[dict] = []
        if excluded:
            conditions.append({"case_id": {"$nin": excluded}})
        if only_correct:
            conditions.append({"correct": True})
        where = conditions[0] if len(conditions) == 1 else ({"$and": conditions} if conditions else None)
        vector = self.embedder.embed_texts([text])[0]
        with self._lock:
            result = self._collection.query(
                query_embeddings=[vector.tolist()], n_results=k, where=where, include=["metadatas", "distances"]
            )
        metadatas, distances = result["metadatas"], result["distances"]
        assert metadatas is not None and distances is not None  # both in `include`
        hits = []
        for meta, distance in zip(metadatas[0], distances[0]):
            hits.append((Experience.model_validate_json(str(meta["json"])), round(1.0 - float(distance), 4)))
        return hits

    def all(self) -> list[Experience]:
        metadatas = self._collection.get(include=["metadatas"])["metadatas"]
        assert metadatas is not None  # in `include`
        return sorted((Experience.model_validate_json(str(m["json"])) for m in metadatas), key=lambda e: e.id)


def _mirrored_ids(path: Path) -> set[str]:
    return {e.id for e in read_experiences(path)} if path.is_file() else set()


def read_experiences(path: Path) -> list[Experience]:
    """Experiences from a JSONL mirror; a bad complete line is a located error, a partial last line ignored."""
    return read_models(path, Experience, "experiences")


def rebuild_store(mirror: Path, folder: Path, embedder: Embedder) -> ExperienceStore:
    """A store rebuilt from its JSONL mirror (the mirror is not rewritten)."""
    store = ExperienceStore(folder, embedder, mirror=folder / EXPERIENCES_FILE)
    store.add(read_experiences(mirror), mirror=False)
    return store


class ExperienceProvider:
    """What the encounter graph calls before the doctor's first question and again once findings arrive:
    returns the context text for the doctor and the experiences used (for the record)."""

    def __init__(
        self, store: ExperienceStore, k: int = 3, only_correct: bool = False, split_case_ids: Iterable[str] = ()
    ):
        self.store = store
        self.k = k
        self.only_correct = only_correct
        self.split = set(split_case_ids)

    def __call__(self, case: Case, turns: list[Turn]) -> tuple[str, list[dict]]:
        hits = self.store.search(
            experience_summary(case, turns),
            self.k,
            exclude_cases={case.id} | self.split,
            only_correct=self.only_correct,
        )
        if not hits:
            return "", []
        text = EXPERIENCE_HEADER + "\n" + "\n".join(e.as_context(i) for i, (e, _) in enumerate(hits, 1))
        items = [
            {"id": e.id, "case_id": e.case_id, "truth": e.truth, "correct": e.correct, "score": score}
            for e, score in hits
        ]
        return text.strip(), items
