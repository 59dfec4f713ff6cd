"""A folder of images with a CSV/TSV or JSONL file of reports (the IU X-ray / MIMIC-style export layout).

One row per image: an id column (a study may have several rows), an image file column (relative to the
reports file's folder, or to --images), and findings and/or impression columns; optional diagnosis/label,
regions (separated by ';' or '|'), modality and body region columns. Column names are matched leniently
(case, spaces and punctuation ignored; common synonyms accepted); missing ones are reported with the
header that was found.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

from retrieval.ingest.common import Progress, SourceRead, check_image, tick
from retrieval.items import StoreItem, split_regions
from sim.core.errors import Problem
from sim.loaders._jsonl import read_jsonl

REPORT_SUFFIXES = (".csv", ".tsv", ".jsonl")
PREFERRED_NAMES = ("reports", "metadata", "labels", "index")

# role -> (exact names, word prefixes a longer name may contain), normalised (lower case, '_' separators).
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "id": (
        ("id", "uid", "study_id", "studyid", "case_id", "report_id", "dicom_id", "subject_id", "patient_id"),
        ("id",),
    ),
    "image": (
        (
            "image",
            "images",
            "image_path",
            "image_file",
            "image_filename",
            "image_index",
            "filename",
            "file_name",
            "file",
            "path",
            "filepath",
            "img",
            "png",
            "jpg",
        ),
        ("image", "file", "path"),
    ),
    "findings": (("findings", "finding", "report_findings"), ("findings",)),
    "impression": (("impression", "impressions", "conclusion", "conclusions"), ("impression", "conclusion")),
    "diagnosis": (
        ("diagnosis", "label", "labels", "class", "problems", "mesh", "finding_labels"),
        ("diagnos", "label"),
    ),
    "regions": (("regions", "region", "anatomy", "anatomical_regions"), ("region",)),
    "modality": (("modality",), ()),
    "body_region": (("body_region", "body_part", "bodypart", "body_part_examined"), ("body",)),
}
REQUIRED = ("id", "image")


def column_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def match_columns(header: list[str]) -> dict[str, str]:
    """role -> the original column name; exact synonyms first, then names containing a role's word."""
    by_norm = {column_key(h): h for h in header if h is not None}
    chosen: dict[str, str] = {}
    for role, (exact, _) in COLUMNS.items():
        hit = next((by_norm[n] for n in exact if n in by_norm and by_norm[n] not in chosen.values()), None)
        if hit is not None:
            chosen[role] = hit
    for role, (_, words) in COLUMNS.items():
        if role in chosen:
            continue
        for norm, original in by_norm.items():
            tokens = norm.split("_")
            if original not in chosen.values() and any(t.startswith(w) for t in tokens for w in words):
                chosen[role] = original
                break
    return chosen


def find_reports_file(source: Path) -> Path | Problem:
    if source.is_file():
        return source
    if not source.is_dir():
        return Problem(str(source), None, "-", "no such file or folder")
    found = sorted(p for p in source.iterdir() if p.suffix.lower() in REPORT_SUFFIXES)
    preferred = [p for p in found if p.stem.lower() in PREFERRED_NAMES]
    if len(preferred) == 1 or len(found) == 1:
        return (preferred or found)[0]
    if not found:
        return Problem(str(source), None, "-", "no reports file (.csv, .tsv or .jsonl) in this folder")
    return Problem(
        str(source),
        None,
        "-",
        "several reports files ({}); pass one of them as SOURCE".format(", ".join(p.name for p in found)),
    )


def _csv_rows(path: Path, problems: list[Problem]) -> tuple[list[str], Iterator[tuple[int, dict]]]:
    # Decoded whole, up front: a bad byte deep in the file must be a located problem, not an exception
    # half-way through the rows.
    text = path.read_bytes().decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
    header = list(reader.fieldnames or [])

    def rows() -> Iterator[tuple[int, dict]]:
        end = reader.line_num
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:  # e.g. a field over the csv module's size limit
                problems.append(Problem(str(path), end + 1, "-", f"cannot parse CSV: {error}"))
                return
            start, end = end + 1, reader.line_num
            extra, missing = row.pop(None, None), [k for k, v in row.items() if v is None]
            if extra or missing:
                got = len(header) + len(extra or []) - len(missing)
                problems.append(Problem(str(path), start, "-", f"row has {got} fields, the header has {len(header)}"))
                continue
            yield start, row

    return header, rows()


