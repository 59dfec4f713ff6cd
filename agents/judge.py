"""Scoring a differential against the truth: string rules first, an LLM only when they cannot decide.

Rules: normalised equality with the diagnosis or an alias; every word of it plus at most two qualifier words
("moderate right pleural effusion"); rapidfuzz token-sort similarity >= 90;
a side or course conflict (left vs right, upper vs lower, acute vs chronic) is always wrong. Candidates that share some words but
pass no rule ("pneumonia" for "right lower lobe pneumonia") are inconclusive and go to the LLM judge
when one is configured, else they count as wrong and the reason says so.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from agents.llm.base import ChatModel, LLMError, Message
from agents.prompts import render
from agents.synonyms import normalise
from sim.core.case import Diagnosis
from sim.core.transcript import LLMCall
from sim.core.verdict import CandidateScore, Verdict

MATCH_THRESHOLD = 90.0
MAX_QUALIFIER_WORDS = 2  # words a candidate may add to the truth's and still name it ("small", "right side")
RELATED_THRESHOLD = 60.0
_SIDES = [("left", "right"), ("upper", "lower"), ("acute", "chronic")]
_NOISE = {"the", "of", "a", "an", "disease", "syndrome", "acute", "chronic", "with", "and"}


def _words(text: str) -> list[str]:
    return [w for w in normalise(text).split() if w not in _NOISE]


def score_candidate(candidate: str, diagnosis: Diagnosis, rank: int) -> CandidateScore:
    """The candidate's best outcome against the truth and its aliases. A parenthesised remark qualifies the
    name before it ("Solitary pulmonary nodule (right lower zone)"), so the name without it is tried first."""
    bare = re.sub(r"\([^)]*\)?", " ", candidate).strip()
    if bare and bare != candidate.strip():
        scored = _score(bare, diagnosis, rank)
        if scored.outcome == "correct":
            return scored.model_copy(update={"candidate": candidate})
    return _score(candidate, diagnosis, rank)


def _score(candidate: str, diagnosis: Diagnosis, rank: int) -> CandidateScore:
    cand_words = _words(candidate)
    best = CandidateScore(candidate=candidate, rank=rank, outcome="incorrect", method="none", score=0.0)
    for name in diagnosis.all_names():
        name_words = _words(name)
        if not cand_words or not name_words:
            continue
        # Course words are noise for matching ("acute bronchitis" = "bronchitis") but not when they clash.
        if _side_conflict(normalise(candidate).split(), normalise(name).split()):
            continue
        if cand_words == name_words:
            return CandidateScore(
                candidate=candidate, rank=rank, outcome="correct", method="alias", score=100.0, matched=name
            )
        if _side_conflict(cand_words, name_words):
            continue
        extra = [w for w in cand_words if w not in name_words]
        if set(name_words) <= set(cand_words) and len(extra) <= MAX_QUALIFIER_WORDS:
            # Every word of the truth, plus a qualifier: "Moderate right pleural effusion", "Pleural effusion
            # (right side)" name the same condition, more specifically.
            return CandidateScore(
                candidate=candidate, rank=rank, outcome="correct", method="contains", score=100.0, matched=name
            )
        sort_score = fuzz.token_sort_ratio(" ".join(cand_words), " ".join(name_words))
        set_score = fuzz.token_set_ratio(" ".join(cand_words), " ".join(name_words))
        if sort_score >= MATCH_THRESHOLD:
            return CandidateScore(
                candidate=candidate, rank=rank, outcome="correct", method="fuzzy", score=sort_score, matched=name
            )
        if set_score >= RELATED_THRESHOLD and set_score > best.score:
            best = CandidateScore(
                candidate=candidate, rank=rank, outcome="inconclusive", method="fuzzy", score=set_score, matched=name
            )
    return best


def _side_conflict(a: list[str], b: list[str]) -> bool:
    for one, other in _SIDES:
        if (one in a and other in b and one not in b) or (other in a and one in b and other not in b):
            return True
    return False


def judge_differential(
    differential: list[str],
    diagnosis: Diagnosis,
    k: int = 5,
    llm: ChatModel | None = None,
    lookalikes: list[str] | None = None,
) -> Verdict:
    """`lookalikes`: the other diagnoses the case is built to be told apart from (its other answer options).
    A candidate that names one of them, and not the truth, is wrong without asking the LLM judge."""
    scores: list[CandidateScore] = []
    calls: list[LLMCall] = []
    for rank, candidate in enumerate(differential[:k], start=1):
        scored = score_candidate(candidate, diagnosis, rank)
        if scored.outcome != "correct":
            other = next(
                (
                    name
                    for name in lookalikes or []
                    if name != diagnosis.name
                    and score_candidate(candidate, Diagnosis(name=name), rank).outcome == "correct"
                ),
                None,
            )
            if other is not None:
                scored = scored.model_copy(update={"outcome": "incorrect", "method": "lookalike", "matched": other})
        if scored.outcome == "inconclusive" and llm is not None:
            scored, call = _ask_llm(scored, diagnosis, llm)
            if call is not None:
                calls.append(call)
        scores.append(scored)
        if scored.outcome == "correct":
            break
    hit = next((s for s in scores if s.outcome == "correct"), None)
    if hit is not None:
        reason = f"'{hit.candidate}' (rank {hit.rank}) matches '{hit.matched}' by {hit.method}"
    elif not differential:
        reason = "no diagnosis was given"
    elif any(s.outcome == "inconclusive" for s in scores):
        reason = "only related diagnoses were given and no LLM judge was configured to decide"
    elif scores and scores[0].method == "lookalike":
        reason = f"'{scores[0].candidate}' (rank 1) names the look-alike '{scores[0].matched}', not '{diagnosis.name}'"
    else:
        reason = f"no diagnosis in the top {k} matches '{diagnosis.name}'"
    return Verdict(
        top1_correct=hit is not None and hit.rank == 1,
        topk_correct=hit is not None,
        k=k,
        matched_rank=hit.rank if hit else None,
        method=hit.method if hit else "none",
        reason=reason,
        truth=diagnosis.name,
        candidates=scores,
        calls=calls,
    )


_VERDICT_LINE = re.compile(r"verdict\s*[:\-]\s*\**\s*(correct|incorrect|wrong|right|yes|no)", re.IGNORECASE)


def _ask_llm(scored: CandidateScore, diagnosis: Diagnosis, llm: ChatModel) -> tuple[CandidateScore, LLMCall | None]:
    prompt = render(
        "judge", truth=diagnosis.name, aliases=", ".join(diagnosis.aliases) or "(none)", candidate=scored.candidate
    )
    try:
        result = llm.complete([Message(role="user", content=prompt)], max_tokens=60, temperature=0.0)
    except LLMError:
        return scored, None
    call = LLMCall(
        role="judge",
        purpose="judge",
        model=result.model,
        tokens_in=result.tokens_in,
        tokens_out=result.tokens_out,
        latency_s=result.latency_s,
        attempts=result.attempts,
    )
    match = _VERDICT_LINE.search(result.text)
    if not match:
        return scored, call
    correct = match.group(1).lower() in ("correct", "right", "yes")
    return scored.model_copy(update={"outcome": "correct" if correct else "incorrect", "method": "llm"}), call
