"""The measurement seat as a participant: the deterministic lookup answering the doctor's last request."""

from __future__ import annotations

from agents.measurement import LookupMeasurement
from agents.protocol import Reply, View


class LookupMeasurementAgent:
    role = "measurement"

    def __init__(self, lookup: LookupMeasurement):
        self.lookup = lookup

    def generate_next_message(self, view: View) -> Reply:
        action = view.message.action if view.message else None
        name = getattr(action, "name", "")
        result = self.lookup.request(action.kind if action is not None else "test", name)
        return Reply(
            text=result.text,
            images=result.images,
            meta={
                "request": name,
                "kind": result.kind,
                "found": result.found,
                "method": result.method,
                "matched": result.matched_paths,
            },
        )
