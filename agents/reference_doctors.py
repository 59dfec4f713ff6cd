"""Reference doctors that read, not reason: what each source of a case's information is worth on its own.

- `text`: a classifier (TF-IDF of words and word pairs, logistic regression; scikit-learn) trained on the
  archive bank's full case text (history, examination, results; no image, no report) reads the current
  case's whole text at once and names its most probable diagnoses. The ceiling of the story alone, for a
  reader that never has to ask.
- `knn+text`: the image vote of the retrieved cases (as the `knn` doctor) times the text classifier: the
  retrieved cases' picture group (a diagnosis counts for every diagnosis of its group, when the bank says
  which group that is) weights the text's probabilities. The ceiling of story and picture together.

With the `knn` doctor (the picture alone) they measure a bank's information structure: a bank whose cases
need both sources has `knn` and `text` low and `knn+text` high. None of them uses a language model.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from agents.doctor import action_text
from agents.knn_doctor import DEFAULT_IMAGE, similarity_vote
from agents.protocol import Reply, View
from sim.core.actions import MAX_DIFFERENTIAL, Diagnose, RequestImage
from sim.core.case import Case

SMOOTHING = 0.05  # what a diagnosis of a group no retrieved case shows still keeps of its text probability


def case_text(case: Case) -> str:
    """Everything a case says in words, except its image and report: the patient's script, the examination
    and the results (keys and values), as one text."""
    parts = [
        case.patient.demographics,
        case.patient.history,
        case.patient.symptoms.primary,
        *case.patient.symptoms.secondary,
        case.patient.past_medical_history,
        case.patient.social_history,
        case.patient.review_of_systems,
        *case.patient.extra.values(),
    ]

    def flatten(tree: object, key: str = "") -> None:
        if isinstance(tree, dict):
            for name, value in tree.items():
                flatten(value, str(name).replace("_", " "))
        elif isinstance(tree, list):
            for value in tree:
                flatten(value, key)
        else:
            parts.append(f"{key}: {tree}")

    flatten(case.exam)
    flatten(case.tests)
    return "\n".join(p for p in parts if p)


class TextClassifier:
    """TF-IDF (1-2 grams, sublinear tf) + logistic regression over diagnosis names, fitted on cases. A case
    that is itself in the training set is scored by a model fitted without it (no peeking at the answer)."""

    def __init__(self, cases: Sequence[Case], c: float = 10.0):
        if len({case.diagnosis.name for case in cases}) < 2:
            raise ValueError("the text doctor needs archive cases of at least two diagnoses to learn from")
        self.cases = list(cases)
        self.c = c
        self.groups = {case.diagnosis.name: str(case.metadata.get("group", "")) for case in self.cases}
        self._models: dict[str, object] = {}
        self._lock = threading.Lock()

    def _model(self, leave_out: str):
        key = leave_out if any(case.id == leave_out for case in self.cases) else ""
        with self._lock:
            if key not in self._models:
                from sklearn.feature_extraction.text import TfidfVectorizer
                from sklearn.linear_model import LogisticRegression
                from sklearn.pipeline import make_pipeline

                kept = [case for case in self.cases if case.id != key]
                model = make_pipeline(
                    TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(C=self.c, max_iter=2000)
                )
                model.fit([case_text(c) for c in kept], [c.diagnosis.name for c in kept])
                self._models[key] = model
            return self._models[key]

    def probabilities(self, case: Case) -> dict[str, float]:
        model = self._model(case.id)
        probs = model.predict_proba([case_text(case)])[0]
        return {str(label): float(p) for label, p in zip(model.classes_, probs, strict=True)}


def _ranked(scores: dict[str, float], top_k: int) -> list[str]:
    return [name for name, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]]


class TextDoctor:
    """Reads the whole case text on its first turn and diagnoses from it."""

    role = "doctor"

    def __init__(self, classifier: TextClassifier, case: Case, top_k: int = MAX_DIFFERENTIAL):
        self.classifier = classifier
        self.case = case
        self.top_k = top_k

    def generate_next_message(self, view: View) -> Reply:
        scores = self.classifier.probabilities(self.case)
        action = Diagnose(differential=_ranked(scores, self.top_k))
        return Reply(
            text=action_text(action),
            action=action,
            parse="text",
            meta={"text_probabilities": {k: round(v, 4) for k, v in scores.items() if v >= 0.01}},
        )


class KnnTextDoctor:
    """Asks for the chest image, then weighs the text classifier's diagnoses by the retrieved cases' groups."""

    role = "doctor"

    def __init__(
        self, classifier: TextClassifier, case: Case, image_name: str = DEFAULT_IMAGE, top_k: int = MAX_DIFFERENTIAL
    ):
        self.classifier = classifier
        self.case = case
        self.image_name = image_name
        self.top_k = top_k

    def generate_next_message(self, view: View) -> Reply:
        items = [item for turn in view.transcript if turn.role == "retrieval" for item in turn.meta.get("items", [])]
        asked = any(turn.role == "doctor" and isinstance(turn.action, RequestImage) for turn in view.transcript)
        if not (items or asked or view.final_turn):
            request = RequestImage(name=self.image_name)
            return Reply(text=action_text(request), action=request, parse="knn+text")
        text = self.classifier.probabilities(self.case)
        votes = similarity_vote(items)
        total = sum(v.weight for v in votes) or 1.0
        groups = self.classifier.groups
        by_group: dict[str, float] = {}
        by_name: dict[str, float] = {}
        for vote in votes:
            by_name[vote.diagnosis] = by_name.get(vote.diagnosis, 0.0) + vote.weight / total
            group = groups.get(vote.diagnosis, "")
            if group:
                by_group[group] = by_group.get(group, 0.0) + vote.weight / total
        scores = {}
        for name, p in text.items():
            picture = by_group.get(groups.get(name, ""), 0.0) if groups.get(name) else by_name.get(name, 0.0)
            scores[name] = p * (SMOOTHING + picture)
        action = Diagnose(differential=_ranked(scores, self.top_k) if items else _ranked(text, self.top_k))
        return Reply(
            text=action_text(action),
            action=action,
            parse="knn+text",
            meta={
                "picture_groups": {k: round(v, 4) for k, v in by_group.items()},
                "scores": {k: round(float(v), 5) for k, v in scores.items() if v >= 1e-4},
            },
        )


__all__ = ["KnnTextDoctor", "TextClassifier", "TextDoctor", "case_text"]
