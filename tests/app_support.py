"""Launching the web app against scripted agents for the app tests (gradio_client and browser)."""

from __future__ import annotations

import socket
from pathlib import Path

from agents.llm.scripted import ScriptedModel
from sim.bank import generate_bank
from sim.core.case import Case
from sim.encounter.runner import EncounterRunner
from sim.loaders import load_cases
from tests.helpers import scripted_settings

PATIENT_SAYS = "It started four days ago, with a high fever."
# The API outputs of every encounter handler, in order (layout groups and buttons carry no value).
ENCOUNTER_OUTPUTS = [
    "chat",
    "status",
    "request",
    "suggestion",
    "reply_text",
    "reply_image",
    "result",
    "gallery",
    "retrieval",
    "experiences",
    "thread",
    "doctor_text",
    "differential",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_bank(data_dir: Path, n: int = 4) -> list[Case]:
    generate_bank(n, 0, data_dir / "bank")
    return load_cases(data_dir / "bank")


def fake_retriever(bank: list[Case], bank_dir: Path):
    """Stands in for the store: the other bank cases as neighbours, the last one flagged OOD."""

    def retrieve(case: Case, images: list[str]) -> tuple[str, list[dict]]:
        others = [c for c in bank if c.id != case.id][:3]
        items = [
            {
                "case_id": c.id,
                "diagnosis": c.diagnosis.name,
                "score": 0.9 - 0.1 * i,
                "ood": i == 2,
                "report": c.images[0].report,
                "image": str(bank_dir / c.images[0].path),
            }
            for i, c in enumerate(others)
        ]
        return "Similar cases: " + "; ".join(f"{i['case_id']} ({i['diagnosis']})" for i in items), items

    return retrieve


def scripted_factory(bank: list[Case], bank_dir: Path, doctor_script: list[str] | None = None):
    """A runner factory whose agents are scripted; a human seat is a human whatever the script says."""

    def factory(settings, human, checkpoint):
        models = {"patient": ScriptedModel([PATIENT_SAYS], cycle=True)}
        if doctor_script is not None:
            models["doctor"] = ScriptedModel(list(doctor_script))
        return EncounterRunner(
            settings, models=models, human=human, checkpoint_path=checkpoint, retriever=fake_retriever(bank, bank_dir)
        )

    return factory


def launch(data_root: Path, bank: list[Case], doctor_script: list[str] | None = None, auth=None, **settings):
    from sim.app.server import launch_app

    config = scripted_settings(data_root, **settings)
    return launch_app(
        config,
        port=free_port(),
        auth=auth,
        prevent_thread_lock=True,
        quiet=True,
        runner_factory=scripted_factory(bank, config.data_dir / "bank", doctor_script),
    )


def named(outputs) -> dict:
    assert len(outputs) == len(ENCOUNTER_OUTPUTS), outputs
    return dict(zip(ENCOUNTER_OUTPUTS, outputs))
