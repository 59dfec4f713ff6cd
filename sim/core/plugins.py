"""Registries of the parts that come in kinds: name -> where its factory lives, loaded on first use.

Like a package's entry points, a registry names a factory as "module:attribute" text, so the ground layer
can list every kind (and the configuration can offer exactly those names) without importing the layers
that implement them. Adding a kind is one module plus one line here; a test imports every target.

    STRATEGIES.load("cot")          # -> the class agents.strategies.cot.ChainOfThought
    STRATEGIES.names()              # -> ("direct", "cot", "self-consistency", "conference")
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


class UnknownPlugin(ValueError):
    pass


class Registry:
    def __init__(self, kind: str, targets: dict[str, str]):
        self.kind = kind
        self._targets = dict(targets)

    def names(self) -> tuple[str, ...]:
        return tuple(self._targets)

    def target(self, name: str) -> str:
        if name not in self._targets:
            raise UnknownPlugin(f"unknown {self.kind} {name!r}; choose from {', '.join(self._targets)}")
        return self._targets[name]

    def load(self, name: str) -> Callable[..., Any]:
        module, _, attribute = self.target(name).partition(":")
        return getattr(importlib.import_module(module), attribute)


# How the model doctor reaches its actions (agents/strategies): each target takes the strategy settings.
STRATEGIES = Registry(
    "strategy",
    {
        "direct": "agents.strategies.direct:Direct",
        "cot": "agents.strategies.cot:ChainOfThought",
        "self-consistency": "agents.strategies.self_consistency:SelfConsistency",
        "conference": "agents.strategies.conference:Conference",
    },
)

# Who sits in the doctor's chair: each target takes (parts, case, ...) in the encounter's build step.
DOCTORS = Registry(
    "doctor",
    {
        "llm": "sim.encounter.build:llm_doctor",
        "knn": "sim.encounter.build:knn_doctor",
        "text": "sim.encounter.build:text_doctor",
        "knn+text": "sim.encounter.build:knn_text_doctor",
        "human": "sim.encounter.build:human_doctor",
    },
)

# Where a role's model runs: each target takes (settings, role settings, role name) and returns a ChatModel.
BACKENDS = Registry(
    "model backend",
    {
        "embedded": "agents.llm.embedded_backend:embedded_model",
        "openai": "agents.llm.openai_compat:openai_model",
        "scripted": "agents.llm.scripted:scripted_model",
    },
)

# Text embedders for reports (retrieval.text_embedder); "same" is the image embedder's own text tower.
TEXT_EMBEDDERS = Registry(
    "text embedder",
    {
        "same": "retrieval.embedder_registry:same_text_embedder",
        "minilm": "retrieval.embedder_registry:minilm_text_embedder",
        "tfidf": "retrieval.embedder_registry:tfidf_text_embedder",
    },
)

ALL = (STRATEGIES, DOCTORS, BACKENDS, TEXT_EMBEDDERS)
