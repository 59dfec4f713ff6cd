"""Creates the model for a role from its settings: `model_for_role(settings, "doctor")`."""

from __future__ import annotations

import os

from agents.llm.base import ChatModel, LLMError
from agents.llm.scripted import ScriptedModel
from sim.config import RoleModel, Settings


class ConfigError(LLMError):
    """A role's settings cannot make a model; `field` is the setting to fix (the CLI locates it in the file)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def model_for_role(settings: Settings, role: str) -> ChatModel:
    return model_for_spec(settings, settings.role(role), role)


def model_for_spec(settings: Settings, spec: RoleModel, role: str) -> ChatModel:
    """A model from one role's settings (also used for conference panelists with their own model)."""
    if spec.backend == "scripted":
        return ScriptedModel(spec.script, name=spec.model or f"scripted-{role}", cycle=True, delay_s=spec.delay_s)
    if spec.backend == "embedded":
        return _embedded(settings, spec, role)
    if not spec.base_url:
        raise ConfigError(f"roles.{role}.base_url", "required for the openai backend")
    api_key = None
    if spec.api_key_env:
        api_key = os.environ.get(spec.api_key_env)
        if not api_key:
            raise ConfigError(f"roles.{role}.api_key_env", f"environment variable {spec.api_key_env} is not set")
    return _openai(spec, spec.base_url, spec.model, api_key)


def _embedded(settings: Settings, spec: RoleModel, role: str) -> ChatModel:
    from agents.llm.catalogue import ModelUnavailable, model_identity, resolve_model
    from agents.llm.embedded import shared_server
    from agents.llm.embedded_roles import EmbeddedRoleModel

    embedded = settings.embedded
    try:
        path = resolve_model(embedded.model, progress=assembly_progress())
    except ModelUnavailable as error:
        raise ConfigError("embedded.model", error.cause) from None
    identity = model_identity(path)
    # A fixed port can be only one server, so it means the shared one.
    per_role = embedded.servers == "per-role" and not embedded.port

    def client_for(slot: str) -> ChatModel:
        server = shared_server(
            model_path=path,
            host=embedded.host,
            port=embedded.port,
            n_ctx=embedded.n_ctx,
            n_threads=embedded.n_threads,
            log_dir=settings.data_dir / "logs",
            startup_timeout_s=embedded.startup_timeout_s,
            prompt_cache_mb=embedded.prompt_cache_mb,
            slot=slot,
            lanes=embedded.lanes,
            alias=identity.label,
        )
        return _openai(spec, server.base_url, identity.label, api_key=None)

    model = EmbeddedRoleModel(role if per_role else "shared", embedded.lanes, client_for)
    model.sha256 = identity.sha256
    return model


def assembly_progress():
    """A progress bar for the one-time assembly of a chunked model (seconds for 1 GB), on stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    state: dict = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = Progress(TextColumn("assembling the embedded model (once)"), BarColumn(), DownloadColumn(),
                                    TimeRemainingColumn(), console=Console(stderr=True), transient=False)
            state["bar"].start()
            state["task"] = state["bar"].add_task("assemble", total=total)
        state["bar"].update(state["task"], completed=done)
        if done >= total:
            state["bar"].stop()

    return update


def _openai(spec: RoleModel, base_url: str, model: str, api_key: str | None) -> ChatModel:
    from agents.llm.openai_compat import OpenAICompatModel

    return OpenAICompatModel(
        base_url=base_url,
        model=model,
        api_key=api_key,
        temperature=spec.temperature,
        max_tokens=spec.max_tokens,
        timeout_s=spec.timeout_s,
        max_retries=spec.max_retries,
        structured_output=spec.output_mode(),
    )
