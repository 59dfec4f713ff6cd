"""The one interface every model backend speaks: `complete(messages) -> Completion`.

Backends differ in where the text comes from (a local llama.cpp server, any OpenAI-compatible endpoint,
a script for tests); the agents never know which one they talk to. Every call reports tokens and latency
so the episode record can attribute cost per role.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field


class Message(BaseModel):
    role: str  # "system" | "user" | "assistant"
    content: str
    # Image files shown with a user message (the doctor's, with roles.doctor.vision): a backend that sends
    # images turns each into an OpenAI image content part after the text; the others refuse them.
    images: list[str] = Field(default_factory=list)


class Completion(BaseModel):
    text: str
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    latency_s: float = 0.0
    attempts: int = 1


class LLMError(RuntimeError):
    """A model call that failed after its retries; `cause` says why in one line."""

    def __init__(self, cause: str, attempts: int = 1):
        super().__init__(cause)
        self.cause = cause
        self.attempts = attempts


@runtime_checkable
class ChatModel(Protocol):
    """`response_schema` (JSON schema) and `grammar` (llama.cpp GBNF) describe the same allowed output in
    two forms; a backend uses the one its server supports (its `structured_output` mode) or neither."""

    name: str

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
    ) -> Completion: ...


def approx_tokens(text: str) -> int:
    """Token estimate for backends that report none (about four characters per token)."""
    return max(1, (len(text) + 3) // 4) if text else 0
