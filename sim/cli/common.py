"""What every command shares: the effective settings and clean, located error exits (no tracebacks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console

from sim.core.config import Settings, load_settings, locate_setting
from sim.core.errors import InputError

console = Console()

# Markdown: a command docstring's later paragraphs reflow to the terminal ("rich" keeps the source's breaks).
HELP_MARKUP = "markdown"


def command_group(help: str | None = None) -> typer.Typer:
    """A group of `clinsim` sub-commands; called without one, it shows its help."""
    return typer.Typer(no_args_is_help=True, rich_markup_mode=HELP_MARKUP, help=help)
err_console = Console(stderr=True)


class CliState:
    config_file: Path | None = None
    data_dir: Path | None = None


state = CliState()


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def fail_problems(error: InputError, code: int = 1) -> NoReturn:
    for problem in error.problems:
        err_console.print(str(problem), highlight=False, soft_wrap=True, markup=False)
    raise typer.Exit(code)


def fail_model(role: str, error: Exception) -> NoReturn:
    """A model that cannot start: a settings problem is located in the config file, anything else (a
    server that will not start, say) is said in one line."""
    field = getattr(error, "field", None)
    if field:
        fail_problems(InputError([locate_setting(state.config_file, field, error.message)]))
    fail(f"{role} model: {getattr(error, 'cause', error)}")


def settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Effective settings for this invocation: TOML file, env, then the given flag overrides."""
    merged = dict(overrides or {})
    if state.data_dir is not None:
        merged.setdefault("data_dir", str(state.data_dir))
    try:
        return load_settings(state.config_file, merged)
    except InputError as error:
        fail_problems(error)
