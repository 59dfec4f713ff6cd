"""The look-alike bank as files: determinism per seed, one picture per group, the same tests within a group,
answer options that are the look-alikes, archive items with clinical context, and a data directory that holds
the other bank kind refused with a clear message. (The stories themselves: tests/test_lookalike_stories.py.)"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict

import pytest

from retrieval.ingest import read_source
from sim.bank.generate import BankMismatch, bank_kind, ensure_bank, generate_bank
from sim.bank.lookalike.cases import build_lookalike_case
from sim.bank.lookalike.catalogue import BY_KEY, DIAGNOSES, GROUPS, members
from sim.loaders import load_cases

N = 48  # two blocks: every diagnosis twice


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lookalike")
    generate_bank(N, 0, folder, size=96, workers=1)
    return folder


def test_the_default_bank_is_the_look_alike_bank(bank):
    assert bank_kind(bank) == "lookalike"
    cases = load_cases(bank)
    assert Counter(c.metadata["condition"] for c in cases) == {d.key: 2 for d in DIAGNOSES}
    assert len({c.metadata["group"] for c in cases}) == 6 and len(DIAGNOSES) >= 24


def test_a_seed_gives_the_same_bank_byte_for_byte(tmp_path):
    generate_bank(6, 3, tmp_path / "a", size=64, workers=1)
    generate_bank(6, 3, tmp_path / "b", size=64, workers=1)
    for name in ["cases.jsonl", *[f"images/lookalike-s3-{i:05d}.png" for i in range(6)]]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    other, _ = build_lookalike_case(4, 0, 64)
    assert other.to_json() != load_cases(tmp_path / "a")[0].to_json()


def test_every_diagnosis_shows_its_group_s_picture_and_no_other_group_s_main_sign(bank):
    main = {
        "effusion": {"effusion"},
        "consolidation": {"consolidation"},
        "cardiac": {"cardiomegaly"},
        "nodule": {"nodule", "mass"},
        "pneumothorax": {"pneumothorax"},
        "normal": set(),
    }
    for case in load_cases(bank):
        group = case.metadata["group"]
        kinds = {s["kind"] for s in case.metadata["film"]["signs"]}
        assert main[group] <= kinds or (group == "nodule" and kinds & main["nodule"]), (case.id, kinds)
        for other, signs in main.items():
            if other != group and other not in ("effusion", "consolidation", "nodule"):  # co-findings allowed
                assert not signs & kinds, (case.id, group, kinds)
        report = case.images[0].report
        assert report.startswith("FINDINGS:") and "IMPRESSION:" in report
        assert case.diagnosis.name.lower() not in report.lower()  # the film shows the sign, not the cause


def test_images_vary_within_a_diagnosis(bank):
    digests = defaultdict(set)
    for case in load_cases(bank):
        digests[case.metadata["condition"]].add(hashlib.sha256((bank / case.images[0].path).read_bytes()).hexdigest())
    assert all(len(d) == 2 for d in digests.values())


def test_every_case_of_a_group_has_the_same_tests_and_the_options_are_its_look_alikes(bank):
    keys = defaultdict(set)
    for case in load_cases(bank):
        keys[case.metadata["group"]].add(tuple(sorted(case.tests)))
        options = {o.text for o in case.options}
        assert options == {d.name for d in members(case.metadata["group"])}
        assert [o.text for o in case.options if o.correct] == [case.diagnosis.name]
    assert all(len(k) == 1 for k in keys.values()), keys


def test_the_archive_items_carry_a_line_of_clinical_context(bank):
    items = read_source("bank", bank).items
    assert len(items) == N and all(item.context for item in items)
    first = items[0]
    assert first.metadata()["context"] == first.context
    assert BY_KEY[load_cases(bank)[0].metadata["condition"]].name not in first.context


def test_discriminators_are_marked_in_the_metadata(bank):
    for case in load_cases(bank):
        facts = case.metadata["discriminators"]
        script = " ".join(
            [
                case.patient.history,
                case.patient.past_medical_history,
                case.patient.social_history,
                case.patient.review_of_systems,
                *case.patient.symptoms.secondary,
            ]
        )
        assert 2 <= len(facts) <= 4 and all(fact in script for fact in facts)


def test_a_data_directory_holding_the_other_bank_is_refused_with_what_to_do(tmp_path):
    folder = tmp_path / "bank"
    generate_bank(2, 0, folder, size=64, bank="findings", workers=1)
    with pytest.raises(BankMismatch, match="holds the findings bank, and the lookalike bank is asked for"):
        ensure_bank(folder, 4)
    assert ensure_bank(folder, 4, bank="findings") is False  # the right kind: left alone
    fresh = tmp_path / "fresh"
    assert ensure_bank(fresh, 3) is True and bank_kind(fresh) == "lookalike"


def test_the_groups_have_at_least_four_members_each():
    assert all(len(members(g)) >= 4 for g in GROUPS)


def test_the_demo_case_is_a_lookalike_case_where_the_story_decides(tmp_path):
    """`clinsim demo` runs DEMO_CASE of the seed-0 bank: it must exist there and be the malignant effusion the
    README describes (a bank of the first 91 cases holds it: each case depends on its seed and index only)."""
    from sim.bank.generate import generate_bank
    from sim.cli.demo import DEMO_CASE, DEMO_SEED
    from sim.loaders import load_cases

    index = int(DEMO_CASE.rsplit("-", 1)[1])
    generate_bank(index + 1, DEMO_SEED, tmp_path / "bank", workers=1)
    case = next(c for c in load_cases(tmp_path / "bank") if c.id == DEMO_CASE)
    assert case.diagnosis.name == "Malignant pleural effusion"
    assert case.metadata["group"] == "effusion" and case.metadata["discriminators"]
