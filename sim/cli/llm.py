"""`clinsim llm ...`: check that every configured role's model answers."""

from __future__ import annotations

import typer
from rich.table import Table

from sim.cli.common import command_group, console, fail, settings
from sim.core.config import ROLES

app = command_group()

_CHECK_PROMPT = "Reply with one short sentence: what is the normal adult resting heart rate range?"


@app.command("check")
def check(
    role: list[str] = typer.Option(None, "--role", help="check only these roles (default: all four)"),
) -> None:
    """Call every configured role once and print its model, latency and tokens."""
    from agents.llm.base import LLMError, Message
    from agents.llm.registry import model_for_role

    cfg = settings()
    roles = role or list(ROLES)
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        fail(f"unknown role(s): {', '.join(unknown)}; choose from {', '.join(ROLES)}")
    table = Table(title="model check")
    for column in ("role", "backend", "model", "latency (s)", "tokens in", "tokens out", "reply"):
        table.add_column(column, overflow="fold")
    failures = 0
    for name in roles:
        spec = cfg.role(name)
        try:
            with console.status(f"calling the {name} model ({spec.backend})..."):
                model = model_for_role(cfg, name)
                result = model.complete([Message(role="user", content=_CHECK_PROMPT)], max_tokens=48)
        except LLMError as error:
            failures += 1
            table.add_row(name, spec.backend, spec.model or "-", "-", "-", "-", f"[red]FAILED: {error.cause}[/]")
            continue
        reply = " ".join(result.text.split())[:80] or "(empty reply)"
        table.add_row(
            name, spec.backend, result.model, f"{result.latency_s:.2f}",
            str(result.tokens_in), str(result.tokens_out), reply,
        )  # fmt: skip
    console.print(table)
    if failures:
        raise typer.Exit(1)
