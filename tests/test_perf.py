"""`clinsim bench perf`: the command runs end to end (smoke sizes) and its JSON has the documented keys with
sane values. No timing thresholds: speed targets are printed by the command, not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from benchmark.perf.baseline_prompt import baseline_messages
from benchmark.perf.vectors import default_dim, exact_top_k, sample
from sim.core.transcript import Turn
from tests.helpers import small_case

SECTIONS = (
    "machine",
    "targets",
    "embedded",
    "harness",
    "store",
    "ingest",
    "prompt_tokens",
    "concurrency",
    "memory",
    "training",
    "speculative",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("perf")
    out = folder / "perf.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim.cli.main",
            "--data-dir",
            str(folder / "data"),
            "bench",
            "perf",
            "--quick",
            "--smoke",
            "--json",
            str(out),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "targets" in done.stdout and "wrote" in done.stdout
    return json.loads(out.read_text(encoding="utf-8"))


def test_report_has_every_section_and_no_failed_measurement(report):
    assert report["version"] == 1 and report["mode"] == "smoke"
    for section in SECTIONS:
        assert section in report, section
        assert "error" not in report[section], report[section]
    assert report["machine"]["nproc"] >= 1 and report["machine"]["ram_gb"] > 0
    assert "skipped" in report["embedded"]  # smoke runs never start the model
    assert "no speculative arms" in report["speculative"]["skipped"]  # ... unless --speculative names arms


def test_targets_rows(report):
    names = [row["name"] for row in report["targets"]]
    assert len(names) == 13 and any("harness" in n for n in names) and any("recall" in n for n in names)
    assert names[-1].startswith("speculative decoding") and report["targets"][-1]["measured"] is None
    for row in report["targets"]:
        assert set(row) == {"name", "target", "measured", "unit", "met", "note"}
        assert row["met"] is None if row["measured"] is None else isinstance(row["met"], bool)


def test_harness_and_tokens_are_sane(report):
    harness = report["harness"]
    assert harness["turns_per_episode"] == 8 and harness["calls_per_turn"] > 1
    overhead = harness["overhead_ms_per_turn"]
    assert overhead["n"] == harness["episodes"] and 0 < overhead["p50"] <= overhead["p95"] <= overhead["max"]
    assert harness["share_of_encounter"] is None  # no embedded latency in a smoke run
    tokens = report["prompt_tokens"]
    assert 0 < tokens["ours_evaluated_per_encounter"] < tokens["ours_per_encounter"]
    assert 0 < tokens["baseline_evaluated_per_encounter"] <= tokens["baseline_per_encounter"]
    assert 0 < tokens["ours_per_encounter"] < tokens["baseline_per_encounter"]
    assert 0 < tokens["reduction"] < 1 and abs(sum(tokens["ours_composition"].values()) - 1) < 0.01


def test_store_ingest_concurrency_memory_are_sane(report):
    store = report["store"]
    assert store["dim"] == default_dim() and store["k"] == 10
    for kind in ("uniform", "clustered"):
        row = store["persistent"][kind]["1000"]
        assert 0 <= row["recall_at_10"] <= 1 and 0 <= row["filtered"]["recall_at_10"] <= 1
        assert 0 <= row["filtered_chroma_where"]["recall_at_10"] <= 1
        assert 0 < row["latency_ms"]["p50"] <= row["latency_ms"]["p95"] and row["inserts_per_s"] > 0
        raw = row["index_alone"]["raw_hnsw"]  # the test extra installs chroma-hnswlib
        assert 0 < raw["latency_ms"]["p50"] <= raw["latency_ms"]["p95"] and 0.5 < raw["recall_at_10"] <= 1
        assert row["index_alone"]["exact_numpy"]["latency_ms"]["p50"] > 0
        assert row["index_alone"]["chroma_ids_only"]["latency_ms"]["p50"] > 0
    ratio = next(r for r in report["targets"] if r["name"].startswith("store query p95 / raw"))
    assert ratio["measured"] > 0 and "exact numpy" in ratio["note"]
    for source in ("bank", "pneumoniamnist"):
        entry = report["ingest"][source]
        if "skipped" in entry:
            continue
        assert entry["images"] > 0 and entry["images_per_s"] > 0 and entry["records_added"] >= entry["images"]
        assert "embedding images" in entry["stages_s"]
    levels = report["concurrency"]["scripted_server"]["levels"]
    assert [r["concurrency"] for r in levels] == [1, 2, 2] and all(
        r["errors"] == 0 and r["speedup"] > 0 for r in levels
    )
    assert [r["processes"] for r in levels] == [1, 1, 2]  # the highest level again in worker processes
    assert all(r["harness_cpu_ms_per_episode"] > 0 and r["peak_rss_mb"] > 50 for r in levels)
    assert levels[-1]["worker_peak_rss_mb"] > 50  # the workers' CPU and memory are counted too
    assert [r["episodes"] for r in levels] == [4, 4, 4]  # at least the plan's episodes, two per worker
    probe = report["training"]["probe"]
    assert probe["padded_ms_per_step"] > 0 and probe["trimmed_ms_per_step"] > 0 and probe["steps"] == 2
    memory = report["memory"]
    assert memory["episode_run"]["peak_rss_mb"] >= memory["episode_run"]["rss_after_imports_mb"] > 0
    assert memory["store_query_process"]["peak_rss_mb"] > 0


def test_evaluated_tokens_count_what_follows_the_kept_prefix():
    from agents.llm.base import Message
    from benchmark.perf.prompt_tokens import evaluated_tokens, framed

    system = Message(role="system", content="Rules.")
    first = [system, Message(role="user", content="Hello")]
    second = [*first, Message(role="assistant", content="ASK: why?"), Message(role="user", content="Pain")]
    changed = [Message(role="system", content="Other rules."), Message(role="user", content="Hello")]
    # the second prompt starts with the whole first one (up to the assistant's header): only its tail is new
    assert framed(second).startswith(framed(first))
    assert evaluated_tokens([first, second], len) == len(framed(second))
    assert evaluated_tokens([first, first], len) == len(framed(first))  # the same prompt again costs nothing
    # a prompt that changes near its start is evaluated again almost whole
    assert evaluated_tokens([first, changed], len) > len(framed(first)) + len(framed(changed)) - 20


def test_exact_search_and_vector_kinds():
    data = sample("clustered", 300, 16, seed=1, draw=1)
    queries = sample("clustered", 5, 16, seed=1, draw=2)
    assert np.allclose(np.linalg.norm(data, axis=1), 1, atol=1e-5)
    top = exact_top_k(data, queries, 3)
    brute = np.argsort(-(queries @ data.T), axis=1)[:, :3]
    assert (top == brute).all()
    excluded = exact_top_k(data, queries, 3, exclude=top[:, 0])
    assert (excluded[:, 0] == top[:, 1]).all()


def test_baseline_prompt_resends_the_case_and_the_history():
    case = small_case()
    transcript = [
        Turn(index=0, role="doctor", text="ASK: Any fever?"),
        Turn(index=1, role="patient", text="Yes, since Monday."),
    ]
    _system, user = baseline_messages(case, transcript, turn_cap=20)
    assert "15,200 /uL" in user.content and "Crackles at the right base" in user.content  # every result, every turn
    assert "Doctor: ASK: Any fever?\nPatient: Yes, since Monday." in user.content
    assert "Crackles" not in baseline_messages(case, transcript, 20, history_only=True)[1].content


def test_only_runs_the_named_sections_and_rejects_unknown_ones(tmp_path):
    out = tmp_path / "perf.json"
    command = [sys.executable, "-m", "sim.cli.main", "--data-dir", str(tmp_path / "data"), "bench", "perf", "--smoke"]
    done = subprocess.run(
        [*command, "--only", "prompt_tokens", "--json", str(out)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["prompt_tokens"]["reduction"] > 0
    for section in ("harness", "store", "ingest", "concurrency", "memory"):
        assert report[section] == {"skipped": "not selected (--only)"}, section
    done = subprocess.run(
        [*command, "--only", "scale_out", "--json", str(out)], check=False, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert (
        report["concurrency"]["scripted_server"]["levels"]
        and report["concurrency"]["scripted_server"]["peak_in_flight"] >= 1
    )
    assert report["concurrency"]["embedded_server"] == {"skipped": "not selected (--only scale_out)"}
    assert report["harness"] == {"skipped": "not selected (--only)"}
    bad = subprocess.run([*command, "--only", "stores"], check=False, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "unknown section stores" in bad.stdout + bad.stderr and "Traceback" not in bad.stderr


def test_server_log_timings_are_summed_per_role(tmp_path):
    from benchmark.perf.server_log import log_offset, timings_by_role

    log = tmp_path / "server.log"
    line = (
        "0.15.5 I slot print_timing: id  {slot} | task 1 | prompt eval time =    {pms} ms /   {pt} tokens (x)\n"
        "0.15.5 I slot print_timing: id  {slot} | task 1 |        eval time =    {gms} ms /    {gt} tokens (x)\n"
    )
    log.write_text(line.format(slot=0, pms=9000, pt=900, gms=1, gt=1))  # before the offset: not counted
    offset = log_offset(log)
    with log.open("a") as handle:
        handle.write(line.format(slot=0, pms=1000.0, pt=100, gms=500.0, gt=10))
        handle.write(line.format(slot=2, pms=250.0, pt=50, gms=100.0, gt=4))
        handle.write(line.format(slot=0, pms=1000.0, pt=100, gms=500.0, gt=10))
    found = timings_by_role(log, offset, {"doctor-0": 0, "patient-0": 2})
    assert found["doctor"] == {
        "prompt_tokens": 200,
        "prompt_s": 2.0,
        "gen_tokens": 20,
        "gen_s": 1.0,
        "requests": 2,
        "prompt_tokens_per_s": 100.0,
        "gen_tokens_per_s": 20.0,
    }
    assert found["patient"]["prompt_tokens_per_s"] == 200.0 and found["patient"]["requests"] == 1


def test_a_log_line_written_after_the_answer_is_still_read(tmp_path):
    """llama-server prints a request's timings from its logging thread, which may write them just after the
    answer arrived: the reader waits for the expected line, or for the log to stop growing."""
    import re
    import threading
    import time

    from benchmark.perf.server_log import read_since

    log = tmp_path / "server.log"
    log.write_text("earlier\n")
    offset = log.stat().st_size

    def late(text: str) -> None:
        time.sleep(0.3)
        with log.open("a") as handle:
            handle.write(text)

    writer = threading.Thread(target=late, args=("prompt eval time = 5.0 ms / 7 tokens\n",))
    writer.start()
    assert read_since(log, offset, expect=re.compile(r"/ (\d+) tokens")) == "prompt eval time = 5.0 ms / 7 tokens\n"
    writer.join()
    started = time.monotonic()  # no pattern: what is there once the file has been quiet for 0.2 s
    assert read_since(log, offset) == "prompt eval time = 5.0 ms / 7 tokens\n"
    assert time.monotonic() - started < 4


@pytest.mark.integration
def test_embedded_encounter_rows_say_where_the_time_went(tmp_path):
    """The embedded rows of `bench perf` on the small model: encounter time, accuracy and each role's prompt
    and generation figures read from the real server's log, and the server's memory."""
    from benchmark.perf.concurrency import embedded_levels
    from sim.bank import generate_bank
    from sim.core.config import load_settings
    from sim.loaders import load_cases

    bank = tmp_path / "bank"
    generate_bank(2, 5, bank)
    settings = load_settings(
        None,
        {
            "data_dir": str(tmp_path / "data"),
            "embedded.model": "smollm2-135m",
            "embedded.n_ctx": 1792,
            "retrieval.enabled": False,
            "encounter.llm_judge": False,
        },
    )
    result = embedded_levels(settings, load_cases(bank), bank, tmp_path / "work", [1, 2], episodes=2, turn_cap=2)
    rows = {(r["servers"], r["concurrency"]): r for r in result["levels"]}
    assert set(rows) == {("shared", 1), ("per-role", 1), ("per-role", 2)}
    for row in result["levels"]:
        assert row["errors"] == 0 and row["encounter_s"]["n"] == 2 and 0 <= row["top1"] <= 1
        assert row["server_peak_rss_mb"] > 50 and 0 < row["model_share"] <= 1
    per_role = rows[("per-role", 1)]["by_role"]
    assert {"doctor", "patient"} <= set(per_role), per_role
    assert per_role["doctor"]["prompt_tokens"] > 0 and per_role["doctor"]["gen_tokens_per_s"] > 0
    assert set(rows[("shared", 1)]["by_role"]) == {"shared"}  # every role on the one slot
    assert result["retrieval"] is False
    batching = rows[("per-role", 2)]["decode_batching"]  # two generation-only streams, apart then together
    assert batching["tokens_each"] == 128 and batching["together_s"] > 0
    assert batching["speedup"] == pytest.approx(batching["one_after_the_other_s"] / batching["together_s"], abs=0.02)
    assert "decode_batching" not in rows[("per-role", 1)]


def test_peak_rss_can_start_afresh_so_a_section_reports_its_own_peak():
    """A full `bench perf` run reported the scale-out levels' peak as 1,834 MB: the high-water mark of the
    ingest section before them. Resetting VmHWM makes the next reading the peak of what ran since."""
    from benchmark.perf.store_child import peak_rss_mb, reset_peak_rss

    block = bytearray(200 * 2**20)
    block[::4096] = b"1" * len(block[::4096])  # touch every page so it is resident
    high = peak_rss_mb()
    del block
    if not reset_peak_rss():
        pytest.skip("this kernel does not let a process reset its peak RSS (/proc/self/clear_refs)")
    assert peak_rss_mb() < high - 150


@pytest.mark.integration
def test_the_speculative_section_runs_and_prints_on_the_small_model(tmp_path):
    """`bench perf --speculative` on SmolLM2: off and one mode on the same encounter, each on a server of its own,
    printed side by side with what each role generated, the drafts kept, memory and whether the text changed."""
    import os
    import re

    out = tmp_path / "perf.json"
    env = {
        **os.environ,
        "CLINSIM_EMBEDDED__MODEL": "smollm2-135m",
        "CLINSIM_EMBEDDED__N_CTX": "1792",
        "CLINSIM_RETRIEVAL__ENABLED": "false",
        "CLINSIM_ENCOUNTER__LLM_JUDGE": "false",
        "COLUMNS": "250",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim.cli.main",
            "--data-dir",
            str(tmp_path / "data"),
            "bench",
            "perf",
            "--smoke",
            "--only",
            "speculative",
            "--speculative",
            "ngram-mod",
            "--rounds",
            "1",
            "--episodes",
            "1",
            "--json",
            str(out),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (
        "speculative decoding: 1 round(s) x 1 encounters per arm" in done.stdout and "same text as off" in done.stdout
    )
    assert re.search(r"│ ngram-mod +│ +[\d.]+ │", done.stdout), done.stdout  # its row, with its median
    section = json.loads(out.read_text(encoding="utf-8"))["speculative"]
    assert [arm["label"] for arm in section["arms"]] == ["off", "ngram-mod"]  # off added: every ratio needs it
    off, mode = section["arms"]
    assert "[speculative" not in off["model"] and mode["model"].endswith(
        "[speculative ngram-mod n-match=24 n-min=48 n-max=64]"
    )
    for arm in (off, mode):
        assert arm["errors"] == 0 and arm["encounter_s"]["n"] == 1 and arm["server_peak_rss_mb"] > 50
        assert arm["by_role"]["doctor"]["gen_tokens"] > 0 and arm["by_role"]["patient"]["gen_tokens_per_s"] > 0
    assert off["behaviour"]["compared"] == 0 and mode["behaviour"]["compared"] == 1  # off: no second round to compare
    assert off["ratio_to_off"] == 1.0 and mode["ratio_to_off"] > 0
    assert off["draft_tokens"] == 0 and off["draft_acceptance"] is None
    assert 0 <= mode["draft_accepted"] <= mode["draft_tokens"]
