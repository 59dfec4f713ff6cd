"""Ingest sources: bad rows are located as FILE:LINE: field: message, and nothing is written without --skip-bad."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from retrieval.ingest import read_source, write_items
from retrieval.ingest.folder import match_columns
from retrieval.ingest.npz import parse_labels
from retrieval.ingest.write import MAX_IDENTICAL_REPORTS
from retrieval.store import CaseStore, persistent_store_exists
from sim.cli.main import app
from tests.conftest import shared_file


def _folder(tmp_path: Path, bank: Path, header: str, rows: list[str], name: str = "reports.csv") -> Path:
    folder = tmp_path / "export"
    (folder / "files").mkdir(parents=True)
    for index in range(3):
        shutil.copy(bank / "images" / f"bank-s7-{index:05d}.png", folder / "files" / f"{index}.png")
    (folder / "files" / "broken.png").write_text("not an image")
    (folder / name).write_text("\n".join([header, *rows]) + "\n")
    return folder


GOOD_ROWS = ["s1,files/0.png,Clear lungs.,Normal chest.", "s2,files/1.png,Right apical lucency.,Pneumothorax."]


def _ingest(tmp_path: Path, *args: str):
    return CliRunner().invoke(app, ["--data-dir", str(tmp_path / "data"), "store", "ingest", *args])


def test_csv_bad_rows_are_located_and_nothing_is_written(tmp_path, tiny_bank, tiny_embedder):
    rows = [
        *GOOD_ROWS,
        "s3,files/missing.png,Opacity.,Pneumonia.",
        "s4,files/broken.png,Opacity.,Pneumonia.",
        "s5,files/2.png,,",
    ]
    folder = _folder(tmp_path, tiny_bank, "id,image,findings,impression", rows)
    read = read_source("folder", folder)
    csv_file = str(folder / "reports.csv")
    shown = [str(p) for p in read.problems]
    assert shown[0].startswith(f"{csv_file}:4: image: image file not found")
    assert shown[1].startswith(f"{csv_file}:5: image: unreadable image")
    assert shown[2] == f"{csv_file}:6: report: findings and impression are both empty"
    assert [item.case_id for item in read.items] == ["s1", "s2"]

    result = _ingest(tmp_path, str(folder), "--kind", "folder")
    assert result.exit_code == 1
    assert f"{csv_file}:4: image: image file not found" in result.output
    assert "nothing written" in result.output
    assert not persistent_store_exists(tmp_path / "data" / "chroma")

    result = _ingest(tmp_path, str(folder), "--kind", "folder", "--skip-bad")
    assert result.exit_code == 0, result.output
    assert "2 items read; 6 records added" in result.output  # 2 images, their pixel vectors, 2 reports


def test_wrong_columns_are_reported_with_the_header_found(tmp_path, tiny_bank):
    folder = _folder(tmp_path, tiny_bank, "study,picture,text", ["s1,files/0.png,Clear."])
    problems = [str(p) for p in read_source("folder", folder).problems]
    assert problems[0].startswith(f"{folder / 'reports.csv'}:1: columns: no id column")
    assert any("no image column" in p and "the columns are: study, picture, text" in p for p in problems)
    assert any("no findings or impression column" in p for p in problems)


def test_a_row_with_the_wrong_number_of_fields_is_located(tmp_path, tiny_bank):
    folder = _folder(tmp_path, tiny_bank, "id,image,findings,impression", [GOOD_ROWS[0], "s2,files/1.png"])
    (problem,) = read_source("folder", folder).problems
    assert str(problem) == f"{folder / 'reports.csv'}:3: -: row has 2 fields, the header has 4"


def test_jsonl_reports_with_other_column_names(tmp_path, tiny_bank):
    rows = [
        json.dumps(
            {
                "Study ID": "s1",
                "Image Path": "files/0.png",
                "FINDINGS": "Clear lungs.",
                "Finding Labels": "normal",
                "Regions": "right lower zone|hilum",
            }
        )
    ]
    folder = _folder(tmp_path, tiny_bank, rows[0], [], name="reports.jsonl")
    assert match_columns(["Study ID", "Image Path", "FINDINGS", "Finding Labels"]) == {
        "id": "Study ID",
        "image": "Image Path",
        "findings": "FINDINGS",
        "diagnosis": "Finding Labels",
    }
    (item,) = read_source("folder", folder).items
    assert (item.case_id, item.diagnosis, item.report) == ("s1", "normal", "FINDINGS: Clear lungs.")
    assert item.regions == ("right lower zone", "hilum") and item.has_image


def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def test_npz_with_wrong_keys_or_shapes_is_refused(tmp_path, tiny_embedder):
    images = np.zeros((4, 8, 8), dtype=np.uint8)
    wrong_keys = _npz(tmp_path / "a.npz", x_train=images, y_train=np.zeros(4))
    problems = [str(p) for p in read_source("npz", wrong_keys).problems]
    assert problems == [
        f"{wrong_keys}: train_images: missing array (the file has: x_train, y_train)",
        f"{wrong_keys}: train_labels: missing array (the file has: x_train, y_train)",
    ]
    wrong_shapes = _npz(
        tmp_path / "b.npz", train_images=np.zeros((4, 8), dtype=np.uint8), train_labels=np.zeros((3, 1), dtype=np.uint8)
    )
    problems = [str(p) for p in read_source("npz", wrong_shapes).problems]
    assert problems == [
        f"{wrong_shapes}: train_images: expected shape (N, H, W) or (N, H, W, 1|3), got (4, 8)",
        f"{wrong_shapes}: train_labels: 3 labels for 4 images",
    ]
    result = _ingest(tmp_path, str(wrong_shapes), "--kind", "npz")
    assert result.exit_code == 1 and "train_labels: 3 labels for 4 images" in result.output
    assert not persistent_store_exists(tmp_path / "data" / "chroma")


def test_npz_labels_get_names_and_template_reports(tmp_path):
    rng = np.random.default_rng(0)
    path = _npz(
        tmp_path / "pneumoniamnist.npz",
        train_images=rng.integers(0, 255, (5, 28, 28), dtype=np.uint8),
        train_labels=np.array([[0], [1], [1], [0], [2]], dtype=np.uint8),
    )
    read = read_source("npz", path)
    assert [str(p) for p in read.problems] == [f"{path}: train_labels[4]: label 2 has no name (known: [0, 1])"]
    assert [item.diagnosis for item in read.items] == ["normal", "pneumonia", "pneumonia", "normal"]
    assert "IMPRESSION: Pneumonia." in read.items[1].report
    assert read.items[0].image_ref == f"{path}#train[0]" and read.items[0].load_image().size == (28, 28)
    named = read_source("npz", path, labels=parse_labels("0=clear,1=infection,2=other")).items
    assert [item.diagnosis for item in named][-1] == "other"


def test_pneumoniamnist_reads(tmp_path):
    path = shared_file("medmnist", "pneumoniamnist.npz")
    read = read_source("npz", path, limit=10, splits=("train", "test"))
    assert not read.problems and len(read.items) == 20
    assert {item.diagnosis for item in read.items} <= {"normal", "pneumonia"}


def test_agentclinic_gives_report_only_items(medqa_path):
    read = read_source("agentclinic", medqa_path)
    assert not read.problems and len(read.items) == 107
    assert not any(item.has_image for item in read.items)
    first = read.items[0]
    assert first.diagnosis == "Myasthenia gravis" and "Chest CT" in first.report and first.modality == "CT"


def test_bank_with_a_missing_image_points_at_the_case_line(tmp_path, tiny_bank):
    copy = tmp_path / "bank"
    shutil.copytree(tiny_bank, copy)
    (copy / "images" / "bank-s7-00002.png").unlink()
    (problem,) = read_source("bank", copy).problems
    assert str(problem).startswith(f"{copy / 'cases.jsonl'}:3: images.0.path: image file not found")


def test_cli_info_and_query_after_ingest(tmp_path, tiny_bank, tiny_embedder):
    assert _ingest(tmp_path, str(tiny_bank), "--kind", "bank", "--limit", "22").exit_code == 0
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path / "data"), "store"]
    info = runner.invoke(app, [*base, "info"], env={"COLUMNS": "200"})
    assert info.exit_code == 0 and "cases-image-tiny-test" in info.output and "22" in info.output
    query = runner.invoke(
        app,
        [*base, "query", "--text", "pleural effusion", "--region", "Right costophrenic angle", "-k", "2"],
        env={"COLUMNS": "200"},
    )
    assert query.exit_code == 0, query.output
    assert "Right pleural effusion" in query.output and "Left pleural effusion" not in query.output
    unknown = runner.invoke(app, [*base, "query", "--text", "effusion", "--region", "left knee"])
    assert unknown.exit_code == 1 and "unknown region 'left knee'" in unknown.output
    both = runner.invoke(app, [*base, "query"])
    assert both.exit_code == 1 and "exactly one of --image" in both.output


def test_identical_template_reports_are_stored_a_few_times_only(tmp_path, tiny_embedder):
    rng = np.random.default_rng(1)
    path = _npz(
        tmp_path / "pneumoniamnist.npz",
        train_images=rng.integers(0, 255, (30, 28, 28), dtype=np.uint8),
        train_labels=(np.arange(30) % 2).astype(np.uint8),
    )
    store = CaseStore.open(tmp_path / "chroma")
    summary = write_items(read_source("npz", path).items, store, tiny_embedder, tiny_embedder)
    counts = {c.name.split("-")[1]: (c.total, c.duplicates) for c in summary.collections}
    kept = 2 * MAX_IDENTICAL_REPORTS
    assert counts == {"image": (30, 0), "appearance": (30, 0), "report": (kept, 30 - kept)}
    assert write_items(read_source("npz", path).items, store, tiny_embedder, tiny_embedder).added == 0
