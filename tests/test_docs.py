"""The front door stays short and every link into docs/ leads somewhere: README.md at most 200 lines, and
every relative link (file and #anchor) in README.md, ARCHITECTURE.md and docs/*.md resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    ROOT / "README.md",
    ROOT / "ARCHITECTURE.md",
    ROOT / "results" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    out: set[str] = set()
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            out.add(slug(line.lstrip("#")))
    return out


def links(page: Path) -> list[tuple[int, str]]:
    found = []
    in_code = False
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            in_code = not in_code
            continue
        if not in_code:
            found += [(number, target) for target in LINK.findall(line)]
    return found


def test_readme_is_at_most_200_lines():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move detail into docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path):
    broken = []
    for number, target in links(page):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto: outside the repository
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{page.relative_to(ROOT)}:{number}: {target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{page.relative_to(ROOT)}:{number}: {target}: no heading #{anchor}")
    assert not broken, "\n".join(broken)


def test_the_slug_follows_github():
    assert slug("Retrieval × experience (findings bank)") == "retrieval--experience-findings-bank"
    assert slug("AgentClinic-MedQA, before and after") == "agentclinic-medqa-before-and-after"


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_python_api_page_runs_as_written(tmp_path, monkeypatch, capsys):
    """docs/python-api.md's session, block after block in one namespace, with scripted models (the page says
    so): the API leaves the run directories the CLI leaves, and the page's claims hold."""
    monkeypatch.chdir(tmp_path)
    for role, reply in (("DOCTOR", "DIAGNOSIS: Tension pneumothorax"), ("PATIENT", "It started this morning.")):
        monkeypatch.setenv(f"CLINSIM_ROLES__{role}__BACKEND", "scripted")
        monkeypatch.setenv(f"CLINSIM_ROLES__{role}__SCRIPT", f'["{reply}"]')
    monkeypatch.setenv("CLINSIM_ENCOUNTER__LLM_JUDGE", "false")
    blocks = python_blocks(ROOT / "docs" / "python-api.md")
    assert len(blocks) >= 3
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/python-api.md", "exec"), namespace)  # noqa: S102 - the page's own code, run as a reader would
    first = tmp_path / "lab" / "runs" / "first"
    assert {p.name for p in first.iterdir()} >= {"config.json", "episodes.jsonl", "summary.json", "report.html"}
    assert len((first / "episodes.jsonl").read_text().splitlines()) == 8  # 4 cases x 2 trials, once each
    lift = namespace["lift"]
    assert [row["name"] for row in lift.table["arms"]] == ["retrieval-off", "retrieval-on", "knn"]
    assert (tmp_path / "lab" / "runs" / "lift" / "ablation.json").is_file()
    assert "'mean'" in capsys.readouterr().out
