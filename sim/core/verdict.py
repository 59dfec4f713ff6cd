"""The judge's verdict on a differential: which candidate matched the truth, by which rule, and why."""

from __future__ import annotations

from pydantic import BaseModel, Field

from sim.core.transcript import LLMCall


class CandidateScore(BaseModel):
    candidate: str
    rank: int
    outcome: str  # "correct" | "incorrect" | "inconclusive"
    method: str  # "alias" | "contains" | "fuzzy" | "llm" | "none"
    score: float
    matched: str = ""


class Verdict(BaseModel):
    top1_correct: bool
    topk_correct: bool
    k: int
    matched_rank: int | None = None
    method: str = "none"
    reason: str = ""
    truth: str = ""
    candidates: list[CandidateScore] = Field(default_factory=list)
    calls: list[LLMCall] = Field(default_factory=list)
