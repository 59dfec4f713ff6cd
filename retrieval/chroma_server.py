"""A Chroma server on loopback (`chroma run` from this environment), started on a free port in a folder of
ours and stopped when the block ends, telemetry off: the store benchmark and the server tests use it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sim.core.net import free_port

HOST = "127.0.0.1"


def chroma_executable() -> Path:
    return Path(sys.executable).parent / "chroma"


@contextmanager
def chroma_server(path: Path, log_file: Path, startup_timeout_s: float = 90.0) -> Iterator[str]:
    """Yields the server's URL."""
    executable = chroma_executable()
    if not executable.is_file():
        raise RuntimeError(f"{executable} not found (chromadb installs it)")
    port = free_port(HOST)
    path.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            [str(executable), "run", "--path", str(path), "--host", HOST, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"chroma run exited with code {process.returncode}; see {log_file}")
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"chroma run did not answer on {url} within {startup_timeout_s:.0f} s; see {log_file}"
                )
            time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
