"""The LLM doctor: a typed action per turn, one repair request when a reply won't parse; strategies on top."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from rapidfuzz import fuzz

from agents.llm.base import ChatModel, Completion, Message
from agents.parsing import fallback_ask, parse_action
from agents.prompts import bias_fragment, grammar, render
from agents.protocol import Reply, View, call_record
from agents.synonyms import canonical
from sim.core.actions import (
    MAX_DIFFERENTIAL,
    Ask,
    Diagnose,
    DoctorAction,
    RequestImage,
    RequestTest,
    action_json_schema,
)
from sim.core.config import EncounterSettings, StrategySettings
from sim.core.transcript import LLMCall, request_kind

if TYPE_CHECKING:
    from agents.strategies.base import DoctorStepLike

# An action not decided yet, or none: the private reasoning returns a diagnosis or gives back what it was given.
_Undecided = TypeVar("_Undecided", bound="Ask | RequestTest | RequestImage | Diagnose | None")

OPENING = "A new patient has come in."
EXAM_WORDS = ("exam", "auscultat", "percuss", "palpat", "inspect", "vital", "observation")
JSON_MODES = ("json_object", "json_schema")


DECIDED = "DIAGNOSIS:"


def action_grammar(final: bool = False, decide_only: bool = False) -> str:
    """The GBNF of one tagged action; on the last turn only a diagnosis is allowed. `decide_only`: a diagnosis
    is the bare decision (`DECIDED`), for a doctor that writes its notes before the diagnosis line."""
    lines = grammar("doctor_action").splitlines()
    if final:
        lines = ["root ::= diagnosis" if line.startswith("root ") else line for line in lines]
    if decide_only and not final:
        lines = [f'diagnosis ::= "{DECIDED}"' if line.startswith("diagnosis ") else line for line in lines]
    return "\n".join(lines) + "\n"


def action_text(action: DoctorAction) -> str:
    """The canonical tagged form of an action, as the doctor sees its own past turns."""
    if isinstance(action, Ask):
        return f"ASK: {action.text}"
    if isinstance(action, RequestTest):
        return f"TEST: {action.name}"
    if isinstance(action, RequestImage):
        return f"IMAGE: {action.name}"
    return "DIAGNOSIS: " + "; ".join(action.differential)


def doctor_messages(
    view: View, system: str, structured: bool = False, vision: bool = False, keep_images: bool = True
) -> list[Message]:
    """System prompt, then the encounter as a chat: the doctor's actions as its own turns, the rest as user
    turns. Only what the doctor needs is resent: its actions in tagged form and each reply once. With `vision`
    the image files the desk returned go with the user message of their result (the turn they arrive in);
    without `keep_images` only the newest message keeps its images."""
    # Past encounters go with the instructions, not into the dialogue, so they are not repeated per turn.
    messages = [Message(role="system", content=f"{system.rstrip()}\n\n{view.context}" if view.context else system)]
    pending = [OPENING]
    images: list[str] = []
    for turn in view.transcript:
        if turn.role == "doctor":
            messages.append(Message(role="user", content="\n\n".join(pending), images=images))
            pending, images = [], []
            own = json.dumps(turn.action.model_dump()) if structured and turn.action else turn.text
            messages.append(Message(role="assistant", content=own))
        elif turn.role == "patient":
            pending.append(f"Patient: {turn.text}")
        elif turn.role == "measurement":
            pending.append(f"Result: {turn.text}")
            images = images + list(turn.images) if vision else images
        elif turn.role == "retrieval":
            pending.append(turn.text)
    # The work-up status goes on the newest message only: resent with every past turn, it would grow the
    # prompt by a line per turn (a server then re-evaluates only that message's tail, a few tokens).
    pending.append(workup_status(view.transcript, view.doctor_turns + 1, view.turn_cap))
    if view.final_turn:
        pending.append(render("doctor_final_turn_json" if structured else "doctor_final_turn").strip())
    messages.append(Message(role="user", content="\n\n".join(pending) or "Continue.", images=images))
    if not keep_images:
        messages = [
            m.model_copy(update={"images": []}) if m.images and i < len(messages) - 1 else m
            for i, m in enumerate(messages)
        ]
    return messages


@dataclass
class Workup:
    """What the doctor's actions so far covered, by step of a clinical work-up."""

    questions: list[str] = field(default_factory=list)
    exams: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, transcript: list) -> Workup:
        workup = cls()
        for index, turn in enumerate(transcript):
            action = turn.action
            if turn.role != "doctor" or action is None:
                continue
            kind, name = request_kind(transcript, index), getattr(action, "name", "")
            if kind == "ask":
                workup.questions.append(action.text)
            elif kind == "test":
                (workup.exams if is_examination(name) else workup.tests).append(name)
            elif kind == "image":
                workup.images.append(name)
        return workup

    def next_step(self, turns_left: int) -> str:
        """The first step of history -> examination -> tests -> imaging -> diagnosis not yet done, skipping
        the least informative ones (more history, then tests) when too few turns are left for all."""
        steps = [
            ("a question about the main complaint", not self.questions),
            ("examination of the relevant body system", not self.exams),
            ("tests that fit", not self.tests),
            ("imaging", not self.images),
        ]
        pending = [name for name, missing in steps if missing]
        for dropped in ("a question about the main complaint", "tests that fit"):
            if len(pending) >= turns_left and dropped in pending:
                pending.remove(dropped)
        return pending[0] if pending and turns_left > 1 else "DIAGNOSIS"

    @property
    def requests(self) -> list[str]:
        return self.exams + self.tests + self.images

    def requested(self, name: str) -> bool:
        """Is this name (a differential item, say) all words of an examination, test or image already requested?
        ("Chest X-ray" for "chest x-ray PA"; not "Lung cancer" for "Lung function tests")."""
        words = set(canonical(name).split())
        return bool(words) and any(words <= set(canonical(done).split()) for done in self.requests)

    def repeats(self, action: DoctorAction) -> str:
        """The earlier request this action repeats ("" if none): results are already in the transcript."""
        if isinstance(action, (RequestTest, RequestImage)):
            # "chest x-ray" then "IMAGE: chest X-ray PA": canonical names, one a subset of the other.
            key = canonical(action.name)
            return next(
                (name for name in self.requests if fuzz.token_set_ratio(canonical(name), key) >= SAME_REQUEST), ""
            )
        if isinstance(action, Ask):
            return next((q for q in self.questions if _key(q) == _key(action.text)), "")
        return ""


