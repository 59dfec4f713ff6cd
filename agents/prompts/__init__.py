"""Prompt templates live as text files beside this module; `render(name, **values)` fills them.

`string.Template` ($name) is used rather than str.format so braces in case text or JSON never break a
prompt. A missing value is an error: a silently empty slot would change what an agent knows.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from string import Template

PROMPT_DIR = Path(__file__).parent


@cache
def _template(name: str) -> Template:
    path = PROMPT_DIR / f"{name}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"prompt template {path} not found")
    return Template(path.read_text(encoding="utf-8"))


def render(template: str, /, **values: object) -> str:
    text = _template(template).substitute({k: "" if v is None else str(v) for k, v in values.items()})
    # Empty optional sections leave blank runs; collapse them so prompts stay compact.
    lines = text.splitlines()
    compact: list[str] = []
    for line in lines:
        if not line.strip() and compact and not compact[-1].strip():
            continue
        compact.append(line.rstrip())
    return "\n".join(compact).strip() + "\n"


@cache
def grammar(name: str) -> str:
    """A llama.cpp GBNF grammar file beside the prompts (its comment lines dropped)."""
    path = PROMPT_DIR / f"{name}.gbnf"
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if line.strip() and not line.lstrip().startswith("#")) + "\n"


def bias_names(role: str) -> list[str]:
    return sorted(p.stem for p in (PROMPT_DIR / "biases" / role).glob("*.txt"))


def bias_fragment(role: str, name: str) -> str:
    if not name or name == "none":
        return ""
    available = bias_names(role)
    if name not in available:
        raise ValueError(f"unknown {role} bias '{name}'; choose from none, {', '.join(available)}")
    return render(f"biases/{role}/{name}").strip()
