"""A doctor that sees (issue 33): the images the measurement desk returns go to the doctor's model as OpenAI
image content parts, never to the patient or the judge; NEJM cases take their images from a local folder.

The servers here are scripted OpenAI-compatible endpoints on loopback (tests/fault_server.py) that record every
request body: what a vision model would receive, not what one would make of it (no vision model runs here).
"""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from agents.doctor import doctor_messages
from agents.llm.base import LLMError, Message
from agents.llm.images import encode_image
from agents.llm.openai_compat import OpenAICompatModel
from agents.protocol import View
from benchmark.ablation import AXES, ablation_arms
from sim.cli.common import ExitCode
from sim.cli.main import app
from sim.core.actions import Ask, RequestImage
from sim.core.case import Diagnosis
from sim.core.config import load_settings
from sim.core.errors import InputError
from sim.core.records import read_records
from sim.core.transcript import Turn
from sim.loaders import read_cases
from sim.loaders.images import url_file_names
from tests.fault_server import FaultServer
from tests.helpers import small_case

DATA_URL = re.compile(r"^data:image/(png|jpeg|webp|gif);base64,([A-Za-z0-9+/=]+)$")
MAX_SIDE = 64
IMAGE_TOKENS = 500  # what the scripted doctor server reports for each image it was sent


