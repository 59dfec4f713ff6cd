"""The project's own JSONL: one `Case` JSON object per line, as `Case.to_json()` writes it.

Image paths written relative are relative to the file's folder (a bank is `DIR/cases.jsonl` plus
`DIR/images/`), so the folder can be moved or shared; loading makes them absolute so that consumers
need not know where the file was. An image file that is not there marks the image unavailable
instead of failing the case, like a remote image that cannot be fetched.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sim.core.case import Case, CaseImage
from sim.core.errors import Problem, pydantic_problems
from sim.loaders._jsonl import RowContext, RowError

OPTIONS: frozenset[str] = frozenset()
LABEL, EXPECTED_KEYS = "native", "id, source, diagnosis"


def detects(keys: set[str]) -> bool:
    """Whether a JSON object with these keys is a case of this format."""
    return bool(keys & {"schema_version", "diagnosis"}) or {"id", "source"} <= keys


def make_converter(path: Path):
    return row_to_case


def row_to_case(row: dict[str, Any], where: RowContext) -> Case:
    try:
        case = Case.model_validate(row)
    except ValidationError as exc:
        raise RowError([_plain(p) for p in pydantic_problems(where.file, where.line, exc)]) from exc
    if not case.images:
        return case
    folder = where.path.parent
    return case.model_copy(update={"images": [_locate(image, folder) for image in case.images]})


# pydantic's wording, rephrased for someone editing a case file by hand.
_PLAIN_MESSAGES = {
    "String should have at least 1 character": "must not be empty",
    "Extra inputs are not permitted": "unknown field (not in the case schema; see `clinsim cases schema`)",
}


def _plain(problem: Problem) -> Problem:
    message = _PLAIN_MESSAGES.get(problem.message, problem.message).removeprefix("Value error, ")
    return replace(problem, message=message)


def _locate(image: CaseImage, folder: Path) -> CaseImage:
    if not image.path:
        return image
    path = Path(image.path)
    if not path.is_absolute():
        path = (folder / path).resolve()
    update: dict[str, Any] = {"path": str(path)}
    if image.available and not path.is_file():
        update |= {"available": False, "unavailable_reason": f"image file not found: {path}"}
    return image.model_copy(update=update)
