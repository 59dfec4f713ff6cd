"""The "Encounter" tab: set up an encounter, play the human seats, watch the agents, see the result.

Every handler takes the thread id from the browser (a `BrowserState`, or `?thread=` in the URL) and
streams screens while the agents work: the chat fills in turn by turn, then the panel of the seat whose
turn it is appears (doctor actions, or the patient / measurement answer form).
"""

from __future__ import annotations

import random
import re
from functools import partial
from pathlib import Path

import gradio as gr

from sim.app import render
from sim.app.encounters import EncounterBook, LiveEncounter
from sim.app.paths import AppPaths
from sim.app.safety import UploadRejected, check_image_upload, publish
from sim.app.sources import BANK, UPLOAD, CaseSources, SourceError
from sim.core.actions import ACTION_ADAPTER
from sim.core.config import MODEL_ROLES, SEATS, RoleModel, Settings

RANDOM = "(random case)"
WORKING = "### The agents are working…\nThe chat fills in as they answer (the first start of the embedded model takes a while)."
IDLE = (
    "### No encounter yet\nChoose a case source, a case and your seat(s) on the left, then press **Start encounter**."
)
THREAD_STORAGE_KEY = "clinsim-thread"


def describe_model(spec: RoleModel) -> str:
    """A role's configured model in the form the model boxes accept."""
    if spec.backend == "openai":
        return f"{spec.model}@{spec.base_url}"
    return spec.backend


def parse_differential(text: str) -> list[str]:
    """One diagnosis per line (or separated by ';'), an optional '1.' / '2)' / '-' before each."""
    items = [re.sub(r"^\s*(?:\d+\s*[.)]|[-*•])\s*", "", part) for part in re.split(r"[\n;]", text or "")]
    return [item.strip() for item in items if item.strip()]