SAME_REQUEST = 95.0


def without_requests(action: Diagnose, workup: Workup) -> Diagnose:
    """The differential without the examinations, tests and images the doctor ordered ("Right pneumothorax;
    Chest X-ray" from a small model): a study is never a diagnosis. Kept whole if nothing else is left."""
    conditions = [item for item in action.differential if not workup.requested(item)]
    return Diagnose(differential=conditions) if conditions and conditions != action.differential else action


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())


def is_examination(name: str) -> bool:
    return any(word in name.lower() for word in EXAM_WORDS)


def workup_status(transcript: list, turn_number: int, turn_cap: int) -> str:
    """One line of what the work-up has covered so far and the step that would come next, so a small
    model sees where it is without re-reading the whole transcript."""
    workup = Workup.of(transcript)
    count = len(workup.questions)
    return render(
        "doctor_status",
        turn=turn_number,
        turn_cap=turn_cap,
        questions=f"{count} question{'s' if count != 1 else ''}",
        exam=", ".join(workup.exams) or "not yet",
        tests=", ".join(workup.tests) or "none",
        images=", ".join(workup.images) or "none",
        next=workup.next_step(turn_cap - turn_number + 1),
    ).strip()


@dataclass
class DoctorStep:
    """One decided action and how it came about (parse method, raw reply, the calls it took)."""

    action: DoctorAction
    how: str
    raw: str
    calls: list[LLMCall] = field(default_factory=list)
    notes: str = ""  # private reasoning before a diagnosis (meta.reasoning in the record)


