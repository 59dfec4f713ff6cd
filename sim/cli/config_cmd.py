"""`clinsim config ...`: inspect the effective configuration."""

from __future__ import annotations

import json

import tomlkit
import typer

from sim.cli.common import command_group, console, settings

app = command_group()


@app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="print JSON instead of TOML-like text")) -> None:
    """Print the effective config (file + environment + flags) with secrets masked."""
    data = settings().masked()
    if as_json:
        console.print_json(json.dumps(data))
        return
    _print_toml(data)


def _print_toml(data: dict) -> None:
    # markup off: rich would read "[roles.doctor]" as a style tag; soft_wrap: long values stay on one line
    console.print(tomlkit.dumps(_without_none(data)), markup=False, highlight=False, soft_wrap=True)


def _without_none(value):
    """TOML has no null: unset optional fields are left out (loading the file back leaves them unset)."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value