class EncounterTab:
    def __init__(
        self, settings: Settings, paths: AppPaths, sources: CaseSources, book: EncounterBook, max_upload_bytes: int
    ):
        self.settings, self.paths, self.sources, self.book = settings, paths, sources, book
        self.max_upload_bytes = max_upload_bytes
        self.publish = partial(publish, paths=paths)

    # ---------------------------------------------------------------- layout
    def build(self, demo: gr.Blocks) -> None:
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                gr.Markdown("### New encounter")
                self.source = gr.Dropdown(self.sources.choices(), value=BANK, label="Case source", elem_id="source")
                self.upload = gr.File(
                    label="Case file (.jsonl)",
                    file_types=[".jsonl"],
                    type="filepath",
                    visible=False,
                    elem_id="case-upload",
                )
                # Custom values allowed: choices change per source, and `start` checks the id against the cases itself.
                self.case_choice = gr.Dropdown(
                    [RANDOM], value=RANDOM, label="Case", allow_custom_value=True, elem_id="case-choice"
                )
                self.source_note = gr.Markdown(elem_id="source-note")
                self.seats = gr.CheckboxGroup(list(SEATS), value=["doctor"], label="Seats you play", elem_id="seats")
                with gr.Accordion("Models of the other seats", open=False):
                    gr.Markdown(
                        "`embedded` (the built-in llama.cpp model) or `MODEL@URL` of an "
                        "OpenAI-compatible server; the doctor can also be `knn` (the retrieved cases' "
                        "vote). Ignored for the seats you play; the measurement desk is a case lookup."
                    )
                    self.models = [
                        gr.Textbox(
                            describe_model(self.settings.role(role)), label=f"{role} model", elem_id=f"{role}-model"
                        )
                        for role in MODEL_ROLES
                    ]
                self.start_button = gr.Button("Start encounter", variant="primary", elem_id="start")
            with gr.Column(scale=2, min_width=420):
                self.status = gr.Markdown(IDLE, elem_id="status")
                self.chat = gr.Chatbot(
                    label="Encounter", height=520, elem_id="encounter-chat", feedback_options=None, buttons=["copy_all"]
                )
                with gr.Group(visible=False, elem_id="doctor-panel") as self.doctor_panel:
                    self.doctor_text = gr.Textbox(
                        label="Question, test or image",
                        placeholder="e.g. How long have you had the cough?  ·  complete blood count  ·  chest x-ray",
                        elem_id="doctor-text",
                    )
                    with gr.Row():
                        self.ask_button = gr.Button("Ask the patient", elem_id="ask")
                        self.test_button = gr.Button("Request test", elem_id="request-test")
                        self.image_button = gr.Button("Request image", elem_id="request-image")
                    self.differential = gr.Textbox(
                        label="Ranked differential: one diagnosis per line, most likely first",
                        lines=3,
                        elem_id="differential",
                    )
                    with gr.Row():
                        self.diagnose_button = gr.Button("Diagnose", variant="primary", elem_id="diagnose")
                        self.leave_button = gr.Button("Leave the encounter", variant="stop", elem_id="leave")
                with gr.Group(visible=False, elem_id="reply-panel") as self.reply_panel:
                    self.reply_request = gr.Markdown(elem_id="reply-request")
                    self.suggestion_images = gr.Gallery(
                        label="Images the lookup would return",
                        visible=False,
                        height=200,
                        interactive=False,
                        elem_id="suggestion-images",
                    )
                    self.reply_text = gr.Textbox(label="Your answer", lines=2, elem_id="reply-text")
                    self.reply_image = gr.File(
                        label="Attach an image (optional)",
                        file_types=["image"],
                        type="filepath",
                        visible=False,
                        elem_id="reply-image",
                    )
                    with gr.Row():
                        self.send_button = gr.Button("Send answer", variant="primary", elem_id="send")
                        self.accept_button = gr.Button("Accept lookup", visible=False, elem_id="accept")
                        self.leave_reply_button = gr.Button("Leave the encounter", variant="stop")
                self.result = gr.Markdown(elem_id="result")
        with gr.Accordion("Similar cases and experiences", open=True):
            self.retrieval_gallery = gr.Gallery(
                label="Similar cases for each image seen",
                columns=4,
                height=260,
                visible=False,
                interactive=False,
                elem_id="retrieval-gallery",
            )
            self.retrieval_md = gr.Markdown(render.retrieval_markdown([]))
            self.experiences_md = gr.Markdown(render.experiences_markdown([]))
        self.thread = gr.BrowserState("", storage_key=THREAD_STORAGE_KEY, secret=self.paths.browser_secret())
        self._wire(demo)

    @property
    def outputs(self) -> list:
        return [
            self.chat,
            self.status,
            self.doctor_panel,
            self.reply_panel,
            self.reply_request,
            self.suggestion_images,
            self.reply_text,
            self.reply_image,
            self.accept_button,
            self.result,
            self.retrieval_gallery,
            self.retrieval_md,
            self.experiences_md,
            self.thread,
            self.doctor_text,
            self.differential,
        ]

    def _wire(self, demo: gr.Blocks) -> None:
        case_outputs = [self.case_choice, self.source_note, self.upload]
        self.source.change(self.list_cases, [self.source, self.upload], case_outputs, api_name="list_cases")
        self.upload.change(self.list_cases, [self.source, self.upload], case_outputs, api_visibility="private")
        demo.load(self.list_cases, [self.source, self.upload], case_outputs, api_visibility="private")
        demo.load(self.resume, [self.thread], self.outputs, api_name="resume")

        out = self.outputs
        self.start_button.click(
            self.start,
            [self.source, self.upload, self.case_choice, self.seats, *self.models, self.thread],
            out,
            api_name="start",
        )
        self.ask_button.click(self.ask, [self.thread, self.doctor_text], out, api_name="ask")
        self.doctor_text.submit(self.doctor_says, [self.thread, self.doctor_text], out, api_name="doctor_says")
        self.test_button.click(self.request_test, [self.thread, self.doctor_text], out, api_name="request_test")
        self.image_button.click(self.request_image, [self.thread, self.doctor_text], out, api_name="request_image")
        self.diagnose_button.click(self.diagnose, [self.thread, self.differential], out, api_name="diagnose")
        self.send_button.click(self.reply, [self.thread, self.reply_text, self.reply_image], out, api_name="reply")
        self.reply_text.submit(
            self.reply, [self.thread, self.reply_text, self.reply_image], out, api_visibility="private"
        )
        self.accept_button.click(self.accept_lookup, [self.thread], out, api_name="accept_lookup")
        for button in (self.leave_button, self.leave_reply_button):
            button.click(self.leave, [self.thread], out, api_visibility="private")

    # ---------------------------------------------------------------- screens
    def _screen(self, encounter: LiveEncounter | None, turns=None, working: bool = False, note: str = "") -> tuple:
        hidden = gr.update(visible=False)
        if encounter is None:
            return (
                [],
                note or IDLE,
                hidden,
                hidden,
                "",
                gr.update(value=[], visible=False),
                "",
                gr.update(value=None, visible=False),
                hidden,
                "",
                gr.update(value=[], visible=False),
                render.retrieval_markdown([]),
                render.experiences_markdown([]),
                "",
                "",
                "",
            )
        step = encounter.step
        turns = turns if turns is not None else (step.turns if step else encounter.turns_now())
        waiting = step.waiting_for if step and not working else None
        record = step.record if step and not working else None
        role = (waiting or {}).get("role")
        if working:
            status = WORKING
        elif record is not None:
            status = (
                f"### {render.headline(record)}\nThe encounter is over; its record is saved. Start another on the left."
            )
        elif role == "doctor":
            status = render.doctor_prompt_markdown(waiting or {})
        elif role in ("patient", "measurement"):
            status = f"### Your turn: the {role}\nAnswer below the chat."
        elif encounter.failure:
            status = f"### Something went wrong\n{encounter.failure}\n\nThe encounter is checkpointed: reload the page to retry."
        else:
            status = WORKING
        if note:
            status += f"\n\n*{note}*"
        measuring = role == "measurement"
        suggested = [
            p for p in (self.publish(i) for i in ((waiting or {}).get("suggestion") or {}).get("images", [])) if p
        ]
        experiences = encounter.experiences_now()
        similar = render.retrieval_gallery(turns, self.publish)
        return (
            render.chat_messages(turns, self.publish),
            status,
            gr.update(visible=role == "doctor"),
            gr.update(visible=role in ("patient", "measurement")),
            render.request_markdown(waiting or {}) if role in ("patient", "measurement") else "",
            gr.update(value=suggested, visible=measuring and bool(suggested)),
            "",
            gr.update(value=None, visible=measuring),
            gr.update(visible=measuring),
            render.result_markdown(record, encounter.spec.saved_to) if record is not None else "",
            gr.update(value=similar, visible=bool(similar)),
            render.retrieval_markdown(turns),
            render.experiences_markdown(experiences),
            encounter.thread_id,
            "",
            "",
        )

    def _run(self, encounter: LiveEncounter, answer: object = None, note: str = ""):
        """Advance (unless already advancing) and stream a screen for each new turn, then the final one."""
        encounter.begin(answer)
        yield self._screen(encounter, turns=encounter.turns_now(), working=True, note=note)
        for turns in encounter.follow():
            yield self._screen(encounter, turns=turns, working=True, note=note)
        yield self._screen(encounter, note=note)

    def _waiting(self, thread: str, roles: tuple[str, ...]) -> LiveEncounter:
        try:
            encounter = self.book.find(thread)
        except SourceError as error:
            raise gr.Error(str(error)) from None
        if encounter is None:
            raise gr.Error("No encounter in progress: start one first.")
        waiting = encounter.step.waiting_for if encounter.step else None
        if encounter.busy or not waiting or waiting.get("role") not in roles:
            raise gr.Error("It is not this seat's turn (the agents may still be working).")
        return encounter

    # ---------------------------------------------------------------- handlers
    def list_cases(self, source: str, upload: str | None):
        show_upload = gr.update(visible=source == UPLOAD)
        if source == UPLOAD and not upload:
            return gr.update(choices=[RANDOM], value=RANDOM), "Upload a `.jsonl` case file.", show_upload
        try:
            path, note = self.sources.resolve(source, upload)
            cases = self.sources.cases(path, Path(upload).name if source == UPLOAD and upload else None)
        except SourceError as error:
            return (
                gr.update(choices=[RANDOM], value=RANDOM),
                f"**Cannot use these cases:**\n```\n{error}\n```",
                show_upload,
            )
        label = f"{len(cases)} cases." + (f" ({note})" if note else "")
        return gr.update(choices=[RANDOM] + [c.id for c in cases], value=RANDOM), label, show_upload

    def start(self, source, upload, case_choice, seats, doctor_model, patient_model, judge_model, thread):
        try:
            path, note = self.sources.resolve(source, upload)
            cases = self.sources.cases(path, Path(upload).name if source == UPLOAD and upload else None)
            if not case_choice or case_choice == RANDOM:
                case = random.choice(cases)
            else:
                case = next((c for c in cases if c.id == case_choice), None)
                if case is None:
                    raise SourceError(f"no case '{case_choice}' in this source")
            models = dict(zip(MODEL_ROLES, (doctor_model, patient_model, judge_model)))
            encounter = self.book.start(path, case, list(seats or []), models)
        except (SourceError, ValueError) as error:
            raise gr.Error(str(error)) from None
        yield from self._run(encounter, None, note)

    def resume(self, thread: str, request: gr.Request):
        """On page load: the thread from the URL (?thread=) or the browser's storage, where it stopped."""
        wanted = (request.query_params.get("thread") if request is not None else None) or thread
        try:
            encounter = self.book.find(wanted)
        except SourceError as error:
            yield self._screen(None, note=f"### Cannot resume\n{error}")
            return
        if encounter is None:
            yield self._screen(None)
            return
        if encounter.busy or encounter.step is None:  # still working, or rebuilt after a server restart
            yield from self._run(encounter)
            return
        yield self._screen(encounter)

    def _doctor(self, thread: str, answer: dict | str):
        encounter = self._waiting(thread, ("doctor",))
        if isinstance(answer, dict):
            try:
                ACTION_ADAPTER.validate_python(answer)
            except ValueError:
                raise gr.Error(
                    "That action needs some text: a question, a test or image name, or a diagnosis."
                ) from None
        yield from self._run(encounter, answer)

    def ask(self, thread: str, text: str):
        yield from self._doctor(thread, {"kind": "ask", "text": (text or "").strip()})

    def doctor_says(self, thread: str, text: str):
        """Free text: a question, or `TEST: x`, `IMAGE: x`, `DIAGNOSIS: a; b`."""
        if not (text or "").strip():
            raise gr.Error("Type a question, or TEST: name, IMAGE: name, DIAGNOSIS: a; b.")
        yield from self._doctor(thread, text.strip())

    def request_test(self, thread: str, text: str):
        yield from self._doctor(thread, {"kind": "test", "name": (text or "").strip()})

    def request_image(self, thread: str, text: str):
        # No name: every image of the case ("imaging" matches them all).
        yield from self._doctor(thread, {"kind": "image", "name": (text or "").strip() or "imaging"})

    def diagnose(self, thread: str, differential: str):
        items = parse_differential(differential)
        if not items:
            raise gr.Error("Write at least one diagnosis, most likely first.")
        yield from self._doctor(thread, {"kind": "diagnose", "differential": items})

    def reply(self, thread: str, text: str, image: str | None):
        encounter = self._waiting(thread, ("patient", "measurement"))
        step = encounter.step
        assert step is not None and step.waiting_for is not None  # what _waiting checked
        role = step.waiting_for["role"]
        text = (text or "").strip()
        if role == "patient" and not text:
            raise gr.Error("Write the patient's answer.")
        answer: object = text
        if image and role == "measurement":
            try:
                stored = check_image_upload(Path(image), self.paths, self.max_upload_bytes, Path(image).name)
            except UploadRejected as error:
                raise gr.Error(f"Image rejected: {error}") from None
            answer = {"text": text or "Image attached.", "images": [str(stored)]}
        yield from self._run(encounter, answer)

    def accept_lookup(self, thread: str):
        encounter = self._waiting(thread, ("measurement",))
        yield from self._run(encounter, "")  # an empty answer takes the lookup's result

    def leave(self, thread: str):
        encounter = self._waiting(thread, tuple(SEATS))
        yield from self._run(encounter, {"quit": True})
