"""Any OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp, OpenAI), through public interfaces only:
LangChain turns the messages into OpenAI's wire format (`convert_to_openai_messages`, which also knows
content blocks such as images), and the `openai` client posts the request body as it is (`OpenAI.post`, its
documented way to call an endpoint). The body is the one LangChain's ChatOpenAI sends for the same call (a
test compares them). The harness's CPU per call is what limits how many remote episodes one process runs:
measured side by side against a local server in the same process, 3.3 ms a call this way, 4.3 through
ChatOpenAI with its completions client swapped for a `post` (the way before, which patched an attribute
LangChain keeps to itself) and 8.4 through ChatOpenAI's `invoke` as it is (its callbacks, and the openai
client's type-driven transform of every message).

Retries are ours, not the client's, so the number of attempts lands in the record and the backoff is
bounded: transient faults (timeouts, dropped connections, 429, 5xx, a body that is not a completion, an
empty reply) are retried with exponential backoff and jitter; anything else fails at once with a one-line
cause. A reply that stays empty is a failure, not an answer: no role can use it.

A role with `vision` sends the image files of its messages (`Message.images`) as OpenAI image content parts
after the message's text, LangChain's public content-block form: `{"type": "image_url", "image_url": {"url":
"data:image/png;base64,..."}}` (agents/llm/images.py limits their size). A server that refuses such a request
(HTTP 400 or 422: a model that reads text only, say) fails with the setting to change, `roles.doctor.vision`;
a message with images for a role without vision is refused before anything is sent.
"""

from __future__ import annotations

import os
import random
import time

import openai
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    convert_to_openai_messages,
)
from openai.types.chat import ChatCompletion

from agents.llm.base import Completion, LLMError, Message, approx_tokens
from agents.llm.errors import ConfigError
from agents.llm.images import image_part
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
# What a server that cannot take an image answers (vLLM, OpenAI and llama.cpp: 400; some proxies: 422).
_REFUSALS = (openai.BadRequestError, openai.UnprocessableEntityError)


