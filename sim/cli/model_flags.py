"""Per-role model flags shared by `run` and the benchmark: `--doctor-model MODEL@URL` and friends.

A value is `embedded` (the llama.cpp default), `scripted`, or `MODEL@BASE_URL` for any OpenAI-compatible
endpoint (`@BASE_URL` alone uses the server's default model). Keys come from the config's api_key_env.
"""

from __future__ import annotations

from typing import Any

import typer

from sim.config import ROLES


def parse_model_flag(role: str, value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    if value in ("embedded", "scripted"):
        return {f"roles.{role}.backend": value}
    if value == "knn":  # the retrieval-only baseline (agents/knn_doctor.py) can only sit in the doctor's chair
        if role != "doctor":
            raise typer.BadParameter(f"--{role}-model: 'knn' is a doctor only")
        return {f"roles.{role}.backend": value}
    if "@" not in value:
        raise typer.BadParameter(f"--{role}-model: expected 'embedded', 'scripted' or MODEL@BASE_URL, got '{value}'")
    model, url = value.rsplit("@", 1)
    if not url.startswith(("http://", "https://")):
        raise typer.BadParameter(f"--{role}-model: base URL must start with http:// or https://, got '{url}'")
    return {f"roles.{role}.backend": "openai", f"roles.{role}.model": model, f"roles.{role}.base_url": url}


def role_overrides(**values: str | None) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for role in ROLES:
        overrides.update(parse_model_flag(role, values.get(f"{role}_model")))
    return overrides


MODEL_HELP = "embedded | scripted | MODEL@BASE_URL (OpenAI-compatible)"
DoctorModel = typer.Option(None, "--doctor-model", help=f"doctor's model: {MODEL_HELP}, or knn (retrieval vote, no LLM)")
PatientModel = typer.Option(None, "--patient-model", help=f"patient's model: {MODEL_HELP}")
MeasurementModel = typer.Option(None, "--measurement-model", help=f"measurement's model: {MODEL_HELP}")
JudgeModel = typer.Option(None, "--judge-model", help=f"judge's model: {MODEL_HELP}")
