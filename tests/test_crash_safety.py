"""Crash safety: a `clinsim bench run` killed with SIGKILL at random points, resumed each time, ends with
exactly one record per (case, trial), every line parsing, and a Chroma experience store that opens cleanly
and holds one experience per judged episode.

The run uses scripted models that take a little time per reply (`delay_s`), two episodes at once, and the
experience memory on (hashing embedder: no model to load), so kills land while episodes are running, while
records are appended and while experiences are written to Chroma. Kill times come from a seeded RNG.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.harness import plan_episodes
from retrieval.experience import (
    EXPERIENCES_FILE,
    ExperienceStore,
    HashingTextEmbedder,
    read_experiences,
)
from sim.bank import generate_bank
from sim.core.records import read_records
from sim.loaders import load_cases

REPO = Path(__file__).resolve().parents[1]
KILLS = 4
TRIALS = 2
CONFIG = """data_dir = "{data}"
[roles.doctor]
backend = "scripted"
script = ["ASK: Where does it hurt?", "IMAGE: chest x-ray", "DIAGNOSIS: Right pneumothorax; Left pneumothorax"]
delay_s = 0.05
[roles.patient]
backend = "scripted"
script = ["Here, on the right."]
delay_s = 0.05
[encounter]
llm_judge = false
[experience]
enabled = true
embedder = "hashing"
lessons = false
"""


def _start(command: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "COLUMNS": "200"}
    with open(log, "ab") as handle:
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT)


def test_sigkill_at_random_points_then_resume(tmp_path):
    bank = tmp_path / "bank"
    generate_bank(8, 2, bank, size=96)
    config = tmp_path / "clinsim.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data"))
    out = tmp_path / "run"
    log = tmp_path / "log.txt"
    command = [
        sys.executable,
        "-m",
        "sim.cli.main",
        "--config",
        str(config),
        "bench",
        "run",
        "--cases",
        str(bank),
        "--out",
        str(out),
        "--trials",
        str(TRIALS),
        "--concurrency",
        "2",
        "--no-retrieval",
        "--resume",
    ]
    rng = random.Random(20240611)
    killed = 0
    for _ in range(KILLS):
        run = _start(command, log)
        # Wait until this process is past its imports and working on episodes, then kill it at a random
        # point within the next stretch of work (or let it finish if it gets there first).
        before = (out / "episodes.jsonl").stat().st_size if (out / "episodes.jsonl").exists() else -1
        deadline = time.monotonic() + 120
        while run.poll() is None and time.monotonic() < deadline:
            size = (out / "episodes.jsonl").stat().st_size if (out / "episodes.jsonl").exists() else -1
            if size != before:
                break
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.8))
        if run.poll() is None:
            run.send_signal(signal.SIGKILL)
            killed += 1
        run.wait(timeout=60)
    final = subprocess.run(
        command,
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"},
    )
    assert final.returncode == 0, final.stdout + final.stderr + log.read_text(errors="replace")
    assert killed >= 2, f"only {killed} of {KILLS} runs were killed before finishing: the test lost its point"

    # Every line is a complete record, and each planned (case, trial) is there exactly once.
    episodes = out / "episodes.jsonl"
    lines = episodes.read_bytes().split(b"\n")
    assert lines[-1] == b"", "the file ends with a complete line"
    for line in lines[:-1]:
        json.loads(line)
    records = read_records(episodes)
    planned = sorted((e.case.id, e.trial) for e in plan_episodes(load_cases(bank), bank, TRIALS, 0))
    assert sorted((r.case_id, r.trial) for r in records) == planned
    assert not any(r.termination == "error" for r in records)

    # The experience store opens cleanly and holds one experience per judged episode, as does its mirror.
    store = ExperienceStore(out / "experience-store", HashingTextEmbedder(), mirror=out / EXPERIENCES_FILE)
    stored = store.all()
    assert store.count() == len(records) == len({e.id for e in stored})
    assert sorted((e.case_id, e.episode_id) for e in stored) == sorted((r.case_id, r.episode_id) for r in records)
    mirrored = read_experiences(out / EXPERIENCES_FILE)
    assert {e.id for e in mirrored} == {e.id for e in stored}
    assert store.search("chest pain on the right", k=3), "the reopened store answers queries"
    print(
        f"\ncrash test: {killed} of {KILLS} runs killed with SIGKILL; {len(records)} records, "
        f"{store.count()} experiences after the final resume"
    )


def test_ctrl_c_writes_what_ran_exits_130_and_resume_completes(tmp_path):
    """SIGINT (Ctrl-C) once episodes are being written: the command exits 130 (INTERRUPTED), every line of
    episodes.jsonl is whole and summary.json exists; --resume then completes the run."""
    bank = tmp_path / "bank"
    generate_bank(8, 2, bank, size=96)
    config = tmp_path / "clinsim.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data").replace("delay_s = 0.05", "delay_s = 0.3"))
    out = tmp_path / "run"
    log = tmp_path / "log.txt"
    command = [
        sys.executable,
        "-m",
        "sim.cli.main",
        "--config",
        str(config),
        "bench",
        "run",
        "--cases",
        str(bank),
        "--out",
        str(out),
        "--trials",
        "2",
        "--no-retrieval",
    ]
    run = _start(command, log)
    deadline = time.monotonic() + 120
    while not (out / "episodes.jsonl").exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run.poll() is None, "the run ended before it could be interrupted: " + log.read_text(errors="replace")
    run.send_signal(signal.SIGINT)
    assert run.wait(timeout=120) == 130, log.read_text(errors="replace")
    lines = (out / "episodes.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(json.loads(line) for line in lines[:-1])
    assert 1 <= len(lines) - 1 < 16 and (out / "summary.json").is_file()
    assert "continue with --resume" in log.read_text(errors="replace")

    final = subprocess.run(
        [*command, "--resume"],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"},
    )
    assert final.returncode == 0, final.stdout + final.stderr
    assert len(read_records(out / "episodes.jsonl")) == 16


class _DiskFillsUp:
    """Stands in for the `os` module of sim/core/jsonlines.py: after `room` appends to episodes.jsonl the disk
    is full: the next append gets half its bytes written, then ENOSPC (what a filling disk does)."""

    def __init__(self, room: int):
        self.room = room
        self.full = True

    def __getattr__(self, name):
        return getattr(os, name)

    def write(self, fd: int, data) -> int:
        if not (self.full and os.readlink(f"/proc/self/fd/{fd}").endswith("episodes.jsonl")):
            return os.write(fd, data)
        if self.room > 0:
            self.room -= 1
            return os.write(fd, data)
        if self.room == 0:
            self.room = -1
            return os.write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="finds the file behind a descriptor through /proc")
def test_a_full_disk_stops_the_run_with_whole_lines_and_resume_completes(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import sim.core.jsonlines
    from sim.cli.common import ExitCode
    from sim.cli.main import app

    bank = tmp_path / "bank"
    generate_bank(4, 2, bank, size=96)
    config = tmp_path / "clinsim.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data").replace("delay_s = 0.05", "delay_s = 0.0"))
    out = tmp_path / "run"
    args = ["--config", str(config), "bench", "run", "--cases", str(bank), "--out", str(out), "--no-retrieval"]
    disk = _DiskFillsUp(room=2)
    monkeypatch.setattr(sim.core.jsonlines, "os", disk)
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == ExitCode.STOPPED, result.output
    assert "run stopped" in result.output and "episodes.jsonl: could not append" in result.output
    assert "No space left on device" in result.output and "--resume" in result.output
    data = (out / "episodes.jsonl").read_bytes()
    assert data.endswith(b"\n") and len(read_records(out / "episodes.jsonl")) == 2, "only whole lines"

    disk.full = False  # space again
    again = CliRunner().invoke(app, [*args, "--resume"], env={"COLUMNS": "200"})
    assert again.exit_code == 0, again.output
    assert sorted(r.case_id for r in read_records(out / "episodes.jsonl")) == sorted(c.id for c in load_cases(bank))
