"""Bad input at every entry point that reads user data, through the real CLI.

Each malformed input must be refused with its located `FILE:LINE: field: message`, exit code 1, no
traceback and no escaped exception, and must leave what was there untouched (no half-made run, no store,
no rewritten file). One parametrised test per entry point, each with its own table. Case JSONL files have
their own corpus (tests/data/bad_cases, tests/test_validate.py); this covers the rest: config TOML, store
ingest (folder/CSV, bank, npz) and run directories (bench report, bench run --resume, replay,
replay --rerun, bench compare).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from retrieval.store import persistent_store_exists
from sim.bank import generate_bank
from sim.cli.main import app

SCRIPTED = """data_dir = "{data}"
[roles.doctor]
backend = "scripted"
script = ["IMAGE: chest x-ray", "DIAGNOSIS: Cardiomegaly"]
[roles.patient]
backend = "scripted"
script = ["Yes."]
[encounter]
llm_judge = false
"""


def cli(*args: object, env: dict | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "300", **(env or {})})


def assert_refused(result, expected: str) -> None:
    """Exit 1, no exception, no traceback, and `expected` is one whole line of the output (its start, when it
    ends with '...': for messages that end in something unstable, like an object's address)."""
    assert result.exit_code == 1, result.output
    assert result.exc_info is None or result.exc_info[0] is SystemExit, result.exc_info
    assert "Traceback" not in result.output
    lines = [line.removeprefix("error: ") for line in result.output.splitlines()]
    if expected.endswith("..."):
        found = any(line.startswith(expected[:-3]) for line in lines)
    else:
        found = expected in lines
    assert found, f"expected line:\n{expected}\noutput:\n{result.output}"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bank") / "bank"
    generate_bank(4, 5, out, size=96, bank="findings")  # the expected error columns are of its lines
    return out


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch, tmp_path):
    """No ./clinsim.toml or $CLINSIM_CONFIG of the developer's leaks into these tests."""
    monkeypatch.delenv("CLINSIM_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


# --- config TOML: `clinsim --config FILE config show`, and `bench run` for what only a run checks ----------

SHOW = ("config", "show")
JUDGED = SCRIPTED.replace("llm_judge = false", "llm_judge = true")  # the judge model is then needed
RUN = ("bench", "run", "--cases", "{bank}", "--out", "{out}", "--limit", "1")

CONFIGS = [
    # (id, file text (None: no file written), command, environment, expected line)
    ("unknown top-level key", 'colour = "blue"\n', SHOW, {}, "{file}:1: colour: unknown key"),
    (
        "unknown role key",
        '[roles.doctor]\nbackend = "openai"\nbackendd = "x"\n',
        SHOW,
        {},
        "{file}:3: roles.doctor.backendd: unknown key",
    ),
    ("unknown role table", '[roles.nurse]\nbackend = "embedded"\n', SHOW, {}, "{file}:1: roles.nurse: unknown key"),
    (
        "unknown section key",
        "[encounter]\nturn_cap = 4\nturns = 5\n",
        SHOW,
        {},
        "{file}:3: encounter.turns: unknown key",
    ),
    (
        "string for an integer",
        '[encounter]\n\nturn_cap = "many"\n',
        SHOW,
        {},
        "{file}:3: encounter.turn_cap: Input should be a valid integer, unable to parse string as an integer",
    ),
    (
        "integer out of range",
        "[encounter]\nturn_cap = 0\n",
        SHOW,
        {},
        "{file}:2: encounter.turn_cap: Input should be greater than or equal to 1",
    ),
    (
        "unknown backend",
        '[roles.judge]\nbackend = "magic"\n',
        SHOW,
        {},
        "{file}:2: roles.judge.backend: Input should be 'embedded', 'openai' or 'scripted'",
    ),
    (
        "list for a string",
        '[roles.doctor]\nmodel = ["a", "b"]\n',
        SHOW,
        {},
        "{file}:2: roles.doctor.model: Input should be a valid string",
    ),
    (
        "string for a list",
        '[roles.doctor]\nbackend = "scripted"\nscript = "hello"\n',
        SHOW,
        {},
        "{file}:3: roles.doctor.script: Input should be a valid list",
    ),
    (
        "value for a table",
        'roles = "doctor"\n',
        SHOW,
        {},
        "{file}:1: roles: Input should be a valid dictionary or instance of Roles",
    ),
    (
        "string for a boolean",
        '[encounter]\nllm_judge = "perhaps"\n',
        SHOW,
        {},
        "{file}:2: encounter.llm_judge: Input should be a valid boolean, unable to interpret input",
    ),
    (
        "unknown doctor bias",
        '[encounter]\ndoctor_bias = "sleepy"\n',
        SHOW,
        {},
        (
            "{file}:2: encounter.doctor_bias: unknown doctor bias 'sleepy'; choose from none, confirmation, cultural, "
            "education, false_consensus, frequency, race, recency, religion, socioeconomic, status_quo"
        ),
    ),
    (
        "unknown experience embedder",
        '[experience]\nembedder = "nope"\n',
        SHOW,
        {},
        "{file}:2: experience.embedder: Input should be 'minilm' or 'hashing'",
    ),
    (
        "unclosed table header",
        "[encounter\nturn_cap = 3\n",
        SHOW,
        {},
        "{file}:1: -: invalid TOML: Expected ']' at the end of a table declaration (at line 1, column 11)",
    ),
    (
        "duplicate key",
        "[encounter]\nturn_cap = 3\nturn_cap = 4\n",
        SHOW,
        {},
        "{file}:3: -: invalid TOML: Cannot overwrite a value (at line 3, column 13)",
    ),
    (
        "unterminated string",
        '[roles.doctor]\nmodel = "big\n',
        SHOW,
        {},
        "{file}:2: -: invalid TOML: Illegal character '\\n' (at line 2, column 13)",
    ),
    ("not UTF-8", b'[roles.doctor]\nmodel = "caf\xe9"\n', SHOW, {}, "{file}: -: not UTF-8 (invalid continuation byte)"),
    ("missing file", None, SHOW, {}, "{file}: -: config file not found"),
    (
        "bad environment value",
        "[encounter]\nturn_cap = 4\n",
        SHOW,
        {"CLINSIM_ENCOUNTER__TURN_CAP": "lots"},
        (
            "$CLINSIM_ENCOUNTER__TURN_CAP: encounter.turn_cap: Input should be a valid integer, unable to parse string as "
            "an integer"
        ),
    ),
    (
        "bad flag value",
        "[encounter]\nturn_cap = 4\n",
        ("run", "--turn-cap", "0"),
        {},
        "command-line flags: encounter.turn_cap: Input should be greater than or equal to 1",
    ),
    (
        "missing API key variable",
        JUDGED
        + '[roles.judge]\nbackend = "openai"\nbase_url = "http://127.0.0.1:9/v1"\napi_key_env = "CLINSIM_NO_SUCH_KEY"\n',
        RUN,
        {},
        "{file}:13: roles.judge.api_key_env: environment variable CLINSIM_NO_SUCH_KEY is not set",
    ),
    (
        "openai backend without base_url",
        JUDGED + '[roles.judge]\nbackend = "openai"\n',
        RUN,
        {},
        "{file}:10: roles.judge.base_url: required for the openai backend",
    ),
    (
        "missing GGUF file",
        JUDGED + '[embedded]\nmodel = "/nonexistent/model.gguf"\n',
        RUN,
        {},
        (
            "{file}:11: embedded.model: '/nonexistent/model.gguf' is neither a known model "
            "(qwen2.5-coder-1.5b, smollm2-135m, qwen2.5-coder-0.5b) nor an existing GGUF file"
        ),
    ),
    (
        "unknown model name",
        JUDGED + '[embedded]\nmodel = "gpt-5"\n',
        RUN,
        {},
        (
            "{file}:11: embedded.model: 'gpt-5' is neither a known model "
            "(qwen2.5-coder-1.5b, smollm2-135m, qwen2.5-coder-0.5b) nor an existing GGUF file"
        ),
    ),
]


@pytest.mark.parametrize("text, command, env, expected", [c[1:] for c in CONFIGS], ids=[c[0] for c in CONFIGS])
def test_bad_config(tmp_path, bank, monkeypatch, text, command, env, expected):
    monkeypatch.delenv("CLINSIM_NO_SUCH_KEY", raising=False)
    monkeypatch.delenv("CLINSIM_EMBEDDED__MODEL", raising=False)  # the file's setting is what is tested
    config = tmp_path / "clinsim.toml"
    data = tmp_path / "data"
    if isinstance(text, str):
        config.write_text(text.format(data=data), encoding="utf-8")
    elif text is not None:
        config.write_bytes(text)
    out = tmp_path / "run"
    args = [part.format(bank=bank, out=out) for part in command]
    assert_refused(cli("--config", config, *args, env=env), expected.format(file=config))
    assert not out.exists(), "a run that cannot start must not leave a run directory"


# --- store ingest of a folder of images with a CSV/JSONL of reports --------------------------------------

HEADER = "id,image,findings,impression"
GOOD = ["s1,files/0.png,Clear lungs.,Normal chest.", "s2,files/1.png,Right apical lucency.,Pneumothorax."]


def _export(folder: Path, bank: Path) -> None:
    """A folder with two good images, a text file named .png and a truncated PNG."""
    (folder / "files").mkdir(parents=True)
    images = sorted((bank / "images").glob("*.png"))
    for index in range(2):
        shutil.copy(images[index], folder / "files" / f"{index}.png")
    (folder / "files" / "text.png").write_text("not an image")
    (folder / "files" / "half.png").write_bytes(images[2].read_bytes()[:300])
    (folder / "files" / "adir.png").mkdir()


def _reports(text: str | bytes, name: str = "reports.csv") -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return folder

    return make


def _csv(*rows: str) -> Callable[[Path], Path]:
    return _reports("\n".join([HEADER, *GOOD, *rows]) + "\n")


def _two_files(folder: Path) -> Path:
    _reports("\n".join([HEADER, *GOOD]) + "\n", "a.csv")(folder)
    (folder / "b.jsonl").write_text("{}\n")
    return folder


FOLDERS = [
    # (id, make the source from the export folder, extra flags, expected line with {src} = the reports file)
    (
        "missing image",
        _csv("s3,files/none.png,Opacity.,Pneumonia."),
        (),
        "{src}:4: image: image file not found: {folder}/files/none.png",
    ),
    (
        "text file named .png",
        _csv("s3,files/text.png,Opacity.,Pneumonia."),
        (),
        "{src}:4: image: unreadable image {folder}/files/text.png: cannot identify image file <_io.BytesIO object...",
    ),
    (
        "truncated PNG",
        _csv("s3,files/half.png,Opacity.,Pneumonia."),
        (),
        "{src}:4: image: unreadable image {folder}/files/half.png: image file is truncated",
    ),
    (
        "image path is a folder",
        _csv("s3,files/adir.png,Opacity.,Pneumonia."),
        (),
        "{src}:4: image: image file not found: {folder}/files/adir.png",
    ),
    ("empty image name", _csv("s3,,Opacity.,Pneumonia."), (), "{src}:4: image: empty image file name"),
    ("empty id", _csv(",files/0.png,Opacity.,Pneumonia."), (), "{src}:4: id: empty id"),
    ("empty report", _csv("s3,files/0.png,,"), (), "{src}:4: report: findings and impression are both empty"),
    ("too few fields", _csv("s3,files/0.png"), (), "{src}:4: -: row has 2 fields, the header has 4"),
    ("too many fields", _csv("s3,files/0.png,a,b,c,d"), (), "{src}:4: -: row has 6 fields, the header has 4"),
    (
        "unclosed quote",
        _csv('"s3,files/0.png,Opacity.,Pneumonia.'),
        (),
        "{src}:4: -: row has 1 fields, the header has 4",
    ),
    (
        "wrong columns",
        _reports("study,picture,text\ns1,files/0.png,Clear.\n"),
        (),
        (
            "{src}:1: columns: no id column (accepted names: id, uid, study_id, studyid, case_id, report_id, dicom_id, "
            "subject_id, patient_id); the columns are: study, picture, text"
        ),
    ),
    (
        "no report column",
        _reports("id,image\ns1,files/0.png\n"),
        (),
        (
            "{src}:1: columns: no findings or impression column (accepted names: findings, impression); "
            "the columns are: id, image"
        ),
    ),
    (
        "empty CSV",
        _reports(""),
        (),
        (
            "{src}:1: columns: no id column (accepted names: id, uid, study_id, studyid, case_id, report_id, dicom_id, "
            "subject_id, patient_id); the columns are: (none)"
        ),
    ),
    (
        "not UTF-8 deep in the file",  # past the first read buffer: found while reading rows, not the header
        _reports(
            "".join(f"s{i},files/0.png,Clear lungs and nothing else.,Normal.\n" for i in range(300))
            .join([HEADER + "\n", ""])
            .encode()
            + b"s9,files/0.png,Op\xe9city.,X.\n"
        ),
        (),
        "{src}:302: -: not valid UTF-8: byte 0xe9 (invalid continuation byte)",
    ),
    (
        "field over the CSV limit",
        _reports(f"{HEADER}\ns1,files/0.png,{'a' * 200_000},Normal.\n"),
        (),
        "{src}:2: -: cannot parse CSV: field larger than field limit (131072)",
    ),
    (
        "JSONL reports with a broken line",
        _reports(
            '{"id": "s1", "image": "files/0.png", "findings": "Clear."}\n{"id": "s2", "image": \n', "reports.jsonl"
        ),
        (),
        "{src}:2: -: invalid JSON: Expecting value (column 23)",
    ),
    (
        "JSONL reports line not an object",
        _reports('{"id": "s1", "image": "files/0.png", "findings": "Clear."}\n["s2"]\n', "reports.jsonl"),
        (),
        "{src}:2: -: expected a JSON object",
    ),
    (
        "no reports file",
        lambda folder: folder,
        (),
        "{folder}: -: no reports file (.csv, .tsv or .jsonl) in this folder",
    ),
    (
        "two reports files",
        _two_files,
        (),
        "{folder}: -: several reports files (a.csv, b.jsonl); pass one of them as SOURCE",
    ),
    (
        "--images folder without the images",
        _csv(),
        ("--images", "{folder}/elsewhere"),
        "{src}:2: image: image file not found: {folder}/elsewhere/files/0.png",
    ),
]


@pytest.mark.parametrize("make, flags, expected", [f[1:] for f in FOLDERS], ids=[f[0] for f in FOLDERS])
def test_bad_ingest_folder(tmp_path, bank, tiny_embedder, make, flags, expected):
    folder = tmp_path / "export"
    _export(folder, bank)
    source = make(folder)
    reports = next((p for p in sorted(folder.iterdir()) if p.suffix in (".csv", ".jsonl")), folder)
    data = tmp_path / "data"
    result = cli(
        "--data-dir", data, "store", "ingest", source, "--kind", "folder", *[f.format(folder=folder) for f in flags]
    )
    assert_refused(result, expected.format(src=reports, folder=folder))
    assert not persistent_store_exists(data / "chroma"), "a refused ingest must write nothing"


# --- store ingest of the project's own cases (a bank folder) ---------------------------------------------


def _bank_missing_image(copy: Path) -> str:
    image = sorted((copy / "images").glob("*.png"))[2]
    image.unlink()
    return f"{copy}/cases.jsonl:3: images.0.path: image file not found: {image}"


def _bank_broken_image(copy: Path) -> str:
    image = sorted((copy / "images").glob("*.png"))[1]
    image.write_bytes(image.read_bytes()[:200])
    return f"{copy}/cases.jsonl:2: images.0.path: unreadable image {image}: image file is truncated"


def _bank_broken_line(copy: Path) -> str:
    path = copy / "cases.jsonl"
    lines = path.read_text().splitlines()
    lines[1] = lines[1][:40]
    path.write_text("\n".join(lines) + "\n")
    return f"{path}:2: -: invalid JSON: Expecting ',' delimiter (column 41)"


def _bank_no_cases_file(copy: Path) -> str:
    (copy / "cases.jsonl").unlink()
    return f"{copy}: -: directory has no cases.jsonl"


BANKS = [
    ("missing image", _bank_missing_image),
    ("truncated image", _bank_broken_image),
    ("broken case line", _bank_broken_line),
    ("no cases file", _bank_no_cases_file),
]


@pytest.mark.parametrize("damage", [b[1] for b in BANKS], ids=[b[0] for b in BANKS])
def test_bad_ingest_bank(tmp_path, bank, tiny_embedder, damage):
    copy = tmp_path / "bank"
    shutil.copytree(bank, copy)
    expected = damage(copy)
    data = tmp_path / "data"
    assert_refused(cli("--data-dir", data, "store", "ingest", copy, "--kind", "bank"), expected)
    assert not persistent_store_exists(data / "chroma")


# --- store ingest of MedMNIST-style .npz arrays ----------------------------------------------------------

IMAGES = np.zeros((4, 8, 8), dtype=np.uint8)
LABELS = np.array([0, 1, 1, 0], dtype=np.uint8)


def _npz(**arrays) -> Callable[[Path], None]:
    return lambda path: np.savez(path, **arrays)


def _truncated(path: Path) -> None:
    np.savez(path, train_images=IMAGES, train_labels=LABELS)
    path.write_bytes(path.read_bytes()[:200])


NPZS = [
    # (id, write the file, extra flags, expected line with {src} = the file)
    (
        "wrong keys",
        _npz(x_train=IMAGES, y_train=LABELS),
        (),
        "{src}: train_images: missing array (the file has: x_train, y_train)",
    ),
    ("images only", _npz(train_images=IMAGES), (), "{src}: train_labels: missing array (the file has: train_images)"),
    (
        "split not in the file",
        _npz(train_images=IMAGES, train_labels=LABELS),
        ("--split", "val"),
        "{src}: val_images: missing array (the file has: train_images, train_labels)",
    ),
    (
        "flat images",
        _npz(train_images=np.zeros((4, 64), dtype=np.uint8), train_labels=LABELS),
        (),
        "{src}: train_images: expected shape (N, H, W) or (N, H, W, 1|3), got (4, 64)",
    ),
    (
        "two channels",
        _npz(train_images=np.zeros((4, 8, 8, 2), dtype=np.uint8), train_labels=LABELS),
        (),
        "{src}: train_images: expected shape (N, H, W) or (N, H, W, 1|3), got (4, 8, 8, 2)",
    ),
    (
        "zero-size images",
        _npz(train_images=np.zeros((4, 0, 0), dtype=np.uint8), train_labels=LABELS),
        (),
        "{src}: train_images: expected shape (N, H, W) or (N, H, W, 1|3), got (4, 0, 0)",
    ),
    (
        "float pixels",
        _npz(train_images=np.zeros((4, 8, 8)), train_labels=LABELS),
        (),
        "{src}: train_images: expected uint8 pixels, got float64",
    ),
    (
        "float labels",
        _npz(train_images=IMAGES, train_labels=np.zeros(4)),
        (),
        "{src}: train_labels: expected integer labels of shape (N,) or (N, 1), got float64 (4,)",
    ),
    (
        "fewer labels than images",
        _npz(train_images=IMAGES, train_labels=LABELS[:3]),
        (),
        "{src}: train_labels: 3 labels for 4 images",
    ),
    (
        "label without a name",
        _npz(train_images=IMAGES, train_labels=LABELS),
        ("--labels", "normal"),
        "{src}: train_labels[1]: label 1 has no name (known: [0])",
    ),
    (
        "bad --labels",
        _npz(train_images=IMAGES, train_labels=LABELS),
        ("--labels", "a=b"),
        "--labels: label 'a=b': expected NUMBER=NAME",
    ),
    (
        "pickled object array",
        _npz(train_images=np.array([object()] * 4, dtype=object), train_labels=LABELS),
        (),
        "{src}: -: not a readable .npz file: Object arrays cannot be loaded when allow_pickle=False",
    ),
    (
        "a .npy file",
        lambda path: np.save(path.with_suffix(".npy"), IMAGES) or path.with_suffix(".npy").replace(path),
        (),
        (
            "{src}: -: not a .npz archive (one bare array, as np.save writes); expected arrays named {{split}}_images, "
            "{{split}}_labels"
        ),
    ),
    ("truncated archive", _truncated, (), "{src}: -: not a readable .npz file: File is not a zip file"),
    (
        "not an archive",
        lambda path: path.write_text("hello"),
        (),
        "{src}: -: not a .npz file (a .npz is a zip archive of .npy arrays)",
    ),
]


@pytest.mark.parametrize("write, flags, expected", [n[1:] for n in NPZS], ids=[n[0] for n in NPZS])
def test_bad_ingest_npz(tmp_path, tiny_embedder, write, flags, expected):
    path = tmp_path / "arrays.npz"
    write(path)
    data = tmp_path / "data"
    result = cli("--data-dir", data, "store", "ingest", path, "--kind", "npz", *flags)
    assert_refused(result, expected.format(src=path))
    assert not persistent_store_exists(data / "chroma")


# --- run directories: bench report, bench run --resume, replay, replay --rerun, bench compare -------------


@pytest.fixture(scope="module")
def good_run(tmp_path_factory, bank) -> tuple[Path, Path]:
    """(config file, run directory) of a finished scripted run with recorded responses."""
    root = tmp_path_factory.mktemp("good")
    config = root / "clinsim.toml"
    config.write_text(SCRIPTED.format(data=root / "data"))
    run = root / "run"
    result = cli("--config", config, *RUN_ARGS(bank, run))
    assert result.exit_code == 0, result.output
    return config, run


def RUN_ARGS(bank: Path, run: Path) -> list:  # reads as the constant it is
    return ["bench", "run", "--cases", bank, "--out", run, "--limit", "3", "--record-responses", "--no-retrieval"]


def _line(number: int, text: bytes) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        path = run / "episodes.jsonl"
        lines = path.read_bytes().split(b"\n")
        lines[number - 1] = text if text != b"HALF" else lines[number - 1][:60]
        path.write_bytes(b"\n".join(lines))

    return damage


def _append(text: bytes) -> Callable[[Path], None]:
    return lambda run: (run / "episodes.jsonl").write_bytes((run / "episodes.jsonl").read_bytes() + text + b"\n")


def _config(text: str | None) -> Callable[[Path], None]:
    return lambda run: (run / "config.json").unlink() if text is None else (run / "config.json").write_text(text)


def _bad_setting(run: Path) -> None:
    config = json.loads((run / "config.json").read_text())
    config["settings"]["encounter"]["turn_cap"] = "many"
    (run / "config.json").write_text(json.dumps(config))


EP, CFG = "{run}/episodes.jsonl", "{run}/config.json"
GARBAGE = EP + ":2: -: invalid JSON: key must be a string (column 2)"
HALF = EP + ":2: -: invalid JSON: EOF while parsing a string (column 60)"
MISSING = EP + ":2: episode_id: required field is missing"
WRONG_TYPE = EP + ":2: termination: Input should be a valid string"
NOT_UTF8 = EP + ":4: -: not valid UTF-8: byte 0xff at byte 0 of the line"
ARRAY = EP + ":4: -: Input should be an object"
CONFIG_NOT_JSON = (
    CFG + ":1: -: not a readable run config: invalid JSON (Expecting property name enclosed in double quotes, column 2)"
)
CONFIG_LIST = CFG + ": -: not a run config: expected a JSON object with 'settings' and 'params', got list"
CONFIG_NO_PARAMS = CFG + ": params: missing or not an object: not a run config"

# (id, damage, {entry point: expected line}); an entry point missing from a row does not need what was damaged
RUN_DAMAGE = [
    (
        "garbage line",
        _line(2, b"{not json"),
        {"report": GARBAGE, "resume": GARBAGE, "replay": GARBAGE, "rerun": GARBAGE, "compare": GARBAGE},
    ),
    (
        "line cut in half",
        _line(2, b"HALF"),
        {"report": HALF, "resume": HALF, "replay": HALF, "rerun": HALF, "compare": HALF},
    ),
    (
        "record without episode_id",
        _line(2, b'{"run_id": "run", "case_id": "x", "source": "bank", "termination": "error"}'),
        {"report": MISSING, "resume": MISSING, "replay": MISSING, "rerun": MISSING, "compare": MISSING},
    ),
    (
        "wrong field type",
        _line(2, b'{"run_id": "run", "episode_id": "x", "case_id": "x", "source": "b", "termination": 5}'),
        {"report": WRONG_TYPE, "resume": WRONG_TYPE, "replay": WRONG_TYPE, "rerun": WRONG_TYPE, "compare": WRONG_TYPE},
    ),
    (
        "not UTF-8",
        _append(b"\xff\xfe{}"),
        {"report": NOT_UTF8, "resume": NOT_UTF8, "replay": NOT_UTF8, "rerun": NOT_UTF8, "compare": NOT_UTF8},
    ),
    (
        "array instead of a record",
        _append(b"[1, 2]"),
        {"report": ARRAY, "resume": ARRAY, "replay": ARRAY, "rerun": ARRAY, "compare": ARRAY},
    ),
    (
        "no episodes file",
        lambda run: (run / "episodes.jsonl").unlink(),
        {
            "report": EP + ": not found (is {run} a run directory?)",
            "replay": EP + ": -: episodes file not found",
            "rerun": EP + ": -: episodes file not found",
            "compare": EP + ": -: not found: not a run directory",
        },
    ),
    (
        "episodes without config.json",
        _config(None),
        {
            "resume": CFG + ": -: missing: episodes.jsonl exists without its config.json",
            "rerun": CFG + ": -: missing: not a run directory (no config.json)",
        },
    ),
    (
        "config.json not JSON",
        _config("{oops"),
        {"report": CONFIG_NOT_JSON, "resume": CONFIG_NOT_JSON, "rerun": CONFIG_NOT_JSON},
    ),
    ("config.json a list", _config("[1, 2]"), {"report": CONFIG_LIST, "resume": CONFIG_LIST, "rerun": CONFIG_LIST}),
    (
        "config.json without params",
        _config('{"settings": {}}'),
        {"report": CONFIG_NO_PARAMS, "resume": CONFIG_NO_PARAMS, "rerun": CONFIG_NO_PARAMS},
    ),
    (
        "config.json with a bad setting",
        _bad_setting,
        {
            "resume": CFG + ': settings.encounter.turn_cap: differs from this run: "many" -> 20',
            "rerun": CFG
            + ": settings.encounter.turn_cap: Input should be a valid integer, unable to parse string as an integer",
        },
    ),
    (
        "no run directory",
        lambda run: shutil.rmtree(run),
        {
            "report": EP + ": not found (is {run} a run directory?)",
            "replay": EP + ": -: episodes file not found",
            "rerun": CFG + ": -: missing: not a run directory (no config.json)",
            "compare": EP + ": -: not found: not a run directory",
        },
    ),
]


def _cases_for(entry: str) -> list:
    return [
        pytest.param(damage, expected[entry], id=name) for name, damage, expected in RUN_DAMAGE if entry in expected
    ]


def _damaged(good_run, tmp_path, damage) -> Path:
    run = tmp_path / "run"  # the same name as the good run: the config and records name it
    shutil.copytree(good_run[1], run)
    damage(run)
    return run


def _refused_untouched(result, expected: str, run: Path, before: dict[str, bytes]) -> None:
    assert_refused(result, expected.format(run=run))
    after = snapshot(run) if run.exists() else {}
    assert after == before, "a refused command must not change the run directory"


@pytest.mark.parametrize("damage, expected", _cases_for("report"))
def test_bad_run_dir_report(good_run, tmp_path, damage, expected):
    run = _damaged(good_run, tmp_path, damage)
    before = snapshot(run) if run.exists() else {}
    _refused_untouched(cli("bench", "report", run), expected, run, before)


@pytest.mark.parametrize("damage, expected", _cases_for("resume"))
def test_bad_run_dir_resume(good_run, bank, tmp_path, damage, expected):
    run = _damaged(good_run, tmp_path, damage)
    before = snapshot(run)
    _refused_untouched(cli("--config", good_run[0], *RUN_ARGS(bank, run), "--resume"), expected, run, before)


@pytest.mark.parametrize("damage, expected", _cases_for("replay"))
def test_bad_run_dir_replay(good_run, tmp_path, damage, expected):
    run = _damaged(good_run, tmp_path, damage)
    before = snapshot(run) if run.exists() else {}
    _refused_untouched(cli("replay", run, "--all"), expected, run, before)


@pytest.mark.parametrize("damage, expected", _cases_for("rerun"))
def test_bad_run_dir_rerun(good_run, tmp_path, damage, expected):
    run = _damaged(good_run, tmp_path, damage)
    before = snapshot(run) if run.exists() else {}
    out = tmp_path / "rerun"
    _refused_untouched(cli("replay", run, "--rerun", "--out", out), expected, run, before)
    assert not out.exists(), "a refused rerun must not start its output directory"


@pytest.mark.parametrize("damage, expected", _cases_for("compare"))
def test_bad_run_dir_compare(good_run, tmp_path, damage, expected):
    run = _damaged(good_run, tmp_path, damage)
    before = snapshot(run) if run.exists() else {}
    _refused_untouched(cli("bench", "compare", good_run[1], run), expected, run, before)


def test_the_good_run_passes_every_entry_point(good_run, bank, tmp_path):
    """The control: the undamaged copy is accepted everywhere (so the refusals above are the damage's)."""
    run = _damaged(good_run, tmp_path, lambda run: None)
    for args in (
        ["bench", "report", run],
        ["replay", run, "--all"],
        ["bench", "compare", good_run[1], run],
        ["--config", good_run[0], *RUN_ARGS(bank, run), "--resume"],
        ["replay", run, "--rerun", "--out", tmp_path / "rerun"],
    ):
        result = cli(*args)
        assert result.exit_code == 0, (args, result.output)
    # Reading episodes needs no config.json: report, replay and compare accept a run without one.
    (run / "config.json").unlink()
    for args in (["bench", "report", run], ["replay", run, "--all"], ["bench", "compare", good_run[1], run]):
        result = cli(*args)
        assert result.exit_code == 0, (args, result.output)
