"""Shared fixtures. Tests never reach the network: hub downloads and analytics are off for the session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Plumbing tests run the small embedded model (fast); tests of what the default doctor does ask for
# `DEFAULT_DOCTOR` explicitly (a setting passed in beats the environment).
os.environ.setdefault("CLINSIM_EMBEDDED__MODEL", "smollm2-135m")

# The retrieval fixtures (tiny_bank, archive_bank, tiny_embedder) for every test module that asks for them.
pytest_plugins = ["tests.retrieval_helpers"]

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_file(*parts: str) -> Path:
    """A file of ../shared/data, or a skip saying why when the folder is absent (e.g. a user's machine)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data {path} not present (../shared/data is only beside the developers' checkout)")
    return path


@pytest.fixture
def medqa_path() -> Path:
    return shared_file("agentclinic", "agentclinic_medqa.jsonl")


@pytest.fixture
def nejm_path() -> Path:
    return shared_file("agentclinic", "agentclinic_nejm.jsonl")


@pytest.fixture(autouse=True)
def _no_servers_in_unit_tests(request, monkeypatch):
    """A unit test that reaches the embedded llama.cpp server fails at once: it would be slow and would hide
    a settings mistake (a role left on the default backend). Integration tests start servers on purpose."""
    if request.node.get_closest_marker("integration") is None:

        def refuse(self):
            raise AssertionError(
                "a unit test tried to start the embedded llama.cpp server: give every role a "
                "scripted model, or mark the test `integration`"
            )

        monkeypatch.setattr("agents.llm.embedded_server.LlamaServer.start", refuse)
