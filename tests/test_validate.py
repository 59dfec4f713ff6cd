"""Bad input gives exact located problems, and the good lines next to it still count."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.cli.main import app
from sim.core.errors import InputError
from sim.loaders import detect_format, load_cases, read_cases
from sim.loaders.validate import validate_files

CORPUS = Path(__file__).resolve().parent / "data" / "bad_cases"

OSCE = "OSCE_Examination"
NOT_EMPTY = "must not be empty"

# (file, [(line, field, message)], valid cases, non-blank lines)
BAD_FILES = [
    ("native_truncated_line.jsonl", [(2, "-", "invalid JSON: Unterminated string starting at (column 62)")], 1, 2),
    (
        "native_trailing_comma.jsonl",
        [(1, "-", "invalid JSON: Expecting property name enclosed in double quotes (column 70)")],
        1,
        2,
    ),
    ("native_wrong_type.jsonl", [(2, "options", "Input should be a valid list")], 1, 2),
    ("native_missing_diagnosis.jsonl", [(2, "diagnosis", "required field is missing")], 1, 2),
    ("native_blank_diagnosis.jsonl", [(1, "diagnosis.name", NOT_EMPTY)], 1, 2),
    ("native_duplicate_id.jsonl", [(3, "id", "duplicate id 'ok-1' (first seen on line 1)")], 2, 3),
    (
        "native_unknown_field.jsonl",
        [(2, "patient.favourite_colour", "unknown field (not in the case schema; see `clinsim cases schema`)")],
        1,
        2,
    ),
    ("native_bad_id.jsonl", [(1, "id", "String should match pattern '^[A-Za-z0-9._:-]+$'")], 1, 2),
    ("native_image_without_location.jsonl", [(2, "images.0", "an image needs a path or a url")], 1, 2),
    ("native_schema_version.jsonl", [(2, "schema_version", "Input should be 1")], 1, 2),
    ("native_blank_option.jsonl", [(2, "options.1.text", NOT_EMPTY)], 1, 2),
    ("native_not_utf8.jsonl", [(2, "-", "not valid UTF-8: byte 0xe9 at byte 66 of the line")], 2, 3),
    ("not_an_object.jsonl", [(2, "-", "expected a JSON object, got string")], 1, 2),
    ("array_instead_of_object.jsonl", [(2, "-", "expected a JSON object, got array")], 1, 2),
    ("empty.jsonl", [(None, "-", "file is empty (no cases)")], 0, 0),
    ("blank_lines_only.jsonl", [(None, "-", "file is empty (no cases)")], 0, 0),
    (
        "unknown_format.jsonl",
        [
            (
                1,
                "-",
                (
                    "cannot tell the case format from the keys (label, patient); expected AgentClinic OSCE "
                    "(OSCE_Examination), NEJM (question, answers, patient_info) or native (id, source, diagnosis)"
                ),
            )
        ],
        0,
        1,
    ),
    ("agentclinic_missing_patient_actor.jsonl", [(2, f"{OSCE}.Patient_Actor", "required field is missing")], 1, 2),
    (
        "agentclinic_secondary_symptoms_string.jsonl",
        [(2, f"{OSCE}.Patient_Actor.Symptoms.Secondary_Symptoms", "expected an array, got string")],
        1,
        2,
    ),
    ("agentclinic_missing_diagnosis.jsonl", [(1, f"{OSCE}.Correct_Diagnosis", "required field is missing")], 1, 2),
    ("agentclinic_blank_diagnosis.jsonl", [(2, f"{OSCE}.Correct_Diagnosis", NOT_EMPTY)], 1, 2),
    (
        "agentclinic_diagnosis_number.jsonl",
        [(2, f"{OSCE}.Correct_Diagnosis", "expected a string, got number")],
        1,
        2,
    ),
    ("agentclinic_test_results_array.jsonl", [(2, f"{OSCE}.Test_Results", "expected an object, got array")], 1, 2),
    ("agentclinic_osce_not_object.jsonl", [(2, OSCE, "expected an object, got string")], 1, 2),
    ("nejm_no_correct_answer.jsonl", [(2, "answers", "no answer is marked correct; exactly one must be")], 1, 2),
    (
        "nejm_two_correct_answers.jsonl",
        [(2, "answers", "2 answers are marked correct (answers.0, answers.1); exactly one must be")],
        1,
        2,
    ),
    ("nejm_correct_not_boolean.jsonl", [(2, "answers.1.correct", "expected a boolean, got string")], 1, 2),
    ("nejm_missing_question.jsonl", [(1, "question", "required field is missing")], 1, 2),
    (
        "several_problems.jsonl",
        [
            (2, "-", "invalid JSON: Expecting ',' delimiter (column 38)"),
            (5, "tests", "Input should be a valid dictionary"),
            (5, "diagnosis.name", NOT_EMPTY),
            (6, "-", "expected a JSON object, got number"),
        ],
        2,
        5,
    ),
]


def located(path: Path, line: int | None, field: str, message: str) -> str:
    where = f"{path}:{line}" if line is not None else str(path)
    return f"{where}: {field}: {message}"


def test_corpus_is_complete():
    """Every file in the corpus is checked, and the corpus is big enough to mean something."""
    assert sorted(name for name, *_ in BAD_FILES) == sorted(p.name for p in CORPUS.glob("*.jsonl"))
    assert sum(len(expected) for _, expected, *_ in BAD_FILES) >= 20


@pytest.mark.parametrize(("name", "expected", "n_valid", "n_total"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_file_gives_exact_located_problems(name, expected, n_valid, n_total):
    path = CORPUS / name
    result = read_cases(path)
    assert [str(p) for p in result.problems] == [located(path, *e) for e in expected]
    assert len(result.cases) == n_valid
    assert result.n_records == n_total
    report = validate_files([path])
    assert (report.n_valid, report.n_total, report.n_files) == (n_valid, n_total, 1)
    with pytest.raises(InputError) as raised:
        load_cases(path)
    assert raised.value.problems == result.problems


def native_line(case_id: str, **fields) -> str:
    return json.dumps({"id": case_id, "source": "test", "diagnosis": {"name": "Gout"}, **fields})


def test_huge_field_is_a_problem(tmp_path):
    path = tmp_path / "huge.jsonl"
    history = "pain " * 20_001  # 100,005 characters, built here rather than stored in the repo
    path.write_text(native_line("ok") + "\n" + native_line("big", patient={"history": history}) + "\n")
    result = read_cases(path)
    assert [str(p) for p in result.problems] == [
        located(path, 2, "patient.history", "text is 100,005 characters; the limit is 100,000")
    ]
    assert [c.id for c in result.cases] == ["ok"]


def test_huge_field_in_a_foreign_format_uses_its_field_names(tmp_path):
    path = tmp_path / "nejm.jsonl"
    row = {
        "question": "What is it?",
        "patient_info": "You are ill.",
        "answers": [{"text": "Gout", "correct": True}, {"text": "x" * 100_001, "correct": False}],
    }
    path.write_text(json.dumps(row) + "\n")
    problems = [str(p) for p in read_cases(path).problems]
    assert problems == [located(path, 1, "answers.1.text", "text is 100,001 characters; the limit is 100,000")]


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.jsonl"
    assert [str(p) for p in read_cases(path).problems] == [located(path, None, "-", "file not found")]


def test_directory_without_cases_jsonl(tmp_path):
    assert [str(p) for p in read_cases(tmp_path).problems] == [
        located(tmp_path, None, "-", "directory has no cases.jsonl")
    ]


def test_bank_directory_is_read_through_its_cases_jsonl(tmp_path):
    (tmp_path / "cases.jsonl").write_text(native_line("a") + "\n" + native_line("a") + "\n")
    result = read_cases(tmp_path)
    assert [str(p) for p in result.problems] == [
        located(tmp_path / "cases.jsonl", 2, "id", "duplicate id 'a' (first seen on line 1)")
    ]


def test_binary_file(tmp_path):
    path = tmp_path / "scan.jsonl"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert [str(p) for p in read_cases(path).problems] == [
        located(path, None, "-", "looks like a binary file, not JSONL text")
    ]


def test_deeply_nested_json_is_a_problem_not_a_crash(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text(native_line("ok") + "\n" + "[" * 100_000 + "]" * 100_000 + "\n")
    assert [str(p) for p in read_cases(path).problems] == [located(path, 2, "-", "invalid JSON: nested too deeply")]


def test_nan_is_not_json(tmp_path):
    path = tmp_path / "nan.jsonl"
    path.write_text(native_line("a", metadata={"score": 1.5}).replace("1.5", "NaN") + "\n")
    assert [str(p) for p in read_cases(path).problems] == [
        located(path, 1, "-", "invalid JSON: NaN is not a JSON value")
    ]


def test_crlf_and_bom_are_tolerated(tmp_path):
    path = tmp_path / "windows.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + native_line("a").encode() + b"\r\n\r\n" + native_line("b").encode() + b"\r\n")
    result = read_cases(path)
    assert result.problems == [] and [c.id for c in result.cases] == ["a", "b"]


def test_format_can_be_forced_and_is_then_checked(tmp_path):
    path = CORPUS / "agentclinic_blank_diagnosis.jsonl"
    assert detect_format(path) == "agentclinic"
    problems = [str(p) for p in read_cases(path, format="nejm").problems]
    assert located(path, 1, "question", "required field is missing") in problems
    with pytest.raises(ValueError):
        read_cases(path, format="csv")
    with pytest.raises(TypeError):
        read_cases(path, fetch_imagez=True)


def test_detect_format_raises_located_input_error():
    with pytest.raises(InputError) as raised:
        detect_format(CORPUS / "empty.jsonl")
    assert "file is empty (no cases)" in str(raised.value)


# --- the CLI -----------------------------------------------------------------------------------------


def run_cli(*args: str):
    result = CliRunner().invoke(app, ["cases", *args])
    return result, result.output  # click >= 8.2 interleaves stderr into output


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("several_problems.jsonl", "several_problems.jsonl:5: diagnosis.name: must not be empty"),
        ("native_not_utf8.jsonl", "native_not_utf8.jsonl:2: -: not valid UTF-8"),
        ("empty.jsonl", "empty.jsonl: -: file is empty (no cases)"),
        ("nejm_two_correct_answers.jsonl", "nejm_two_correct_answers.jsonl:2: answers: 2 answers are marked"),
    ],
)
def test_cli_validate_reports_problems_without_traceback(name, expected):
    result, output = run_cli("validate", str(CORPUS / name))
    assert result.exit_code == 1
    assert expected in output
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no crash underneath


def test_cli_validate_summary_counts_valid_lines(tmp_path):
    result, output = run_cli(
        "validate", str(CORPUS / "several_problems.jsonl"), str(CORPUS / "not_an_object.jsonl"), str(tmp_path / "x")
    )
    assert result.exit_code == 1
    assert "3 valid cases of 7 in 3 file(s)" in output
    assert f"{tmp_path / 'x'}: -: file not found" in output
    assert "Traceback" not in output


def test_cli_validate_clean_file_exits_0(tmp_path):
    path = tmp_path / "good.jsonl"
    path.write_text(native_line("a") + "\n" + native_line("b") + "\n")
    result, output = run_cli("validate", str(path))
    assert result.exit_code == 0, output
    assert "2 valid cases of 2 in 1 file(s)" in output


def test_cli_validate_rejects_unknown_format_cleanly():
    result, output = run_cli("validate", "--format", "csv", str(CORPUS / "empty.jsonl"))
    assert result.exit_code == 2
    assert "Traceback" not in output
