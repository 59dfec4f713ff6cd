"""`clinsim llm ...`: check that every configured role's model answers."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from sim.cli.common import command_group, console, fail, settings
from sim.core.config import MODEL_ROLES

app = command_group()

_CHECK_PROMPT = "Reply with one short sentence: what is the normal adult resting heart rate range?"
# A doctor with vision is checked with a picture: a server whose model reads text only refuses it here, before a run.
_VISION_PROMPT = "Reply with one short sentence: what do you see in this image?"


@app.command("check")
def check(
    role: list[str] = typer.Option(
        None, "--role", help="check only these roles (default: the doctor, the patient and the judge)"
    ),
) -> None:
    """Call every configured role once and print its model, latency and tokens. A doctor with vision
    (roles.doctor.vision) is sent a small picture, so a model that cannot take images is found now."""
    import tempfile

    from agents.llm.base import LLMError, Message
    from agents.llm.registry import model_for_role
    from sim.cli.common import state
    from sim.core.config import locate_setting

    cfg = settings()
    roles = role or list(MODEL_ROLES)  # the measurement desk is a lookup in the case, never a model
    unknown = sorted(set(roles) - set(MODEL_ROLES))
    if unknown:
        fail(f"unknown role(s): {', '.join(unknown)}; choose from {', '.join(MODEL_ROLES)}")
    table = Table(title="model check")
    for column in ("role", "backend", "model", "latency (s)", "tokens in", "tokens out", "reply"):
        table.add_column(column, overflow="fold")
    failures = 0
    located = []
    picture = tempfile.TemporaryDirectory(prefix="clinsim-check-")
    for name in roles:
        spec = cfg.role(name)
        message = Message(role="user", content=_CHECK_PROMPT)
        if name == "doctor" and spec.vision:
            message = Message(role="user", content=_VISION_PROMPT, images=[_check_picture(Path(picture.name))])
        try:
            with console.status(f"calling the {name} model ({spec.backend})..."):
                model = model_for_role(cfg, name)
                result = model.complete([message], max_tokens=48)
        except LLMError as error:
            failures += 1
            table.add_row(name, spec.backend, spec.model or "-", "-", "-", "-", f"[red]FAILED: {error.cause}[/]")
            field = getattr(error, "field", None)
            if field:  # a setting to change: said where it is set
                located.append(locate_setting(state.config_file, field, getattr(error, "message", error.cause)))
            continue
        reply = " ".join(result.text.split())[:80] or "(empty reply)"
        table.add_row(
            name, spec.backend, result.model, f"{result.latency_s:.2f}",
            str(result.tokens_in), str(result.tokens_out), reply,
        )  # fmt: skip
    picture.cleanup()
    console.print(table)
    for problem in located:
        console.print(str(problem), highlight=False, soft_wrap=True, markup=False)
    if failures:
        raise typer.Exit(1)


def _check_picture(folder: Path) -> str:
    """A small picture (a white disc on black), written once into `folder`."""
    from PIL import Image, ImageDraw

    path = folder / "check.png"
    if not path.is_file():
        image = Image.new("L", (64, 64), 0)
        ImageDraw.Draw(image).ellipse((16, 16, 48, 48), fill=255)
        image.save(path)
    return str(path)
