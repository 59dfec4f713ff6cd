"""The deterministic measurement lookup, on a small case and on every shared AgentClinic-MedQA case."""

from __future__ import annotations

import random

import pytest

from agents.measurement import LookupMeasurement, _walk
from agents.synonyms import SYNONYM_GROUPS, canonical, normalise
from sim.loaders import load_cases
from tests.helpers import small_case


@pytest.mark.parametrize(
    "request_name, expected",
    [
        ("CBC", "WBC 15,200"),
        ("complete blood count", "WBC 15,200"),
        ("Full blood count", "WBC 15,200"),
        ("crp", "120 mg/L"),
        ("C-reactive protein level", "120 mg/L"),
        ("vitals", "38.9 C"),
        ("CXR", "Right lower lobe opacity"),
        ("chest radiograph", "Right lower lobe opacity"),
        ("chest exam", "Crackles"),
        ("Physical examination", "Crackles"),
    ],
)
def test_requests_find_results_by_name_synonym_and_abbreviation(request_name, expected):
    result = LookupMeasurement(small_case()).request_test(request_name)
    assert result.found and expected in result.text


@pytest.mark.parametrize("request_name", ["serum lipase", "MRI brain", "ultrasound neck", "urine", ""])
def test_absent_tests_are_not_matched(request_name):
    result = LookupMeasurement(small_case(), missing_answer="Not done.").request_test(request_name)
    assert not result.found and result.text.endswith("Not done.")


def test_image_request_returns_the_files_and_withholds_the_report(tmp_path):
    case = small_case("images/x.png")
    lookup = LookupMeasurement(case, case_dir=tmp_path)
    result = lookup.request_image("chest x-ray")
    assert result.images == [str(tmp_path / "images" / "x.png")]
    assert "consolidation" not in result.text
    shown = LookupMeasurement(case, case_dir=tmp_path, show_image_report=True).request_image("CXR")
    assert "consolidation" in shown.text
    # A CT was not done: the image is not offered, and the text result lookup answers instead.
    assert LookupMeasurement(case, case_dir=tmp_path).request_image("CT chest").images == []


def _node_hit(result, node) -> bool:
    path = ".".join(node.path)
    return result.found and any(path == p or path.startswith(p + ".") for p in result.matched_paths)


def test_every_medqa_result_is_found_by_its_own_key_and_by_synonyms(medqa_path):
    """Reported figures: own-key hit rate (target 100%) and synonym hit rate."""
    cases = load_cases(medqa_path)
    groups = {normalise(name): group for group in SYNONYM_GROUPS for name in group}
    own_total = own_hits = syn_total = syn_hits = 0
    for case in cases:
        lookup = LookupMeasurement(case)
        for node in list(_walk(("tests",), case.tests)) + list(_walk(("exam",), case.exam)):
            own_total += 1
            own_hits += _node_hit(lookup.request_test(node.path[-1]), node)
            for alternative in groups.get(normalise(node.path[-1]), []):
                if normalise(alternative) != normalise(node.path[-1]):
                    syn_total += 1
                    syn_hits += _node_hit(lookup.request_test(alternative), node)
    print(f"\nMedQA lookup: own key {own_hits}/{own_total}, synonym {syn_hits}/{syn_total}")
    assert own_total > 2000 and own_hits == own_total
    assert syn_total > 500 and syn_hits / syn_total >= 0.98


def test_medqa_false_matches_stay_rare(medqa_path):
    """Asking a case for tests it does not have (names taken from other cases) rarely finds anything."""
    cases = load_cases(medqa_path)
    all_keys = sorted({node.path[-1] for case in cases for node in _walk(("tests",), case.tests)})
    rng = random.Random(0)
    tried = found = 0
    for case in cases:
        lookup = LookupMeasurement(case)
        own = {canonical(n.path[-1]) for n in list(_walk(("tests",), case.tests)) + list(_walk(("exam",), case.exam))}
        for key in rng.sample(all_keys, 20):
            if canonical(key) not in own:
                tried += 1
                found += lookup.request_test(key).found
    print(f"\nMedQA absent-test matches: {found}/{tried}")
    assert tried > 1500 and found / tried < 0.01