def _jsonl_rows(path: Path, problems: list[Problem]) -> tuple[list[str], Iterator[tuple[int, dict]]]:
    parsed = read_jsonl(path, str(path))
    problems.extend(parsed.problems)
    objects = [r for r in parsed.records if isinstance(r.value, dict)]
    problems.extend(
        Problem(str(path), r.line, "-", "expected a JSON object")
        for r in parsed.records
        if not isinstance(r.value, dict)
    )
    header = list(objects[0].value) if objects else []
    return header, iter((r.line, {k: "" if v is None else v for k, v in r.value.items()}) for r in objects)


def read_folder(
    source: Path, progress: Progress = None, limit: int | None = None, images: Path | None = None
) -> SourceRead:
    reports = find_reports_file(source)
    if isinstance(reports, Problem):
        return SourceRead(problems=[reports])
    read = SourceRead()
    reader = _jsonl_rows if reports.suffix.lower() == ".jsonl" else _csv_rows
    try:
        header, rows = reader(reports, read.problems)
    except UnicodeDecodeError as error:
        line = error.object[: error.start].count(b"\n") + 1
        return SourceRead(
            problems=[
                Problem(
                    str(reports), line, "-", f"not valid UTF-8: byte 0x{error.object[error.start]:02x} ({error.reason})"
                )
            ]
        )
    except (OSError, csv.Error) as error:
        return SourceRead(problems=[Problem(str(reports), None, "-", f"cannot read: {error}")])
    columns = match_columns(header)
    missing = [role for role in REQUIRED if role not in columns]
    if "findings" not in columns and "impression" not in columns:
        missing.append("findings or impression")
    if missing:
        shown = ", ".join(str(h) for h in header) or "(none)"
        read.problems += [
            Problem(
                str(reports),
                1,
                "columns",
                f"no {role} column (accepted names: "
                f"{', '.join(COLUMNS[role][0]) if role in COLUMNS else 'findings, impression'}); "
                f"the columns are: {shown}",
            )
            for role in missing
        ]
        return read
    root = images or reports.parent
    all_rows = list(rows)[:limit] if limit else list(rows)
    read.rows = len(all_rows)
    for done, (line, row) in enumerate(all_rows, start=1):
        item = _row_item(row, columns, line, reports, root, read.problems)
        if item is not None:
            read.items.append(item)
        tick(progress, "checking images", done, len(all_rows))
    return read


def _row_item(
    row: dict, columns: dict[str, str], line: int, reports: Path, root: Path, problems: list[Problem]
) -> StoreItem | None:
    def value(role: str) -> str:
        return str(row.get(columns[role], "") or "").strip() if role in columns else ""

    where = str(reports)
    case_id, image_name = value("id"), value("image")
    findings, impression = value("findings"), value("impression")
    found = []
    if not case_id:
        found.append(Problem(where, line, columns["id"], "empty id"))
    if not image_name:
        found.append(Problem(where, line, columns["image"], "empty image file name"))
    if not findings and not impression:
        found.append(Problem(where, line, "report", "findings and impression are both empty"))
    digest, path = "", None
    if image_name:
        path = Path(image_name) if Path(image_name).is_absolute() else root / image_name
        digest, problem = check_image(path, where, line, columns["image"])
        if problem:
            found.append(problem)
    if found:
        problems.extend(found)
        return None
    parts = [f"FINDINGS: {findings}" if findings else "", f"IMPRESSION: {impression}" if impression else ""]
    return StoreItem(
        case_id=case_id,
        diagnosis=value("diagnosis"),
        report="\n\n".join(p for p in parts if p),
        source=reports.parent.name or "folder",
        modality=value("modality"),
        body_region=value("body_region"),
        regions=tuple(split_regions(value("regions"))),
        image_ref=str(path),
        image_path=path,
        image_hash=digest,
    )
