"""Where the app's cases come from: the generated bank, a file the user uploaded, or files the operator
configured on the command line (`clinsim app --cases FILE`). Browsers never name server paths."""

from __future__ import annotations

import threading
from pathlib import Path

from sim.app.paths import AppPaths
from sim.app.safety import UploadRejected, check_case_upload
from sim.core.case import Case
from sim.core.errors import InputError

BANK = "bank"
UPLOAD = "upload"
CONFIGURED_PREFIX = "configured:"
BANK_SIZE = 30  # like `clinsim demo`: enough to browse, generated in about a second
BANK_SEED = 0
MAX_PROBLEMS_SHOWN = 8


class SourceError(ValueError):
    """A case source that cannot be used; the message is shown to the user."""


class CaseSources:
    def __init__(self, paths: AppPaths, configured: list[Path] | None = None, max_upload_bytes: int = 20_000_000):
        self.paths = paths
        self.configured = [Path(p).resolve() for p in configured or []]
        self.max_upload_bytes = max_upload_bytes
        self._cache: dict[tuple[str, float], list[Case]] = {}
        self._lock = threading.Lock()

    def choices(self) -> list[tuple[str, str]]:
        options = [("Case bank (generated)", BANK), ("Uploaded JSONL file", UPLOAD)]
        options += [(f"Configured: {p.name}", f"{CONFIGURED_PREFIX}{i}") for i, p in enumerate(self.configured)]
        return options

    def resolve(self, source: str, upload: str | None = None, upload_name: str | None = None) -> tuple[Path, str]:
        """The case path for a source choice, and a note for the user (e.g. that the bank was generated)."""
        if source == BANK:
            return self.paths.bank, self._ensure_bank()
        if source == UPLOAD:
            if not upload:
                raise SourceError("upload a .jsonl case file first")
            try:
                return check_case_upload(Path(upload), self.paths, self.max_upload_bytes, upload_name), ""
            except UploadRejected as error:
                raise SourceError(f"upload rejected: {error}") from None
        if source.startswith(CONFIGURED_PREFIX):
            index = source.removeprefix(CONFIGURED_PREFIX)
            if index.isdigit() and int(index) < len(self.configured):
                return self.configured[int(index)], ""
        raise SourceError(f"unknown case source '{source}'")

    def cases(self, path: Path, shown_name: str | None = None) -> list[Case]:
        """The cases of a file or bank folder, cached until the file changes; problems as SourceError."""
        from sim.loaders import load_cases

        marker = path / "cases.jsonl" if path.is_dir() else path
        key = (str(path), marker.stat().st_mtime if marker.exists() else 0.0)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        try:
            loaded = load_cases(path, image_cache=self.paths.data_dir / "cache" / "images")
        except InputError as error:
            lines = [str(p) for p in error.problems[:MAX_PROBLEMS_SHOWN]]
            if shown_name:
                lines = [line.replace(str(marker), shown_name).replace(str(path), shown_name) for line in lines]
            more = len(error.problems) - MAX_PROBLEMS_SHOWN
            raise SourceError("\n".join(lines + ([f"... and {more} more"] if more > 0 else []))) from None
        if not loaded:
            raise SourceError(f"{shown_name or path}: no cases")
        with self._lock:
            self._cache[key] = loaded
        return loaded

    @staticmethod
    def case_dir(path: Path) -> Path:
        return path if path.is_dir() else path.parent

    def _ensure_bank(self) -> str:
        from sim.bank.generate import BankMismatch, ensure_bank

        with self._lock:
            try:
                if ensure_bank(self.paths.bank, BANK_SIZE, BANK_SEED):
                    return f"generated a bank of {BANK_SIZE} cases in {self.paths.bank}"
            except BankMismatch as error:
                raise SourceError(str(error)) from None
        return ""
