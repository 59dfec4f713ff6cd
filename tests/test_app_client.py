"""The web app through its API (gradio_client) against scripted agents: a whole encounter as the doctor,
resuming after a restart, replay, and what the server refuses to serve."""

from __future__ import annotations

import http.client
import urllib.request
from urllib.error import HTTPError
from urllib.parse import urlparse

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from tests.app_support import PATIENT_SAYS, launch, make_bank, named

START_ARGS = ("bank", None)  # case source, uploaded file
MODELS = ("embedded",) * 3  # doctor, patient, judge: ignored by the scripted runner factory
DOCTOR_SCRIPT = ["ASK: Where is the pain?", "IMAGE: chest x-ray", "DIAGNOSIS: Pneumonia"]  # when no human doctor


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("app")
    bank = make_bank(root / "data")
    return root, bank


@pytest.fixture(scope="module")
def served(world):
    root, bank = world
    app = launch(root, bank, doctor_script=DOCTOR_SCRIPT)
    yield app
    app.close()


def _text(message: dict) -> str:
    content = message["content"]
    return " ".join(part["text"] for part in content if isinstance(part, dict) and part.get("type") == "text")


def _value(output):
    """A component's value whether the handler returned it plainly or as an update."""
    return output["value"] if isinstance(output, dict) and output.get("__type__") == "update" else output


def _files(message: dict) -> list[str]:
    return [part["file"] for part in message["content"] if isinstance(part, dict) and part.get("type") == "file"]


def test_a_whole_encounter_as_the_doctor(served, world):
    _, bank = world
    case = bank[0]
    client = Client(served.url, verbose=False)
    screen = named(client.predict(*START_ARGS, case.id, ["doctor"], *MODELS, "", api_name="/start"))
    thread = screen["thread"]
    assert screen["chat"] == [] and "Your turn: the doctor" in screen["status"]

    screen = named(client.predict(thread, "How long have you been unwell?", api_name="/ask"))
    assert _text(screen["chat"][0]) == "**Doctor** (you): How long have you been unwell?"
    assert PATIENT_SAYS in _text(screen["chat"][1])

    screen = named(client.predict(thread, "complete blood count", api_name="/request_test"))
    result = _text(screen["chat"][3])
    assert result.startswith("**Measurement**:") and "Not available" not in result, result

    screen = named(client.predict(thread, "chest x-ray", api_name="/request_image"))
    image_turn = screen["chat"][5]
    assert _text(image_turn).startswith("**Measurement**:") and _files(image_turn), image_turn
    gallery = _value(screen["gallery"])
    assert gallery and gallery[0]["caption"] == f"{bank[1].diagnosis.name} · similarity 0.90"
    assert "out of distribution" in screen["retrieval"]
    assert "Retrieval" in screen["chat"][6]["metadata"]["title"]

    screen = named(client.predict(thread, f"1. {case.diagnosis.name}\n2. Pneumonia", api_name="/diagnose"))
    assert "### Result: Correct" in screen["result"]
    assert case.diagnosis.name in screen["result"] and "**Top-1 correct:** yes" in screen["result"]
    episodes = served.paths.runs / thread[:8] / "episodes.jsonl"
    assert episodes.is_file() and f"{case.id}:{thread}" in episodes.read_text()

    # Replay finds the run and steps through the episode.
    run = _value(client.predict(api_name="/replay_runs"))
    assert run == f"app/runs/{thread[:8]}"
    episode = f"{case.id}:{thread}"
    first = client.predict(run, episode, 0, api_name="/replay_open")
    assert _value(first[0]) == 1 and len(first[2]) == 1 and "turn 1 of 9: Doctor" in first[1]
    second = client.predict(run, episode, _value(first[0]), api_name="/replay_next")
    assert _value(second[0]) == 2 and PATIENT_SAYS in _text(second[2][1]) and not second[5]
    last = client.predict(run, episode, _value(second[0]), api_name="/replay_last")
    assert "### Result: Correct" in last[5] and last[3]  # retrieved cases of the image turn


