"""`clinsim app`: the Gradio web app (encounters with human seats, retrieval panel, replay)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import typer

from sim.cli.common import console, fail, settings
from sim.cli.options import ModelFlags, with_groups


@with_groups
def app(
    *,
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        envvar="CLINSIM_APP_HOST",
        help="address to bind; anything but loopback exposes the app and needs --auth",
    ),
    port: int = typer.Option(7860, "--port", envvar="CLINSIM_APP_PORT", help="port to listen on"),
    auth: str = typer.Option(
        None, "--auth", envvar="CLINSIM_APP_AUTH", help="USER:PASS required to use the app (or set $CLINSIM_APP_AUTH)"
    ),
    cases: list[Path] = typer.Option([], "--cases", help="case file or bank folder offered as a source (repeatable)"),
    max_upload_mb: float = typer.Option(20.0, "--max-upload-mb", min=0.1, help="largest accepted upload, in MB"),
    allow_unauthenticated: bool = typer.Option(
        False,
        "--allow-unauthenticated",
        envvar="CLINSIM_APP_ALLOW_UNAUTHENTICATED",
        help="serve a non-loopback --host without --auth: anyone who can reach the port can run encounters, "
        "read every recorded run and the data directory's images",
    ),
    models: ModelFlags,
) -> None:
    """Serve the web app: play any seat of an encounter, see images and similar cases, replay runs."""
    from sim.app.server import launch_app, parse_auth

    cfg = settings(models.overrides())
    try:
        credentials = parse_auth(auth)
    except ValueError as error:
        fail(str(error))
    for path in cases:
        if not path.exists():
            fail(f"--cases: {path} not found")
    if not is_loopback(host) and credentials is None:
        if not allow_unauthenticated:
            fail(
                f"--host {host} serves the app to other machines, and no --auth is set: anyone who can reach the "
                "port could run encounters, read every recorded run and the data directory's images. Set --auth "
                "USER:PASS (or $CLINSIM_APP_AUTH), or say --allow-unauthenticated if that is what you want."
            )
        console.print(
            f"[bold yellow]warning:[/] serving on {host} without --auth (--allow-unauthenticated): anyone "
            "who can reach it can use it"
        )
    console.print(
        f"data directory: {cfg.data_dir.resolve()} (the only folder the app serves files from)", highlight=False
    )
    console.print("Ctrl-C stops the server; encounters resume where they stopped after a restart.")
    try:
        launch_app(cfg, host=host, port=port, auth=credentials, configured_cases=cases, max_upload_mb=max_upload_mb)
    except OSError as error:
        fail(f"cannot serve on {host}:{port}: {error}")


def is_loopback(host: str) -> bool:
    """Only this machine can reach the address: localhost, 127.0.0.0/8 or ::1."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere
