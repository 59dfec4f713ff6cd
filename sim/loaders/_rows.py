"""Typed access to a foreign source row, reporting problems in the source's own field names.

AgentClinic and NEJM rows are checked here before a `Case` is built, so a user reads
`OSCE_Examination.Correct_Diagnosis: expected a string, got number` instead of a message about our
model's fields, which they never wrote.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sim.core.case import Case, Diagnosis
from sim.core.errors import Problem, pydantic_problems
from sim.loaders._jsonl import RowContext, RowError, json_type

_MISSING = object()

_KIND_NAMES = {str: "a string", list: "an array", dict: "an object", bool: "a boolean"}


class SourceRow:
    """Collects problems while a converter reads fields; `finish()` raises them all at once."""

    def __init__(self, where: RowContext):
        self.where = where
        self.problems: list[Problem] = []

    def report(self, field_path: str, message: str) -> None:
        self.problems.append(self.where.problem(field_path, message))

    def get(self, parent: dict[str, Any], key: str, path: str, kind: type, *, required: bool = False) -> Any:
        """parent[key] if it has the expected JSON type; None (and a problem if required or mistyped) otherwise.

        A null value counts as absent: exporters often write null for "not recorded".
        """
        value = parent.get(key, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.report(path, "required field is missing")
            return None
        if not _is_kind(value, kind):
            self.report(path, f"expected {_KIND_NAMES[kind]}, got {json_type(value)}")
            return None
        return value

    def text(self, parent: dict[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
        """A required-looking string that must not be blank once stripped."""
        value = self.get(parent, key, path, str, required=required)
        if value is not None and not value.strip():
            self.report(path, "must not be empty")
            return None
        return value

    def string_list(self, parent: dict[str, Any], key: str, path: str) -> list[str]:
        items = self.get(parent, key, path, list)
        if items is None:
            return []
        good = []
        for index, item in enumerate(items):
            if isinstance(item, str):
                good.append(item)
            else:
                self.report(f"{path}.{index}", f"expected a string, got {json_type(item)}")
        return good

    def finish(self) -> None:
        if self.problems:
            raise RowError(self.problems)

    def build_case(self, **fields: Any) -> Case:
        """Build the case; a model error here means a converter missed a check, so say where it came from."""
        self.finish()
        try:
            return Case(**fields)
        except ValidationError as exc:
            raise RowError(pydantic_problems(self.where.file, self.where.line, exc, prefix="(converted case)")) from exc


def _is_kind(value: Any, kind: type) -> bool:
    if kind is str:
        return isinstance(value, str)
    if kind is bool:
        return isinstance(value, bool)
    return isinstance(value, kind)


def as_text(value: Any) -> str:
    """Flatten a loosely typed source value (string, list, nested object) into readable text.

    Extended AgentClinic variants write some patient fields as lists or objects
    (e.g. Review_of_Systems by organ system); the patient script keeps text.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "; ".join(t for t in (as_text(v) for v in value) if t)
    if isinstance(value, dict):
        return "; ".join(f"{humanise_key(k)}: {as_text(v)}" for k, v in value.items() if as_text(v))
    return str(value)


def humanise_key(key: str) -> str:
    return key.replace("_", " ").strip()


_PARENTHESISED = re.compile(r"^(?P<main>.+?)\s*\((?P<inner>[^()]+)\)\s*$")


def diagnosis_from_text(name: str) -> Diagnosis:
    """A diagnosis whose aliases are the parts of a trailing parenthesis.

    'Benign paroxysmal positional vertigo (BPPV)' also answers to 'Benign paroxysmal positional vertigo'
    and 'BPPV': the judge and the leak audit both need those forms.
    """
    name = name.strip()
    aliases: list[str] = []
    match = _PARENTHESISED.match(name)
    if match:
        aliases = [match["main"].strip(), match["inner"].strip()]
    return Diagnosis(name=name, aliases=[a for a in aliases if a and a != name])


def source_slug(text: str) -> str:
    """A lowercase id-safe slug: 'agentclinic_MedQA ext' -> 'agentclinic-medqa-ext'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "cases"


def source_for(path: Path) -> str:
    """A source name from the file name: 'agentclinic_medqa.jsonl' -> 'agentclinic-medqa'.

    Names that do not say where they come from get the 'agentclinic-' prefix (both foreign formats
    are AgentClinic's); a bank folder's 'cases.jsonl' is named after its folder.
    """
    stem = path.parent.name if path.name == "cases.jsonl" else path.name.removesuffix(".jsonl")
    slug = source_slug(stem)
    return slug if slug.startswith("agentclinic") else f"agentclinic-{slug}"
