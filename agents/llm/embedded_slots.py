"""The embedded backend as a role's model: which slot of the llama.cpp server answers a call.

llama.cpp keeps the tokens a slot evaluated last and, on the next request to that slot, evaluates only what
follows their longest common prefix. An encounter's transcript grows by a turn at a time, so a role that has
a slot to itself pays only for its new turn; roles that alternate on one slot evict each other's transcript
and pay for all of it on every call (measured: four doctor-patient exchanges took 33-37 s on one shared
slot, 8-12 s with one per role). So by default each role gets its own slot.

Concurrent episodes would still evict each other in a role's slot, so there are lanes (sim/core/lanes.py):
each worker thread of a run is given a lane for all its calls, and each lane has its own slots (the server decodes the lanes'
requests together, in one batch).

A call that fails because the server died has the server revived (agents/llm/embedded_server.py) and ends with
`ServerRestarted`: the episode lost its server's state mid-way, and the harness runs it again from its start.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agents.llm.base import Completion, LLMError, Message
from sim.core.lanes import current_lane

if TYPE_CHECKING:
    from agents.llm.openai_compat import OpenAICompatModel


class EmbeddedRoleModel:
    """Sends each call to the slot of its role and the calling thread's lane; starts the server at once (so
    a server that cannot start fails before a run begins)."""

    def __init__(
        self,
        slot: str,
        lanes: int,
        client_for: Callable[[str], OpenAICompatModel],
        server: Callable[[], Any] | None = None,
    ):
        self.slot = slot
        self.lanes = max(1, lanes)
        self._client_for = client_for
        self._server = server  # the running LlamaServer (revived when it died), or None (no supervision)
        self._clients: dict[int, OpenAICompatModel] = {}
        self._siblings: dict[str, EmbeddedRoleModel] = {}
        self._lock = threading.Lock()
        self.name = self._client(0).name
        self._running = server() if server else None  # the server its calls go to (one object across restarts)
        self.sha256 = ""  # the model file's hash, set by the registry (episode records carry it)

    def _client(self, lane: int) -> OpenAICompatModel:
        with self._lock:  # one start per lane, even when two threads ask at once
            if lane not in self._clients:
                self._clients[lane] = self._client_for(f"{self.slot}-{lane}")
            return self._clients[lane]

    def start_lanes(self) -> None:
        """Give every lane its slot now (a benchmark keeps start-up out of what it times)."""
        for lane in range(self.lanes):
            self._client(lane)

    def sibling(self, slot: str) -> EmbeddedRoleModel:
        """The same role settings on servers of another slot (a conference panelist's, say); made once, so
        every episode's panelist reuses its clients."""
        with self._lock:
            if slot not in self._siblings:
                self._siblings[slot] = EmbeddedRoleModel(slot, self.lanes, self._client_for, self._server)
                self._siblings[slot].sha256 = self.sha256
            return self._siblings[slot]

    def _own_client(self) -> OpenAICompatModel:
        return self._client(current_lane() % self.lanes)

    @property
    def base_url(self) -> str:
        """The server this thread's calls go to."""
        return self._own_client().base_url

    @property
    def slot_id(self) -> int:
        """The server slot this thread's calls go to."""
        return self._own_client().body["id_slot"]

    @property
    def restarts(self) -> int:
        """How often the server died and was restarted so far (a harness compares counts around an episode)."""
        return self._running.restarts if self._running is not None else 0

    @property
    def exhausted(self) -> bool:
        """The server died with no restart left (a run stops starting episodes)."""
        return self._running.exhausted if self._running is not None else False

    def complete(self, messages: list[Message], **options) -> Completion:
        before = self.restarts
        try:
            return self._own_client().complete(messages, **options)
        except LLMError as error:
            if self._server is None:
                raise
            from agents.llm.embedded_server import ServerRestarted

            server = self._running = self._server()  # revives a dead server (or raises when none is left)
            if server.restarts > before:
                raise ServerRestarted(
                    f"{error}; the llama.cpp server had died ({server.deaths[-1]}) and was "
                    "restarted: this episode lost its server",
                    attempts=error.attempts,
                ) from error
            raise
