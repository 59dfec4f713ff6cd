"""Per-role model flags shared by `run`, the benchmark and the app: `--doctor-model MODEL@URL` and friends.
The syntax is configuration's own (sim/core/config.py `parse_model_spec`); here it only becomes options."""

from __future__ import annotations

from typing import Any

import typer

from sim.core.config import MODEL_ROLES, MODEL_SPEC_HELP, parse_model_spec


def parse_model_flag(role: str, value: str | None) -> dict[str, Any]:
    try:
        return parse_model_spec(role, value)
    except ValueError as error:
        raise typer.BadParameter(f"--{role}-model: {error}") from None


def role_overrides(**values: str | None) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for role in MODEL_ROLES:
        overrides.update(parse_model_flag(role, values.get(f"{role}_model")))
    return overrides


DoctorModel = typer.Option(
    None,
    "--doctor-model",
    help=f"doctor's model: {MODEL_SPEC_HELP}, or a reference doctor without a model: knn (the retrieved "
    "cases' vote: the picture alone), text (a classifier of the case text: the story alone), knn+text",
)
PatientModel = typer.Option(None, "--patient-model", help=f"patient's model: {MODEL_SPEC_HELP}")
JudgeModel = typer.Option(None, "--judge-model", help=f"judge's model: {MODEL_SPEC_HELP}")
DoctorVision = typer.Option(
    None,
    "--doctor-vision/--no-doctor-vision",
    help="send the images the measurement desk "
    "returns to the doctor's model (roles.doctor.vision; an OpenAI-compatible vision model, "
    "docs/vision.md; default from config: off)",
)
