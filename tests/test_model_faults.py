"""Model faults: a local fault-injecting OpenAI-compatible server (tests/fault_server.py) that times out,
answers 500/429/400, garbage or empty content, or drops the connection; and the embedded llama.cpp server
killed in the middle of a run.

What must hold: transient faults are retried a bounded number of times with exponential backoff (the
server counts the attempts), a call that still fails ends its episode as `error` with the cause, the run
goes on and finishes, summary.json counts errors apart from wrong answers, and `--resume` runs the failed
episodes again so the finished run has exactly one record per (case, trial).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.llm.base import LLMError, Message
from agents.llm.openai_compat import OpenAICompatModel
from sim.bank import generate_bank
from sim.cli.common import ExitCode
from sim.cli.main import app
from sim.core.records import read_records
from sim.loaders import load_cases
from tests.fault_server import FaultServer

REPO = Path(__file__).resolve().parents[1]
SUBPROCESS_ENV = {**os.environ, "COLUMNS": "200", "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
HI = [Message(role="user", content="Hello?")]

# mode -> what the recorded cause says (besides the endpoint and the number of attempts)
CAUSES = {
    "timeout": "Request timed out.",
    "500": "(HTTP 500)",
    "429": "(HTTP 429)",
    "garbage": "BadResponse",
    "empty": "empty reply (no content)",
    "close": "Connection error.",
}


@pytest.fixture
def fault_server():
    """Starts FaultServers on 127.0.0.1 (free ports); every one is stopped when the test ends."""
    started: list[FaultServer] = []

    def start(**options) -> FaultServer:
        server = FaultServer(**options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _model(server: FaultServer, retries: int = 2, backoff_s: float = 0.05) -> OpenAICompatModel:
    return OpenAICompatModel(base_url=server.base_url, timeout_s=1.0, max_retries=retries, backoff_s=backoff_s)


@pytest.mark.parametrize("mode", list(CAUSES))
def test_a_fault_that_persists_is_retried_then_reported(fault_server, mode):
    server = fault_server(mode=mode)
    with pytest.raises(LLMError) as caught:
        _model(server, retries=2).complete(HI)
    assert server.attempts == 3 and caught.value.attempts == 3
    assert CAUSES[mode] in caught.value.cause and server.base_url in caught.value.cause
    assert caught.value.cause.endswith("(after 3 attempts)")


@pytest.mark.parametrize("mode", list(CAUSES))
def test_a_fault_that_passes_is_retried_until_it_succeeds(fault_server, mode):
    server = fault_server(mode=mode, fail_times=2)
    result = _model(server, retries=2).complete(HI)
    assert result.text == "DIAGNOSIS: Cardiomegaly" and result.attempts == 3 and server.attempts == 3


def test_a_client_error_is_not_retried(fault_server):
    server = fault_server(mode="400")
    with pytest.raises(LLMError, match=r"\(HTTP 400\)") as caught:
        _model(server, retries=3).complete(HI)
    assert server.attempts == 1 and caught.value.attempts == 1


def test_backoff_doubles_with_jitter_and_is_bounded(fault_server):
    server = fault_server(mode="500")
    backoff = 0.2
    with pytest.raises(LLMError):
        _model(server, retries=3, backoff_s=backoff).complete(HI)
    gaps = [b - a for a, b in zip(server.times, server.times[1:])]
    assert len(gaps) == 3
    for attempt, gap in enumerate(gaps):  # sleep = backoff * 2^attempt * U(0.5, 1.5), plus the request itself
        base = backoff * 2**attempt
        assert 0.5 * base <= gap <= 1.5 * base + 0.5, (attempt, gaps)


# --- the same faults in a real `clinsim bench run` ---------------------------------------------------------

CONFIG = """data_dir = "{data}"
[roles.doctor]
backend = "openai"
base_url = "{url}"
timeout_s = 2.0
max_retries = 1
[roles.patient]
backend = "openai"
base_url = "{url}"
timeout_s = 2.0
max_retries = 1
[encounter]
llm_judge = false
turn_cap = 3
"""


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bank") / "bank"
    generate_bank(3, 0, out, size=96)
    return out


def _replies(answer: str):
    """Patient and doctor both played by the server: the doctor asks once, then answers `answer`."""

    def reply(messages: list[dict]) -> str:
        if any("About you:" in str(m.get("content")) for m in messages):
            return "It started suddenly and it hurts when I breathe in."
        if any(m.get("role") == "assistant" for m in messages):
            return f"DIAGNOSIS: {answer}"
        return "ASK: What brings you in today?"

    return reply


@pytest.mark.parametrize("mode", [*CAUSES, "400"])
def test_a_run_records_failed_episodes_as_errors_and_resume_retries_them(fault_server, bank, tmp_path, mode):
    cases = load_cases(bank)
    target, answer = cases[-1], cases[0].diagnosis.name
    # Only the patient of the last case meets the fault: one failed episode among answered ones.
    marker = target.patient.history[:40]
    server = fault_server(mode=mode, reply=_replies(answer), fault_when=lambda text: marker in text)
    config = tmp_path / "clinsim.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data", url=server.base_url))
    out = tmp_path / "run"
    args = ["--config", str(config), "bench", "run", "--cases", str(bank), "--out", str(out), "--no-retrieval"]

    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == ExitCode.EPISODE_ERRORS == 3, result.output
    assert "errors 1/3" in result.output
    assert "1 of 3 episode(s) ended in error" in result.output and "--resume" in result.output
    records = {r.case_id: r for r in read_records(out / "episodes.jsonl")}
    assert len(records) == 3
    failed = records[target.id]
    attempts = 1 if mode == "400" else 2
    assert failed.termination == "error" and failed.error.startswith("patient: ")
    assert (CAUSES.get(mode) or "(HTTP 400)") in failed.error and server.base_url in failed.error
    assert server.faults == attempts and (attempts == 1 or failed.error.endswith(f"(after {attempts} attempts)"))
    assert all(r.termination == "diagnosed" for cid, r in records.items() if cid != target.id)

    summary = json.loads((out / "summary.json").read_text())
    judged = [r for cid, r in records.items() if cid != target.id]
    assert summary["errors"] == 1 and summary["error_rate"] == pytest.approx(1 / 3)
    assert summary["terminations"] == {"diagnosed": 2, "error": 1}
    assert summary["top1"]["n"] == 2  # the failed episode is neither right nor wrong: it is not judged
    assert summary["top1"]["mean"] == pytest.approx(sum(r.top1_correct for r in judged) / 2)
    assert sum(r.top1_correct for r in judged) == 1  # one right answer, one wrong: both counted as judged

    # The endpoint recovers; --resume runs the failed episode again and replaces its record.
    server.mode = "ok"
    again = CliRunner().invoke(app, [*args, "--resume"], env={"COLUMNS": "200"})
    assert again.exit_code == 0, again.output
    assert "2 episode(s) already recorded" in again.output and "errors 0/3" in again.output
    final = read_records(out / "episodes.jsonl")
    assert sorted((r.case_id, r.trial) for r in final) == sorted((c.id, 0) for c in cases)
    assert not any(r.termination == "error" for r in final)
    assert {r.case_id: r.model_dump_json() for r in final if r.case_id != target.id} == {
        cid: r.model_dump_json() for cid, r in records.items() if cid != target.id
    }, "recorded episodes kept as they were"
    assert json.loads((out / "summary.json").read_text())["errors"] == 0
    assert not (out / "episodes.jsonl.tmp").exists()


def test_an_ablation_with_failed_episodes_runs_every_arm_then_exits_3(fault_server, bank, tmp_path):
    """Failed episodes do not stop an ablation: every arm runs and the table is written; the command then
    exits EPISODE_ERRORS (3) and prints the command that reruns them."""
    cases = load_cases(bank)
    marker = cases[-1].patient.history[:40]
    server = fault_server(mode="500", reply=_replies(cases[0].diagnosis.name), fault_when=lambda text: marker in text)
    config = tmp_path / "clinsim.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data", url=server.base_url))
    out = tmp_path / "ablation"
    result = CliRunner().invoke(
        app,
        [
            "--config",
            str(config),
            "bench",
            "ablate",
            "--axes",
            "strategy",
            "--strategies",
            "direct,cot",
            "--cases",
            str(bank),
            "--out",
            str(out),
        ],
        env={"COLUMNS": "200", "CLINSIM_RETRIEVAL__ENABLED": "false"},
    )
    assert result.exit_code == ExitCode.EPISODE_ERRORS, result.output
    assert (out / "ablation.json").is_file() and {p.name for p in out.iterdir() if p.is_dir()} == {"direct", "cot"}
    assert "2 episode(s) of the ablation ended in error" in result.output and "--resume" in result.output


def test_an_endpoint_that_stays_down_stops_the_run(fault_server, tmp_path):
    """Every episode fails for longer than run.outage_window_s (the endpoint drops every connection): the
    run stops starting episodes, says why and how many never started, and exits 4; --resume once the
    endpoint is back completes it."""
    bank = tmp_path / "bank6"
    generate_bank(6, 0, bank, size=96)
    cases = load_cases(bank)
    server = fault_server(mode="close", reply=_replies(cases[0].diagnosis.name))
    config = tmp_path / "clinsim.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data", url=server.base_url) + "[run]\noutage_window_s = 0.2\n")
    out = tmp_path / "run"
    args = ["--config", str(config), "bench", "run", "--cases", str(bank), "--out", str(out), "--no-retrieval"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == ExitCode.STOPPED, result.output
    assert "run stopped: every episode that ended in the last" in result.output, result.output
    assert "not started" in result.output and "--resume" in result.output
    written = read_records(out / "episodes.jsonl")
    assert 1 <= len(written) < len(cases) and all(r.termination == "error" for r in written)

    server.mode = "ok"
    again = CliRunner().invoke(app, [*args, "--resume"], env={"COLUMNS": "200"})
    assert again.exit_code == 0, again.output
    final = read_records(out / "episodes.jsonl")
    assert len(final) == len(cases) and not any(r.termination == "error" for r in final)


# --- the embedded llama.cpp server killed in the middle of a run -------------------------------------------


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the direct children of `pid`, from /proc (no psutil needed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == pid:
                found.append((int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
    return found


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.is_file() else 0


def _kill_the_server_mid_run(tmp_path: Path, cases: int, turn_cap: int, embedded: str) -> tuple[int, str, Path, list]:
    """`bench run` on the embedded model in a process of its own; once the first episode is written, the
    llama.cpp server it started is killed with SIGKILL. Returns the exit code, the output, the run directory
    and the command (to resume it)."""
    bank = tmp_path / "bank"
    generate_bank(cases, 0, bank, size=96)
    config = tmp_path / "clinsim.toml"
    # Short replies, a small context and one thread: on a loaded 2-core machine, llama.cpp threads that
    # compete for cores are several times slower than one.
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        "[roles.doctor]\nmax_tokens = 24\n"
        '[roles.patient]\nbackend = "scripted"\nscript = ["It hurts when I breathe."]\n'
        f"[embedded]\nn_ctx = 1024\nn_threads = 1\n{embedded}\n"
        "[encounter]\nllm_judge = false\n"
    )
    out = tmp_path / "run"
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
        "--no-retrieval",
        "--turn-cap",
        str(turn_cap),
    ]
    run = subprocess.Popen(command, cwd=REPO, env=SUBPROCESS_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 400
        while _lines(out / "episodes.jsonl") < 1 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _lines(out / "episodes.jsonl") >= 1, "the first episode was never written"
        servers = [pid for pid, cmdline in _children(run.pid) if "llama-server" in cmdline]
        assert len(servers) == 1, _children(run.pid)
        os.kill(servers[0], signal.SIGKILL)
        output, _ = run.communicate(timeout=400)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    text = output.decode(errors="replace")
    assert "Traceback" not in text, text
    return run.returncode, text, out, command


@pytest.mark.integration
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the server's process through /proc (Linux)")
def test_killing_the_embedded_server_mid_run_restarts_it_and_reruns_the_episode(tmp_path):
    """kill -9 of the llama.cpp server while the second episode runs: the server is started again on its
    port (logged with the exit code), the episode that lost it runs again from its start, and the run ends
    with no error and exit code 0."""
    code, text, out, _ = _kill_the_server_mid_run(tmp_path, cases=2, turn_cap=2, embedded="restart_backoff_s = 0.5")
    assert code == 0, text
    assert "exited with code -9; restarting it" in text and "is back on port" in text, text
    records = read_records(out / "episodes.jsonl")
    assert len(records) == 2 and not any(r.termination == "error" for r in records), [r.error for r in records]
    assert "errors 0/2" in text


@pytest.mark.integration
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the server's process through /proc (Linux)")
def test_a_server_that_keeps_dying_stops_the_run(tmp_path):
    """With no restart allowed, a killed server is beyond revival: the run stops starting episodes, says
    why, and exits 4 (STOPPED); --resume on a live server completes it."""
    code, text, out, command = _kill_the_server_mid_run(tmp_path, cases=3, turn_cap=1, embedded="max_restarts = 0")
    assert code == ExitCode.STOPPED, text
    assert "run stopped" in text and "embedded.max_restarts" in text and "--resume" in text, text
    written = read_records(out / "episodes.jsonl")
    assert len(written) == 2, "the episode that met the dead server is recorded; the third never started"

    resumed = subprocess.run(
        [*command, "--resume"], check=False, cwd=REPO, env=SUBPROCESS_ENV, capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    final = read_records(out / "episodes.jsonl")
    assert len(final) == 3 and not any(r.termination == "error" for r in final)


def test_the_body_posted_is_the_one_langchain_sends():
    """Our request body (built from LangChain's message conversion, posted with the openai client's `post`)
    is the same JSON as the body LangChain's ChatOpenAI sends for the same call, options and extra body
    included, so a server sees the same request either way."""
    from langchain_core.messages import HumanMessage, SystemMessage
    from langchain_openai import ChatOpenAI

    from agents.llm.base import Message

    with FaultServer() as server:
        model = OpenAICompatModel(
            server.base_url,
            model="m",
            temperature=0.2,
            max_tokens=64,
            structured_output="grammar",
            body={"id_slot": 3, "cache_prompt": True},
        )
        reply = model.complete(
            [Message(role="system", content="Be brief."), Message(role="user", content="Hi?")],
            temperature=0.5,
            max_tokens=32,
            seed=7,
            stop=["\n\n"],
            grammar='root ::= "x"',
        )
        assert reply.text and reply.tokens_in > 0 and reply.model == "m"
        ours = server.bodies[-1]
        langchain = ChatOpenAI(
            model="m", base_url=server.base_url, api_key="not-needed", temperature=0.2, max_tokens=64, max_retries=0
        )
        langchain.bind(
            temperature=0.5,
            max_tokens=32,
            seed=7,
            stop=["\n\n"],
            extra_body={"id_slot": 3, "cache_prompt": True, "max_tokens": 32, "grammar": 'root ::= "x"'},
        ).invoke([SystemMessage(content="Be brief."), HumanMessage(content="Hi?")])
        theirs = server.bodies[-1]
        model.complete([Message(role="user", content="Hi?")])  # the defaults: temperature and budget of the model
        plain = server.bodies[-1]
    assert ours == theirs
    assert ours["id_slot"] == 3 and ours["grammar"] == 'root ::= "x"' and ours["seed"] == 7
    assert plain["temperature"] == 0.2 and plain["max_completion_tokens"] == 64 == plain["max_tokens"]
