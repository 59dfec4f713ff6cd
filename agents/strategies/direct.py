"""`direct`: one call per turn (plus one repair request when the reply does not parse)."""

from __future__ import annotations

from agents.protocol import Reply, View
from agents.strategies.base import DoctorTools


class Direct:
    @classmethod
    def from_settings(cls, spec, panel_model=None) -> Direct:
        return cls()

    name = "direct"

    def next_action(self, doctor: DoctorTools, view: View) -> Reply:
        return doctor.reply(doctor.step(doctor.messages(view), view))
