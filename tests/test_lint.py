"""The linters are part of the suite: `ruff check`, `ruff format --check` and `mypy` (the versions pinned in
pyproject.toml, their rules configured there) find nothing in the project."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_ruff_format_would_change_nothing():
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, "run `ruff format .`:\n" + done.stdout[-4000:] + done.stderr[-2000:]


def test_mypy_finds_nothing():
    """Plain `mypy`: the files, plugins and overrides of pyproject.toml's [tool.mypy] (the shipped packages),
    its cache in .mypy_cache (about a minute cold on 2 cores, seconds warm)."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-color-output"],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]


def test_every_type_ignore_says_why():
    """A `type: ignore` in the shipped code names its error codes and says why on the same line:
    `# type: ignore[code]  # why: ...` (a library's wrong stub, a type only known at run time)."""
    import re

    allowed = re.compile(r"# type: ignore\[[\w-]+(, *[\w-]+)*\]  # why: \S")
    bare = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sorted(
            p for package in ("agents", "benchmark", "retrieval", "sim") for p in (REPO / package).rglob("*.py")
        )
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if "type: ignore" in line and not allowed.search(line)
    ]
    assert not bare, "\n".join(bare)


def test_every_project_import_names_something_that_exists():
    """`from package.module import name` anywhere in the project, imports inside functions included (ruff
    cannot see a name that was removed from the module a lazy import reads), resolves."""
    import ast
    import importlib

    missing = []
    for path in sorted(
        p for package in ("agents", "benchmark", "retrieval", "sim", "tests") for p in (REPO / package).rglob("*.py")
    ):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.level == 0
                and node.module.split(".")[0] in ("agents", "benchmark", "retrieval", "sim", "tests")
            ):
                continue
            module = importlib.import_module(node.module)
            for alias in node.names:
                if alias.name == "*" or hasattr(module, alias.name):
                    continue
                try:
                    importlib.import_module(f"{node.module}.{alias.name}")
                except ImportError:
                    missing.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.module} has no {alias.name}")
    assert not missing, "\n".join(missing)
