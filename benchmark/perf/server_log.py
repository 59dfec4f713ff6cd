"""Where an embedded encounter's model time goes, read from the llama.cpp server's own log: each finished
request prints its slot, its prompt evaluation (tokens, ms) and its generation (tokens, ms). Slots map to
roles through the names the backend gave them (`doctor-0`, `patient-1`, ...)."""

from __future__ import annotations

import re
import time
from pathlib import Path

_TIMING = re.compile(
    r"print_timing: id\s+(\d+) \| task \d+ \|\s+(prompt eval|eval) time =\s+([\d.]+) ms /\s+(\d+) tokens"
)
# With speculative decoding on, a request that drafted also prints how many drafted tokens the model kept.
_DRAFTS = re.compile(
    r"print_timing: id\s+(\d+) \| task \d+ \| draft acceptance = [\d.]+ \(\s*(\d+) accepted /\s*(\d+) generated\)"
)


def log_offset(log_file: Path | None) -> int:
    return log_file.stat().st_size if log_file is not None and log_file.is_file() else 0


def read_since(log_file: Path, offset: int, expect: re.Pattern | None = None, timeout_s: float = 5.0) -> str:
    """The log written after `offset`. The server prints a request's timings through its own logging
    thread, so they can reach the file just after the answer reached us: wait until `expect` matches, or
    without it until the file has stopped growing for 0.2 s, at most `timeout_s`."""
    deadline, size, still_since = time.monotonic() + timeout_s, -1, time.monotonic()
    while True:
        with log_file.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode("utf-8", errors="replace")
        now = time.monotonic()
        if len(text) != size:
            size, still_since = len(text), now
        settled = expect.search(text) is not None if expect is not None else now - still_since >= 0.2
        if settled or now >= deadline:
            return text
        time.sleep(0.02)


def timings_by_role(log_file: Path | None, offset: int, slot_names: dict[str, int]) -> dict[str, dict]:
    """{role: {prompt_tokens, prompt_s, prompt_tokens_per_s, gen_tokens, gen_s, gen_tokens_per_s, requests}}
    over the log written after `offset`; with speculative decoding, a role whose requests drafted also has
    `draft_tokens`, `draft_accepted` and `draft_acceptance` (accepted / drafted). Under concurrency a slot's
    times include waiting for the batch it shares with other slots, so its rates there are per request, not the
    machine's."""
    if log_file is None or not log_file.is_file():
        return {}
    text = read_since(log_file, offset)
    role_of = {slot: name.rsplit("-", 1)[0] for name, slot in slot_names.items()}
    sums: dict[str, dict] = {}
    for slot, kind, ms, tokens in _TIMING.findall(text):
        role = role_of.get(int(slot), f"slot {slot}")
        entry = sums.setdefault(
            role, {"prompt_tokens": 0, "prompt_s": 0.0, "gen_tokens": 0, "gen_s": 0.0, "requests": 0}
        )
        if kind == "prompt eval":
            entry["prompt_tokens"] += int(tokens)
            entry["prompt_s"] += float(ms) / 1000
            entry["requests"] += 1
        else:
            entry["gen_tokens"] += int(tokens)
            entry["gen_s"] += float(ms) / 1000
    for slot, accepted, drafted in _DRAFTS.findall(text):
        entry = sums.setdefault(
            role_of.get(int(slot), f"slot {slot}"),
            {"prompt_tokens": 0, "prompt_s": 0.0, "gen_tokens": 0, "gen_s": 0.0, "requests": 0},
        )
        entry["draft_tokens"] = entry.get("draft_tokens", 0) + int(drafted)
        entry["draft_accepted"] = entry.get("draft_accepted", 0) + int(accepted)
    for entry in sums.values():
        if entry.get("draft_tokens"):
            entry["draft_acceptance"] = round(entry["draft_accepted"] / entry["draft_tokens"], 3)
        entry["prompt_tokens_per_s"] = (
            round(entry["prompt_tokens"] / entry["prompt_s"], 1) if entry["prompt_s"] else None
        )
        entry["gen_tokens_per_s"] = round(entry["gen_tokens"] / entry["gen_s"], 1) if entry["gen_s"] else None
        entry["prompt_s"], entry["gen_s"] = round(entry["prompt_s"], 2), round(entry["gen_s"], 2)
    return sums
