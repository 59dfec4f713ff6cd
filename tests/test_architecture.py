"""The layering cannot silently decay: the import-linter contracts in pyproject.toml are checked here
(layers, a ground that imports nothing above it, no cycles), and every registered plug-in resolves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agents.prompts import bias_names
from sim.core.config import BIASES, Settings
from sim.core.plugins import ALL

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--config", str(REPO / "pyproject.toml")],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "3 kept, 0 broken" in done.stdout


@pytest.mark.parametrize("registry", ALL, ids=[r.kind for r in ALL])
def test_every_registered_plugin_resolves(registry):
    for name in registry.names():
        assert callable(registry.load(name)), (registry.kind, name)


def test_configuration_offers_exactly_the_registered_names():
    from typing import get_args

    fields = {
        "strategy": Settings.model_fields["strategy"].annotation.model_fields["name"].annotation,
        "model backend": Settings.model_fields["roles"]
        .annotation.model_fields["doctor"]
        .annotation.model_fields["backend"]
        .annotation,
    }
    by_kind = {r.kind: r for r in ALL}
    for kind, annotation in fields.items():
        assert get_args(annotation) == by_kind[kind].names()


def test_every_configured_bias_has_its_prompt_and_no_prompt_is_unreachable():
    for role, names in BIASES.items():
        assert tuple(bias_names(role)) == names
