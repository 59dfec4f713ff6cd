"""Doctor strategies: how the model doctor reaches each action. One small module each, one interface:
`next_action(doctor, view) -> Reply`, and `name`, which every call made for it carries in the record."""

from __future__ import annotations

from agents.strategies.base import Strategy
from agents.strategies.conference import Conference, Panelist
from agents.strategies.cot import ChainOfThought
from agents.strategies.direct import Direct
from agents.strategies.self_consistency import SelfConsistency, rank_vote

__all__ = ["ChainOfThought", "Conference", "Direct", "Panelist", "SelfConsistency", "Strategy", "rank_vote"]
