"""The `knn` doctor: a retrieval-only baseline that needs no language model.

It asks for the chest image, lets the retrieval step find the most similar archived cases (never the
current one), and diagnoses by a similarity-weighted vote of their diagnoses. Its accuracy is what the
image archive alone is worth, a floor for any LLM doctor that sees the same retrieved cases.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.doctor import action_text
from agents.protocol import Reply, View
from sim.core.actions import MAX_DIFFERENTIAL, Diagnose, RequestImage

DEFAULT_IMAGE = "chest x-ray"
UNKNOWN = "no diagnosis (nothing retrieved)"


@dataclass(frozen=True)
class Vote:
    diagnosis: str
    weight: float  # sum of the similarities of the retrieved items with this diagnosis
    best_rank: int  # 0-based rank of its most similar item


def similarity_vote(items: list[dict]) -> list[Vote]:
    """Diagnoses ranked by summed similarity; ties go to the one retrieved first, then alphabetical order,
    so the same retrieval always gives the same differential."""
    tally: dict[str, Vote] = {}
    for rank, item in enumerate(items):
        name = " ".join(str(item.get("diagnosis", "")).split())
        if not name:
            continue
        key = name.lower()
        weight = max(float(item.get("similarity", item.get("score", 0.0)) or 0.0), 0.0)
        if key in tally:
            seen = tally[key]
            tally[key] = Vote(seen.diagnosis, seen.weight + weight, min(seen.best_rank, rank))
        else:
            tally[key] = Vote(name, weight, rank)
    return sorted(tally.values(), key=lambda v: (-round(v.weight, 9), v.best_rank, v.diagnosis.lower()))


class KnnDoctor:
    role = "doctor"

    def __init__(self, image_name: str = DEFAULT_IMAGE, top_k: int = MAX_DIFFERENTIAL):
        self.image_name = image_name
        self.top_k = top_k

    def generate_next_message(self, view: View) -> Reply:
        items = [item for turn in view.transcript if turn.role == "retrieval" for item in turn.meta.get("items", [])]
        asked = any(turn.role == "doctor" and isinstance(turn.action, RequestImage) for turn in view.transcript)
        if not (items or asked or view.final_turn):
            request = RequestImage(name=self.image_name)
            return Reply(text=action_text(request), action=request, parse="knn")
        votes = similarity_vote(items)
        action = Diagnose(differential=[v.diagnosis for v in votes[: self.top_k]] or [UNKNOWN])
        return Reply(
            text=action_text(action),
            action=action,
            parse="knn",
            meta={"votes": [{"diagnosis": v.diagnosis, "weight": round(v.weight, 4)} for v in votes]},
        )
