import pytest

from agents.parsing import fallback_ask, parse_action
from sim.core.actions import Ask, Diagnose, RequestImage, RequestTest


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ASK: When did the pain start?", Ask(text="When did the pain start?")),
        ("ask: any fever?", Ask(text="any fever?")),
        ("**ASK:** Do you smoke?", Ask(text="Do you smoke?")),
        ("Thinking...\nTEST: Complete blood count", RequestTest(name="Complete blood count")),
        ("REQUEST TEST: CBC.", RequestTest(name="CBC")),
        ("Request_Test: Troponin", RequestTest(name="Troponin")),
        ("IMAGE: Chest X-ray", RequestImage(name="Chest X-ray")),
        ("Request image - CT head", RequestImage(name="CT head")),
        ("DIAGNOSIS: Pneumonia; Bronchitis; Asthma", Diagnose(differential=["Pneumonia", "Bronchitis", "Asthma"])),
        (
            "Final diagnosis:\n1. Myasthenia gravis\n2. Lambert-Eaton syndrome",
            Diagnose(differential=["Myasthenia gravis", "Lambert-Eaton syndrome"]),
        ),
        ('{"kind": "test", "name": "urinalysis"}', RequestTest(name="urinalysis")),
        (
            'Sure: {"action": "diagnosis", "differential": ["Gout", "Pseudogout"]}',
            Diagnose(differential=["Gout", "Pseudogout"]),
        ),
        ('{"kind": "ask", "question": "Any rash?"}', Ask(text="Any rash?")),
    ],
)
def test_parses_tagged_and_json_replies(text, expected):
    result = parse_action(text)
    assert result.action == expected


def test_differential_is_capped_at_five_and_deduplicated():
    result = parse_action("DIAGNOSIS: a; b; B; c; d; e; f; g")
    assert result.action.differential == ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize("text", ["", "   ", "I think we should look into this further", "ASK:", '{"kind": "fly"}'])
def test_unparseable_replies_report_no_action(text):
    result = parse_action(text)
    assert result.action is None and result.method == "none" and result.error


def test_fallback_is_an_ask_with_the_raw_text():
    assert fallback_ask("  What   brings you in  ") == Ask(text="What brings you in")
    assert fallback_ask("").text


@pytest.mark.parametrize(
    "text, expected",
    [
        # seen from the 1.5B default on MedQA and bank cases: sites listed as items of their own
        ("DIAGNOSIS: Breast cancer; Left breast; Medial lobe", ["Breast cancer (left breast, medial lobe)"]),
        ("DIAGNOSIS: Pulmonary nodule; Right mid zone; Left chest", ["Pulmonary nodule (right mid zone, left chest)"]),
        ("DIAGNOSIS: Retinitis pigmentosa; Right retina; Lateral", ["Retinitis pigmentosa (right retina, lateral)"]),
        ("DIAGNOSIS: Left lobe; Pneumonia; Asthma", ["Pneumonia", "Asthma"]),  # a site with nothing before it
        ("DIAGNOSIS: Left pneumothorax; Pulmonary embolism", ["Left pneumothorax", "Pulmonary embolism"]),
        ('{"kind": "diagnose", "differential": ["Cardiomegaly", "Left side"]}', ["Cardiomegaly (left side)"]),
        ("DIAGNOSIS: Right lung", ["Right lung"]),  # nothing but a site: kept rather than left empty
    ],
)
def test_a_site_listed_as_an_item_qualifies_the_condition_before_it(text, expected):
    assert parse_action(text).action.differential == expected
