"""The embedded llama.cpp model's latency per call, measured in the same run as everything it is
compared with: the doctor's first-turn prompt, the doctor's reply budget, a few calls after one warm-up.
"""

from __future__ import annotations

import time

from agents.doctor import LLMDoctor, doctor_messages
from agents.llm.base import ChatModel
from agents.protocol import View
from benchmark.perf.stats import distribution
from sim.core.case import Case
from sim.core.config import Settings


def embedded_models(settings: Settings) -> dict[str, ChatModel]:
    """Doctor and patient on the embedded server (started once per process, stopped at exit)."""
    from agents.llm.registry import model_for_role

    default = settings.model_copy(deep=True)
    for role in ("doctor", "patient"):
        getattr(default.roles, role).backend = "embedded"
    return {role: model_for_role(default, role) for role in ("doctor", "patient")}


def measure_embedded(settings: Settings, case: Case, calls: int = 5) -> dict:
    started = time.perf_counter()
    model = embedded_models(settings)["doctor"]
    startup_s = time.perf_counter() - started
    max_tokens = settings.roles.doctor.max_tokens
    doctor = LLMDoctor(model, case.objective, max_tokens=max_tokens)
    messages = doctor_messages(View(transcript=[]), doctor.system)
    model.complete(messages, max_tokens=max_tokens, seed=0)  # warm-up: the first call loads caches
    latencies, tokens_out = [], []
    for seed in range(1, calls + 1):
        completion = model.complete(messages, max_tokens=max_tokens, seed=seed)
        latencies.append(completion.latency_s)
        tokens_out.append(completion.tokens_out)
    return {
        "model": model.name,
        "startup_s": round(startup_s, 2),
        "calls": calls,
        "max_tokens": max_tokens,
        "call_s": distribution(latencies),
        "tokens_out_mean": round(sum(tokens_out) / len(tokens_out), 1),
    }
