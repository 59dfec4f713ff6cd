"""`conference`: before the doctor's diagnosis stands, a panel (for example a radiologist, an internist
and a devil's advocate, each possibly on its own model) reads the encounter summary and the retrieved
cases, discusses for R rounds, and the lead doctor then commits to the differential. The discussion is
kept in the turn's record (`meta.conference`) and shown in replay and in the app."""

from __future__ import annotations

from dataclasses import dataclass

from agents.llm.base import ChatModel, Message
from agents.parsing import parse_action
from agents.prompts import PROMPT_DIR, render
from agents.protocol import Reply, View
from agents.strategies.base import DoctorTools
from sim.core.actions import Diagnose
from sim.core.transcript import Turn

PANEL_TOKENS = 120


@dataclass
class Panelist:
    name: str
    instruction: str = ""
    model: ChatModel | None = None  # None: the doctor's own model

    def prompt_instruction(self) -> str:
        if self.instruction:
            return self.instruction
        path = PROMPT_DIR / "panel" / f"{self.name.replace(' ', '_').replace(chr(39), '')}.txt"
        return path.read_text(encoding="utf-8").strip() if path.is_file() else ""


def case_so_far(transcript: list[Turn]) -> str:
    lines = []
    for turn in transcript:
        if turn.role == "doctor":
            lines.append(f"Doctor: {turn.text}")
        elif turn.role in ("patient", "measurement", "retrieval"):
            lines.append(f"{turn.role.capitalize()}: {' '.join(turn.text.split())[:300]}")
    return "\n".join(lines) or "(no findings yet)"


class Conference:
    name = "conference"

    @classmethod
    def from_settings(cls, spec, panel_model=None) -> Conference:
        """`panel_model(panelist settings)` gives a panelist its own model, or None for the doctor's."""
        return cls(
            [Panelist(p.name, p.instruction, panel_model(p) if panel_model else None) for p in spec.panel], spec.rounds
        )

    def __init__(self, panel: list[Panelist], rounds: int = 2):
        self.panel = panel
        self.rounds = max(1, rounds)

    def next_action(self, doctor: DoctorTools, view: View) -> Reply:
        step = doctor.step(doctor.messages(view), view)
        if not isinstance(step.action, Diagnose) or not self.panel:
            return doctor.reply(step)
        summary = case_so_far(view.transcript)
        proposal = "; ".join(step.action.differential)
        discussion: list[dict] = []
        for round_number in range(1, self.rounds + 1):
            for panelist in self.panel:
                so_far = "\n".join(f"{d['panelist']} (round {d['round']}): {d['text']}" for d in discussion)
                prompt = render(
                    "conference_panelist",
                    name=panelist.name,
                    instruction=panelist.prompt_instruction(),
                    summary=summary,
                    proposal=proposal,
                    discussion=f"Discussion so far:\n{so_far}" if so_far else "",
                )
                completion, call = doctor.call(
                    [Message(role="user", content=prompt)],
                    view,
                    f"panel:{panelist.name}",
                    constrained=False,
                    max_tokens=PANEL_TOKENS,
                    model=panelist.model,
                )
                step.calls.append(call)
                discussion.append(
                    {
                        "round": round_number,
                        "panelist": panelist.name,
                        "text": " ".join(completion.text.split()),
                        "model": completion.model,
                    }
                )
        transcript = "\n".join(f"{d['panelist']} (round {d['round']}): {d['text']}" for d in discussion)
        final, call = doctor.call(
            doctor.messages(view, extra=render("conference_lead", discussion=transcript)), view, "lead"
        )
        step.calls.append(call)
        decided = parse_action(final.text).action
        if isinstance(decided, Diagnose):
            step.action = decided
        return doctor.reply(step, meta={"conference": discussion, "proposal": proposal})
