"""After a wrong answer, the doctor model writes what it missed: the lesson stored with the experience."""

from __future__ import annotations

from agents.llm.base import ChatModel, LLMError, Message
from agents.prompts import render

LESSON_TOKENS = 60


def write_lesson(model: ChatModel, summary: str, differential: list[str], truth: str) -> str:
    prompt = render("lesson", differential="; ".join(differential) or "no diagnosis", truth=truth, summary=summary)
    try:
        result = model.complete([Message(role="user", content=prompt)], max_tokens=LESSON_TOKENS, temperature=0.0)
    except LLMError:
        return ""
    return " ".join(result.text.split())[:300]
