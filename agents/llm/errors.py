"""Why a role's model could not be made from its settings."""

from __future__ import annotations

from agents.llm.base import LLMError


class ConfigError(LLMError):
    """A role's settings cannot make a model; `field` is the setting to fix (the CLI locates it in the file)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
