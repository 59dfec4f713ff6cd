"""What the app shows for turns and records: labelled chat messages, the retrieval panel, experiences."""

from __future__ import annotations

from PIL import Image

from sim.app import render
from sim.core.transcript import Turn


def test_chat_labels_each_speaker_and_inlines_only_publishable_images(tmp_path):
    image = tmp_path / "cxr.png"
    Image.new("L", (8, 8)).save(image)
    turns = [
        Turn(
            index=0,
            role="doctor",
            text="IMAGE: chest x-ray",
            action={"kind": "image", "name": "chest x-ray"},
            human=True,
        ),
        Turn(index=1, role="measurement", text="chest X-ray: acquired.", images=[str(image), "/gone.png"]),
    ]
    shown = render.chat_messages(turns, lambda p: p if p == str(image) else None)
    assert shown[0] == {"role": "user", "content": "**Doctor** (you): *requests image:* chest x-ray"}
    assert shown[1]["role"] == "assistant"
    assert shown[1]["content"] == [
        "**Measurement**: chest X-ray: acquired.",
        {"path": str(image)},
        "*(image not available)*",
    ]


def test_retrieval_panel_reads_the_store_items(tmp_path):
    image = tmp_path / "n.png"
    Image.new("L", (8, 8)).save(image)
    items = [  # the shape retrieval/retriever.py records: similarity, report excerpt, image ref, ood flag
        {
            "case_id": "bank-1",
            "diagnosis": "Left pneumothorax",
            "similarity": 0.8312,
            "score": 0.9,
            "report": "Lucent rim.",
            "image": str(image),
            "ood": False,
            "context": "23-year-old man; tall, smokes",
        },
        {
            "case_id": "mnist-7",
            "diagnosis": "Pneumonia",
            "similarity": 0.41,
            "report": "x | y",
            "ood": True,
            "image": "pneumonia.npz#test[7]",
        },
    ]
    turns = [Turn(index=0, role="retrieval", text="Similar cases ...", meta={"items": items})]
    assert render.retrieval_gallery(turns, lambda p: p if p == str(image) else None) == [
        (str(image), "Left pneumothorax · similarity 0.83")
    ]
    table = render.retrieval_markdown(turns)
    # A teaching file shows the patient beside the film: the archived case's clinical context, when it has one.
    assert "| 1 | 1 | bank-1 | Left pneumothorax | 0.83 | 23-year-old man; tall, smokes | Lucent rim. |" in table
    assert "| 1 | 2 | mnist-7 | Pneumonia |" in table  # each row its rank, not the image's number
    assert "0.41 ⚠ **out of distribution**" in table and "x \\| y" in table
    assert render.chat_message(turns[0], lambda p: None)["metadata"]["title"].startswith("Retrieval: 2 similar")


def test_experiences_are_listed_with_their_outcome():
    assert render.experiences_markdown([]) == "*Experiences used: none.*"
    text = render.experiences_markdown(
        [{"id": "e1", "case_id": "bank-3", "truth": "Pleural effusion", "correct": False, "score": 0.72}]
    )
    assert "- case bank-3 · Pleural effusion · missed · similarity 0.72" in text
