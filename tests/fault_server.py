"""A fault-injecting OpenAI-compatible chat server for tests: the faults a real endpoint has, on demand.

    with FaultServer(mode="500", fail_times=2) as server:   # two HTTP 500s, then normal replies
        model = OpenAICompatModel(base_url=server.base_url, ...)
        ...
        assert server.attempts == 3

Modes (what a faulty request gets):
- `timeout`: no answer until long after any client timeout (the handler waits, the client gives up);
- `500`, `429`, `400`: that HTTP status with an OpenAI-style error body (400 is not worth retrying);
- `garbage`: HTTP 200 with a body that is not JSON;
- `empty`: a well-formed completion whose message content is empty;
- `close`: the connection is closed without any response;
- `ok`: no fault.

`fail_times=None` makes every request faulty; `fail_times=N` faults the first N requests and answers the
rest. `fault_when(text)` narrows faults to requests whose messages contain some text (e.g. one case's
objective), so one run can mix failed and answered episodes. Normal replies come from `reply(messages)`;
the usage they report counts `prompt_tokens(messages)` prompt tokens (10 unless given).
Binds 127.0.0.1 on a free port; stopped by `stop()` or leaving the `with` block.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

MODES = ("timeout", "500", "429", "400", "garbage", "empty", "close", "ok")
# Longest a `timeout` request is held (far past any client timeout a test sets); stop() releases it at once.
HOLD_S = 30.0

Reply = Callable[[list[dict]], str]


def _default_reply(messages: list[dict]) -> str:
    return "DIAGNOSIS: Cardiomegaly"


class FaultServer:
    def __init__(
        self,
        mode: str = "ok",
        fail_times: int | None = None,
        reply: Reply = _default_reply,
        fault_when: Callable[[str], bool] | None = None,
        prompt_tokens: Callable[[list[dict]], int] | None = None,
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.mode = mode
        self.fail_times = fail_times
        self.reply = reply
        self.fault_when = fault_when
        self.prompt_tokens = prompt_tokens or (lambda messages: 10)
        self.attempts = 0  # chat requests received
        self.faults = 0  # of which got the fault
        self.times: list[float] = []  # monotonic arrival time of each chat request
        self.bodies: list[dict] = []  # each chat request's JSON body, as received
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fault-server", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _decide(self, messages: list[dict]) -> str:
        """The mode this request gets, counted under the lock so concurrent requests are numbered once."""
        text = "\n".join(str(m.get("content", "")) for m in messages)
        with self._lock:
            self.attempts += 1
            self.times.append(time.monotonic())
            eligible = self.mode != "ok" and (self.fault_when is None or self.fault_when(text))
            if eligible and (self.fail_times is None or self.faults < self.fail_times):
                self.faults += 1
                return self.mode
        return "ok"

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # quiet: tests read their own counters
                pass

            def do_GET(self):  # /v1/models, for clients that probe
                self._json(200, {"object": "list", "data": [{"id": "fault-model", "object": "model"}]})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    body = {}
                messages = body.get("messages") or []
                server.bodies.append(body)
                mode = server._decide(messages)
                if mode == "timeout":
                    server._released.wait(HOLD_S)
                    self.close_connection = True
                    return
                if mode == "close":
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if mode in ("500", "429", "400"):
                    self._json(
                        int(mode), {"error": {"message": f"injected HTTP {mode}", "type": "fault", "code": int(mode)}}
                    )
                    return
                if mode == "garbage":
                    self._raw(200, b"<html>this is not JSON {{{", "text/html")
                    return
                content = "" if mode == "empty" else server.reply(messages)
                prompt = server.prompt_tokens(messages)
                self._json(
                    200,
                    {
                        "id": f"fault-{server.attempts}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "fault-model"),
                        "choices": [
                            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
                        ],
                        "usage": {
                            "prompt_tokens": prompt,
                            "completion_tokens": max(1, len(content) // 4),
                            "total_tokens": prompt + max(1, len(content) // 4),
                        },
                    },
                )

            def _json(self, status: int, payload: dict) -> None:
                self._raw(status, json.dumps(payload).encode(), "application/json")

            def _raw(self, status: int, data: bytes, content_type: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up first (e.g. its timeout): nothing to answer
                    self.close_connection = True

        return Handler
