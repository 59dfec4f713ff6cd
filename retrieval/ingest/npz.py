"""MedMNIST-style `.npz` files: arrays `{split}_images` (N, H, W[, C]) uint8 and `{split}_labels` (N[, 1]).

These have images and class labels but no reports, so each label gets a short report written from a
template (our own wording). Label names default to PneumoniaMNIST's (0 normal, 1 pneumonia) for files
named like it, to "class N" otherwise, and can be given as "normal,pneumonia" or "0=normal,1=pneumonia".
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from retrieval.ingest.common import Progress, SourceRead, tick
from retrieval.items import StoreItem, content_hash
from sim.core.errors import Problem

DEFAULT_SPLITS = ("train",)
KNOWN_LABELS = {"pneumoniamnist": {0: "normal", 1: "pneumonia"}}
REPORT_TEMPLATES = {
    "normal": "FINDINGS: Lungs are clear and well expanded. No focal airspace opacity, effusion or "
    "pneumothorax. Cardiothymic silhouette within normal limits.\n\nIMPRESSION: Normal chest radiograph.",
    "pneumonia": "FINDINGS: Patchy airspace opacification in the lungs with loss of normal lung markings, "
    "consistent with an infective process. No large effusion.\n\nIMPRESSION: Pneumonia.",
}
GENERIC_TEMPLATE = "FINDINGS: Appearances typical of the {label} class.\n\nIMPRESSION: {label}."


def parse_labels(spec: str) -> dict[int, str]:
    """'normal,pneumonia' or '0=normal,1=pneumonia' -> {0: 'normal', 1: 'pneumonia'}."""
    labels: dict[int, str] = {}
    for position, part in enumerate(p.strip() for p in spec.split(",") if p.strip()):
        key, _, name = part.partition("=")
        if name:
            if not key.strip().isdigit():
                raise ValueError(f"label '{part}': expected NUMBER=NAME")
            labels[int(key)] = name.strip()
        else:
            labels[position] = key.strip()
    return labels


def report_for(label: str) -> str:
    return REPORT_TEMPLATES.get(label.lower(), GENERIC_TEMPLATE.format(label=label))


def read_npz(
    source: Path,
    progress: Progress = None,
    limit: int | None = None,
    splits: tuple[str, ...] = DEFAULT_SPLITS,
    labels: dict[int, str] | None = None,
) -> SourceRead:
    where = str(source)
    try:
        with open(source, "rb") as handle:
            magic = handle.read(6)
        # np.load takes anything else for a pickle and says so, which misleads: name what the file is.
        if magic == b"\x93NUMPY":
            return SourceRead(
                problems=[
                    Problem(
                        where,
                        None,
                        "-",
                        "not a .npz archive (one bare array, as "
                        "np.save writes); expected arrays named {split}_images, {split}_labels",
                    )
                ]
            )
        if not magic.startswith(b"PK"):
            return SourceRead(
                problems=[Problem(where, None, "-", "not a .npz file (a .npz is a zip archive of .npy arrays)")]
            )
        data = np.load(source, allow_pickle=False)
        with data:  # arrays are read here, lazily: object (pickled) arrays fail only now
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        return SourceRead(problems=[Problem(where, None, "-", f"not a readable .npz file: {error}")])
    read = SourceRead()
    names = labels or KNOWN_LABELS.get(source.stem.lower(), {})
    for split in splits:
        images, targets = _split_arrays(arrays, split, where, read.problems)
        if images is None or targets is None:
            continue
        count = min(len(images), limit) if limit else len(images)
        read.rows += count
        for index in range(count):
            label = int(targets[index])
            if names and label not in names:
                read.problems.append(
                    Problem(
                        where, None, f"{split}_labels[{index}]", f"label {label} has no name (known: {sorted(names)})"
                    )
                )
                continue
            name = names.get(label, f"class {label}")
            pixels = np.ascontiguousarray(images[index])
            read.items.append(
                StoreItem(
                    case_id=f"{source.stem}-{split}-{index:05d}",
                    diagnosis=name,
                    report=report_for(name),
                    source=source.stem,
                    condition=name,
                    modality="X-ray" if "mnist" in source.stem.lower() else "",
                    image_ref=f"{source}#{split}[{index}]",
                    pixels=pixels,
                    image_hash=content_hash(pixels.tobytes()),
                )
            )
            tick(progress, f"reading {split}", index + 1, count)
    return read


def _split_arrays(arrays: dict[str, np.ndarray], split: str, where: str, problems: list[Problem]):
    image_key, label_key = f"{split}_images", f"{split}_labels"
    missing = [key for key in (image_key, label_key) if key not in arrays]
    if missing:
        problems += [
            Problem(where, None, key, f"missing array (the file has: {', '.join(sorted(arrays)) or 'none'})")
            for key in missing
        ]
        return None, None
    images, targets = arrays[image_key], arrays[label_key]
    found = []
    if images.dtype != np.uint8:
        found.append(Problem(where, None, image_key, f"expected uint8 pixels, got {images.dtype}"))
    if not (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] in (1, 3))) or 0 in images.shape[1:3]:
        found.append(
            Problem(where, None, image_key, f"expected shape (N, H, W) or (N, H, W, 1|3), got {tuple(images.shape)}")
        )
    if targets.ndim == 2 and targets.shape[1] == 1:
        targets = targets[:, 0]
    if targets.ndim != 1 or not np.issubdtype(targets.dtype, np.integer):
        found.append(
            Problem(
                where,
                None,
                label_key,
                f"expected integer labels of shape (N,) or (N, 1), got {targets.dtype} {tuple(arrays[label_key].shape)}",
            )
        )
    elif len(targets) != len(images):
        found.append(Problem(where, None, label_key, f"{len(targets)} labels for {len(images)} images"))
    problems += found
    if found:
        return None, None
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    return images, targets
