"""Where the web app keeps things, all inside the data directory (the only folder the app may serve).

DATA_DIR/app/files     images shown in the chat: case images copied in from outside DATA_DIR, uploads
DATA_DIR/app/uploads   case files users uploaded, after their checks
DATA_DIR/app/gradio    Gradio's own upload and output cache (GRADIO_TEMP_DIR)
DATA_DIR/app/runs      finished encounters, one run directory (episodes.jsonl) per day
DATA_DIR/app/private   never served: encounter checkpoints and specs, the browser-state secret
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AppPaths:
    data_dir: Path  # resolved

    @classmethod
    def under(cls, data_dir: Path) -> AppPaths:
        data_dir.mkdir(parents=True, exist_ok=True)
        paths = cls(data_dir.resolve())
        for folder in (paths.files, paths.uploads, paths.gradio, paths.runs, paths.encounters):
            folder.mkdir(parents=True, exist_ok=True)
        return paths

    @property
    def app(self) -> Path:
        return self.data_dir / "app"

    @property
    def files(self) -> Path:
        return self.app / "files"

    @property
    def uploads(self) -> Path:
        return self.app / "uploads"

    @property
    def gradio(self) -> Path:
        return self.app / "gradio"

    @property
    def runs(self) -> Path:
        return self.app / "runs"

    @property
    def private(self) -> Path:
        return self.app / "private"

    @property
    def encounters(self) -> Path:
        return self.private / "encounters"

    @property
    def bank(self) -> Path:
        return self.data_dir / "bank"

    def browser_secret(self) -> str:
        """The key BrowserState encrypts the thread id with. Kept on disk so a server restart can still
        read what browsers stored (a fresh random key per start would orphan every open encounter)."""
        path = self.private / "browser-state.key"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(24), encoding="utf-8")
        return path.read_text(encoding="utf-8").strip()
