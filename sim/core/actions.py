"""The doctor's typed actions: one per turn. Routing in the encounter graph depends only on the kind."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

MAX_DIFFERENTIAL = 5


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Ask(_Action):
    kind: Literal["ask"] = "ask"
    text: str = Field(min_length=1)


class RequestTest(_Action):
    kind: Literal["test"] = "test"
    name: str = Field(min_length=1)


class RequestImage(_Action):
    kind: Literal["image"] = "image"
    name: str = Field(min_length=1)


class Diagnose(_Action):
    kind: Literal["diagnose"] = "diagnose"
    differential: list[str] = Field(min_length=1, description="ranked, most likely first")

    @field_validator("differential")
    @classmethod
    def _clean(cls, items: list[str]) -> list[str]:
        seen: list[str] = []
        for item in items:
            text = " ".join(item.split()).strip(" .;,")
            if text and text.lower() not in (s.lower() for s in seen):
                seen.append(text)
        if not seen:
            raise ValueError("the differential is empty")
        return seen[:MAX_DIFFERENTIAL]


DoctorAction = Annotated[Ask | RequestTest | RequestImage | Diagnose, Field(discriminator="kind")]
ACTION_ADAPTER: TypeAdapter[DoctorAction] = TypeAdapter(DoctorAction)


def action_json_schema() -> dict:
    """JSON schema sent as structured output to servers that honour it: one object per action kind."""

    def kind(name: str, field: str, schema: dict) -> dict:
        return {"type": "object", "properties": {"kind": {"const": name}, field: schema}, "required": ["kind", field]}

    text = {"type": "string", "maxLength": 300}
    differential = {
        "type": "array",
        "items": {"type": "string", "maxLength": 120},
        "minItems": 1,
        "maxItems": MAX_DIFFERENTIAL,
    }
    return {
        "anyOf": [
            kind("ask", "text", text),
            kind("test", "name", text),
            kind("image", "name", text),
            kind("diagnose", "differential", differential),
        ]
    }