class LLMDoctor:
    """The model doctor. How it reaches each action is its strategy (agents/strategies): the doctor offers
    the building blocks (its prompt, one model call, parse-with-repair) and the strategy combines them."""

    role = "doctor"

    def __init__(
        self,
        model: ChatModel,
        objective: str,
        turn_cap: int = EncounterSettings.model_fields["turn_cap"].default,
        top_k: int = MAX_DIFFERENTIAL,
        bias: str = "none",
        max_tokens: int | None = None,
        output_mode: str = "off",
        strategy=None,
        deliberate: bool = False,
        reasoning_tokens: int = StrategySettings.model_fields["reasoning_tokens"].default,
        vision: bool = False,
        keep_images: bool = True,
    ):
        from agents.strategies.direct import Direct

        self.model = model
        # How replies are constrained (see RoleModel.structured_output): the JSON modes get the JSON prompt,
        # grammar and off the tagged-text prompt.
        self.output_mode = output_mode
        self.structured = output_mode in JSON_MODES
        self.schema = action_json_schema() if self.structured else None
        self.top_k = top_k
        self.system = render(
            "doctor_system_json" if self.structured else "doctor_system",
            objective=objective or "Find the most likely diagnosis.",
            turn_cap=turn_cap,
            top_k=top_k,
            bias=bias_fragment("doctor", bias),
            workup=render("doctor_workup").strip(),
            context="",
        )
        # A doctor that sees is told that the images it orders come with their results (roles.doctor.vision).
        self.vision = vision
        self.keep_images = keep_images
        if vision:
            self.system = f"{self.system.rstrip()}\n{render('doctor_vision').strip()}\n"
        self.max_tokens = max_tokens
        self.strategy = strategy or Direct()
        # Reason in free text before the diagnosis line (not when the strategy reasons before every turn):
        # measured, a small model constrained straight to the answer line names worse conditions.
        self.deliberate = deliberate and self.strategy.name != "cot"
        self.reasoning_tokens = reasoning_tokens

    def messages(self, view: View, extra: str = "") -> list[Message]:
        return with_extra(doctor_messages(view, self.system, self.structured, self.vision, self.keep_images), extra)

    def call(
        self,
        messages: list[Message],
        view: View,
        purpose: str,
        *,
        constrained: bool = True,
        temperature: float | None = None,
        seed: int | None = None,
        max_tokens: int | None = None,
        model: ChatModel | None = None,
        diagnosis_only: bool = False,
        decide_only: bool = False,
    ) -> tuple[Completion, LLMCall]:
        final = view.final_turn or diagnosis_only
        grammar_text = action_grammar(final, decide_only) if constrained and self.output_mode == "grammar" else None
        completion = (model or self.model).complete(
            messages,
            seed=view.seed if seed is None else seed,
            temperature=temperature,
            max_tokens=max_tokens or self.max_tokens,
            response_schema=self.schema if constrained else None,
            grammar=grammar_text,
        )
        record = call_record("doctor", purpose, completion)
        record.strategy = self.strategy.name
        record.images = [path for message in messages for path in message.images]
        return completion, record

    def step(self, messages: list[Message], view: View, purpose: str = "act") -> DoctorStep:
        """One action: a call, its parse, one repair request if needed, then the fallback."""
        if self.deliberate and view.final_turn:
            # The last turn's answer can only be a diagnosis: a usual call first would write a line that the one
            # after the notes replaces (measured: 1.6 s of an encounter that reaches the turn cap).
            return self._notes_then_diagnosis(messages, view, purpose, [])
        return self._step(messages, view, purpose, self.deliberate)

    def _notes_then_diagnosis(
        self, messages: list[Message], view: View, purpose: str, calls: list[LLMCall]
    ) -> DoctorStep:
        """The doctor has chosen to diagnose: its private notes, then the diagnosis line. Only if that line
        does not parse (a server without the grammar) does the usual call follow, the notes kept."""
        action, how, raw, notes = self._deliberate(messages, view, None, "", "", calls)
        if isinstance(action, Diagnose):
            return DoctorStep(without_requests(action, Workup.of(view.transcript)), how, raw, calls, notes)
        usual = self._step(messages, view, purpose, deliberate=False)
        return DoctorStep(usual.action, usual.how, usual.raw, calls + usual.calls, notes)

    def _step(self, messages: list[Message], view: View, purpose: str, deliberate: bool) -> DoctorStep:
        # With the grammar a choice to diagnose ends at the bare decision: the notes and the line come next,
        # and the differential the usual call would write (about 20 tokens) was always replaced.
        decide_only = deliberate and self.output_mode == "grammar"
        first, call = self.call(messages, view, purpose, decide_only=decide_only)
        calls = [call]
        if decide_only and first.text.strip() == DECIDED:
            return self._notes_then_diagnosis(messages, view, purpose, calls)
        parsed = parse_action(first.text)
        action, how, raw = parsed.action, parsed.method, first.text
        if action is None:
            repair = messages + [
                Message(role="assistant", content=first.text or "(empty)"),
                Message(
                    role="user", content=render("doctor_repair_json" if self.structured else "doctor_repair").strip()
                ),
            ]
            second, call = self.call(repair, view, "repair")
            calls.append(call)
            parsed = parse_action(second.text)
            action, how = parsed.action, "repaired"
            if action is None:
                action, how = fallback_ask(first.text), "fallback"
        if action is not None and not view.final_turn:
            action, how, raw = self._redirect_repeat(messages, view, action, how, raw, calls)
        notes = ""
        if deliberate and (isinstance(action, Diagnose) or how == "repeated"):
            repeated = how == "repeated"
            deliberated, how, raw, notes = self._deliberate(messages, view, action, how, raw, calls)
            action = deliberated  # through a name of its own: mypy then infers from the argument, not from `action`
            how = "repeated" if repeated else how  # the record says why it diagnosed early
        elif how == "repeated":
            decided, text = self._diagnose_now(messages, view, calls)
            if decided is not None:
                action, raw = decided, text
        if view.final_turn and not isinstance(action, Diagnose):
            # Asked for the final answer and gave something else: read its words as the diagnosis.
            forced = as_diagnosis(raw if how != "fallback" else first.text, action)
            if forced is not None:
                action, how = forced, "forced"
        if isinstance(action, Diagnose):
            action = without_requests(action, Workup.of(view.transcript))
        return DoctorStep(action, how, raw, calls, notes)

    def _deliberate(
        self, messages: list[Message], view: View, action: _Undecided, how: str, raw: str, calls: list[LLMCall]
    ) -> tuple[Diagnose | _Undecided, str, str, str]:
        """Private reasoning, then the diagnosis line with the notes in view; the notes go to the turn's record
        (`meta.reasoning`), never to another agent."""
        thinking = with_extra(messages, render("diagnosis_reasoning"))
        thought, call = self.call(thinking, view, "reasoning", constrained=False, max_tokens=self.reasoning_tokens)
        calls.append(call)
        notes = " ".join(thought.text.split())
        # The notes stay the doctor's own turn and the diagnosis is asked after them: the server's slot holds
        # the reasoning prompt and the notes it just generated, so this call evaluates only the short request
        # (pasting the notes into a new copy of the last message had it evaluate them again, ~200 tokens).
        commit = [
            *thinking,
            Message(role="assistant", content=thought.text.strip() or "(none)"),
            Message(role="user", content=render("diagnosis_commit").strip()),
        ]
        final, call = self.call(commit, view, "diagnose", diagnosis_only=True)
        calls.append(call)
        decided = parse_action(final.text).action
        if isinstance(decided, Diagnose):
            return decided, "deliberated", final.text, notes
        return action, how, raw, notes

    def _redirect_repeat(
        self, messages: list[Message], view: View, action: DoctorAction, how: str, raw: str, calls: list[LLMCall]
    ) -> tuple[DoctorAction, str, str]:
        """A request the encounter already answered costs a turn and adds nothing: ask once for another step."""
        workup = Workup.of(view.transcript)
        done = workup.repeats(action)
        if not done:
            return action, how, raw
        next_step = workup.next_step(view.turn_cap - view.doctor_turns)
        redirect = messages + [
            Message(role="assistant", content=raw),
            Message(role="user", content=render("doctor_repeat", done=done, next=next_step).strip()),
        ]
        second, call = self.call(redirect, view, "redirect")
        calls.append(call)
        again = parse_action(second.text).action
        if again is None or workup.repeats(again):
            return action, "repeated", raw  # nothing new left to do: the doctor diagnoses now (see step)
        return again, "redirected", second.text

    def _diagnose_now(self, messages: list[Message], view: View, calls: list[LLMCall]) -> tuple[Diagnose | None, str]:
        """The diagnosis line, asked as on the last turn (without private reasoning), and its raw text."""
        prompt = render("doctor_final_turn_json" if self.structured else "doctor_final_turn")
        final, call = self.call(with_extra(messages, prompt), view, "diagnose", diagnosis_only=True)
        calls.append(call)
        decided = parse_action(final.text).action
        return (decided if isinstance(decided, Diagnose) else None), final.text

    def reply(self, step: DoctorStepLike, meta: dict | None = None) -> Reply:
        text = action_text(step.action)
        if step.notes:
            meta = {**(meta or {}), "reasoning": step.notes}
        return Reply(
            text=text,
            action=step.action,
            calls=step.calls,
            parse=step.how,
            raw=step.raw if step.raw.strip() != text else "",
            meta=meta or {},
        )

    def generate_next_message(self, view: View) -> Reply:
        return self.strategy.next_action(self, view)


def with_extra(messages: list[Message], extra: str) -> list[Message]:
    """The messages with `extra` appended to the last one (an instruction for this call only)."""
    if not extra:
        return messages
    last = messages[-1]
    return [*messages[:-1], last.model_copy(update={"content": f"{last.content}\n\n{extra.strip()}"})]


def as_diagnosis(raw: str, action: DoctorAction | None = None) -> Diagnose | None:
    """Read free text as a one-item differential (what a doctor told to diagnose meant by its words)."""
    candidate = (getattr(action, "name", None) or getattr(action, "text", None) or raw) if action else raw
    line = next((ln.strip() for ln in (candidate or "").splitlines() if ln.strip()), "")
    line = line[:160]
    return Diagnose(differential=[line]) if line else None
