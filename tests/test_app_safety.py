"""The web app's rules for files and input, without a server: what is served, what uploads pass."""

from __future__ import annotations

import pytest
from PIL import Image

from sim.app.encounter_tab import parse_differential
from sim.app.encounters import THREAD_ID, new_thread_id, settings_with_models
from sim.app.paths import AppPaths
from sim.app.safety import (
    UploadRejected,
    check_case_upload,
    check_image_upload,
    file_request_refusal,
    publish,
)
from sim.app.server import parse_auth
from tests.helpers import scripted_settings


@pytest.fixture
def paths(tmp_path):
    return AppPaths.under(tmp_path / "data")


def _refusal(paths, target: str):
    path = f"/gradio_api/file={target}"
    return file_request_refusal(path, path.encode(), paths)


def test_file_requests_outside_the_data_directory_are_refused(paths):
    inside = paths.files / "x.png"
    assert _refusal(paths, str(inside)) is None
    assert "inside the data directory" in _refusal(paths, "/etc/passwd")
    assert "'..'" in _refusal(paths, f"{paths.files}/../../../etc/passwd")
    assert "'..'" in _refusal(paths, f"{paths.files}/%2e%2e/x.png")
    assert "private" in _refusal(paths, str(paths.private / "browser-state.key"))
    assert "local files" in _refusal(paths, "https://example.com/a.png")
    assert file_request_refusal("/gradio_api/proxy=https://x", b"", paths) == "proxying is disabled"
    assert file_request_refusal("/gradio_api/info", b"/gradio_api/info", paths) is None
    outside = paths.data_dir.parent / "elsewhere"
    outside.mkdir()
    (paths.data_dir / "link").symlink_to(outside)
    assert "inside the data directory" in _refusal(paths, str(paths.data_dir / "link" / "x.png"))


def test_case_uploads_need_jsonl_utf8_within_the_size_limit(paths, tmp_path):
    good = tmp_path / "cases.jsonl"
    good.write_text('{"id": "a"}\n')
    stored = check_case_upload(good, paths, max_bytes=1000)
    assert stored.parent == paths.uploads and stored.read_text() == good.read_text()
    with pytest.raises(UploadRejected, match="must be .jsonl"):
        check_case_upload(good, paths, 1000, name="cases.csv")
    with pytest.raises(UploadRejected, match="the limit is"):
        check_case_upload(good, paths, max_bytes=5)
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"name": "Ren\xe9"}\n'.encode("latin-1"))
    with pytest.raises(UploadRejected, match="not UTF-8"):
        check_case_upload(latin, paths, 1000)


def test_images_are_recognised_by_content_not_name(paths, tmp_path):
    fake = tmp_path / "x.png"
    fake.write_text("not an image")
    with pytest.raises(UploadRejected, match="not an image"):
        check_image_upload(fake, paths, 10_000)
    real = tmp_path / "photo.dat"
    Image.new("RGB", (8, 8)).save(real, format="JPEG")
    stored = check_image_upload(real, paths, 10_000)
    assert stored.parent == paths.files and stored.suffix == ".jpg"


def test_publish_copies_outside_images_in_and_refuses_the_rest(paths, tmp_path):
    outside = tmp_path / "elsewhere.png"
    Image.new("L", (4, 4)).save(outside)
    shown = publish(outside, paths)
    assert shown and shown.startswith(str(paths.files))
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    assert publish(secret, paths) is None
    assert publish(paths.private / "browser-state.key", paths) is None
    assert publish(tmp_path / "missing.png", paths) is None


def test_small_parsers():
    assert parse_differential("1. Pneumonia\n2) Effusion; - Pneumothorax\n\n") == [
        "Pneumonia",
        "Effusion",
        "Pneumothorax",
    ]
    assert parse_auth("me:pa:ss") == ("me", "pa:ss") and parse_auth(None) is None
    with pytest.raises(ValueError):
        parse_auth("nopassword")
    assert THREAD_ID.match(new_thread_id()) and not THREAD_ID.match("../../etc")


def test_model_choices_become_role_settings(tmp_path):
    base = scripted_settings(tmp_path)
    chosen = settings_with_models(base, {"doctor": "llama3@http://127.0.0.1:8000/v1", "patient": "embedded"})
    assert chosen.roles.doctor.backend == "openai" and chosen.roles.doctor.model == "llama3"
    assert chosen.roles.doctor.base_url == "http://127.0.0.1:8000/v1" and chosen.roles.patient.backend == "embedded"
    with pytest.raises(ValueError, match="doctor model"):
        settings_with_models(base, {"doctor": "just-a-name"})


# --- an app reachable from other machines needs a login, unless the user says otherwise ---------------------


@pytest.fixture
def launches(monkeypatch, tmp_path):
    """`clinsim app` up to the point it would serve: the launch is recorded instead of listening."""
    import sim.app.server

    calls: list[dict] = []
    monkeypatch.setattr(sim.app.server, "launch_app", lambda cfg, **kw: calls.append(kw))
    monkeypatch.chdir(tmp_path)
    for name in ("CLINSIM_APP_AUTH", "CLINSIM_APP_HOST", "CLINSIM_APP_ALLOW_UNAUTHENTICATED"):
        monkeypatch.delenv(name, raising=False)
    return calls


def _app(args: list[str], env: dict | None = None):
    from typer.testing import CliRunner

    from sim.cli.main import app

    return CliRunner().invoke(app, ["app", *args], env={"COLUMNS": "200", **(env or {})})


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_a_public_host_without_auth_is_refused(launches, how):
    result = _app(["--host", "0.0.0.0"]) if how == "flag" else _app([], {"CLINSIM_APP_HOST": "0.0.0.0"})
    assert result.exit_code == 1, result.output
    assert "--host 0.0.0.0 serves the app to other machines" in result.output and "--auth" in result.output
    assert "--allow-unauthenticated" in result.output and "Traceback" not in result.output
    assert launches == []


@pytest.mark.parametrize(
    "args, env",
    [
        (["--host", "0.0.0.0", "--auth", "me:secret"], {}),
        (["--host", "0.0.0.0"], {"CLINSIM_APP_AUTH": "me:secret"}),
        (["--host", "10.1.2.3", "--allow-unauthenticated"], {}),
        (["--host", "10.1.2.3"], {"CLINSIM_APP_ALLOW_UNAUTHENTICATED": "1"}),
        (["--host", "127.0.0.2"], {}),
        (["--host", "localhost"], {}),
        (["--host", "::1"], {}),
    ],
)
def test_loopback_auth_or_an_explicit_allowance_serves(launches, args, env):
    result = _app(args, env)
    assert result.exit_code == 0, result.output
    assert len(launches) == 1 and launches[0]["host"] == args[1]
    assert ("without --auth" in result.output) == ("allow" in " ".join(args).lower() + " ".join(env).lower())
