import pytest

from agents.llm.registry import ConfigError, model_for_role
from agents.llm.scripted import ScriptedModel
from sim.core.config import load_settings
from sim.core.errors import InputError


def test_defaults_are_embedded_and_offline(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLINSIM_CONFIG", raising=False)
    settings = load_settings()
    assert {settings.role(r).backend for r in ("doctor", "patient", "judge")} == {"embedded"}
    assert settings.embedded.host == "127.0.0.1"
    assert settings.encounter.turn_cap == 20


def test_file_then_env_then_flags(monkeypatch, tmp_path):
    config = tmp_path / "clinsim.toml"
    config.write_text(
        '[roles.doctor]\nbackend = "openai"\nmodel = "big"\nbase_url = "http://127.0.0.1:8000/v1"\n'
        "[encounter]\nturn_cap = 12\n"
    )
    monkeypatch.setenv("CLINSIM_ENCOUNTER__TURN_CAP", "9")
    settings = load_settings(config)
    assert settings.roles.doctor.model == "big" and settings.encounter.turn_cap == 9
    settings = load_settings(config, {"encounter.turn_cap": 5, "roles.patient.model": None})
    assert settings.encounter.turn_cap == 5 and settings.roles.doctor.base_url.endswith("/v1")


@pytest.mark.parametrize(
    "text, expected",
    [
        ('[roles.doctor]\nbackend = "openai"\nbackendd = "x"\n', ":3: roles.doctor.backendd: unknown key"),
        ('[encounter]\n\nturn_cap = "many"\n', ":3: encounter.turn_cap: Input should be a valid integer"),
        (
            '[roles.judge]\nbackend = "magic"\n',
            ":2: roles.judge.backend: Input should be 'embedded', 'openai' or 'scripted'",
        ),
        ('colour = "blue"\n', ":1: colour: unknown key"),
        ("[encounter\nturn_cap = 3\n", ":1: -: invalid TOML"),
    ],
)
def test_bad_config_files_are_located(tmp_path, text, expected):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(InputError) as caught:
        load_settings(config)
    assert str(caught.value.problems[0]).startswith(str(config) + expected)


def test_missing_config_file(tmp_path):
    with pytest.raises(InputError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")


def test_missing_api_key_env_var_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("CLINSIM_TEST_KEY", raising=False)
    settings = load_settings(
        None,
        {
            "roles.doctor.backend": "openai",
            "roles.doctor.base_url": "http://127.0.0.1:9/v1",
            "roles.doctor.api_key_env": "CLINSIM_TEST_KEY",
            "data_dir": str(tmp_path),
        },
    )
    with pytest.raises(ConfigError, match="roles.doctor.api_key_env: environment variable CLINSIM_TEST_KEY is not set"):
        model_for_role(settings, "doctor")
    with pytest.raises(ConfigError, match="base_url"):
        model_for_role(load_settings(None, {"roles.doctor.backend": "openai"}), "doctor")


def test_secrets_are_masked(monkeypatch):
    monkeypatch.setenv("CLINSIM_TEST_KEY", "sk-very-secret")
    settings = load_settings(None, {"roles.doctor.api_key_env": "CLINSIM_TEST_KEY"})
    dumped = str(settings.masked())
    assert "sk-very-secret" not in dumped and "***set***" in dumped


def test_scripted_backend_from_config():
    settings = load_settings(None, {"roles.patient.backend": "scripted", "roles.patient.script": ["Yes.", "No."]})
    model = model_for_role(settings, "patient")
    assert isinstance(model, ScriptedModel)
    assert [model.complete([]).text for _ in range(3)] == ["Yes.", "No.", "Yes."]


def test_config_show_prints_toml_that_loads_back_as_the_same_settings(tmp_path, monkeypatch):
    """`clinsim config show` is the effective config as TOML: section headers included, nothing wrapped."""
    import tomllib

    from typer.testing import CliRunner

    from sim.cli.main import app

    monkeypatch.chdir(tmp_path)
    source = tmp_path / "in.toml"
    source.write_text(
        "[roles.doctor]\ntemperature = 0.7\n[encounter]\nturn_cap = 7\n"
        'missing_test_answer = "' + "not done here " * 12 + '"\n',
        encoding="utf-8",
    )
    shown = CliRunner().invoke(app, ["--config", str(source), "config", "show"], env={"COLUMNS": "60"})
    assert shown.exit_code == 0, shown.output
    parsed = tomllib.loads(shown.output)
    assert parsed["roles"]["doctor"]["temperature"] == 0.7
    assert parsed["encounter"]["turn_cap"] == 7
    assert parsed["encounter"]["missing_test_answer"] == "not done here " * 12
    again = tmp_path / "again.toml"
    again.write_text(shown.output, encoding="utf-8")
    assert load_settings(again).masked() == load_settings(source).masked()


def test_a_role_table_keeps_its_roles_reply_budget(tmp_path):
    from sim.core.config import ROLE_MAX_TOKENS

    config = tmp_path / "c.toml"
    config.write_text("[roles.doctor]\ntemperature = 0.7\n[roles.judge]\nmax_tokens = 20\n", encoding="utf-8")
    settings = load_settings(config, {"roles.patient.temperature": 0.5})
    assert settings.roles.doctor.max_tokens == ROLE_MAX_TOKENS["doctor"] and settings.roles.doctor.temperature == 0.7
    assert settings.roles.judge.max_tokens == 20
    assert settings.roles.patient.max_tokens == ROLE_MAX_TOKENS["patient"]


def test_settings_recorded_by_an_older_clinsim_still_load():
    """Runs recorded before the measurement model setting was dropped and knn became a doctor kind can still
    be judged again and replayed: their config.json is brought to today's shape, nothing else changes."""
    from benchmark.harness import settings_from_config
    from sim.core.config import Settings

    old = Settings().model_dump(mode="json")
    old["roles"]["measurement"] = dict(old["roles"]["patient"])
    old["roles"]["doctor"]["backend"] = "knn"
    old["encounter"].pop("doctor")
    old["encounter"]["turn_cap"] = 4
    settings = settings_from_config({"settings": old, "params": {}})
    assert settings.encounter.doctor == "knn" and settings.encounter.turn_cap == 4
    assert settings.roles.doctor.backend == "embedded"
    current = Settings().model_dump(mode="json")
    assert settings_from_config({"settings": current, "params": {}}) == Settings.model_validate(current)


def test_the_old_name_of_the_differential_size_still_loads_and_says_so(tmp_path):
    """`encounter.top_k` became `encounter.differential_size`: a config file with the old name loads, with a
    warning at its line; a recorded run's config.json with it upgrades silently (old runs resume and rejudge)."""
    import warnings

    from sim.core.config import upgrade_recorded_settings

    config = tmp_path / "clinsim.toml"
    config.write_text("[encounter]\nturn_cap = 8\ntop_k = 3\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        settings = load_settings(config)
    assert settings.encounter.differential_size == 3
    messages = [str(w.message) for w in caught if issubclass(w.category, FutureWarning)]
    assert messages == [f"{config}:3: encounter.top_k: is now encounter.differential_size (the old name is still read)"]
    assert upgrade_recorded_settings({"encounter": {"top_k": 2}}) == {"encounter": {"differential_size": 2}}