def test_human_patient_and_measurement_seats_with_an_uploaded_image(served, world, tmp_path):
    _, bank = world
    client = Client(served.url, verbose=False)
    screen = named(client.predict(*START_ARGS, bank[2].id, ["patient", "measurement"], *MODELS, "", api_name="/start"))
    thread = screen["thread"]
    assert "The doctor asks: **Where is the pain?**" in screen["request"]

    screen = named(client.predict(thread, "Low on the left side.", None, api_name="/reply"))
    assert "requests the image: **chest x-ray**" in screen["request"] and "lookup says" in screen["request"]
    assert _value(screen["suggestion"])  # the case's radiograph, offered to accept

    not_an_image = tmp_path / "scan.png"
    not_an_image.write_text("#!/bin/sh\necho not an image\n")
    with pytest.raises(AppError, match="not an image"):
        client.predict(thread, "Here it is.", handle_file(str(not_an_image)), api_name="/reply")

    own = tmp_path / "own.png"
    Image.new("L", (64, 64), 128).save(own)
    screen = named(client.predict(thread, "PA film, my own.", handle_file(str(own)), api_name="/reply"))
    measurement = screen["chat"][3]
    assert _text(measurement) == "**Measurement** (you): PA film, my own." and _files(measurement)
    assert "### Result: Incorrect" in screen["result"]  # the scripted doctor says pneumonia
    stored = list(served.paths.files.glob("*.png"))
    assert stored and all(p.read_bytes() != not_an_image.read_bytes() for p in stored)


def test_case_uploads_are_checked(served, world, tmp_path):
    root, _ = world
    client = Client(served.url, verbose=False)
    wrong = tmp_path / "cases.txt"
    wrong.write_text("{}\n")
    with pytest.raises(AppError, match=r"\.jsonl"):  # Gradio's own file-type check, then ours
        client.predict("upload", handle_file(str(wrong)), api_name="/list_cases")
    good = tmp_path / "mine.jsonl"
    good.write_bytes((root / "data" / "bank" / "cases.jsonl").read_bytes())
    _choices, note, _ = client.predict("upload", handle_file(str(good)), api_name="/list_cases")
    assert note.startswith("4 cases")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "x"}\n')
    _, note, _ = client.predict("upload", handle_file(str(broken)), api_name="/list_cases")
    assert "Cannot use these cases" in note and "broken.jsonl:1" in note


def test_a_reload_or_a_restart_resumes_the_thread(world):
    root, bank = world
    app = launch(root, bank, doctor_script=DOCTOR_SCRIPT)
    client = Client(app.url, verbose=False)
    thread = named(client.predict(*START_ARGS, bank[1].id, ["doctor"], *MODELS, "", api_name="/start"))["thread"]
    client.predict(thread, "Any fever?", api_name="/ask")
    app.close()

    restarted = launch(
        root, bank, doctor_script=DOCTOR_SCRIPT
    )  # a new process would see the same: spec + checkpoint on disk
    try:
        client = Client(restarted.url, verbose=False)
        screen = named(client.predict(thread, api_name="/resume"))
        assert len(screen["chat"]) == 2 and "Your turn: the doctor (turn 2" in screen["status"]
        screen = named(client.predict(thread, bank[1].diagnosis.name, api_name="/diagnose"))
        assert "### Result: Correct" in screen["result"]
        assert named(client.predict("../../etc", api_name="/resume"))["chat"] == []  # not a thread id
    finally:
        restarted.close()


def _get(url: str, path: str) -> int:
    """Status of a GET sent exactly as written (http.client does not normalise '..' away)."""
    parts = urlparse(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def test_only_files_inside_the_data_directory_are_served(served, world):
    root, bank = world
    image = (root / "data" / "bank" / bank[0].images[0].path).resolve()
    assert _get(served.url, f"/gradio_api/file={image}") == 200  # the control: data-dir files are served
    assert _get(served.url, "/gradio_api/file=/etc/passwd") == 403
    assert _get(served.url, f"/gradio_api/file={image.parent}/../../../../../../etc/passwd") == 403
    assert _get(served.url, f"/gradio_api/file={image.parent}/%2e%2e/%2e%2e/{image.parent.name}/{image.name}") == 403
    assert _get(served.url, f"/gradio_api/file={served.paths.private}/browser-state.key") == 403
    assert _get(served.url, "/gradio_api/file=https://example.com/x.png") == 403
    assert _get(served.url, "/gradio_api/proxy=https://example.com/x") == 403


def test_with_auth_unauthenticated_requests_are_refused(world):
    root, bank = world
    app = launch(root, bank, auth=("doctor", "s3cret:pass"))
    try:
        image = (root / "data" / "bank" / bank[0].images[0].path).resolve()
        for path in ("/config", "/gradio_api/info", f"/gradio_api/file={image}"):
            with pytest.raises(HTTPError) as refused:
                urllib.request.urlopen(app.url + path, timeout=10)
            assert refused.value.code in (401, 403), path
        with pytest.raises(Exception):  # noqa: B017 - gradio_client raises a bare Exception without the login
            Client(app.url, verbose=False)
        client = Client(app.url, auth=("doctor", "s3cret:pass"), verbose=False)
        screen = named(client.predict(*START_ARGS, bank[0].id, ["doctor"], *MODELS, "", api_name="/start"))
        assert "Your turn: the doctor" in screen["status"]
    finally:
        app.close()
