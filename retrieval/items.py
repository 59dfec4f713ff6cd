"""What the case store holds: one `StoreItem` per image (or per report, for text-only sources).

An item becomes up to two Chroma records: its image in the image collection and its report in the report
collection. Record ids are content hashes, so ingesting the same content twice adds nothing; metadata
values are scalars (Chroma's rule), so regions are kept both as one delimited string and as one boolean
key per region, which is what the `--region` filter uses.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

REGION_SEPARATOR = "; "
REGION_KEY_PREFIX = "region_"
EXCERPT_CHARS = 220


@dataclass(frozen=True)
class StoreItem:
    case_id: str
    diagnosis: str
    report: str
    source: str
    condition: str = ""
    modality: str = ""
    body_region: str = ""
    regions: tuple[str, ...] = ()
    image_ref: str = ""  # shown to users and kept in the record: a file path, or "FILE.npz#split[i]"
    image_path: Path | None = None
    pixels: np.ndarray | None = field(default=None, repr=False, compare=False)  # in-memory images (npz)
    image_hash: str = ""  # sha256 of the image content; "" when the item has no image
    context: str = ""  # one line of clinical context a teaching file shows beside the film (age, sex, key history)

    @property
    def has_image(self) -> bool:
        return bool(self.image_hash)

    def load_image(self) -> Image.Image:
        if self.pixels is not None:
            return Image.fromarray(self.pixels)
        if self.image_path is None:
            raise ValueError(f"item of case {self.case_id} has no image")
        with Image.open(self.image_path) as image:
            image.load()
            return image

    def image_id(self) -> str:
        return "img-" + _digest(self.image_hash, self.case_id, self.diagnosis, self.report)

    def report_id(self, duplicate: int = 0) -> str:
        """`duplicate`: how many earlier items carried the same report and diagnosis (see ingest/write.py)."""
        return "txt-" + _digest(self.diagnosis, self.report, str(duplicate))

    def metadata(self) -> dict[str, str | bool]:
        meta: dict[str, str | bool] = {
            "case_id": self.case_id,
            "diagnosis": self.diagnosis,
            "condition": self.condition,
            "modality": self.modality,
            "body_region": self.body_region,
            "regions": REGION_SEPARATOR.join(self.regions),
            "source": self.source,
            "image": self.image_ref,
            "context": self.context,
        }
        meta.update({region_key(region): True for region in self.regions})
        return meta


def _digest(*parts: str) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part.encode("utf-8"))
        hasher.update(b"\x00")  # separator: ("ab", "c") and ("a", "bc") must differ
    return hasher.hexdigest()[:32]


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def region_key(region: str) -> str:
    """The boolean metadata key of a region: 'right lower zone' -> 'region_right_lower_zone'."""
    return REGION_KEY_PREFIX + re.sub(r"[^a-z0-9]+", "_", region.lower()).strip("_")


def split_regions(value: str) -> list[str]:
    return [part.strip() for part in re.split(r"[;|]", value or "") if part.strip()]


def impression(report: str) -> str:
    """The report's conclusion when it has an IMPRESSION section (what a reader scans first), else all of it."""
    _head, marker, tail = report.partition("IMPRESSION:")
    return tail.strip() if marker and tail.strip() else report


def conclusion_first(report: str) -> str:
    """The impression, then the findings: a cut excerpt keeps the conclusion."""
    head, marker, tail = report.partition("IMPRESSION:")
    if not (marker and tail.strip()):
        return report
    findings = head.strip().removeprefix("FINDINGS:").strip()
    return f"{tail.strip()} Findings: {findings}" if findings else tail.strip()


def excerpt(report: str, limit: int = EXCERPT_CHARS) -> str:
    """The report on one line, cut at a word boundary."""
    text = " ".join(report.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.") + " …"
