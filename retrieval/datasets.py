"""Image-report pairs and report collections that training and the retrieval benchmark read.

- the generated bank (a folder with cases.jsonl): one pair per case image, label = the condition key;
- PneumoniaMNIST-style `.npz` (train/val/test_images, *_labels): one pair per image, the report written
  from the label by `PNEUMONIAMNIST_REPORTS` (our own wording);
- IU X-ray reports (`NLMCXR_reports.tgz`, XML per study): text only, findings + impression + MeSH heads.
"""

from __future__ import annotations

import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
from PIL import Image

from retrieval.embedders.base import ImageInput

# One fixed report per label: identical reports are treated as positives by the training loss.
PNEUMONIAMNIST_REPORTS = {
    0: "FINDINGS: Paediatric chest radiograph. Both lungs are clear and well aerated. No focal "
    "consolidation. Heart and mediastinum normal.\n\nIMPRESSION: Normal chest radiograph.",
    1: "FINDINGS: Paediatric chest radiograph. Patchy airspace opacities with peribronchial thickening "
    "in both lungs. No pleural effusion.\n\nIMPRESSION: Findings consistent with pneumonia.",
}
PNEUMONIAMNIST_LABELS = {0: "normal", 1: "pneumonia"}
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Pair:
    """One image with its report; `label` is what counts as 'the same finding' in the benchmark."""

    image: ImageInput
    report: str
    label: str
    regions: tuple[str, ...] = ()
    case_id: str = ""


@dataclass
class PairSet:
    name: str
    train: list[Pair] = field(default_factory=list)
    test: list[Pair] = field(default_factory=list)


def bank_pairs(folder: Path) -> list[Pair]:
    """Pairs of a generated bank folder (or a native cases.jsonl) with images on disk."""
    from sim.loaders import load_cases

    pairs = []
    for case in load_cases(Path(folder)):
        label = str(case.metadata.get("condition") or case.diagnosis.name)
        for image in case.images:
            if image.path and image.available and image.report:
                pairs.append(Pair(image.path, image.report, label, tuple(image.regions), case.id))
    return pairs


def pneumoniamnist_pairs(path: Path, split: str) -> list[Pair]:
    """One split of a MedMNIST-style npz as pairs, images as PIL grayscale."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    with np.load(Path(path)) as data:
        images, labels = data[f"{split}_images"], data[f"{split}_labels"].reshape(-1)
    return [
        Pair(Image.fromarray(pixels), PNEUMONIAMNIST_REPORTS[int(label)], PNEUMONIAMNIST_LABELS[int(label)],
             case_id=f"{split}-{index}")
        for index, (pixels, label) in enumerate(zip(images, labels, strict=True))
    ]  # fmt: skip


def split_bank(pairs: list[Pair], test_fraction: float = 0.3) -> PairSet:
    """Deterministic split: every third-or-so case (by position) is a test query, the rest the gallery."""
    stride = max(2, round(1 / test_fraction))
    return PairSet(
        "bank",
        train=[p for i, p in enumerate(pairs) if i % stride != 0],
        test=[p for i, p in enumerate(pairs) if i % stride == 0],
    )


@dataclass(frozen=True)
class IuReport:
    id: str
    findings: str
    impression: str
    mesh_heads: frozenset[str]  # major MeSH terms, text before the first '/'


def iu_reports(path: Path) -> list[IuReport]:
    """Every study of the IU X-ray report archive, sorted by numeric id (the archive order varies)."""
    reports = []
    with tarfile.open(Path(path)) as archive:
        for member in archive.getmembers():
            if not member.isfile() or not member.name.endswith(".xml"):
                continue
            handle = archive.extractfile(member)
            if handle is None:
                continue
            root = ElementTree.parse(handle).getroot()
            sections = {node.get("Label", ""): (node.text or "").strip() for node in root.iter("AbstractText")}
            heads = frozenset(
                (node.text or "").split("/")[0].strip() for node in root.iter("major") if (node.text or "").strip()
            )
            reports.append(IuReport(Path(member.name).stem, sections.get("FINDINGS", ""),
                                    sections.get("IMPRESSION", ""), heads))  # fmt: skip
    return sorted(reports, key=lambda report: int(re.sub(r"\D", "", report.id) or 0))
