"""`direct`: one call per turn (plus one repair request when the reply does not parse)."""

from __future__ import annotations

from agents.protocol import Reply, View


class Direct:
    name = "direct"

    def next_action(self, doctor, view: View) -> Reply:
        return doctor.reply(doctor.step(doctor.messages(view), view))
