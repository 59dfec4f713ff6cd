"""The one place settings become the parts of an encounter: models, the doctor (by kind), its strategy,
the patient and measurement seats, the retrieval step and the experience memory.

`Parts` is built once per run and shared by every episode (so the embedded servers start once); each
episode then gets its seats and its `Encounter` (the graph's context) from `Parts.encounter(...)`. The
CLI, the benchmark harness, the web app and reruns all build through here, so they cannot drift apart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from agents.doctor import LLMDoctor
from agents.human import HumanSeat
from agents.knn_doctor import KnnDoctor
from agents.leaks import LeakCheck, redact_case
from agents.llm.base import ChatModel
from agents.measurement import LookupMeasurement
from agents.measurement_agent import LookupMeasurementAgent
from agents.patient import LLMPatient, licensed_breaks
from agents.protocol import Participant
from agents.reference_doctors import KnnTextDoctor, TextClassifier, TextDoctor
from agents.request_matching import TextEncoder
from sim.core.case import Case
from sim.core.config import (
    MODEL_ROLES,
    REFERENCE_DOCTORS,
    ROLES,
    SEATS,
    PanelistSettings,
    Settings,
    parse_model_spec,
)
from sim.core.plugins import DOCTORS, STRATEGIES
from sim.core.records import RoleInfo
from sim.core.transcript import Turn
from sim.encounter.graph import Encounter, ExperienceSource, Retriever, Seats

if TYPE_CHECKING:
    from retrieval.embedders.minilm import MiniLMEmbedder

REFERENCE_MODELS = {
    "knn": "knn retrieval vote",
    "text": "text classifier (tf-idf + logistic regression)",
    "knn+text": "knn retrieval vote x text classifier",
}


class UnheardPatient:
    """The patient of a reference doctor, who never asks anything: says nothing if asked all the same."""

    role = "patient"

    def generate_next_message(self, view):
        from agents.protocol import Reply

        return Reply(text="(the patient is not heard by this doctor)")


class LazyTextEncoder:
    """MiniLM, loaded when first asked to embed (thread-safe); the desk's semantic matcher."""

    def __init__(self) -> None:
        self._model: MiniLMEmbedder | None = None
        self._lock = threading.Lock()

    def embed_texts(self, texts: list[str]):
        with self._lock:
            if self._model is None:
                from retrieval.embedders.minilm import MiniLMEmbedder

                self._model = MiniLMEmbedder()
            return self._model.embed_texts(texts)


