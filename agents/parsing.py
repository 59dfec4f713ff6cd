"""Turning the doctor model's reply into one typed action.

Order: a JSON object (what a server honouring structured output returns), then tagged text such as
`ASK: ...`, `TEST: ...`, `IMAGE: ...`, `DIAGNOSIS: a; b; c`. Tags are matched leniently (case, markdown
emphasis, "REQUEST TEST", numbered lists after DIAGNOSIS) because small local models rarely follow a
format exactly. The caller decides what to do when nothing parses (repair once, then fall back to Ask).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from sim.core.actions import ACTION_ADAPTER, Ask, Diagnose, DoctorAction, RequestImage, RequestTest

_TAG_WORDS = {
    "ask": r"ask|question",
    "test": r"(?:request(?:ed)?[ _]|order[ _])?(?:lab[ _])?tests?",
    "image": r"(?:request(?:ed)?[ _]|order[ _])?(?:imaging|image)",
    "diagnose": r"(?:final[ _]|most[ _]likely[ _])?(?:diagnosis|diagnose|differential(?:[ _]diagnosis)?)",
}
_TAG_LINE = re.compile(
    r"^[\s>*#\-]*\**\s*(?P<tag>"
    + "|".join(f"(?P<{k}>{v})" for k, v in _TAG_WORDS.items())
    + r")\s*\**\s*[:\-]\**\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
_LIST_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s*(?P<item>.+)$")
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
_KIND_ALIASES = {"question": "ask", "request_test": "test", "request_image": "image", "diagnosis": "diagnose"}


@dataclass(frozen=True)
class ParseResult:
    action: DoctorAction | None
    method: str  # "json" | "tag" | "none"
    error: str = ""


def parse_action(text: str) -> ParseResult:
    text = (text or "").strip()
    if not text:
        return ParseResult(None, "none", "empty reply")
    for how, parse in (("json", _from_json), ("tag", _from_tags)):
        parsed = parse(text)
        if parsed is not None:
            return ParseResult(_fold_sites(parsed), how)
    return ParseResult(None, "none", "no ASK/TEST/IMAGE/DIAGNOSIS line found")


# A differential item made only of these words names a place, not a condition: small models asked for the side
# and lobe list them as items of their own ("Pulmonary nodule; Left mid zone; Lobe").
_POSITION_WORDS = {
    "left",
    "right",
    "bilateral",
    "upper",
    "lower",
    "middle",
    "mid",
    "medial",
    "lateral",
    "anterior",
    "posterior",
    "apical",
    "basal",
    "proximal",
    "distal",
    "superior",
    "inferior",
    "central",
}
_REGION_WORDS = {
    "lobe",
    "lobes",
    "zone",
    "zones",
    "lung",
    "lungs",
    "chest",
    "side",
    "breast",
    "retina",
    "eye",
    "hemithorax",
    "base",
    "bases",
    "apex",
    "field",
    "fields",
    "region",
    "quadrant",
    "area",
    "lingula",
    "the",
    "of",
    "and",
}


def is_site(item: str) -> bool:
    words = re.findall(r"[a-z]+", item.lower())
    return bool(words) and all(w in _POSITION_WORDS | _REGION_WORDS for w in words)


def _fold_sites(action: DoctorAction) -> DoctorAction:
    """A site listed as an item of its own qualifies the condition before it ("Pulmonary nodule (left mid
    zone)"); a site with no condition before it is dropped. The differential keeps only conditions."""
    if not isinstance(action, Diagnose) or not any(is_site(item) for item in action.differential):
        return action
    conditions: list[str] = []
    for item in action.differential:
        if not is_site(item):
            conditions.append(item)
        elif conditions:
            last = conditions[-1]
            site = item.lower()
            conditions[-1] = f"{last[:-1]}, {site})" if last.endswith(")") else f"{last} ({site})"
    return Diagnose(differential=conditions) if conditions else action


def fallback_ask(text: str) -> Ask:
    """What an unparseable reply becomes: the raw text, asked of the patient."""
    cleaned = " ".join((text or "").split())
    return Ask(text=cleaned or "Could you tell me more about your symptoms?")


def _from_json(text: str) -> DoctorAction | None:
    match = _JSON_OBJECT.search(text)
    if not match:
        return None
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    kind = str(data.get("kind") or data.get("action") or "").strip().lower()
    kind = _KIND_ALIASES.get(kind, kind)
    payload: dict[str, Any] = {"kind": kind}
    if kind == "ask":
        payload["text"] = data.get("text") or data.get("question") or ""
    elif kind in ("test", "image"):
        payload["name"] = data.get("name") or data.get("text") or ""
    elif kind == "diagnose":
        differential = data.get("differential") or data.get("diagnoses") or data.get("text") or []
        payload["differential"] = [differential] if isinstance(differential, str) else differential
    try:
        return ACTION_ADAPTER.validate_python(payload)
    except ValidationError:
        return None


def _from_tags(text: str) -> DoctorAction | None:
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = _TAG_LINE.match(line)
        if not match:
            continue
        rest = match.group("rest").strip().strip("*").strip()
        if match.group("diagnose"):
            items = _split_differential(rest, lines[index + 1 :])
            return Diagnose(differential=items) if items else None
        if not rest:
            continue
        if match.group("ask"):
            return Ask(text=rest)
        if match.group("test"):
            return RequestTest(name=_clean_name(rest))
        return RequestImage(name=_clean_name(rest))
    return None


def _split_differential(first: str, following: list[str]) -> list[str]:
    items = [part for part in re.split(r";|\s\|\s", first) if part.strip()]
    for line in following:
        match = _LIST_ITEM.match(line)
        if not match or _TAG_LINE.match(line):
            if items or line.strip():
                break
            continue
        items.append(match.group("item"))
    return [_clean_name(item) for item in items if _clean_name(item)]


def _clean_name(text: str) -> str:
    text = re.sub(r"^\s*(?:\d+[.)]|[-*•])\s*", "", text)
    text = text.strip().strip("*_`\"'").strip()
    return text.rstrip(".")
