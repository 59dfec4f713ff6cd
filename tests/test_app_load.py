"""Eight people use one app at once (gradio_client users against a real app): each sits in the doctor's
seat of an encounter of their own, with the embedded llama.cpp model as the patient, a real Chroma store
behind the retrieval panel (pixel embedder: nothing to train) and the rule judge. Each runs an encounter to
its verdict; nothing of one user's encounter (their words, their case's film, the patient's answers to
them, their verdict) appears in another's view; each encounter is saved once under its own thread.

The time of each doctor turn, and of one user alone just before, is written to test-output/app-load.json
(docs/app.md reports it)."""

from __future__ import annotations

import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.core.records import read_records
from tests.app_support import free_port, make_bank, named

USERS = 8
REPO = Path(__file__).resolve().parents[1]
FAST = {
    "retrieval.image_embedder": "pixels",
    "retrieval.text_embedder": "tfidf",
    "roles.patient.max_tokens": 40,
    "encounter.llm_judge": False,
}


def _text(message: dict) -> str:
    return " ".join(
        part["text"] for part in message["content"] if isinstance(part, dict) and part.get("type") == "text"
    )


def _files(message: dict) -> list[str]:
    return [part["file"] for part in message["content"] if isinstance(part, dict) and part.get("type") == "file"]


@pytest.mark.integration
def test_eight_users_at_once_each_see_only_their_own_encounter(tmp_path, monkeypatch):
    from gradio_client import Client

    from sim.app.server import launch_app
    from sim.cli.main import app as cli
    from sim.core.config import load_settings

    data = tmp_path / "data"
    bank = make_bank(data, n=USERS)
    for key, value in FAST.items():
        monkeypatch.setenv("CLINSIM_" + key.upper().replace(".", "__"), str(value))
    ingested = CliRunner().invoke(
        cli, ["--data-dir", str(data), "store", "ingest", str(data / "bank"), "--kind", "bank"]
    )
    assert ingested.exit_code == 0, ingested.output
    settings = load_settings(None, {"data_dir": str(data), **FAST})
    served = launch_app(settings, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:

        def user(index: int) -> dict:
            case = bank[index]
            client = Client(served.url, verbose=False)
            marker = f"user{index}"
            timings = {}
            screen = named(
                client.predict(
                    "bank", None, case.id, ["doctor"], "embedded", "embedded", "embedded", "", api_name="/start"
                )
            )
            thread = screen["thread"]
            for action, api, text in (
                ("ask", "/ask", f"Tell me, {marker}, how long has this been going on?"),
                ("image", "/request_image", "chest x-ray"),
                ("diagnose", "/diagnose", case.diagnosis.name),
            ):
                started = time.perf_counter()
                screen = named(client.predict(thread, text, api_name=api))
                timings[action] = time.perf_counter() - started
            return {"case": case, "thread": thread, "marker": marker, "screen": screen, "timings": timings}

        solo = user(0)  # one user alone first: the baseline the shared times are read against
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=USERS) as pool:
            views = list(pool.map(user, range(USERS)))
        wall = time.perf_counter() - started
    finally:
        served.close()

    markers = [v["marker"] for v in views]
    for view in views:
        case, chat = view["case"], view["screen"]["chat"]
        words = " ".join(_text(message) for message in chat)
        assert view["marker"] in words and not [m for m in markers if m != view["marker"] and m in words], words
        films = [Path(f["path"] if isinstance(f, dict) else f).name for m in chat for f in _files(m)]
        assert films and all(name.startswith(case.id) for name in films), (case.id, films)
        assert "### Result: Correct" in view["screen"]["result"] and case.diagnosis.name in view["screen"]["result"]
        gallery = view["screen"]["gallery"]
        gallery = gallery["value"] if isinstance(gallery, dict) else gallery
        assert gallery, "the retrieval panel shows the similar cases of this user's film"
    assert len({v["thread"] for v in views}) == USERS
    records = [r for path in (data / "app" / "runs").glob("*/episodes.jsonl") for r in read_records(path)]
    assert sorted(r.episode_id for r in records) == sorted(f"{v['case'].id}:{v['thread']}" for v in [solo, *views])
    for view in views:
        record = next(r for r in records if r.episode_id.endswith(view["thread"]))
        doctor_words = " ".join(t.text for t in record.turns if t.role == "doctor")
        assert view["marker"] in doctor_words and record.case_id == view["case"].id

    turns = sorted(t for v in views for t in v["timings"].values())
    asks = sorted(v["timings"]["ask"] for v in views)
    figures = {
        "users": USERS,
        "wall_s": round(wall, 1),
        "doctor_turns": len(turns),
        "turn_p50_s": round(statistics.median(turns), 2),
        "turn_p95_s": round(turns[int(0.95 * (len(turns) - 1))], 2),
        "ask_p50_s": round(statistics.median(asks), 2),
        "ask_max_s": round(asks[-1], 2),
        "solo_ask_s": round(solo["timings"]["ask"], 2),
        "solo_turns_s": [round(x, 2) for x in solo["timings"].values()],
        "model": settings.embedded.model,
    }
    out = REPO / "test-output"
    out.mkdir(exist_ok=True)
    (out / "app-load.json").write_text(json.dumps(figures, indent=2))
    print("\napp load:", figures)