@pytest.fixture
def servers():
    """Scripted OpenAI-compatible servers on loopback, stopped when the test ends."""
    started: list[FaultServer] = []

    def start(**options) -> FaultServer:
        server = FaultServer(**options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def image_parts(body: dict) -> list[dict]:
    """Every image content part of one request body, in order."""
    return [
        part
        for message in body.get("messages", [])
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if part.get("type") == "image_url"
    ]


def decoded(part: dict) -> Image.Image:
    match = DATA_URL.match(part["image_url"]["url"])
    assert match, part["image_url"]["url"][:80]
    return Image.open(io.BytesIO(base64.b64decode(match.group(2), validate=True)))


def reported_tokens(messages: list[dict]) -> int:
    """A vision server counts the tokens of the images it was shown; so does this one."""
    return 10 + IMAGE_TOKENS * sum(
        1
        for m in messages
        if isinstance(m.get("content"), list)
        for part in m["content"]
        if part.get("type") == "image_url"
    )


def doctor_script(first: str, diagnosis: str = "Pneumonia"):
    """The doctor's server: `first` on its first turn, an examination on its second, then its diagnosis (the
    private notes before it are the same line)."""

    def reply(messages: list[dict]) -> str:
        turns = sum(1 for m in messages if m.get("role") == "assistant")
        return first if turns == 0 else "TEST: Chest examination" if turns == 1 else f"DIAGNOSIS: {diagnosis}"

    return reply


def picture(path: Path, size: tuple[int, int] = (300, 200)) -> Path:
    """A radiograph-like greyscale picture (a bright disc on a gradient) larger than MAX_SIDE."""
    image = Image.linear_gradient("L").resize(size)
    image.paste(255, (size[0] // 3, size[1] // 3, size[0] // 2, size[1] // 2))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def case_file(tmp_path: Path) -> tuple[Path, Path]:
    """A native case file with one chest X-ray (300 x 200) whose truth the rules cannot settle for
    'Pneumonia', so the judge model is asked."""
    image = picture(tmp_path / "cases" / "images" / "cxr.png")
    case = small_case("images/cxr.png").model_copy(update={"diagnosis": Diagnosis(name="Right lower lobe pneumonia")})
    path = tmp_path / "cases" / "cases.jsonl"
    path.write_text(case.model_dump_json() + "\n", encoding="utf-8")
    return path, image


def config_file(tmp_path: Path, doctor: FaultServer, patient: FaultServer, judge: FaultServer, **doctor_extra) -> Path:
    extra = "".join(f"{key} = {json.dumps(value)}\n" for key, value in doctor_extra.items())
    text = (
        f'data_dir = "{tmp_path / "data"}"\n'
        f'[roles.doctor]\nbackend = "openai"\nbase_url = "{doctor.base_url}"\nmax_retries = 0\nvision = true\n'
        f"image_max_side = {MAX_SIDE}\n{extra}"
        f'[roles.patient]\nbackend = "openai"\nbase_url = "{patient.base_url}"\nmax_retries = 0\n'
        f'[roles.judge]\nbackend = "openai"\nbase_url = "{judge.base_url}"\nmax_retries = 0\n'
        "[retrieval]\nenabled = false\n[encounter]\nturn_cap = 5\ndesk_semantic = false\n"
    )
    path = tmp_path / "clinsim.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run_one(config: Path, cases: Path, out: Path, *more: str):
    return CliRunner().invoke(
        app, ["--config", str(config), "run", "--cases", str(cases), "--out", str(out), *more], env={"COLUMNS": "200"}
    )


# --- an encounter end to end, every role on a scripted server -------------------------------------------------


def test_the_doctor_sees_the_image_in_the_turn_it_arrives_and_no_one_else_does(servers, tmp_path):
    doctor = servers(reply=doctor_script("IMAGE: chest X-ray"), prompt_tokens=reported_tokens)
    patient = servers(reply=lambda messages: "I have had a cough and a fever for four days.")
    judge = servers(reply=lambda messages: "VERDICT: incorrect\nREASON: not specific")
    cases, image = case_file(tmp_path)
    result = run_one(config_file(tmp_path, doctor, patient, judge), cases, tmp_path / "run")
    assert result.exit_code == 0, result.output

    # The doctor's first request (before any imaging) has no image; every request after the imaging turn has
    # the one radiograph, as a data URL after the result's text, within the size limit.
    first, *later = doctor.bodies
    assert image_parts(first) == [] and len(later) >= 3
    for body in later:
        parts = image_parts(body)
        assert len(parts) == 1, body
        sent = decoded(parts[0])
        assert max(sent.size) == MAX_SIDE and sent.size == (64, 43)  # 300 x 200 scaled, proportions kept
        carrier = next(m for m in body["messages"] if isinstance(m["content"], list))
        assert carrier["role"] == "user" and carrier["content"][0]["type"] == "text"
        assert "Result: chest X-ray PA: acquired (image attached)." in carrier["content"][0]["text"]
    assert "look at each one yourself" in first["messages"][0]["content"]  # the doctor is told it sees

    # The patient and the judge were asked, and never got an image (nor any content list).
    assert patient.bodies and judge.bodies
    for body in patient.bodies + judge.bodies:
        assert "image_url" not in json.dumps(body) and all(isinstance(m["content"], str) for m in body["messages"])

    # The record says which images each call carried, and the tokens the server reported for them.
    record = read_records(tmp_path / "run" / "episodes.jsonl")[0]
    assert record.termination == "diagnosed" and record.verdict is not None
    desk = next(t for t in record.turns if t.role == "measurement" and t.images)
    assert desk.images == [str(image)]
    calls = [(turn.index, call) for turn in record.turns for call in turn.calls]
    doctor_calls = [call for index, call in calls if call.role == "doctor"]
    assert len(doctor_calls) == len(doctor.bodies)
    assert doctor_calls[0].images == [] and doctor_calls[0].tokens_in == 10
    for call in doctor_calls[1:]:
        assert call.images == [str(image)] and call.tokens_in == 10 + IMAGE_TOKENS
    assert all(call.images == [] for _, call in calls if call.role != "doctor")
    assert record.totals.by_role["doctor"]["tokens_in"] == 10 * len(doctor_calls) + IMAGE_TOKENS * (
        len(doctor_calls) - 1
    )


def test_without_keep_images_only_the_newest_message_carries_its_image(servers, tmp_path):
    doctor = servers(reply=doctor_script("IMAGE: chest X-ray"))
    patient = servers(reply=lambda messages: "I have had a cough.")
    judge = servers(reply=lambda messages: "VERDICT: incorrect\nREASON: vague")
    cases, image = case_file(tmp_path)
    config = config_file(tmp_path, doctor, patient, judge, keep_images=False)
    result = run_one(config, cases, tmp_path / "run")
    assert result.exit_code == 0, result.output
    record = read_records(tmp_path / "run" / "episodes.jsonl")[0]
    per_turn = [(turn.text, [call.images for call in turn.calls]) for turn in record.turns if turn.role == "doctor"]
    assert per_turn[0][1] == [[]]  # IMAGE: chest X-ray
    assert per_turn[1][1] == [[str(image)]]  # the turn the image arrived in
    assert all(images == [] for _, calls in per_turn[2:] for images in calls)  # later turns: the text only
    assert [len(image_parts(body)) for body in doctor.bodies] == [0, 1] + [0] * (len(doctor.bodies) - 2)


def test_a_server_that_refuses_images_is_an_error_naming_the_setting(servers, tmp_path):
    """HTTP 400 for a request with an image (a model that reads text only): the episode ends in error, its
    cause naming roles.doctor.vision; `clinsim llm check` finds it before a run, at the setting's line."""
    doctor = servers(mode="400", fault_when=lambda text: "image_url" in text, reply=doctor_script("IMAGE: chest X-ray"))
    patient = servers(reply=lambda messages: "I have had a cough.")
    judge = servers(reply=lambda messages: "VERDICT: incorrect\nREASON: vague")
    cases, _ = case_file(tmp_path)
    config = config_file(tmp_path, doctor, patient, judge)
    result = run_one(config, cases, tmp_path / "run")
    assert result.exit_code == ExitCode.EPISODE_ERRORS, result.output
    record = read_records(tmp_path / "run" / "episodes.jsonl")[0]
    assert record.termination == "error"
    assert record.error.startswith("doctor: roles.doctor.vision: BadRequestError (HTTP 400)"), record.error
    assert doctor.base_url in record.error and "set roles.doctor.vision = false" in record.error
    assert doctor.faults == 1  # a refusal is not retried
    assert not any("image_url" in json.dumps(body) for body in patient.bodies + judge.bodies)

    check = CliRunner().invoke(
        app, ["--config", str(config), "llm", "check", "--role", "doctor"], env={"COLUMNS": "250"}
    )
    assert check.exit_code == 1, check.output
    line = config.read_text().splitlines().index("vision = true") + 1
    assert f"{config}:{line}: roles.doctor.vision: BadRequestError (HTTP 400)" in check.output, check.output
    assert len(image_parts(doctor.bodies[-1])) == 1  # the check sent a picture


def test_a_benchmark_stops_at_the_first_refused_image_instead_of_failing_every_episode(servers, tmp_path):
    """A server that refuses images refuses them in every episode: the run stops after the first (exit 4,
    the cause naming roles.doctor.vision) instead of recording the same error for each case."""
    doctor = servers(mode="400", fault_when=lambda text: "image_url" in text, reply=doctor_script("IMAGE: chest X-ray"))
    patient = servers(reply=lambda messages: "I have had a cough.")
    judge = servers(reply=lambda messages: "VERDICT: incorrect\nREASON: vague")
    one, _ = case_file(tmp_path)
    case = json.loads(one.read_text())
    lines = [json.dumps({**case, "id": f"{case['id']}-{n}"}) for n in range(4)]
    cases = one.with_name("four.jsonl")
    cases.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = config_file(tmp_path, doctor, patient, judge)
    result = CliRunner().invoke(
        app,
        ["--config", str(config), "bench", "run", "--cases", str(cases), "--out", str(tmp_path / "bench")],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == ExitCode.STOPPED, result.output
    assert "run stopped: doctor: roles.doctor.vision" in " ".join(result.output.split())
    assert len(read_records(tmp_path / "bench" / "episodes.jsonl")) == 1 and doctor.faults == 1


def test_llm_check_sends_the_doctor_a_picture_and_the_others_none(servers, tmp_path):
    doctor = servers(reply=lambda messages: "A white disc on black.")
    patient = servers(reply=lambda messages: "Fine.")
    judge = servers(reply=lambda messages: "Fine.")
    config = config_file(tmp_path, doctor, patient, judge)
    check = CliRunner().invoke(app, ["--config", str(config), "llm", "check"], env={"COLUMNS": "250"})
    assert check.exit_code == 0, check.output
    assert [len(image_parts(body)) for body in doctor.bodies] == [1]
    assert decoded(image_parts(doctor.bodies[0])[0]).size == (64, 64)
    assert all(image_parts(body) == [] for body in patient.bodies + judge.bodies) and patient.bodies and judge.bodies


# --- the settings ----------------------------------------------------------------------------------------------


def test_vision_is_off_by_default_and_refused_for_the_embedded_model(tmp_path, monkeypatch):
    assert load_settings(None, {}).roles.doctor.vision is False

    monkeypatch.setenv("CLINSIM_ROLES__DOCTOR__VISION", "true")
    with pytest.raises(InputError) as refused:
        load_settings(None, {})
    (problem,) = refused.value.problems
    assert problem.file == "$CLINSIM_ROLES__DOCTOR__VISION" and problem.field == "roles.doctor.vision"
    assert "embedded backend cannot take images" in problem.message
    openai = {"roles.doctor.backend": "openai", "roles.doctor.base_url": "http://127.0.0.1:9/v1"}
    assert load_settings(None, openai).roles.doctor.vision is True  # the environment's vision, on a server
    monkeypatch.delenv("CLINSIM_ROLES__DOCTOR__VISION")

    config = tmp_path / "clinsim.toml"
    config.write_text('[roles.doctor]\nmodel = "x"\nvision = true\n', encoding="utf-8")
    with pytest.raises(InputError) as located:
        load_settings(config, {})
    assert str(located.value.problems[0]).startswith(f"{config}:3: roles.doctor.vision: the embedded backend")

    assert load_settings(None, {"roles.doctor.backend": "scripted", "roles.doctor.vision": True}).roles.doctor.vision


@pytest.mark.parametrize("role", ["patient", "judge"])
def test_only_the_doctor_may_see(role):
    with pytest.raises(InputError) as refused:
        load_settings(None, {f"roles.{role}.backend": "scripted", f"roles.{role}.vision": True})
    (problem,) = refused.value.problems
    assert problem.field == f"roles.{role}" and "only the doctor is shown images" in problem.message


def test_the_flag_sets_the_doctor_s_vision():
    from sim.cli.options import ModelFlags

    flags = ModelFlags(
        doctor_model="m@http://127.0.0.1:9/v1", patient_model=None, judge_model=None, turn_cap=None, doctor_vision=True
    )
    assert flags.overrides()["roles.doctor.vision"] is True
    unset = ModelFlags(doctor_model=None, patient_model=None, judge_model=None, turn_cap=None, doctor_vision=None)
    assert "roles.doctor.vision" not in unset.overrides()
    result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert "--doctor-vision" in result.output and "--image-dir" in result.output


def test_the_vision_axis_gives_four_arms_with_retrieval():
    assert "vision" in AXES
    arms = ablation_arms(["vision", "retrieval"], {})
    assert [name for name, _ in arms] == [
        "vision-off+retrieval-off",
        "vision-off+retrieval-on",
        "vision-on+retrieval-off",
        "vision-on+retrieval-on",
    ]
    assert [o["roles.doctor.vision"] for _, o in arms] == [False, False, True, True]
    assert [o["retrieval.enabled"] for _, o in arms] == [False, True, False, True]


# --- the doctor's messages and the backend ------------------------------------------------------------------


def _view(image: str) -> View:
    turns = [
        Turn(index=0, role="doctor", text="IMAGE: chest X-ray", action=RequestImage(name="chest X-ray")),
        Turn(index=1, role="measurement", text="chest X-ray PA: acquired (image attached).", images=[image]),
        Turn(index=2, role="doctor", text="ASK: Any fever?", action=Ask(text="Any fever?")),
        Turn(index=3, role="patient", text="Yes, since Monday."),
    ]
    return View(transcript=turns, doctor_turns=2, turn_cap=10)


def test_doctor_messages_attach_images_to_their_result_and_keep_them_by_setting():
    view = _view("/cases/cxr.png")
    assert all(m.images == [] for m in doctor_messages(view, "system"))  # vision off: text only
    kept = doctor_messages(view, "system", vision=True)
    assert [m.images for m in kept] == [[], [], [], ["/cases/cxr.png"], [], []]
    assert kept[3].content.startswith("Result: chest X-ray PA")
    assert all(m.images == [] for m in doctor_messages(view, "system", vision=True, keep_images=False))
    arrived = View(transcript=view.transcript[:2], doctor_turns=1, turn_cap=10)
    assert doctor_messages(arrived, "system", vision=True, keep_images=False)[-1].images == ["/cases/cxr.png"]


def test_images_are_refused_by_a_model_without_vision_before_anything_is_sent(servers, tmp_path):
    server = servers()
    image = str(picture(tmp_path / "x.png"))
    blind = OpenAICompatModel(server.base_url, max_retries=0)
    with pytest.raises(LLMError, match="roles.doctor.vision is off"):
        blind.complete([Message(role="user", content="Look.", images=[image])])
    assert server.bodies == []
    seeing = OpenAICompatModel(server.base_url, max_retries=0, vision=True, image_max_side=100)
    with pytest.raises(LLMError, match="cannot be read"):
        seeing.complete([Message(role="user", content="Look.", images=[str(tmp_path / "cases.jsonl")])])
    (tmp_path / "cases.jsonl").write_text("{}")
    with pytest.raises(LLMError, match="not a readable image"):
        seeing.complete([Message(role="user", content="Look.", images=[str(tmp_path / "cases.jsonl")])])
    assert server.bodies == []
    seeing.complete([Message(role="user", content="Look.", images=[image])])
    assert decoded(image_parts(server.bodies[0])[0]).size == (100, 67)


def test_encoding_keeps_small_images_as_they_are_and_scales_large_ones(tmp_path):
    small = picture(tmp_path / "small.png", (40, 30))
    sent = encode_image(str(small), 64)
    assert sent.url == "data:image/png;base64," + base64.b64encode(small.read_bytes()).decode()
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (1500, 4000), (200, 120, 90)).save(photo)
    scaled = encode_image(str(photo), 512)
    assert scaled.mime == "image/jpeg" and (scaled.width, scaled.height) == (192, 512)
    assert decoded({"image_url": {"url": scaled.url}}).format == "JPEG"
    deep = tmp_path / "16bit.png"
    Image.fromarray(np.arange(1000, 7400, dtype=np.uint16).reshape(80, 80)).save(deep)
    grey = decoded({"image_url": {"url": encode_image(str(deep), 64).url}})
    assert grey.mode == "L" and grey.getextrema() == (0, 255)  # stretched to 8 bits, not clipped to white


# --- NEJM images from a local folder -------------------------------------------------------------------------


def nejm_row(image_url: str, question: str = "A 55-year-old woman has dark patches on her face. What is it?") -> dict:
    return {
        "image_url": image_url,
        "question": question,
        "patient_info": "For your role as a patient, you are a 55-year-old woman with dark patches on your face.",
        "physical_exams": "Bluish-brown patches on the cheeks.",
        "answers": [{"text": "Exogenous ochronosis", "correct": True}, {"text": "Melasma", "correct": False}],
    }


def nejm_file(tmp_path: Path, urls: list[str]) -> Path:
    path = tmp_path / "nejm.jsonl"
    path.write_text(
        "".join(json.dumps(nejm_row(url, f"Case {i}: dark patches. What is it?")) + "\n" for i, url in enumerate(urls)),
        encoding="utf-8",
    )
    return path


def test_url_file_names():
    assert url_file_names("https://csvc.nejm.org/ContentServer/images?id=IC20240111&width=1500&height=4000") == [
        "IC20240111"
    ]
    assert url_file_names("https://example.org/cases/rash%201.jpg?size=large") == ["rash 1.jpg"]
    assert url_file_names("https://example.org/cases/") == []


def test_nejm_images_from_a_folder_by_url_name_and_by_case_id(tmp_path):
    urls = [
        "https://csvc.nejm.org/ContentServer/images?id=IC20240111&width=1500",
        "https://example.org/figures/face.jpeg",
        "https://example.org/figures/other.png",
    ]
    path = nejm_file(tmp_path, urls)
    folder = tmp_path / "images"
    picture(folder / "IC20240111.JPG")  # by the URL's id, whatever the letter case of its suffix
    picture(folder / "face.jpeg")  # by the URL's file name
    plain = read_cases(path, image_cache=tmp_path / "cache")
    third = plain.cases[2].id
    picture(folder / f"{third}.png")  # by the case id
    result = read_cases(path, image_dir=folder, image_cache=tmp_path / "cache")
    assert result.problems == [] and result.skipped == []
    assert [Path(c.images[0].path).name for c in result.cases] == ["IC20240111.JPG", "face.jpeg", f"{third}.png"]
    assert all(c.images[0].available and c.images[0].url == url for c, url in zip(result.cases, urls, strict=True))
    assert [c.id for c in result.cases] == [c.id for c in plain.cases]  # the folder changes no case id


def test_a_missing_image_is_a_located_problem_or_with_the_flag_a_skipped_case(tmp_path):
    path = nejm_file(tmp_path, ["https://example.org/a.png", "https://example.org/b.png"])
    folder = tmp_path / "images"
    picture(folder / "a.png")
    result = read_cases(path, image_dir=folder)
    assert len(result.cases) == 1 and len(result.problems) == 1 and result.skipped == []
    problem = result.problems[0]
    assert (problem.file, problem.line, problem.field) == (str(path), 2, "image_url")
    assert "no image file for this case" in problem.message and "b.png.*" in problem.message
    assert "--skip-missing-images" in problem.message

    skipping = read_cases(path, image_dir=folder, missing_images="skip")
    assert skipping.problems == [] and len(skipping.cases) == 1
    (skipped,) = skipping.skipped
    missing_id = read_cases(path).cases[1].id
    assert (skipped.case_id, skipped.file, skipped.line, skipped.field) == (missing_id, str(path), 2, "image_url")
    assert str(skipped).startswith(f"{path}:2: image_url: case {missing_id} skipped: no image file for this case")


def test_an_ambiguous_image_name_and_a_missing_folder_are_problems(tmp_path):
    path = nejm_file(tmp_path, ["https://example.org/scan?id=IC1"])
    folder = tmp_path / "images"
    picture(folder / "IC1.png")
    picture(folder / "IC1.jpg")
    for missing in ("error", "skip"):  # not a missing file: the folder must be put right, even when skipping
        result = read_cases(path, image_dir=folder, missing_images=missing)
        assert result.cases == [] and result.skipped == []
        assert "2 files in" in result.problems[0].message and result.problems[0].field == "image_url"
    with pytest.raises(InputError) as no_folder:
        read_cases(path, image_dir=tmp_path / "nowhere")
    assert no_folder.value.problems[0].field == "image_dir"


def test_the_cli_stops_at_a_missing_image_or_skips_it(tmp_path):
    path = nejm_file(tmp_path, ["https://example.org/a.png", "https://example.org/b.png"])
    folder = tmp_path / "images"
    picture(folder / "a.png")
    args = [
        "--data-dir",
        str(tmp_path / "data"),
        "run",
        "--cases",
        str(path),
        "--image-dir",
        str(folder),
        "--doctor-model",
        "scripted",
        "--patient-model",
        "scripted",
        "--judge-model",
        "scripted",
    ]
    stopped = CliRunner().invoke(app, args, env={"COLUMNS": "250"})
    assert stopped.exit_code == 1
    assert f"{path}:2: image_url: no image file for this case in {folder}" in stopped.output
    skipped = CliRunner().invoke(
        app,
        [*args, "--skip-missing-images", "--turn-cap", "1"],
        env={
            "COLUMNS": "250",
            "CLINSIM_ROLES__DOCTOR__SCRIPT": '["DIAGNOSIS: Melasma"]',
            "CLINSIM_RETRIEVAL__ENABLED": "false",
            "CLINSIM_ENCOUNTER__LLM_JUDGE": "false",
            "CLINSIM_ENCOUNTER__PATIENT_OPENS": "false",
            "CLINSIM_STRATEGY__DELIBERATE": "false",
        },
    )
    assert skipped.exit_code == 0, skipped.output
    assert f"skipped: {path}:2: image_url: case" in skipped.output and "1 case(s) skipped, 1 loaded" in skipped.output
    bench = [
        "--data-dir",
        str(tmp_path / "data"),
        "bench",
        "run",
        "--cases",
        str(path),
        "--image-dir",
        str(folder),
        "--skip-missing-images",
        "--turn-cap",
        "1",
        "--out",
        str(tmp_path / "bench"),
        "--doctor-model",
        "scripted",
        "--patient-model",
        "scripted",
        "--judge-model",
        "scripted",
    ]
    env = {
        "COLUMNS": "250",
        "CLINSIM_ROLES__DOCTOR__SCRIPT": '["DIAGNOSIS: Melasma"]',
        "CLINSIM_RETRIEVAL__ENABLED": "false",
        "CLINSIM_ENCOUNTER__LLM_JUDGE": "false",
        "CLINSIM_ENCOUNTER__PATIENT_OPENS": "false",
    }
    assert CliRunner().invoke(app, bench, env=env).exit_code == 0
    params = json.loads((tmp_path / "bench" / "config.json").read_text())["params"]  # the run records what it left out
    assert params["image_dir"] == str(folder) and params["missing_images"] == "skip"
    (line,) = params["skipped_cases"]
    assert (
        line.startswith(f"{path}:2: image_url: case")
        and "Cases skipped (1)" in (tmp_path / "bench" / "report.html").read_text()
    )


def test_a_nejm_case_with_its_image_from_the_folder_reaches_a_doctor_that_sees(servers, tmp_path):
    """The desk hands over a NEJM image (it has no modality to match by) for the doctor's imaging request."""
    path = nejm_file(tmp_path, ["https://csvc.nejm.org/ContentServer/images?id=IC20240111&width=1500"])
    folder = tmp_path / "images"
    photo = folder / "IC20240111.jpg"
    folder.mkdir()
    Image.new("RGB", (1500, 900), (160, 110, 90)).save(photo)
    doctor = servers(reply=doctor_script("IMAGE: photograph of the face", "Ochronosis"))
    patient = servers(reply=lambda messages: "My face has become darker this year.")
    judge = servers(reply=lambda messages: "VERDICT: correct\nREASON: same condition")
    config = config_file(tmp_path, doctor, patient, judge)
    result = run_one(config, path, tmp_path / "run", "--image-dir", str(folder))
    assert result.exit_code == 0, result.output
    record = read_records(tmp_path / "run" / "episodes.jsonl")[0]
    desk = next(t for t in record.turns if t.role == "measurement")
    assert desk.images == [str(photo.resolve())] and "acquired (image attached)" in desk.text
    sent = [decoded(part) for body in doctor.bodies[1:] for part in image_parts(body)]
    assert sent and all(image.format == "JPEG" and image.size == (64, 38) for image in sent)
    assert not any("image_url" in json.dumps(body) for body in patient.bodies + judge.bodies) and judge.bodies


def test_bench_ablate_vision_axis_sends_images_only_in_its_on_arm(servers, tmp_path):
    doctor = servers(reply=doctor_script("IMAGE: chest X-ray"))
    patient = servers(reply=lambda messages: "I have had a cough.")
    judge = servers(reply=lambda messages: "VERDICT: incorrect\nREASON: vague")
    cases, image = case_file(tmp_path)
    config = config_file(tmp_path, doctor, patient, judge)
    out = tmp_path / "ablation"
    result = CliRunner().invoke(
        app,
        [
            "--config",
            str(config),
            "bench",
            "ablate",
            "--axes",
            "vision",
            "--cases",
            str(cases.parent),
            "--out",
            str(out),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    arms = {arm: read_records(out / arm / "episodes.jsonl") for arm in ("vision-off", "vision-on")}
    carried = {
        arm: {path for r in records for t in r.turns for c in t.calls for path in c.images}
        for arm, records in arms.items()
    }
    assert carried == {"vision-off": set(), "vision-on": {str(image)}}
    assert json.loads((out / "vision-on" / "config.json").read_text())["settings"]["roles"]["doctor"]["vision"]


def test_the_agentclinic_nejm_file_with_an_image_folder(nejm_path, tmp_path):
    """AgentClinic's NEJM file as it is (read, never copied): its images named by their URL's id, one left out."""
    urls = [
        json.loads(line)["image_url"] for line in nejm_path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    folder = tmp_path / "images"
    for url in urls[1:]:
        picture(folder / f"{url_file_names(url)[0]}.jpg", (40, 30))
    strict = read_cases(nejm_path, image_dir=folder)
    assert len(strict.cases) == len(urls) - 1 and [(p.line, p.field) for p in strict.problems] == [(1, "image_url")]
    assert all(Path(c.images[0].path).parent == folder.resolve() for c in strict.cases)
    skipping = read_cases(nejm_path, image_dir=folder, missing_images="skip")
    assert skipping.problems == [] and len(skipping.cases) == len(urls) - 1
    assert [(s.line, s.field) for s in skipping.skipped] == [(1, "image_url")]


def test_a_model_for_an_unvalidated_embedded_spec_with_vision_is_refused():
    from agents.llm.errors import ConfigError
    from agents.llm.registry import model_for_spec

    settings = load_settings(None, {})
    spec = settings.roles.doctor.model_copy(update={"vision": True})  # model_copy does not validate
    with pytest.raises(ConfigError) as refused:
        model_for_spec(settings, spec, "doctor")
    assert refused.value.field == "roles.doctor.vision"
