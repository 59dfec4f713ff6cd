"""`clinsim config ...`: inspect the effective configuration."""

from __future__ import annotations

import json

import typer

from sim.cli.common import console, settings

app = typer.Typer(no_args_is_help=True)


@app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="print JSON instead of TOML-like text")) -> None:
    """Print the effective config (file + environment + flags) with secrets masked."""
    data = settings().masked()
    if as_json:
        console.print_json(json.dumps(data))
        return
    _print_toml(data)


def _print_toml(data: dict, prefix: str = "") -> None:
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    if scalars:
        if prefix:
            console.print(f"[bold][{prefix}][/]", highlight=False)
        for key, value in scalars.items():
            console.print(f"{key} = {json.dumps(value)}", highlight=False, markup=False)
        console.print()
    for key, value in tables.items():
        _print_toml(value, f"{prefix}.{key}" if prefix else key)
