"""Prompt tokens per encounter: our doctor's prompts against the AgentClinic-style baseline
(`baseline_prompt.py`) on the same scripted transcripts.

Each case runs one real encounter (the scripted doctor of `scripted.py`: questions, tests, an image and
a diagnosis over eight turns; a patient answering from its script; the measurement lookup; a retrieval
step showing three archived cases of the same condition, formatted as the retriever formats them). Our
figure is what the doctor model was actually sent, call by call; the baseline is built from the same
transcript for each doctor turn. Tokens are counted with the default embedded model's own tokenizer (the
llama.cpp server's /tokenize, each message framed as its ChatML chat template frames it), or at about four
characters per token when that is not available; `tokenizer` says which.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from agents.llm.base import ChatModel, Message, approx_tokens
from benchmark.perf.baseline_prompt import baseline_messages
from benchmark.perf.scripted import perf_settings, scripted_models
from sim.core.case import Case

RETRIEVED = 3

Counter = Callable[[str], int]


def token_counter() -> tuple[Counter, str]:
    """(count(text) -> tokens, what counts them)."""
    try:
        from agents.llm.catalogue import DEFAULT_MODEL, resolve_model
        from agents.llm.embedded_server import shared_server

        server = shared_server(resolve_model(DEFAULT_MODEL), n_ctx=512)
    except Exception as error:  # noqa: BLE001 - no server binary or no model file: fall back to the estimate
        return approx_tokens, f"~4 characters per token (the default model's tokenizer is unavailable: {error})"

    def count(text: str) -> int:
        return len(
            server.post("/tokenize", {"content": text, "add_special": False, "parse_special": True}, timeout=60)[
                "tokens"
            ]
        )

    return count, f"{DEFAULT_MODEL} tokenizer (llama.cpp server /tokenize), ChatML framing"


def framed(messages: list[Message]) -> str:
    """The messages as the ChatML chat template frames them, up to the assistant's turn."""
    return "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages) + "<|im_start|>assistant\n"


def prompt_tokens(messages: list[Message], count: Counter) -> int:
    return count(framed(messages))


def evaluated_tokens(prompts: list[list[Message]], count: Counter) -> int:
    """Tokens a server that keeps each conversation's evaluated prefix (llama-server's slots) evaluates over a
    sequence of prompts: each prompt's text after what it shares with the one before. The reply the server
    generated in between is counted as new, which slightly overstates both sides alike."""
    total, previous = 0, ""
    for messages in prompts:
        text = framed(messages)
        shared = len(os.path.commonprefix([previous, text]))
        total += count(text[shared:]) if shared < len(text) else 0
        previous = text
    return total


def archive_retriever(cases: list[Case]):
    """A retrieval step without a store: the other cases of the same condition, shown to the doctor exactly
    as the real retriever shows its neighbours (same text, same length)."""
    from retrieval.ood import OODVerdict
    from retrieval.retriever import doctor_text
    from retrieval.search import Neighbour, SearchResult

    def retrieve(case: Case, images: list[str]) -> tuple[str, list[dict]]:
        if not images:
            return "", []
        condition = case.metadata.get("condition")
        others = [c for c in cases if c.id != case.id and c.images]
        similar = ([c for c in others if c.metadata.get("condition") == condition] + others)[:RETRIEVED]
        neighbours = [
            Neighbour(
                item_id=c.id,
                case_id=c.id,
                diagnosis=c.diagnosis.name,
                similarity=0.9 - 0.02 * rank,
                score=0.9 - 0.02 * rank,
                regions=list(c.images[0].regions),
                source=c.source,
                image=c.images[0].path or "",
                report=c.images[0].report,
            )
            for rank, c in enumerate(similar)
        ]
        result = SearchResult(neighbours=neighbours, ood=OODVerdict(ood=False, score=0.5))
        return doctor_text(result), [n.record() for n in neighbours]

    return retrieve


def measure_prompt_tokens(cases: list[Case], case_dir: Path, work_dir: Path) -> dict:
    from sim.encounter.runner import EncounterRunner

    count, tokenizer = token_counter()
    settings = perf_settings(work_dir / "tokens-data")
    turn_cap = settings.encounter.turn_cap
    retriever = archive_retriever(cases)
    ours, history_only, full, calls, ours_evaluated, full_evaluated = [], [], [], [], [], []
    composition = {"system": 0, "own_actions": 0, "replies_and_results": 0}
    for case in cases:
        scripted = scripted_models()
        models: dict[str, ChatModel] = dict(scripted)
        record = EncounterRunner(settings, models=models, retriever=retriever).run(case, case_dir, run_id="perf-tokens")
        if record.termination == "error":
            raise RuntimeError(f"scripted encounter of {case.id} failed: {record.error}")
        sent = scripted["doctor"].calls
        calls.append(len(sent))
        ours.append(sum(prompt_tokens(messages, count) for messages in sent))
        for messages in sent:
            for message in messages:
                part = {"system": "system", "assistant": "own_actions"}.get(message.role, "replies_and_results")
                composition[part] += count(message.content)
        doctor_turns = [i for i, turn in enumerate(record.turns) if turn.role == "doctor"]
        baseline = [baseline_messages(case, record.turns[:i], turn_cap) for i in doctor_turns]
        full.append(sum(prompt_tokens(messages, count) for messages in baseline))
        ours_evaluated.append(evaluated_tokens(sent, count))
        full_evaluated.append(evaluated_tokens(baseline, count))
        history_only.append(
            sum(
                prompt_tokens(baseline_messages(case, record.turns[:i], turn_cap, history_only=True), count)
                for i in doctor_turns
            )
        )
    total = sum(composition.values()) or 1
    mean = lambda values: round(sum(values) / len(values), 1)
    return {
        "tokenizer": tokenizer,
        "encounters": len(cases),
        "doctor_calls_per_encounter": mean(calls),
        "ours_per_encounter": mean(ours),
        "baseline_per_encounter": mean(full),
        "baseline_history_only_per_encounter": mean(history_only),
        "reduction": round(1 - sum(ours) / sum(full), 4),
        "reduction_vs_history_only": round(1 - sum(ours) / sum(history_only), 4),
        "ours_composition": {part: round(tokens / total, 3) for part, tokens in composition.items()},
        # What a prefix-keeping server evaluates: the cost on llama-server's slots (see evaluated_tokens).
        "ours_evaluated_per_encounter": mean(ours_evaluated),
        "baseline_evaluated_per_encounter": mean(full_evaluated),
        "evaluated_reduction": round(1 - sum(ours_evaluated) / sum(full_evaluated), 4),
    }
