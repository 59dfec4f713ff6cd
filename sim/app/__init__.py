"""The Gradio web app (`clinsim app`): play any seat of an encounter, see images and retrieved cases,
replay stored runs.

    server.py         launch with the safety settings (loopback, auth, data-dir-only files, upload limits)
    layout.py         the Blocks: an Encounter tab and a Replay tab
    encounter_tab.py  encounter set-up, the human seats' controls, streaming screens
    replay_tab.py     stepping through stored episodes
    encounters.py     encounters as checkpointed LangGraph threads that survive reloads and restarts
    sources.py        case sources: the bank, uploads, operator-configured files
    render.py         turns and records -> chat messages, retrieval panel, result
    safety.py         what may be served or uploaded (no gradio import: it configures gradio first)
    paths.py          where the app keeps things under the data directory

Nothing here imports gradio at package import time.
"""
