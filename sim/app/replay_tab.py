"""The "Replay" tab: pick a run directory under the data directory and an episode, then step through it
turn by turn with its images and retrieved cases (benchmark runs, `clinsim run` runs and app runs alike)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import gradio as gr

from sim.app import render
from sim.app.paths import AppPaths
from sim.app.safety import has_traversal, is_inside, publish
from sim.core.errors import InputError
from sim.core.records import EpisodeRecord, read_records

EPISODES = "episodes.jsonl"
MAX_DEPTH = 4  # run directories are found up to DATA_DIR/a/b/c/d/episodes.jsonl (no full-tree walks)


def find_run_dirs(paths: AppPaths) -> list[str]:
    """Run directories (holding episodes.jsonl) under the data directory, relative to it, newest first."""
    found: list[Path] = []
    for depth in range(1, MAX_DEPTH + 1):
        found += [p.parent for p in paths.data_dir.glob("/".join(["*"] * depth) + "/" + EPISODES)]
    found = [d for d in found if not is_inside(d, paths.private)]
    found.sort(key=lambda d: (d / EPISODES).stat().st_mtime, reverse=True)
    return [str(d.relative_to(paths.data_dir)) for d in found]


def resolve_run_dir(paths: AppPaths, relative: str) -> Path:
    """A run directory named by the browser: relative, inside the data directory, with an episodes file."""
    if not relative or has_traversal(relative) or Path(relative).is_absolute():
        raise gr.Error("Choose a run directory from the list.")
    folder = paths.data_dir / relative
    if not is_inside(folder, paths.data_dir) or is_inside(folder, paths.private) or not (folder / EPISODES).is_file():
        raise gr.Error(f"No {EPISODES} in {relative}.")
    return folder


def episode_label(record: EpisodeRecord) -> str:
    return f"{record.case_id} · {render.headline(record)} · {record.finished_at or record.started_at}"


class ReplayTab:
    def __init__(self, paths: AppPaths):
        self.paths = paths
        self.publish = partial(publish, paths=paths)
        self._cache: dict[tuple[str, float], list[EpisodeRecord]] = {}

    def build(self, demo: gr.Blocks) -> None:
        with gr.Row():
            self.run_dir = gr.Dropdown(
                [],
                label="Run directory (under the data directory)",
                scale=3,
                allow_custom_value=True,  # checked by resolve_run_dir
                elem_id="replay-run",
            )
            self.refresh = gr.Button("Refresh list", scale=1)
        self.episode = gr.Dropdown([], label="Episode", allow_custom_value=True, elem_id="replay-episode")
        self.header = gr.Markdown()
        with gr.Row():
            self.first_button = gr.Button("⏮ First")
            self.prev_button = gr.Button("◀ Previous", elem_id="replay-prev")
            self.next_button = gr.Button("Next ▶", elem_id="replay-next")
            self.last_button = gr.Button("Last ⏭")
        self.position = gr.Slider(0, 1, value=0, step=1, label="Turns shown", elem_id="replay-position")
        self.chat = gr.Chatbot(label="Episode", height=460, feedback_options=None, elem_id="replay-chat")
        self.gallery = gr.Gallery(label="Retrieved cases up to this turn", columns=4, height=220, interactive=False)
        self.retrieval_md = gr.Markdown()
        self.result = gr.Markdown()

        self.refresh.click(self.list_runs, None, [self.run_dir], api_name="replay_runs")
        demo.load(self.list_runs, None, [self.run_dir], api_visibility="private")
        self.run_dir.change(self.list_episodes, [self.run_dir], [self.episode], api_name="replay_episodes")
        shown = [self.position, self.header, self.chat, self.gallery, self.retrieval_md, self.result]
        self.episode.change(
            partial(self.show, move="first"), [self.run_dir, self.episode, self.position], shown, api_name="replay_open"
        )
        self.position.release(
            partial(self.show, move="stay"),
            [self.run_dir, self.episode, self.position],
            shown,
            api_visibility="private",
        )
        for button, move in (
            (self.first_button, "first"),
            (self.prev_button, "prev"),
            (self.next_button, "next"),
            (self.last_button, "last"),
        ):
            button.click(
                partial(self.show, move=move),
                [self.run_dir, self.episode, self.position],
                shown,
                api_name=f"replay_{move}",
            )

    def list_runs(self):
        runs = find_run_dirs(self.paths)
        return gr.update(choices=runs, value=runs[0] if runs else None)

    def _records(self, relative: str) -> list[EpisodeRecord]:
        episodes = resolve_run_dir(self.paths, relative) / EPISODES
        key = (str(episodes), episodes.stat().st_mtime)
        if key not in self._cache:
            try:
                self._cache[key] = read_records(episodes)
            except InputError as error:
                raise gr.Error(f"Cannot read {relative}: {error.problems[0]}") from None
        return self._cache[key]

    def list_episodes(self, relative: str):
        if not relative:
            return gr.update(choices=[], value=None)
        records = self._records(relative)
        choices = [(episode_label(r), r.episode_id) for r in records]
        return gr.update(choices=choices, value=choices[-1][1] if choices else None)

    def show(self, relative: str, episode_id: str, position: float, move: str = "stay"):
        if not relative or not episode_id:
            return gr.update(value=0, maximum=1), "", [], [], "", ""
        record = next((r for r in self._records(relative) if r.episode_id == episode_id), None)
        if record is None:
            raise gr.Error(f"No episode {episode_id} in {relative}.")
        total = len(record.turns)
        shown = {
            "first": min(1, total),
            "prev": int(position or 0) - 1,
            "next": int(position or 0) + 1,
            "last": total,
        }.get(move, int(position or 0))
        shown = max(min(shown, total), min(1, total))
        turns = record.turns[:shown]
        current = turns[-1] if turns else None
        header = f"**{record.case_id}** ({record.source}) · run `{record.run_id}` · turn {shown} of {total}" + (
            f": {render.ROLE_NAMES.get(current.role, current.role)}" if current else ""
        )
        result = render.result_markdown(record) if shown == total else ""
        return (
            gr.update(value=shown, maximum=max(total, 1)),
            header,
            render.chat_messages(turns, self.publish),
            render.retrieval_gallery(turns, self.publish),
            render.retrieval_markdown(turns),
            result + ("\n\n" + render.experiences_markdown(record.experiences) if result else ""),
        )