class Parts:
    """What every encounter of a run is built from. Models are made on first use, once, thread-safely."""

    def __init__(
        self,
        settings: Settings,
        models: dict[str, ChatModel] | None = None,
        retriever: Retriever | None = None,
        experience: ExperienceSource | None = None,
    ):
        self.settings = settings
        self.models: dict[str, ChatModel] = models if models is not None else {}
        self.retriever = retriever
        self.experience = experience
        self._lock = threading.RLock()
        self._desk_encoder: LazyTextEncoder | None = None
        self._text_classifier: TextClassifier | None = None

    # --- models -------------------------------------------------------------------------------------------

    def model(self, role: str) -> ChatModel:
        with self._lock:
            if role not in self.models:
                from agents.llm.registry import model_for_role

                self.models[role] = model_for_role(self.settings, role)
            return self.models[role]

    def needed_roles(self, human: Iterable[str] = ()) -> list[str]:
        """The roles a model must play: not the seats people take, not a doctor that needs none (the reference
        doctors), nor a patient nobody listens to (theirs), and the judge only when it may be asked."""
        human = set(human)
        kind = self.doctor_kind(human)
        roles = []
        for role in MODEL_ROLES:
            if role in human or (role == "doctor" and kind != "llm"):
                continue
            if role == "patient" and kind in REFERENCE_DOCTORS:
                continue
            if role == "judge" and not self.settings.encounter.llm_judge:
                continue
            roles.append(role)
        return roles

    def start_models(
        self, human: Iterable[str] = (), wrap: Callable[[str, ChatModel], ChatModel] | None = None
    ) -> None:
        """Make every needed model now (a server that cannot start fails before anything runs)."""
        with self._lock:
            for role in self.needed_roles(human):
                if role not in self.models:
                    self.model(role)
                    if wrap is not None:
                        self.models[role] = wrap(role, self.models[role])

    def model_restarts(self) -> int:
        """How often the models' servers died and were restarted so far (the embedded server is supervised;
        other backends never restart): an episode during which this changed lost its server."""
        with self._lock:
            models = list(self.models.values())
        return sum(getattr(getattr(m, "inner", m), "restarts", 0) for m in models)

    def models_exhausted(self) -> bool:
        """No later episode can be answered as configured: a model's server died with no restart left, or
        refused the images the doctor is set to send (roles.doctor.vision with a model that reads text only)."""
        with self._lock:
            models = [getattr(m, "inner", m) for m in self.models.values()]
        return any(getattr(m, "exhausted", False) or getattr(m, "refuses_images", False) for m in models)

    # --- the doctor ---------------------------------------------------------------------------------------

    def doctor_kind(self, human: Iterable[str] = ()) -> str:
        return "human" if "doctor" in set(human) else self.settings.encounter.doctor

    def strategy(self):
        spec = self.settings.strategy
        return STRATEGIES.load(spec.name).from_settings(spec, self._panel_model)

    def _panel_model(self, panelist: PanelistSettings) -> ChatModel | None:
        """A conference panelist's own model, or None for the doctor's."""
        if not panelist.model:
            return self._panel_server(panelist.name)
        key = f"panel:{panelist.model}"
        with self._lock:
            if key not in self.models:
                from agents.llm.registry import model_for_spec

                flat = parse_model_spec("doctor", panelist.model)
                # A panelist reads the encounter's summary, never an image: its model needs no vision.
                update = {**{k.split(".")[-1]: v for k, v in flat.items()}, "vision": False}
                spec = self.settings.roles.doctor.model_copy(update=update)
                self.models[key] = model_for_spec(self.settings, spec, key)
            return self.models[key]

    def _panel_server(self, name: str) -> ChatModel | None:
        """A panelist on the embedded doctor's model with a server per role gets a server of its own: on
        the doctor's, each panelist and then the lead would evaluate its whole prompt again."""
        from agents.llm.embedded_slots import EmbeddedRoleModel

        doctor = self.model("doctor")
        if not isinstance(doctor, EmbeddedRoleModel) or doctor.slot == "shared":
            return None  # another backend, one shared server, or a wrapped (recorded) model: use the doctor's
        return doctor.sibling(f"panel-{name}")

    def desk_encoder(self) -> TextEncoder | None:
        """The sentence embedder the measurement desk matches requests by meaning with (loaded on first use:
        most requests are decided by their words)."""
        if not self.settings.encounter.desk_semantic:
            return None
        with self._lock:
            if self._desk_encoder is None:
                self._desk_encoder = LazyTextEncoder()
            return self._desk_encoder

    # --- one encounter ------------------------------------------------------------------------------------

    def seats(self, case: Case, case_dir: Path | None, human: Iterable[str] = ()) -> tuple[Seats, list[dict]]:
        """The three seats, and what was redacted: patient and measurement get the case without its diagnosis."""
        human = set(human)
        enc = self.settings.encounter
        seen, redactions = redact_case(case) if enc.redact_diagnosis else (case, [])
        lookup = LookupMeasurementAgent(
            LookupMeasurement(
                seen, case_dir, enc.missing_test_answer, enc.show_image_report, self.desk_encoder(), enc.desk_on_missing
            )
        )
        doctor = DOCTORS.load(self.doctor_kind(human))(self, case)
        if "patient" in human:
            patient: Participant = HumanSeat("patient")
        elif self.doctor_kind(human) in REFERENCE_DOCTORS:
            patient = UnheardPatient()  # a reference doctor never asks: no model is started for the patient
        else:
            patient = LLMPatient(
                self.model("patient"), seen.patient, enc.patient_bias, self.settings.roles.patient.max_tokens
            )
        measurement = HumanSeat("measurement", suggest=lookup) if "measurement" in human else lookup
        return Seats(doctor=doctor, patient=patient, measurement=measurement), redactions

    def encounter(
        self, case: Case, case_dir: Path | None, seed: int | None, human: Iterable[str] = ()
    ) -> tuple[Encounter, list[dict]]:
        """The graph's context for one encounter, and the redactions made for it."""
        enc = self.settings.encounter
        seats, redactions = self.seats(case, case_dir, human)
        judge = self.model("judge") if enc.llm_judge else None
        context = Encounter(
            case,
            seats,
            enc.turn_cap,
            enc.differential_size,
            judge,
            self.retriever,
            seed,
            self.experience,
            LeakCheck(case.diagnosis),
            enc.mask_leaks,
            licensed_breaks(enc.patient_bias),
        )
        return context, redactions

    def opening(self, human: Iterable[str] = ()) -> str:
        """Who speaks first. The reference doctors never listen to the patient, so they get no opening statement."""
        listens = self.doctor_kind(human) not in REFERENCE_DOCTORS
        return "patient" if self.settings.encounter.patient_opens and listens else "doctor"

    def text_classifier(self) -> TextClassifier:
        """The text reference doctors' classifier, fitted once on the archive bank (the data directory's)."""
        with self._lock:
            if self._text_classifier is None:
                from sim.loaders import load_cases

                bank = self.settings.data_dir / "bank"
                if not (bank / "cases.jsonl").is_file():
                    raise ValueError(
                        f"the text and knn+text doctors learn from the archive bank, and {bank} has no "
                        "cases.jsonl: run `clinsim demo` or `clinsim cases generate --out DATA_DIR/bank`"
                    )
                self._text_classifier = TextClassifier(load_cases(bank))
            return self._text_classifier

    def roles_info(self, turns: list[Turn], human: Iterable[str] = ()) -> dict[str, RoleInfo]:
        """Who played each role. A model's name is what answered (the server's reply, which for the embedded
        model is its GGUF name and hash), not what the settings asked for."""
        human = set(human)
        answered: dict[str, str] = {}
        for turn in turns:
            for call in turn.calls:
                answered.setdefault(call.role, call.model)
        info = {}
        for role in ROLES:
            spec = self.settings.role(role) if role in MODEL_ROLES else None
            if role in human:
                info[role] = RoleInfo(backend="human", model="human", human=True)
            elif spec is None:  # the measurement desk: a deterministic lookup in the case, never a model
                info[role] = RoleInfo(backend="lookup", model="case lookup")
            elif role == "doctor" and self.doctor_kind(human) in REFERENCE_DOCTORS:
                kind = self.doctor_kind(human)
                info[role] = RoleInfo(backend=kind, model=REFERENCE_MODELS[kind])
            else:
                built = self.models.get(role)
                model = answered.get(role) or (built.name if built is not None else spec.model or spec.backend)
                info[role] = RoleInfo(
                    backend=spec.backend,
                    model=model,
                    sha256=getattr(built, "sha256", ""),
                    base_url=spec.base_url if spec.backend == "openai" else "",
                )
        return info