class VisionRefused(ConfigError):
    """The server refused a request that carried images: `field` is the role's vision setting."""


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
        vision: bool = False,
        image_max_side: int = 1024,
        vision_setting: str = "roles.doctor.vision",
    ):
        self.name = name or model or "default"
        self.base_url = base_url
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.structured_output = structured_output
        self.body = dict(body or {})  # sent with every request (the embedded server's slot, say)
        self.vision = vision  # images in messages are sent (else refused before a request is made)
        self.image_max_side = image_max_side
        self.vision_setting = vision_setting  # the setting a refused image request names
        self.refuses_images = False  # set when the server refused a request with images (HTTP 400/422)
        self._temperature = temperature
        self._max_tokens = max_tokens
        self._model = model or "default"
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout_s, max_retries=0
        )  # retries are ours (see the module's docstring)

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
        # LangChain sends `max_completion_tokens`, which some local servers ignore (llama-cpp-python's then
        # generates until the context is full) and upstream llama.cpp's prefers over `max_tokens`: both get
        # this call's budget. OpenAI itself rejects `max_tokens` for newer models, so it only gets the
        # LangChain field.
        budget = max_tokens if max_tokens is not None else self._max_tokens
        images = sum(len(m.images) for m in messages)
        payload: dict = {
            "model": self._model,
            "stream": False,
            "messages": convert_to_openai_messages([self._langchain_message(m) for m in messages]),
            "max_completion_tokens": budget,
        }
        if seed is not None:
            payload["seed"] = seed
        if stop:
            payload["stop"] = stop
        payload["temperature"] = self._temperature if temperature is None else temperature
        payload.update(self.body)
        if "api.openai.com" not in self.base_url:
            payload["max_tokens"] = budget
        if grammar is not None and self.structured_output == "grammar":
            payload["grammar"] = grammar  # llama.cpp's server decodes only what the grammar allows
        elif response_schema is not None and self.structured_output in ("json_object", "json_schema"):
            payload["response_format"] = _response_format(self.structured_output, response_schema)

        started = time.perf_counter()
        for attempt in range(1, self.max_retries + 2):
            try:
                reply = _post(self._client, payload)
                break
            except (*_TRANSIENT, _UnusableReply) as error:
                if attempt > self.max_retries:
                    raise LLMError(_describe(error, self.base_url, attempt), attempts=attempt) from error
                time.sleep(self.backoff_s * (2 ** (attempt - 1)) * (0.5 + random.random()))
            except _REFUSALS as error:
                if images:
                    self.refuses_images = True  # the run reads this: every later image request would fail too
                    raise VisionRefused(
                        self.vision_setting, _refused_images(error, self.base_url, images, self.vision_setting)
                    ) from error
                raise LLMError(_describe(error, self.base_url, attempt), attempts=attempt) from error
            except openai.APIError as error:
                raise LLMError(_describe(error, self.base_url, attempt), attempts=attempt) from error
        latency = time.perf_counter() - started

        text = reply.choices[0].message.content or ""
        prompt_text = "\n".join(m.content for m in messages)
        return Completion(
            text=text,
            # What the server says answered (a proxy or a server may serve another model than was asked).
            model=reply.model or self.name,
            tokens_in=(reply.usage.prompt_tokens if reply.usage else 0) or approx_tokens(prompt_text),
            tokens_out=(reply.usage.completion_tokens if reply.usage else 0) or approx_tokens(text),
            latency_s=latency,
            attempts=attempt,
        )

    def _langchain_message(self, message: Message) -> BaseMessage:
        """The message as LangChain's type; with images, a content list: the text, then one part per image."""
        if not message.images:
            return _LC_TYPES[message.role](content=message.content)
        if not self.vision:
            raise LLMError(
                f"{len(message.images)} image(s) given to the {self.name} model, whose role does not "
                f"take images ({self.vision_setting} is off)"
            )
        if message.role != "user":
            raise LLMError(f"images go with a user message, not a {message.role} one")
        parts: list[str | dict] = [{"type": "text", "text": message.content}]
        parts += [image_part(path, self.image_max_side) for path in message.images]
        return HumanMessage(content=parts)


def _refused_images(error: Exception, base_url: str, images: int, setting: str) -> str:
    """Why a request with images failed, and what to change: most often a model that reads text only."""
    role = setting.rsplit(".", 1)[0]
    return (
        f"{_describe(error, base_url)}; the request carried {images} image(s), which this server refused: "
        f"serve a model that takes images (docs/vision.md), or set {setting} = false (if the prompt was too "
        f"long for the model's context instead: lower {role}.image_max_side, or set {role}.keep_images = false)"
    )


def _post(client: openai.OpenAI, payload: dict) -> ChatCompletion:
    """The completion, or _UnusableReply for a body that is not one (an HTML error page from a proxy, a
    truncated body) or that holds no text: both are worth another attempt."""
    try:
        reply = client.post("/chat/completions", body=payload, cast_to=ChatCompletion)
    except openai.APIResponseValidationError as error:
        raise _UnusableReply(f"not a chat completion ({str(error).splitlines()[0][:120]})") from error
    if not isinstance(reply, ChatCompletion) or not reply.choices or reply.choices[0].message is None:
        raise _UnusableReply(f"not a chat completion ({str(reply)[:120]!r})")
    if not (reply.choices[0].message.content or "").strip():
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
    return client(spec, spec.base_url, spec.model, api_key, role=role)


def client(
    spec: RoleModel, base_url: str, model: str, api_key: str | None, body: dict | None = None, role: str = "doctor"
) -> OpenAICompatModel:
    """A client for one role's settings at `base_url` (the embedded backend's server uses it too); `body`
    goes into every request; `role` names the settings a refused image request points at."""
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
        vision=spec.vision,
        image_max_side=spec.image_max_side,
        vision_setting=f"roles.{role}.vision",
    )
