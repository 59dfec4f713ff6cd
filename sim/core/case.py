"""The case model: everything one diagnostic encounter is built from.

One `Case` is what a loader produces, whatever the source (the generated bank, AgentClinic OSCE or NEJM
files, the project's own JSONL). Agents see different slices of it: the patient only `patient`, the
measurement agent `exam`, `tests` and `images`, the judge `diagnosis`. Keeping those slices as separate
fields is what lets the graph enforce who sees what.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

SCHEMA_VERSION: Final = 1

# Nested free-form results ("Blood_Tests" -> {"CBC": {"WBC": "12,000/mm3"}}): sources use arbitrary
# key names and depths, so the model keeps them as JSON and the measurement agent flattens them.
Findings = dict[str, JsonValue]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Symptoms(_Model):
    primary: str = ""
    secondary: list[str] = Field(default_factory=list)


class PatientScript(_Model):
    """What the patient agent knows about itself. Never holds the diagnosis, tests or exam."""

    demographics: str = ""
    history: str = ""
    symptoms: Symptoms = Field(default_factory=Symptoms)
    past_medical_history: str = ""
    social_history: str = ""
    review_of_systems: str = ""
    # Source fields with no slot above (e.g. NEJM's free-text role description), kept verbatim.
    extra: dict[str, str] = Field(default_factory=dict)


class CaseImage(_Model):
    """One image of a case. `path` is relative to the case file's folder or absolute; `url` is remote."""

    path: str | None = None
    url: str | None = None
    modality: str = ""
    body_region: str = ""
    view: str = ""
    regions: list[str] = Field(default_factory=list, description="anatomical regions the report refers to")
    report: str = ""
    available: bool = True
    unavailable_reason: str = ""

    @model_validator(mode="after")
    def _has_location(self) -> CaseImage:
        if not self.path and not self.url:
            raise ValueError("an image needs a path or a url")
        return self


class Diagnosis(_Model):
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("diagnosis name is empty")
        return value

    def all_names(self) -> list[str]:
        return [self.name, *[a for a in self.aliases if a]]


class AnswerOption(_Model):
    text: str = Field(min_length=1)
    correct: bool = False


class Case(_Model):
    """One diagnostic case. `id` is stable: loaders derive it from the source content, not its position."""

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._:-]+$")
    source: str = Field(min_length=1)
    objective: str = ""
    patient: PatientScript = Field(default_factory=PatientScript)
    exam: Findings = Field(default_factory=dict)
    tests: Findings = Field(default_factory=dict)
    images: list[CaseImage] = Field(default_factory=list)
    diagnosis: Diagnosis
    options: list[AnswerOption] = Field(default_factory=list)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)

    def to_json(self) -> str:
        return self.model_dump_json(exclude_defaults=False)

    @classmethod
    def from_json(cls, text: str) -> Case:
        return cls.model_validate_json(text)


def stable_id(prefix: str, content: Any, length: int = 10) -> str:
    """A short id that depends only on the content (canonical JSON), so re-loading gives the same id."""
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return f"{prefix}-{hashlib.sha256(canonical.encode('utf-8')).hexdigest()[:length]}"


def case_json_schema() -> dict[str, Any]:
    return Case.model_json_schema()
