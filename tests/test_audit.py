"""The answer-leak audit flags diagnoses written where the patient or measurement agent can read them."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.cli.main import app
from sim.core.case import Case, CaseImage, Diagnosis, PatientScript
from sim.loaders import load_cases
from sim.loaders.audit import audit_cases, rule_totals

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MEDQA = SHARED_DATA / "agentclinic" / "agentclinic_medqa.jsonl"
NEJM = SHARED_DATA / "agentclinic" / "agentclinic_nejm.jsonl"

needs_shared_data = pytest.mark.skipif(
    not (MEDQA.is_file() and NEJM.is_file()),
    reason=f"AgentClinic reference data not found under {SHARED_DATA} (it is not part of the repository)",
)


def make_case(diagnosis: str, aliases: list[str] | None = None, history: str = "", **fields) -> Case:
    return Case(
        id="t-1",
        source="test",
        patient=PatientScript(history=history),
        diagnosis=Diagnosis(name=diagnosis, aliases=aliases or []),
        **fields,
    )


def found(case: Case) -> list[tuple[str, str]]:
    return [(f.field, f.rule) for f in audit_cases([case])]


def test_diagnosis_in_history_is_flagged_exact():
    case = make_case("Hirschsprung’s disease", history="Her brother was treated for Hirschsprung disease.")
    assert found(case) == [("patient.history", "exact")]


def test_clean_case_is_not_flagged():
    case = make_case(
        "Myasthenia gravis",
        history="Double vision that worsens in the evening.",
        tests={"Acetylcholine_Receptor_Antibodies": "Elevated"},
        exam={"Eyes": "Ptosis on sustained upward gaze"},
    )
    assert found(case) == []


def test_acronym_alias_is_case_sensitive():
    clean = make_case("Acute lymphoblastic leukemia", ["ALL"], history="All of her joints ache.")
    leaking = make_case("Acute lymphoblastic leukemia", ["ALL"], tests={"Flow_Cytometry": "Consistent with ALL."})
    assert found(clean) == []
    assert found(leaking) == [("tests.Flow_Cytometry", "exact")]


def test_words_in_another_order_are_flagged_all_tokens():
    case = make_case("Acute interstitial nephritis", tests={"Renal_Biopsy": "Nephritis, interstitial, acute."})
    assert found(case) == [("tests.Renal_Biopsy", "all-tokens")]


def test_population_words_are_not_required():
    case = make_case("Neonatal respiratory distress syndrome", tests={"CXR": "suggests respiratory distress syndrome"})
    assert found(case) == [("tests.CXR", "all-tokens")]


def test_misspelling_is_flagged_fuzzy():
    case = make_case("Hirschsprung disease", tests={"Biopsy": "Aganglionic segment, typical of Hirschprung disease."})
    assert found(case) == [("tests.Biopsy", "fuzzy")]


def test_short_field_inside_the_name_is_not_fuzzy():
    case = make_case("Normal behavior", exam={"Gait": "Normal"})
    assert found(case) == []


def test_image_reports_and_test_names_are_audited():
    case = make_case(
        "Pneumothorax",
        images=[CaseImage(path="cxr.png", report="Right-sided pneumothorax.")],
        tests={"Pneumothorax_Protocol_CT": "Done"},
    )
    assert found(case) == [("tests.Pneumothorax_Protocol_CT (key)", "exact")]  # reports are withheld by default
    with_reports = [(f.field, f.rule) for f in audit_cases([case], include_reports=True)]
    assert with_reports == [("tests.Pneumothorax_Protocol_CT (key)", "exact"), ("images.0.report", "exact")]


@needs_shared_data
def test_shared_medqa_counts_are_plausible():
    findings = audit_cases(load_cases(MEDQA))
    totals = rule_totals(findings)
    # The data README counts 14 of 107 with a raw substring test; whole-word matching with aliases
    # and normalised apostrophes/accents also finds "BPPV", "Hirschsprung's", "Legg-Calvé-Perthes": 17.
    assert 12 <= totals["exact"]["cases"] <= 20
    assert totals["all-tokens"]["cases"] <= 6
    assert totals["fuzzy"]["cases"] <= 3
    assert all(f.field.startswith(("patient.", "exam.", "tests.", "images.")) for f in findings)


@needs_shared_data
def test_shared_nejm_has_few_leaks(tmp_path):
    findings = audit_cases(load_cases(NEJM, image_cache=tmp_path))
    assert len({f.case_id for f in findings}) <= 2


def test_cli_audit_writes_json(tmp_path):
    leaking = make_case("Gout", history="Known gout.")
    clean = make_case("Gout", history="Toe pain.").model_copy(update={"id": "t-2"})
    cases_file = tmp_path / "cases.jsonl"
    cases_file.write_text(leaking.to_json() + "\n" + clean.to_json() + "\n")
    out = tmp_path / "audit.json"
    result = CliRunner().invoke(app, ["cases", "audit", str(cases_file), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "exact: 1 field(s) in 1 case(s)" in result.output
    report = json.loads(out.read_text())
    assert report["n_cases"] == 2 and report["n_leaking_cases"] == 1
    assert report["findings"][0]["field"] == "patient.history"


def test_cli_schema_and_show(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["cases", "schema"])
    assert result.exit_code == 0
    assert "diagnosis" in json.loads(result.output)["properties"]
    schema_file = tmp_path / "schema.json"
    assert runner.invoke(app, ["cases", "schema", "--out", str(schema_file)]).exit_code == 0
    assert json.loads(schema_file.read_text())["title"] == "Case"

    cases_file = tmp_path / "cases.jsonl"
    cases_file.write_text(make_case("Gout", history="Toe pain at night.").to_json() + "\n")
    result = runner.invoke(app, ["cases", "show", str(cases_file), "--case-id", "t-1"])
    assert result.exit_code == 0 and "Toe pain at night." in result.output
    result = runner.invoke(app, ["cases", "show", str(cases_file), "--case-id", "nope"])
    assert result.exit_code == 1 and "no case with id 'nope'" in result.output


def test_cli_generate_validates_what_the_bank_wrote(tmp_path, monkeypatch):
    """The generator is another module; a stand-in with its signature checks the command's side."""

    def generate_bank(n, seed, out, progress=None, bank="lookalike"):
        out.mkdir(parents=True, exist_ok=True)
        lines = []
        for i in range(n):
            lines.append(make_case("Gout").model_copy(update={"id": f"bank-{seed}-{i}"}).to_json())
            if progress:
                progress(i + 1)
        (out / "cases.jsonl").write_text("\n".join(lines) + "\n")
        return out

    monkeypatch.setitem(sys.modules, "sim.bank", types.SimpleNamespace(generate_bank=generate_bank))
    out = tmp_path / "bank"
    result = CliRunner().invoke(app, ["cases", "generate", "--n", "3", "--seed", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"3 cases written to {out / 'cases.jsonl'}" in result.output
