"""What every command shares: the effective settings and clean, located error exits (no tracebacks)."""

from __future__ import annotations

import shlex
import sys
import warnings
from enum import IntEnum
from pathlib import Path
from typing import Any, Final, NoReturn

import typer
from rich.console import Console

from agents.llm.errors import ConfigError
from sim.core.config import Settings, load_settings, locate_setting
from sim.core.errors import InputError

console = Console()


class ExitCode(IntEnum):
    """What `clinsim`'s exit status means (docs/benchmarks.md lists them): scripts can tell a run with failed
    episodes from bad input, and both from a run that stopped or was interrupted."""

    OK = 0
    FAILED = 1  # bad input or settings (located), or a command that could not do its work
    USAGE = 2  # an unknown option or a missing argument (click's own code)
    EPISODE_ERRORS = 3  # the run finished, but some episodes ended in error: `--resume` runs them again
    STOPPED = 4  # the run stopped before its end (a model that stayed down): `--resume` continues it
    INTERRUPTED = 130  # Ctrl-C: the episodes in flight were written; `--resume` continues


def resume_command() -> str:
    """This invocation again, with `--resume`: what reruns its failed episodes or continues it."""
    args = sys.argv[1:]
    return shlex.join(["clinsim", *args, *([] if "--resume" in args else ["--resume"])])


# Markdown: a command docstring's later paragraphs reflow to the terminal ("rich" keeps the source's breaks).
HELP_MARKUP: Final = "markdown"


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
    if isinstance(error, ConfigError) and error.field:
        fail_problems(InputError([locate_setting(state.config_file, error.field, error.message)]))
    fail(f"{role} model: {getattr(error, 'cause', error)}")


def settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Effective settings for this invocation: TOML file, env, then the given flag overrides."""
    merged = dict(overrides or {})
    if state.data_dir is not None:
        merged.setdefault("data_dir", str(state.data_dir))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", FutureWarning)
            loaded = load_settings(state.config_file, merged)
    except InputError as error:
        fail_problems(error)
    for warning in caught:  # a setting under its old name: still read, said once
        err_console.print(f"[yellow]warning:[/] {warning.message}", highlight=False, soft_wrap=True)
    return loaded
