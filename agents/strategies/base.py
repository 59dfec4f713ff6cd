"""The strategy interface."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from agents.protocol import Reply, View

if TYPE_CHECKING:
    from agents.doctor import LLMDoctor


class Strategy(Protocol):
    name: str

    def next_action(self, doctor: LLMDoctor, view: View) -> Reply: ...
