"""The synthetic case bank: determinism, schema, image content per condition, and the no-leak rule."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sim.bank import CONDITIONS, NOMINAL_BOXES, REGIONS, build_case, generate_bank
from sim.core.case import Case

PER_CONDITION = 10
N = PER_CONDITION * len(CONDITIONS)  # every block of len(CONDITIONS) cases holds each condition once
TRAIN_SEED, TEST_SEED = 101, 202


def load_cases(folder: Path) -> list[Case]:
    lines = (folder / "cases.jsonl").read_text(encoding="utf-8").splitlines()
    return [Case.model_validate_json(line) for line in lines]


def load_pixels(folder: Path, case: Case) -> np.ndarray:
    with Image.open(folder / str(case.images[0].path)) as image:
        assert image.mode == "L"
        return np.asarray(image, dtype=np.float64)


def meta(case: Case) -> dict[str, Any]:
    """Case metadata with loose typing: it is free-form JSON by design."""
    return case.metadata


def standardised(pixels: np.ndarray) -> np.ndarray:
    """Remove window/level differences so comparisons see anatomy, not exposure."""
    return (pixels - pixels.mean()) / (pixels.std() + 1e-6)


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def train_bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bank_train")
    generate_bank(N, TRAIN_SEED, folder, bank="findings")
    return folder


@pytest.fixture(scope="module")
def test_bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bank_test")
    generate_bank(N, TEST_SEED, folder, bank="findings")
    return folder


# ---- determinism ----------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    generate_bank(12, 7, tmp_path / "a", bank="findings")
    generate_bank(12, 7, tmp_path / "b", bank="findings")
    first, second = file_bytes(tmp_path / "a"), file_bytes(tmp_path / "b")
    assert len(first) == 13 and first == second


def test_worker_processes_write_the_same_files(tmp_path: Path) -> None:
    generate_bank(12, 7, tmp_path / "one", workers=1, bank="findings")
    generate_bank(12, 7, tmp_path / "two", workers=2, bank="findings")
    assert file_bytes(tmp_path / "one") == file_bytes(tmp_path / "two")


def test_interrupted_parallel_run_leaves_no_temp_files(tmp_path: Path) -> None:
    def crash(done: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_bank(40, 1, tmp_path, progress=crash, workers=2, bank="findings")
    assert not (tmp_path / "cases.jsonl").exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_different_seed_differs(tmp_path: Path) -> None:
    generate_bank(12, 7, tmp_path / "a", bank="findings")
    generate_bank(12, 8, tmp_path / "b", bank="findings")
    first, second = file_bytes(tmp_path / "a"), file_bytes(tmp_path / "b")
    assert first["cases.jsonl"] != second["cases.jsonl"]
    first_images = [v for k, v in sorted(first.items()) if k.endswith(".png")]
    second_images = [v for k, v in sorted(second.items()) if k.endswith(".png")]
    assert all(a != b for a, b in zip(first_images, second_images, strict=True))


def test_case_i_does_not_depend_on_n(tmp_path: Path) -> None:
    generate_bank(10, 3, tmp_path / "small", bank="findings")
    generate_bank(20, 3, tmp_path / "large", bank="findings")
    small = (tmp_path / "small" / "cases.jsonl").read_text().splitlines()
    large = (tmp_path / "large" / "cases.jsonl").read_text().splitlines()
    assert len(small) == 10 and len(large) == 20
    assert small == large[:10]
    images = {k: v for k, v in file_bytes(tmp_path / "small").items() if k.endswith(".png")}
    assert len(images) == 10
    for name, content in images.items():
        assert (tmp_path / "large" / name).read_bytes() == content


def test_progress_is_reported_after_each_case(tmp_path: Path) -> None:
    seen: list[int] = []
    generate_bank(4, 0, tmp_path, progress=seen.append, bank="findings")
    assert seen == [1, 2, 3, 4]


def test_interrupted_run_leaves_previous_file_and_no_temp_files(tmp_path: Path) -> None:
    generate_bank(3, 0, tmp_path, bank="findings")
    before = (tmp_path / "cases.jsonl").read_bytes()

    def crash(done: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_bank(6, 1, tmp_path, progress=crash, bank="findings")
    assert (tmp_path / "cases.jsonl").read_bytes() == before
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_negative_seed_works_and_differs_from_its_absolute_value(tmp_path: Path) -> None:
    generate_bank(2, -4, tmp_path / "negative", bank="findings")
    generate_bank(2, 4, tmp_path / "positive", bank="findings")
    negative = load_cases(tmp_path / "negative")
    assert [c.id for c in negative] == ["bank-s-4-00000", "bank-s-4-00001"]
    assert (
        file_bytes(tmp_path / "negative")["images/bank-s-4-00000.png"]
        != file_bytes(tmp_path / "positive")["images/bank-s4-00000.png"]
    )


# ---- schema and files -----------------------------------------------------------------------------


def test_every_line_is_a_valid_case_and_all_conditions_appear(train_bank: Path) -> None:
    cases = load_cases(train_bank)
    assert len(cases) == N
    counts: dict[str, int] = defaultdict(int)
    for case in cases:
        counts[meta(case)["condition"]] += 1
    assert counts == {c.key: PER_CONDITION for c in CONDITIONS}
    assert len({c.id for c in cases}) == N


def test_case_fields(train_bank: Path) -> None:
    names = {c.key: c.name for c in CONDITIONS}
    for index, case in enumerate(load_cases(train_bank)):
        assert case.id == f"bank-s{TRAIN_SEED}-{index:05d}"
        assert case.source == "bank"
        info = meta(case)
        assert info["seed"] == TRAIN_SEED and info["index"] == index
        assert isinstance(info["nuisance"], dict) and "rotation_deg" in info["nuisance"]
        assert case.diagnosis.name == names[info["condition"]]
        image = case.images[0]
        assert image.path == f"images/{case.id}.png"
        assert (image.modality, image.body_region, image.view) == ("X-ray", "chest", "PA")
        assert image.report.startswith("FINDINGS:") and "IMPRESSION:" in image.report
        assert set(image.regions) <= set(REGIONS)
        assert (info["condition"] == "normal") == (not image.regions)
        side = info["site"]["side"]
        if side:
            assert side in image.report.lower()
        assert len(case.options) == 4
        assert [o.text for o in case.options if o.correct] == [case.diagnosis.name]
        assert len({o.text for o in case.options}) == 4
        assert case.patient.demographics and case.patient.history and case.patient.symptoms.primary
        assert case.exam and case.tests


def test_images_are_224_grayscale_pngs(train_bank: Path) -> None:
    for case in load_cases(train_bank):
        with Image.open(train_bank / str(case.images[0].path)) as image:
            assert image.format == "PNG" and image.mode == "L" and image.size == (224, 224)
            assert not image.info  # no text, time or dpi chunks that could vary between runs


def test_options_order_is_shuffled(train_bank: Path) -> None:
    positions = {next(i for i, o in enumerate(c.options) if o.correct) for c in load_cases(train_bank)}
    assert len(positions) >= 3


# ---- image content --------------------------------------------------------------------------------


def _box_mean(pixels: np.ndarray, region: str) -> float:
    top, bottom, left, right = NOMINAL_BOXES[region]
    height, width = pixels.shape
    return float(pixels[int(top * height) : int(bottom * height), int(left * width) : int(right * width)].mean())


def _disc_mean(pixels: np.ndarray, centre: list[float], radius: float) -> float:
    y, x = np.mgrid[0 : pixels.shape[0], 0 : pixels.shape[1]] + 0.5
    inside = (x - centre[0]) ** 2 + (y - centre[1]) ** 2 <= max(radius, 2.0) ** 2
    return float(pixels[inside].mean())


# Which way the sign moves brightness in its first labelled region (pneumothorax: air, darker).
EXPECTED_DIRECTION = {"consolidation": 1, "effusion": 1, "cardiomegaly": 1, "pneumothorax": -1}


def test_each_condition_changes_its_labelled_region(train_bank: Path) -> None:
    cases = load_cases(train_bank)
    images = {c.id: standardised(load_pixels(train_bank, c)) for c in cases}
    normals = [images[c.id] for c in cases if c.metadata["condition"] == "normal"]
    by_condition: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        by_condition[str(case.metadata["condition"])].append(case)

    for chosen in CONDITIONS:
        if chosen.key == "normal":
            continue
        group = by_condition[chosen.key]
        if chosen.lesion in ("nodule", "mass"):
            # Their site varies per case, so compare each lesion's disc with the same disc on normal films.
            shifts = []
            for case in group:
                lesion = meta(case)["lesion"]
                centre, radius = lesion["center_xy"], lesion["radius_px"]
                inside = _disc_mean(images[case.id], centre, radius)
                baseline = np.mean([_disc_mean(n, centre, radius) for n in normals])
                shifts.append(inside - baseline)
            assert np.mean(shifts) > 0.4, (chosen.key, shifts)
            continue
        region = group[0].images[0].regions[0]
        assert all(c.images[0].regions[0] == region for c in group)
        diseased = np.mean([_box_mean(images[c.id], region) for c in group])
        normal = np.mean([_box_mean(n, region) for n in normals])
        shift = (diseased - normal) * EXPECTED_DIRECTION[chosen.lesion]
        assert shift > 0.1, (chosen.key, region, diseased, normal)


def test_cardiothoracic_ratio_separates_cardiomegaly(train_bank: Path) -> None:
    for case in load_cases(train_bank):
        ratio = float(meta(case)["cardiothoracic_ratio"])
        assert (ratio > 0.5) == (meta(case)["condition"] == "cardiomegaly"), (case.id, ratio)


def _features(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    features, labels = [], []
    for case in load_cases(folder):
        with Image.open(folder / str(case.images[0].path)) as image:
            small = np.asarray(image.resize((32, 32), Image.Resampling.BILINEAR), dtype=np.float64).ravel()
        features.append(standardised(small))
        labels.append(case.metadata["condition"])
    return np.array(features), np.array(labels)


def test_nearest_centroid_beats_chance_but_is_not_trivial(train_bank: Path, test_bank: Path) -> None:
    train_x, train_y = _features(train_bank)
    test_x, test_y = _features(test_bank)
    keys = sorted(set(train_y))
    centroids = np.stack([train_x[train_y == k].mean(axis=0) for k in keys])
    distances = ((test_x[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=-1)
    accuracy = float((np.array(keys)[distances.argmin(axis=1)] == test_y).mean())
    chance = 1.0 / len(keys)
    print(f"nearest-centroid accuracy {accuracy:.3f} (chance {chance:.3f})")
    assert accuracy > 2.5 * chance, accuracy
    assert accuracy < 0.9, accuracy


# ---- no leak of the answer into what the patient and measurement agents see ----------------------


def _texts(value: object) -> list[str]:
    """Every key and string value in a nested JSON structure; underscores read as spaces."""
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in (str(key).replace("_", " "), *_texts(item))]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return [str(value)] if value is not None else []


def visible_to_agents(case: Case) -> str:
    parts = _texts(case.patient.model_dump()) + _texts(case.exam) + _texts(case.tests) + [case.objective]
    return re.sub(r"\s+", " ", " \n ".join(parts)).lower()


def test_no_diagnosis_name_or_alias_leaks_into_patient_exam_or_tests(train_bank: Path) -> None:
    every_name = {name.lower() for c in CONDITIONS for name in c.all_names()}
    for case in load_cases(train_bank):
        text = visible_to_agents(case)
        own = {name.lower() for name in case.diagnosis.all_names()}
        leaked = sorted(name for name in own | every_name if name in text)
        assert not leaked, (case.id, leaked)


def test_no_leak_over_many_cases_of_each_condition() -> None:
    # Text variants are drawn at random; a wider sweep than the fixture bank catches rare phrasings.
    every_name = {name.lower() for c in CONDITIONS for name in c.all_names()}
    for index in range(3 * len(CONDITIONS)):
        case = build_case(5, index).case
        text = visible_to_agents(case)
        assert not [name for name in every_name if name in text], case.id


def test_jsonl_lines_are_plain_case_dumps(train_bank: Path) -> None:
    first = (train_bank / "cases.jsonl").read_text(encoding="utf-8").splitlines()[0]
    assert json.loads(first)["schema_version"] == 1
    assert Case.model_validate_json(first).model_dump_json() == first
