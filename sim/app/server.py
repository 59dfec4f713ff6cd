"""Starting the app with its safety settings: loopback by default, optional password, no analytics,
files served only from the data directory, uploads limited in size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sim.app.encounters import EncounterBook, RunnerFactory
from sim.app.paths import AppPaths
from sim.app.safety import DEFAULT_MAX_UPLOAD_MB, FileGuard, prepare_environment
from sim.app.sources import CaseSources
from sim.core.config import Settings

if TYPE_CHECKING:
    import gradio as gr

LOOPBACK = "127.0.0.1"


@dataclass
class RunningApp:
    blocks: gr.Blocks
    url: str
    book: EncounterBook
    paths: AppPaths

    def close(self) -> None:
        self.blocks.close()


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """'USER:PASS' -> (user, pass); the password may itself contain ':'."""
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError("--auth: expected USER:PASS with both parts non-empty")
    return user, password


def launch_app(
    settings: Settings,
    *,
    host: str = LOOPBACK,
    port: int | None = None,
    auth: tuple[str, str] | None = None,
    configured_cases: Sequence[Path] = (),
    runner_factory: RunnerFactory | None = None,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
) -> RunningApp:
    """Build and serve the app. With `prevent_thread_lock` it returns at once (tests); otherwise it blocks.

    `runner_factory(settings, human_seats, checkpoint_path)` makes each encounter's runner; tests inject
    one with scripted models. One app per process: Gradio's cache location is process-wide.
    """
    paths = AppPaths.under(settings.data_dir)
    prepare_environment(paths)  # before gradio is imported
    from starlette.middleware import Middleware

    from sim.app.layout import CSS, build_app

    max_bytes = int(max_upload_mb * 1_000_000)
    sources = CaseSources(paths, list(configured_cases), max_bytes)
    book = EncounterBook(settings, paths, sources, runner_factory)
    blocks = build_app(settings, paths, sources, book, max_bytes)
    blocks.queue(default_concurrency_limit=8)  # each encounter has its own lock; users need not wait in line
    _, url, _ = blocks.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        auth_message="clinsim: sign in" if auth else None,
        share=False,
        inbrowser=False,
        prevent_thread_lock=True,
        quiet=quiet,
        show_error=True,
        allowed_paths=[str(paths.data_dir)],
        blocked_paths=[str(paths.private)],
        max_file_size=max_bytes,
        app_kwargs={"middleware": [Middleware(FileGuard, paths=paths)]},
        run_history=False,  # would keep runs in the browser or push them to a Hugging Face bucket
        enable_monitoring=False,
        mcp_server=False,
        pwa=False,
        ssr_mode=False,
        footer_links=["api", "settings"],
        css=CSS,
    )
    running = RunningApp(blocks, url.rstrip("/"), book, paths)
    if not prevent_thread_lock:
        blocks.block_thread()
    return running
