"""Creates the model for a role from its settings: `model_for_role(settings, "doctor")`. The backend's
factory comes from the BACKENDS registry (sim/core/plugins.py): embedded, openai or scripted."""

from __future__ import annotations

from agents.llm.base import ChatModel
from agents.llm.errors import ConfigError
from sim.core.config import VISION_BACKENDS, RoleModel, Settings
from sim.core.plugins import BACKENDS

__all__ = ["ConfigError", "model_for_role", "model_for_spec"]


def model_for_role(settings: Settings, role: str) -> ChatModel:
    return model_for_spec(settings, settings.role(role), role)


def model_for_spec(settings: Settings, spec: RoleModel, role: str) -> ChatModel:
    """A model from one role's settings (also used for conference panelists with their own model)."""
    if spec.vision and spec.backend not in VISION_BACKENDS:  # settings made without validation (model_copy)
        raise ConfigError(f"roles.{role}.vision", f"the {spec.backend} backend cannot take images; see docs/vision.md")
    return BACKENDS.load(spec.backend)(settings, spec, role)
