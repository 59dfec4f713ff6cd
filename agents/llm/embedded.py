"""The embedded model: a llama.cpp server clinsim starts itself, on 127.0.0.1, on a free port.

The GGUF file comes from PyPI packages (see agents/llm/catalogue.py), so the default needs no key and no
network. The server announces the model as what the file says it is (GGUF name and hash). Servers are keyed by a slot name (by default one per role and lane, see
agents/llm/embedded_roles.py) and stopped when the Python process exits. Each logs to a file of its own,
so a failed start can be explained.
"""

from __future__ import annotations

import atexit
import os
import re
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

class EmbeddedServerError(LLMError):
    pass


def _cores() -> int:
    return os.cpu_count() or 2


def default_threads(lanes: int = 1) -> int:
    """All cores but one, shared among the lanes. llama.cpp's threads wait for each other at every layer,
    so when another process takes one of their cores a call stalls: measured on 2 cores beside other
    work, a 2-thread server let a doctor call time out three times at 120 s while 1-thread servers
    answered in about 5 s."""
    return max(1, min(_cores() - 1, _cores() // max(1, lanes)))


def batch_threads(lanes: int = 1) -> int:
    """Threads for evaluating a prompt: the lane's share of all cores. Prompt evaluation comes in short
    bursts, so taking every core is llama-cpp-python's own default and pays on an idle machine (measured:
    6.0 s per encounter with 2 threads, 8.9 s with 1); concurrent lanes must split the cores instead."""
    return max(1, _cores() // max(1, lanes))


class LlamaServer:
    """One `python -m llama_cpp.server` child process."""

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
        lanes: int = 1,
        alias: str = "",
    ):
        if not model_path.is_file():
            raise EmbeddedServerError(f"{model_path}: GGUF model file not found (embedded.model)")
        self.model_path = model_path
        self.alias = alias or model_path.stem
        self.host = host
        self.port = port or free_port(host)
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads(lanes)
        self.n_threads_batch = batch_threads(lanes)
        self.log_file = log_file
        self.startup_timeout_s = startup_timeout_s
        self.prompt_cache_mb = prompt_cache_mb
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> LlamaServer:
        command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", self.alias,
            "--host", self.host, "--port", str(self.port),
            "--n_ctx", str(self.n_ctx), "--n_threads", str(self.n_threads),
            "--n_threads_batch", str(self.n_threads_batch),
            # llama-cpp-python's server keeps the logits of every prompt token by default (an n_ctx x vocabulary
            # float array, 2.5 GB for Qwen's 152k vocabulary at 4k context) and computes them all; only the last
            # is sampled from. Measured side by side: 1 GB less RSS per server, prompts evaluated 1.2-1.5x faster.
            "--logits_all", "false",
        ]  # fmt: skip
        if self.prompt_cache_mb:
            # Keeps the model state after each call, keyed by its tokens: the next call of the same role
            # shares everything up to its last turn, so only the new turn is evaluated, though the roles
            # alternate on this one server. Prompt evaluation is what costs on a CPU (a 1,000-token
            # transcript is several seconds at one thread).
            command += ["--cache", "true", "--cache_type", "ram", "--cache_size", str(self.prompt_cache_mb << 20)]
        log = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        try:
            self.process = _spawner().submit(subprocess.Popen, command, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent).result()
        except OSError as error:
            raise EmbeddedServerError(f"could not start the llama.cpp server: {error}") from error
        finally:
            if log is not subprocess.DEVNULL:
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
                    + " (is llama-cpp-python[server] installed?)"
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
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

    def stop(self) -> None:
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
    slot: str = "",
    lanes: int = 1,
    alias: str = "",
) -> LlamaServer:
    """Start (once per process) or reuse the server for this model file, context size and slot."""
    path = Path(model_path)
    key = (str(path.resolve()), host, port, n_ctx, prompt_cache_mb, slot, lanes)
    with _servers_lock:
        server = _servers.get(key)
        if server is not None and server.alive():
            return server
        log_file = None
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", slot)
            log_file = log_dir / (f"llama-server-{safe}.log" if slot else "llama-server.log")
        server = LlamaServer(path, host, port, n_ctx, n_threads, log_file, startup_timeout_s, prompt_cache_mb,
                             lanes, alias).start()
        _servers[key] = server
        return server


@atexit.register
def stop_all_servers() -> None:
    with _servers_lock:
        for server in _servers.values():
            server.stop()
        _servers.clear()
