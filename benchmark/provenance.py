"""Which code produced a run: clinsim's version and, in a git checkout, the commit and whether the working
tree had changes. Stored in a run's config.json as `code`, so a published figure names its code without
anyone having to remember it; not compared on --resume (a fix may land while a long run is paused), and
the resumed run's code is added to `code.resumed_with`."""

from __future__ import annotations

import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


@cache
def code_identity() -> dict:
    try:
        installed = version("clinsim")
    except PackageNotFoundError:
        installed = None
    return {"version": installed, **_git_state(CHECKOUT)}


def _git_state(folder: Path) -> dict:
    """{"commit": full hash or None, "dirty": whether tracked files differ from it (None outside git)}."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(folder), *args], check=False, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}
