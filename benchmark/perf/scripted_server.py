"""A tiny OpenAI-compatible chat server for the concurrency measurement: it sleeps a fixed time per request,
serves requests concurrently (one thread each, HTTP keep-alive) and answers as the scripted doctor or patient
of `scripted.py`. It binds 127.0.0.1 on a free port and counts how many requests were in flight at once
(GET /stats).

It runs in a process of its own (`python -m benchmark.perf.scripted_server LATENCY`), as a remote model
would: in the harness's process its request handling would be counted as the harness's CPU and would
compete with the episodes for the interpreter lock.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agents.llm.base import approx_tokens
from benchmark.perf.scripted import doctor_reply, is_doctor_request, patient_reply

MODEL = "scripted-latency"


class _Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = self.peak = self.requests = 0

    def __enter__(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.requests += 1
            self.peak = max(self.peak, self.in_flight)

    def __exit__(self, *exc) -> None:
        with self.lock:
            self.in_flight -= 1


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # 64 concurrent episodes connect at once; the default backlog of 5 drops some

    def __init__(self, latency_s: float):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.latency_s = latency_s
        self.counter = _Counter()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedServer
    protocol_version = "HTTP/1.1"  # keep-alive: a client reuses its connection, as it would with vLLM
    # Headers and body go out in two writes; with Nagle's algorithm the body waits for the client's delayed
    # ACK of the headers (measured: 61 ms per call at zero latency, 7.5 ms of it the harness's CPU).
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:  # quiet: the benchmark prints its own table
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # the http.server API
        if self.path == "/stats":
            self._send(200, {"peak_in_flight": self.server.counter.peak, "requests": self.server.counter.requests})
            return
        self._send(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "clinsim"}]})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        messages = request.get("messages", [])
        with self.server.counter:
            time.sleep(self.server.latency_s)
            text = doctor_reply(messages) if is_doctor_request(messages) else patient_reply(messages)
        prompt = "\n".join(str(m.get("content", "")) for m in messages)
        self._send(
            200,
            {
                "id": f"chatcmpl-{self.server.counter.requests}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.get("model", MODEL),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {
                    "prompt_tokens": approx_tokens(prompt),
                    "completion_tokens": approx_tokens(text),
                    "total_tokens": approx_tokens(prompt) + approx_tokens(text),
                },
            },
        )


@dataclass
class RunningServer:
    """The server process, as the measurement sees it."""

    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=10) as response:
            return json.load(response)


@contextmanager
def scripted_server(latency_s: float) -> Iterator[RunningServer]:
    """Start the server in a child process; it prints its port when it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmark.perf.scripted_server", str(latency_s)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        if not line.strip().isdigit():
            raise RuntimeError(f"the scripted server did not start (said {line!r})")
        yield RunningServer(int(line))
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    server = ScriptedServer(float(sys.argv[1]))
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
