"""Any OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp, OpenAI) through LangChain's ChatOpenAI.

Retries are ours, not the client's, so the number of attempts lands in the record and the backoff is
bounded: transient faults (timeouts, dropped connections, 429, 5xx, a body that is not a completion, an
empty reply) are retried with exponential backoff and jitter; anything else fails at once with a one-line
cause. A reply that stays empty is a failure, not an answer: no role can use it.
"""

from __future__ import annotations

import os
import random
import time

import openai
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from agents.llm.base import Completion, LLMError, Message, approx_tokens
from agents.llm.errors import ConfigError
from sim.core.config import RoleModel, Settings

_TRANSIENT = (
    openai.APITimeoutError,
    openai.APIConnectionError,
    openai.RateLimitError,
    openai.InternalServerError,
)


class _UnusableReply(Exception):
    """The server answered, but with nothing a role can use (not a completion, or no text)."""


_LC_TYPES = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}


class OpenAICompatModel:
    def __init__(
        self,
        base_url: str,
        model: str = "",
        api_key: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 256,
        timeout_s: float = 120.0,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        name: str | None = None,
        structured_output: str = "off",
        body: dict | None = None,
    ):
        self.name = name or model or "default"
        self.base_url = base_url
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.structured_output = structured_output
        self.body = dict(body or {})  # sent with every request (the embedded server's slot, say)
        self._temperature = temperature
        self._max_tokens = max_tokens
        self._client = ChatOpenAI(
            model=model or "default",
            base_url=base_url,
            api_key=api_key or "not-needed",
            temperature=temperature,
            max_tokens=max_tokens,
            timeout=timeout_s,
            max_retries=0,
        )
        self._client.client = _PostedCompletions(self._client.root_client)

    def complete(
        self,
        messages: list[Message],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        stop: list[str] | None = None,
        response_schema: dict | None = None,
        grammar: str | None = None,
    ) -> Completion:
        options: dict = {}
        if temperature is not None:
            options["temperature"] = temperature
        # LangChain sends `max_completion_tokens`, which some local servers ignore (llama-cpp-python's then
        # generates until the context is full) and upstream llama.cpp's prefers over `max_tokens`: both get
        # this call's budget. OpenAI itself rejects `max_tokens` for newer models, so it only gets the
        # LangChain field.
        extra_body: dict = dict(self.body)
        if max_tokens is not None:
            options["max_tokens"] = max_tokens
        if "api.openai.com" not in self.base_url:
            extra_body["max_tokens"] = max_tokens or self._max_tokens
        if grammar is not None and self.structured_output == "grammar":
            extra_body["grammar"] = grammar  # llama.cpp's server decodes only what the grammar allows
        elif response_schema is not None and self.structured_output in ("json_object", "json_schema"):
            extra_body["response_format"] = _response_format(self.structured_output, response_schema)
        if extra_body:
            options["extra_body"] = extra_body
        if seed is not None:
            options["seed"] = seed
        if stop:
            options["stop"] = stop
        runnable = self._client.bind(**options) if options else self._client
        lc_messages = [_LC_TYPES[m.role](content=m.content) for m in messages]

        started = time.perf_counter()
        for attempt in range(1, self.max_retries + 2):
            try:
                reply = _invoke(runnable, lc_messages)
                break
            except (*_TRANSIENT, _UnusableReply) as error:
                if attempt > self.max_retries:
                    raise LLMError(_describe(error, self.base_url, attempt), attempts=attempt) from error
                time.sleep(self.backoff_s * (2 ** (attempt - 1)) * (0.5 + random.random()))
            except openai.APIError as error:
                raise LLMError(_describe(error, self.base_url, attempt), attempts=attempt) from error
        latency = time.perf_counter() - started

        text = reply.content if isinstance(reply.content, str) else str(reply.content)
        usage = reply.usage_metadata or {}
        prompt_text = "\n".join(m.content for m in messages)
        return Completion(
            text=text,
            # What the server says answered (a proxy or a server may serve another model than was asked).
            model=(reply.response_metadata or {}).get("model_name") or self.name,
            tokens_in=usage.get("input_tokens") or approx_tokens(prompt_text),
            tokens_out=usage.get("output_tokens") or approx_tokens(text),
            latency_s=latency,
            attempts=attempt,
        )


