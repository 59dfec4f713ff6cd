"""Speculative decoding in the embedded llama.cpp server (`embedded.speculative`): what each mode passes to
`llama-server`, and how records name it.

A mode proposes several tokens at once and the model checks them in one batch; the tokens it keeps are the
ones it would have generated itself, so a mode changes how fast text comes, not which text (up to the
floating-point differences of evaluating a batch instead of one token: docs/performance.md measures both).
The n-gram modes draft from text the server has already seen: `ngram-simple`, `ngram-map-k` and
`ngram-map-k4v` look up the last `ngram_size_n` tokens earlier in the slot's context and propose what
followed; `ngram-mod` keeps a hash table of the n-grams of every request (shared by all slots, so one
encounter's text helps the next); `ngram-cache` keeps n-gram statistics of the context. `draft` runs a small
model of the same vocabulary (`draft_model`, by default the 0.5B sibling of the default model, assembled from
PyPI chunk packages like it: agents/llm/catalogue.py) and has the large model verify its tokens.

The mode and its parameters are part of the name the server answers with (`describe`), which is what each
episode record's `models` say played a role: records made with a mode say so, and records made without one
read as they always did.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from agents.llm.catalogue import ModelIdentity, ModelUnavailable, model_identity, resolve_model
from agents.llm.errors import ConfigError
from sim.core.config import EmbeddedServer

# The modes whose parameters are ngram_size_n / ngram_size_m / ngram_min_hits, by llama-server's flag prefix.
_NGRAM_MAP = {"ngram-simple": "ngram-simple", "ngram-map-k": "ngram-map-k", "ngram-map-k4v": "ngram-map-k4v"}


def draft_model(
    embedded: EmbeddedServer, progress: Callable[[int, int], None] | None = None
) -> tuple[Path, ModelIdentity] | None:
    """The draft model's file and identity when `speculative = "draft"` (assembled once, like the default
    model), else None. A missing package is a located error naming the extra that installs it."""
    if embedded.speculative != "draft":
        return None
    try:
        path = resolve_model(embedded.draft_model, progress)
    except ModelUnavailable as error:
        raise ConfigError(
            "embedded.draft_model",
            f"{error.cause} (the default draft model's six chunk packages: pip install 'clinsim[draft]')",
        ) from None
    return path, model_identity(path)


def server_args(embedded: EmbeddedServer, draft: Path | None = None) -> tuple[str, ...]:
    """The llama-server arguments of the chosen mode (none when off)."""
    mode = embedded.speculative
    if mode == "off":
        return ()
    if mode == "draft":
        if draft is None:
            raise ValueError("speculative = draft needs the draft model's path")
        return (
            "--spec-type",
            "draft-simple",
            "--spec-draft-model",
            str(draft),
            "--spec-draft-n-max",
            str(embedded.draft_n_max),
            "--spec-draft-n-min",
            str(embedded.draft_n_min),
            "--spec-draft-p-min",
            str(embedded.draft_p_min),
        )
    if mode in _NGRAM_MAP:
        flag = f"--spec-{_NGRAM_MAP[mode]}"
        return (
            "--spec-type",
            mode,
            f"{flag}-size-n",
            str(embedded.ngram_size_n),
            f"{flag}-size-m",
            str(embedded.ngram_size_m),
            f"{flag}-min-hits",
            str(embedded.ngram_min_hits),
        )
    if mode == "ngram-mod":
        return (
            "--spec-type",
            mode,
            "--spec-ngram-mod-n-match",
            str(embedded.ngram_mod_n_match),
            "--spec-ngram-mod-n-min",
            str(embedded.ngram_mod_n_min),
            "--spec-ngram-mod-n-max",
            str(embedded.ngram_mod_n_max),
        )
    return ("--spec-type", mode)  # ngram-cache: llama-server takes no parameters for it


def describe(embedded: EmbeddedServer, draft: ModelIdentity | None = None) -> str:
    """The mode and its parameters ("" when off), e.g. "ngram-mod n-match=24 n-min=48 n-max=64". No commas:
    llama-server splits its --alias at commas."""
    mode = embedded.speculative
    if mode == "off":
        return ""
    if mode == "draft":
        model = draft.label if draft is not None else embedded.draft_model
        return f"draft {model} n-max={embedded.draft_n_max} n-min={embedded.draft_n_min} p-min={embedded.draft_p_min:g}"
    if mode in _NGRAM_MAP:
        return (
            f"{mode} size-n={embedded.ngram_size_n} size-m={embedded.ngram_size_m} min-hits={embedded.ngram_min_hits}"
        )
    if mode == "ngram-mod":
        return (
            f"{mode} n-match={embedded.ngram_mod_n_match} n-min={embedded.ngram_mod_n_min} "
            f"n-max={embedded.ngram_mod_n_max}"
        )
    return mode


def model_label(identity: ModelIdentity, embedded: EmbeddedServer, draft: ModelIdentity | None = None) -> str:
    """The name the server answers with and records carry: the model's identity, and the speculative mode
    when one is on ("Qwen2.5 Coder 1.5B Instruct GGUF (sha256 cc324af070c2) [speculative ngram-mod ...]")."""
    mode = describe(embedded, draft)
    return f"{identity.label} [speculative {mode}]" if mode else identity.label
