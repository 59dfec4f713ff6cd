"""AgentClinic OSCE and NEJM files: report text only (their images are remote or absent).

The "report" of a case is its imaging results (keys naming a modality: X-ray, CT, MRI, ultrasound...);
a case with none contributes all its test results as text, and a case without tests its examination
findings, so every case is searchable by text.
"""

from __future__ import annotations

import re
from pathlib import Path

from retrieval.ingest.common import Progress, SourceRead, tick
from retrieval.items import StoreItem
from sim.core.case import Case
from sim.core.errors import Problem
from sim.loaders import read_cases

_IMAGING = re.compile(
    r"imaging|x[-_ ]?ray|radiograph|\bct\b|ct_|_ct|computed_tomography|mri|magnetic|ultrasound|sonograph|"
    r"echocardiogra|angiogra|mammogra|\bpet\b|scan|doppler|fluoroscop",
    re.IGNORECASE,
)
_MODALITIES = (
    ("x-ray", r"x[-_ ]?ray|radiograph"),
    ("CT", r"\bct\b|ct_|_ct|computed"),
    ("MRI", r"mri|magnetic"),
    ("ultrasound", r"ultrasound|sonograph|echocardiogra|doppler"),
)


def _flatten(value, path: str = ""):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _flatten(inner, f"{path}[{index}]")
    elif value not in (None, ""):
        yield path, str(value)


def imaging_report(case: Case) -> tuple[str, str]:
    """(report text, modality): imaging entries if any, else every test result, else the examination."""
    entries = list(_flatten(case.tests))
    imaging = [(path, text) for path, text in entries if _IMAGING.search(path)]
    chosen = imaging or entries or list(_flatten(case.exam))
    report = "\n".join(f"{path.replace('_', ' ')}: {text}" for path, text in chosen)
    joined = " ".join(path for path, _ in imaging)
    modality = next((name for name, pattern in _MODALITIES if re.search(pattern, joined, re.IGNORECASE)), "")
    return report, modality


def read_agentclinic(source: Path, progress: Progress = None, limit: int | None = None) -> SourceRead:
    loaded = read_cases(source)
    read = SourceRead(problems=list(loaded.problems), rows=loaded.n_records)
    cases = loaded.cases[:limit] if limit else loaded.cases
    for done, case in enumerate(cases, start=1):
        report, modality = imaging_report(case)
        if not report:
            line = case.metadata.get("source_line")
            read.problems.append(
                Problem(
                    str(source),
                    line if isinstance(line, int) else None,
                    "tests",
                    "no imaging, test or examination results to store as a report",
                )
            )
            continue
        read.items.append(
            StoreItem(
                case_id=case.id, diagnosis=case.diagnosis.name, report=report, source=case.source, modality=modality
            )
        )
        tick(progress, "reading cases", done, len(cases))
    return read
