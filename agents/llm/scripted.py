"""A deterministic model for tests: replies come from a list or a function of the conversation.

This is for fast unit tests of the graph and the harness only; features are demonstrated with a real
model (the embedded llama.cpp server or a configured endpoint).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from agents.llm.base import Completion, LLMError, Message, approx_tokens

Responder = Callable[[list[Message]], str]


class ScriptedModel:
    def __init__(
        self, replies: Sequence[str] | Responder, name: str = "scripted", cycle: bool = False, delay_s: float = 0.0
    ):
        self.name = name
        self._replies = replies
        self._cycle = cycle
        self.delay_s = delay_s  # stands in for a model's latency in harness and performance tests
        self._index = 0
        self._lock = threading.Lock()
        self.calls: list[list[Message]] = []
        self.schemas: list[dict | None] = []
        self.grammars: list[str | None] = []
        self.max_tokens: list[int | None] = []

    def complete(
        self,
        messages: list[Message],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        stop: list[str] | None = None,
        response_schema: dict | None = None,
        grammar: str | None = None,
    ) -> Completion:
        with self._lock:
            self.calls.append(list(messages))
            self.schemas.append(response_schema)
            self.grammars.append(grammar)
            self.max_tokens.append(max_tokens)
            if callable(self._replies):
                text = self._replies(list(messages))
            else:
                if self._index >= len(self._replies):
                    if not self._cycle or not self._replies:
                        raise LLMError(f"scripted model '{self.name}' ran out of replies after {self._index}")
                    self._index = 0
                text = self._replies[self._index]
                self._index += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        prompt = "\n".join(m.content for m in messages)
        return Completion(
            text=text,
            model=self.name,
            tokens_in=approx_tokens(prompt),
            tokens_out=approx_tokens(text),
            latency_s=self.delay_s,
        )


def scripted_model(settings, spec, role: str) -> ScriptedModel:
    """The `scripted` backend: the replies listed in the role's settings, in turn (tests and plumbing)."""
    return ScriptedModel(spec.script, name=spec.model or f"scripted-{role}", cycle=True, delay_s=spec.delay_s)