# --- the doctor kinds (the DOCTORS registry in sim/core/plugins.py) -----------------------------------------


def llm_doctor(parts: Parts, case: Case) -> Participant:
    enc, spec = parts.settings.encounter, parts.settings.roles.doctor
    return LLMDoctor(
        parts.model("doctor"),
        case.objective,
        enc.turn_cap,
        enc.differential_size,
        enc.doctor_bias,
        spec.max_tokens,
        output_mode=spec.output_mode(),
        strategy=parts.strategy(),
        deliberate=parts.settings.strategy.deliberate,
        reasoning_tokens=parts.settings.strategy.reasoning_tokens,
        vision=spec.vision,
        keep_images=spec.keep_images,
    )


def knn_doctor(parts: Parts, case: Case) -> Participant:
    return KnnDoctor(top_k=parts.settings.encounter.differential_size)  # the retrieval vote: no model


def text_doctor(parts: Parts, case: Case) -> Participant:
    return TextDoctor(parts.text_classifier(), case, top_k=parts.settings.encounter.differential_size)


def knn_text_doctor(parts: Parts, case: Case) -> Participant:
    return KnnTextDoctor(parts.text_classifier(), case, top_k=parts.settings.encounter.differential_size)


def human_doctor(parts: Parts, case: Case) -> Participant:
    return HumanSeat("doctor")


def check_seats(human: Iterable[str]) -> None:
    unknown = set(human) - set(SEATS)
    if unknown:
        raise ValueError(f"a human can sit in {', '.join(SEATS)}, not {', '.join(sorted(unknown))}")


# --- retrieval and experience ---------------------------------------------------------------------------------


def retriever(settings: Settings, notify: Callable[[str], None] | None = None) -> Retriever | None:
    """The doctor's retrieval step when enabled and the store has images for the configured embedder; None
    otherwise (with one line to `notify` saying why)."""
    if not settings.retrieval.enabled:
        return None
    from retrieval.retriever import make_retriever

    return make_retriever(settings, notify)


def experience(
    settings: Settings,
    out: Path,
    case_ids: list[str],
    experience_from: Path | None = None,
    notify: Callable[[str], None] = print,
):
    """(provider for the graph, store) when experience is on, else (None, None). The store lives in the run
    directory, mirrored to RUN_DIR/experiences.jsonl. Raises InputError for an unreadable warm-start file."""
    if not settings.experience.enabled:
        return None, None
    from retrieval.experience import (
        EXPERIENCES_FILE,
        ExperienceProvider,
        ExperienceStore,
        experience_embedder,
        read_experiences,
    )

    store = ExperienceStore(
        out / "experience-store", experience_embedder(settings.experience.embedder), mirror=out / EXPERIENCES_FILE
    )
    if experience_from is not None:
        added = store.add(read_experiences(experience_from / EXPERIENCES_FILE), mirror=False)
        notify(f"experience store warm-started with {added} experience(s) from {experience_from}")
    split = [] if settings.experience.allow_same_split else list(case_ids)
    provider = ExperienceProvider(store, settings.experience.k, settings.experience.only_correct, split)
    return provider, store
