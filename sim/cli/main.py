"""The `clinsim` console script: one typer app, one sub-app per command group.

Heavy imports (torch, langchain, chromadb) stay inside the commands so `clinsim --help` is instant.
"""

from __future__ import annotations

from pathlib import Path

import typer

from sim.cli import bench, config_cmd, embedder, llm
from sim.cli import cases as cases_cli
from sim.cli import store as store_cli
from sim.cli.app_cmd import app as app_command
from sim.cli.common import HELP_MARKUP, state
from sim.cli.demo import demo
from sim.cli.replay import replay
from sim.cli.run import run

app = typer.Typer(
    name="clinsim",
    help="Retrieval-augmented LLM diagnostic encounter simulator.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=HELP_MARKUP,
)


@app.callback()
def main(
    config: Path = typer.Option(
        None, "--config", "-c", help="TOML config file (default: $CLINSIM_CONFIG or ./clinsim.toml)"
    ),
    data_dir: Path = typer.Option(
        None, "--data-dir", help="where the bank, stores and runs live (default: ./clinsim-data)"
    ),
) -> None:
    """Retrieval-augmented LLM diagnostic encounter simulator."""
    state.config_file = config
    state.data_dir = data_dir


app.add_typer(cases_cli.app, name="cases", help="Generate, validate, audit and describe case files.")
app.add_typer(llm.app, name="llm", help="Check the models configured for each role.")
app.add_typer(config_cmd.app, name="config", help="Show the effective configuration.")
app.add_typer(
    bench.app, name="bench", help="Benchmarks: runs, ablations, comparisons, reports, retrieval, performance."
)
app.add_typer(embedder.app, name="embedder", help="Train the project's open_clip image-report embedders.")
app.add_typer(store_cli.app, name="store", help="Fill, describe and search the image-report case store.")
app.command("run")(run)
app.command("demo")(demo)
app.command("replay")(replay)
app.command("app")(app_command)


if __name__ == "__main__":  # pragma: no cover
    app()
