"""Turning turns and records into what the app shows: chat messages, the retrieval panel, the result.

Plain data only (no gradio import): the encounter tab and the replay tab both render through here, and
every image passes through `publish` so nothing outside the data directory is ever handed to Gradio.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.core.actions import Ask, Diagnose, RequestImage, RequestTest
from sim.core.records import EpisodeRecord
from sim.core.transcript import Turn

Publish = Callable[[str], str | None]

ROLE_NAMES = {
    "doctor": "Doctor",
    "patient": "Patient",
    "measurement": "Measurement",
    "retrieval": "Retrieval",
    "judge": "Judge",
}
EXCERPT_CHARS = 220
VERDICTS: dict[bool | None, str] = {True: "diagnosed correctly", False: "missed"}


def _label(turn: Turn) -> str:
    return f"**{ROLE_NAMES.get(turn.role, turn.role.title())}**" + (" (you)" if turn.human else "")


def _doctor_text(turn: Turn) -> str:
    action = turn.action
    if isinstance(action, Ask):
        return action.text
    if isinstance(action, RequestTest):
        return f"*requests test:* {action.name}"
    if isinstance(action, RequestImage):
        return f"*requests image:* {action.name}"
    if isinstance(action, Diagnose):
        ranked = "  ".join(f"{i}. {d}" for i, d in enumerate(action.differential, start=1))
        return f"*diagnosis:* {ranked}"
    return turn.text


def chat_message(turn: Turn, publish: Publish) -> dict:
    """One turn as a Gradio messages-format entry: the doctor on the right, everyone else on the left."""
    if turn.role == "retrieval":
        items = turn.meta.get("items", []) or []
        return {
            "role": "assistant",
            "content": turn.text or "(no similar cases)",
            "metadata": {"title": f"Retrieval: {len(items)} similar case(s) shown to the doctor"},
        }
    text = _doctor_text(turn) if turn.role == "doctor" else turn.text
    if turn.parse in ("repaired", "fallback", "forced"):
        text += f"  \n<small>(reply format: {turn.parse})</small>"
    content: list = [f"{_label(turn)}: {text}"]
    for image in turn.images:
        shown = publish(image)
        content.append({"path": shown} if shown else "*(image not available)*")
    return {
        "role": "user" if turn.role == "doctor" else "assistant",
        "content": content if len(content) > 1 else content[0],
    }


def chat_messages(turns: list[Turn], publish: Publish) -> list[dict]:
    return [chat_message(turn, publish) for turn in turns]


def retrieval_items(turns: list[Turn]) -> list[tuple[int, int, dict]]:
    """(which image of the encounter, rank among that image's neighbours, item) for every retrieved case."""
    found = []
    for number, turn in enumerate([t for t in turns if t.role == "retrieval"], start=1):
        items = [item for item in turn.meta.get("items", []) or [] if isinstance(item, dict)]
        found += [(number, rank, item) for rank, item in enumerate(items, start=1)]
    return found


def _field(item: dict, *names: str, default=None):
    for name in names:
        if item.get(name) not in (None, ""):
            return item[name]
    return default


def _excerpt(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS].rsplit(" ", 1)[0] + " …"


def _similarity(item: dict) -> str:
    score = _field(item, "similarity", "score")
    return f"{float(score):.2f}" if isinstance(score, (int, float)) else "?"


def retrieval_gallery(turns: list[Turn], publish: Publish) -> list[tuple[str, str]]:
    gallery = []
    for _, _, item in retrieval_items(turns):
        shown = publish(str(_field(item, "image", "image_path", "path", default="")))
        if shown:
            warning = "  ⚠ out of distribution" if item.get("ood") else ""
            caption = f"{_field(item, 'diagnosis', default='?')} · similarity {_similarity(item)}{warning}"
            gallery.append((shown, caption))
    return gallery


def retrieval_markdown(turns: list[Turn]) -> str:
    items = retrieval_items(turns)
    if not items:
        return "*No similar cases retrieved yet: they appear here for each image the doctor sees.*"
    lines = [
        "| image | rank | case | diagnosis | similarity | patient | report excerpt |",
        "|---|---|---|---|---|---|---|",
    ]
    for number, rank, item in items:
        ood = " ⚠ **out of distribution**" if item.get("ood") else ""
        report = _excerpt(_field(item, "report", "excerpt", "report_excerpt", default="")).replace("|", "\\|")
        patient = str(item.get("context") or "–").replace("|", "\\|")
        lines.append(
            f"| {number} | {rank} | {_field(item, 'case_id', default='?')} | {_field(item, 'diagnosis', default='?')} "
            f"| {_similarity(item)}{ood} | {patient} | {report} |"
        )
    if any(item.get("ood") for _, _, item in items):
        lines.append(
            "\n⚠ An out-of-distribution flag means the image looks unlike the store's cases: "
            "treat those neighbours with caution."
        )
    return "\n".join(lines)


def experiences_markdown(experiences: list[dict]) -> str:
    """The past encounters shown to the doctor (the experience memory), as the record keeps them."""
    if not experiences:
        return "*Experiences used: none.*"
    lines = ["**Experiences used** (past encounters shown to the doctor)"]
    for item in experiences:
        score = item.get("score")
        parts = [
            f"case {_field(item, 'case_id', 'id', default='?')}",
            str(_field(item, "truth", "diagnosis", default="")),
            VERDICTS.get(item.get("correct"), ""),
            f"similarity {score:.2f}" if isinstance(score, (int, float)) else "",
            _excerpt(_field(item, "lesson", "summary", default="")),
        ]
        lines.append("- " + " · ".join(part for part in parts if part))
    return "\n".join(lines)


def headline(record: EpisodeRecord) -> str:
    if record.termination == "error":
        return "Ended with an error"
    if record.termination == "human_quit":
        return "Left before a diagnosis"
    if record.top1_correct:
        return "Correct"
    if record.topk_correct:
        return f"Correct in the top {record.verdict.k if record.verdict else '?'}"
    return "Incorrect"


def result_markdown(record: EpisodeRecord, saved_to: str = "") -> str:
    k = record.verdict.k if record.verdict else "k"
    yes = {True: "yes", False: "no"}
    ranked = " · ".join(f"{i}. {d}" for i, d in enumerate(record.differential, start=1)) or "(none)"
    t = record.totals
    rows = [
        ("Differential", ranked),
        ("True diagnosis", record.truth),
        ("Top-1 correct", yes[record.top1_correct]),
        (f"Top-{k} correct", yes[record.topk_correct]),
        ("Judge", f"{record.verdict.reason} ({record.verdict.method})" if record.verdict else "-"),
        ("Termination", record.termination),
        ("Error", record.error or ""),
        ("Doctor turns", f"{t.doctor_turns} (questions {t.questions}, tests {t.tests}, images {t.images})"),
        ("Saved to", f"`{saved_to}`" if saved_to else ""),
    ]
    lines = "\n".join(f"- **{name}:** {value}" for name, value in rows if value)
    return f"### Result: {headline(record)}\n\n{lines}"


def request_markdown(payload: dict) -> str:
    """What a human patient or measurement seat is asked to answer."""
    role = payload.get("role", "?")
    request = payload.get("request") or {}
    kind = request.get("kind", "")
    if role == "patient":
        return f"### Your turn: the patient\nThe doctor asks: **{request.get('text') or payload.get('message', '')}**"
    wanted = {"test": "the test", "image": "the image"}.get(kind, "")
    lines = [
        f"### Your turn: the measurement\nThe doctor requests {wanted}: **{request.get('name') or payload.get('message', '')}**"
    ]
    suggestion = payload.get("suggestion")
    if suggestion:
        lines.append(f"The case lookup says: {suggestion.get('text', '')}")
        lines.append("*Leave the answer empty and press **Accept lookup** to send it as is, or write your own.*")
    return "\n\n".join(lines)


def doctor_prompt_markdown(payload: dict) -> str:
    turns, cap = payload.get("doctor_turns", 0), payload.get("turn_cap", "?")
    note = " **Last turn: give your diagnosis.**" if payload.get("final_turn") else ""
    return (
        f"### Your turn: the doctor (turn {turns + 1} of {cap}).{note}\n"
        "Ask the patient, request a test or an image, or diagnose with a ranked differential."
    )
