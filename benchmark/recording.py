"""Recorded model responses: how a published run is reproduced exactly, with no model at all.

With `--record-responses`, every model call of a run is appended to `responses.jsonl` (role, a hash of
the full request, the request itself and the completion). `clinsim replay RUN_DIR --rerun` re-executes
the run with `ReplayModel`s that answer each request from those recordings; the episode records it
produces must equal the original ones. Wall-clock fields (started/finished time, wall seconds) cannot be
re-executed, so the rerun copies them from the original records; everything else is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import defaultdict, deque
from pathlib import Path

from agents.llm.base import ChatModel, Completion, LLMError, Message
from sim.core.jsonlines import append_lines

RESPONSES_FILE = "responses.jsonl"
WALL_CLOCK_FIELDS = ("started_at", "finished_at")


def request_payload(messages: list[Message], **options) -> dict:
    # A message's images (the doctor's, with vision) are named only when it has some: a text-only request keeps
    # the key it had before messages could carry images, so earlier recordings still answer it.
    return {
        "messages": [m.model_dump(exclude=set() if m.images else {"images"}) for m in messages],
        "options": {k: v for k, v in sorted(options.items()) if v is not None},
    }


def request_key(role: str, payload: dict) -> str:
    canonical = json.dumps({"role": role, **payload}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseLog:
    """Appends recordings to RUN_DIR/responses.jsonl from any thread."""

    def __init__(self, path: Path):
        self.path = path

    def write(self, entry: dict) -> None:
        append_lines(self.path, [json.dumps(entry, ensure_ascii=False, sort_keys=True)], sync=False)


class RecordingModel:
    """Wraps a model and records each request with its completion."""

    def __init__(self, inner: ChatModel, role: str, log: ResponseLog):
        self.inner = inner
        self.role = role
        self.log = log
        self.name = inner.name
        self.sha256 = getattr(inner, "sha256", "")
        self.base_url = getattr(inner, "base_url", "")

    def complete(self, messages: list[Message], **options) -> Completion:
        completion = self.inner.complete(messages, **options)
        payload = request_payload(messages, **options)
        self.log.write(
            {
                "role": self.role,
                "key": request_key(self.role, payload),
                "request": payload,
                "completion": completion.model_dump(),
            }
        )
        return completion


class ReplayModel:
    """Answers from recordings only; a request that was never recorded is an error (the run changed)."""

    def __init__(self, role: str, recordings: dict[str, deque[Completion]], name: str = "replay", sha256: str = ""):
        self.role = role
        self.name = name
        self.sha256 = sha256
        self._recordings = recordings
        self._lock = threading.Lock()

    def complete(self, messages: list[Message], **options) -> Completion:
        key = request_key(self.role, request_payload(messages, **options))
        with self._lock:
            queue = self._recordings.get(key)
            if not queue:
                raise LLMError(
                    f"no recorded {self.role} response for this request: the rerun asked something "
                    "the original run did not (different cases, config or code)"
                )
            # Identical requests get identical answers; keep the last one for further repeats.
            return queue.popleft() if len(queue) > 1 else queue[0]


def load_recordings(path: Path) -> dict[str, dict[str, deque[Completion]]]:
    """role -> request key -> completions in recorded order."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no recorded responses (was the run made with --record-responses?)")
    by_role: dict[str, dict[str, deque[Completion]]] = defaultdict(lambda: defaultdict(deque))
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            by_role[entry["role"]][entry["key"]].append(Completion.model_validate(entry["completion"]))
        except (json.JSONDecodeError, KeyError, ValueError) as error:
            raise ValueError(f"{path}:{number}: not a recorded response ({error})") from None
    return by_role


def replay_models(
    path: Path, roles: list[str], names: dict[str, tuple[str, str]] | None = None
) -> dict[str, ChatModel]:
    """Models answering from recordings; `names` gives each role the (name, sha256) of the model that ran, so a
    rerun's records name it as the original did, also for a role that was never called."""
    recordings = load_recordings(path)
    models: dict[str, ChatModel] = {}
    for role in roles:
        name, sha256 = (names or {}).get(role, (f"replay-{role}", ""))
        models[role] = ReplayModel(role, recordings.get(role, {}), name=name, sha256=sha256)
    return models
