"""The reference doctors without a model: the text classifier (the story alone) and knn+text (story and
picture), on small hand-made cases."""

from __future__ import annotations

import pytest

from agents.protocol import View
from agents.reference_doctors import KnnTextDoctor, TextClassifier, TextDoctor, case_text
from sim.core.actions import Diagnose, RequestImage
from sim.core.case import Case, Diagnosis, PatientScript
from sim.core.transcript import Turn

STORIES = {
    # diagnosis: (group, words of its story)
    "Parapneumonic effusion": ("effusion", "fever rigors productive cough green sputum antibiotics"),
    "Malignant pleural effusion": ("effusion", "weight loss breast cancer years ago night tiredness"),
    "Pneumococcal pneumonia": ("consolidation", "fever rigors productive cough green sputum antibiotics"),
    "Primary lung cancer": ("nodule", "weight loss heavy smoker haemoptysis hoarse voice"),
}


def _case(index: int, name: str, extra: str = "") -> Case:
    group, words = STORIES[name]
    return Case(
        id=f"t-{index}",
        source="test",
        patient=PatientScript(history=f"{words} {extra}".strip()),
        tests={"Complete_Blood_Count": {"WBC": "12"}},
        diagnosis=Diagnosis(name=name),
        metadata={"group": group},
    )


@pytest.fixture
def archive() -> list[Case]:
    return [_case(i * 10 + j, name, f"case {j}") for i, name in enumerate(STORIES) for j in range(4)]


def test_case_text_holds_the_story_and_results_but_not_the_diagnosis(archive):
    text = case_text(archive[0])
    assert "green sputum" in text and "WBC: 12" in text and "Parapneumonic" not in text


def test_the_text_doctor_names_the_diagnosis_its_story_fits(archive):
    classifier = TextClassifier(archive)
    reply = TextDoctor(classifier, _case(99, "Malignant pleural effusion"), top_k=2).generate_next_message(View([]))
    assert isinstance(reply.action, Diagnose) and reply.action.differential[0] == "Malignant pleural effusion"
    # The infection story fits two diagnoses of two pictures: the text alone cannot tell them apart.
    infection = TextClassifier(archive).probabilities(_case(98, "Parapneumonic effusion"))
    assert abs(infection["Parapneumonic effusion"] - infection["Pneumococcal pneumonia"]) < 0.2


def test_a_case_of_the_archive_is_scored_by_a_model_fitted_without_it(archive):
    classifier = TextClassifier(archive)
    classifier.probabilities(archive[0])
    classifier.probabilities(_case(97, "Primary lung cancer"))
    assert set(classifier._models) == {archive[0].id, ""}


def test_knn_text_asks_for_the_image_then_lets_the_picture_pick_among_the_story_s_diagnoses(archive):
    doctor = KnnTextDoctor(TextClassifier(archive), _case(96, "Parapneumonic effusion"), top_k=3)
    first = doctor.generate_next_message(View([]))
    assert isinstance(first.action, RequestImage)
    # The infection story fits an effusion and a consolidation; the films retrieved are effusions (of another
    # cause): the picture picks the group, the story the cause within it.
    retrieved = [
        {"diagnosis": "Malignant pleural effusion", "similarity": 0.9},
        {"diagnosis": "Malignant pleural effusion", "similarity": 0.8},
    ]
    transcript = [
        Turn(index=0, role="doctor", text="IMAGE: chest x-ray", action=first.action),
        Turn(index=1, role="retrieval", text="...", meta={"items": retrieved}),
    ]
    reply = doctor.generate_next_message(View(transcript))
    assert isinstance(reply.action, Diagnose) and reply.action.differential[0] == "Parapneumonic effusion"
    assert reply.meta["picture_groups"] == {"effusion": 1.0}


def test_the_text_doctor_needs_two_diagnoses():
    with pytest.raises(ValueError, match="at least two diagnoses"):
        TextClassifier([_case(0, "Primary lung cancer")])
