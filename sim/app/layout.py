"""The Blocks app: an Encounter tab and a Replay tab. Import only after `safety.prepare_environment`."""

from __future__ import annotations

import gradio as gr

from sim.app.encounter_tab import EncounterTab
from sim.app.encounters import EncounterBook
from sim.app.paths import AppPaths
from sim.app.replay_tab import ReplayTab
from sim.app.sources import CaseSources
from sim.core.config import Settings

CSS = """
#encounter-chat img, #replay-chat img { max-width: 320px; }
"""


def build_app(
    settings: Settings, paths: AppPaths, sources: CaseSources, book: EncounterBook, max_upload_bytes: int
) -> gr.Blocks:
    with gr.Blocks(title="clinsim", analytics_enabled=False) as demo:
        gr.Markdown("# clinsim\nA diagnostic encounter: doctor, patient and measurement; play any seat yourself.")
        with gr.Tab("Encounter", id="encounter"):
            EncounterTab(settings, paths, sources, book, max_upload_bytes).build(demo)
        with gr.Tab("Replay", id="replay"):
            ReplayTab(paths).build(demo)
    return demo