class _PostedCompletions:
    """What ChatOpenAI calls for a completion (`client.with_raw_response.create(**payload)`), posting the
    payload LangChain built with the openai client's `post` (its documented way to call an endpoint as it
    is). `chat.completions.create` would first walk every message through the client's type-driven
    transform, which changes nothing in a payload LangChain already made plain JSON and was measured at
    about 40% of the harness's CPU per model call: what limits how many remote episodes one process runs."""

    def __init__(self, root: openai.OpenAI):
        self._root = root
        self.with_raw_response = self

    def create(self, **payload):
        from openai.types.chat import ChatCompletion

        extra_body = payload.pop("extra_body", None) or {}
        options = {key: payload.pop(key) for key in ("extra_headers", "extra_query", "timeout") if key in payload}
        headers, query = options.get("extra_headers"), options.get("extra_query")
        request = {"headers": headers} if headers else {}
        if query:
            request["params"] = query
        if "timeout" in options:
            request["timeout"] = options["timeout"]
        return _Parsed(self._root.post("/chat/completions", body={**payload, **extra_body}, cast_to=ChatCompletion,
                                       options=request))


class _Parsed:
    """The raw-response shape ChatOpenAI reads (`parse()`); no headers are kept."""

    def __init__(self, completion):
        self._completion = completion

    def parse(self):
        return self._completion


def _invoke(runnable, messages):
    """The reply, or _UnusableReply. LangChain raises ValueError for a body that is not a completion (an
    HTML error page from a proxy, a truncated body); both that and empty text are worth another attempt."""
    try:
        reply = runnable.invoke(messages)
    except openai.APIError:
        raise
    except ValueError as error:
        raise _UnusableReply(f"not a chat completion ({str(error).splitlines()[0][:120]})") from error
    if not (reply.content if isinstance(reply.content, str) else str(reply.content)).strip():
        raise _UnusableReply("empty reply (no content)")
    return reply


def _describe(error: Exception, base_url: str, attempts: int = 1) -> str:
    status = getattr(error, "status_code", None)
    kind = "BadResponse" if isinstance(error, _UnusableReply) else type(error).__name__
    detail = str(error).splitlines()[0][:200] if str(error) else ""
    where = f" from {base_url}" if base_url else ""
    tries = f" (after {attempts} attempts)" if attempts > 1 else ""
    return f"{kind}{f' (HTTP {status})' if status else ''}{where}: {detail}".rstrip(": ") + tries


def _response_format(mode: str, schema: dict) -> dict:
    """llama.cpp's server constrains decoding with `json_object` + `schema` (a grammar); OpenAI and vLLM
    take the `json_schema` form. Sent in the body directly so LangChain does not try to parse it."""
    if mode == "json_object":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": "doctor_action", "schema": schema, "strict": False}}


def openai_model(settings: Settings, spec: RoleModel, role: str) -> OpenAICompatModel:
    """The `openai` backend: any OpenAI-compatible endpoint; the key is read from the named variable."""
    if not spec.base_url:
        raise ConfigError(f"roles.{role}.base_url", "required for the openai backend")
    api_key = None
    if spec.api_key_env:
        api_key = os.environ.get(spec.api_key_env)
        if not api_key:
            raise ConfigError(f"roles.{role}.api_key_env", f"environment variable {spec.api_key_env} is not set")
    return client(spec, spec.base_url, spec.model, api_key)


def client(spec: RoleModel, base_url: str, model: str, api_key: str | None,
           body: dict | None = None) -> OpenAICompatModel:
    """A client for one role's settings at `base_url` (the embedded backend's server uses it too); `body`
    goes into every request."""
    return OpenAICompatModel(
        base_url=base_url,
        model=model,
        api_key=api_key,
        temperature=spec.temperature,
        max_tokens=spec.max_tokens,
        timeout_s=spec.timeout_s,
        max_retries=spec.max_retries,
        structured_output=spec.output_mode(),
        body=body,
    )
