"""Cases in the project's format (the generated bank folder, or any native/AgentClinic-style case file
whose images are local files): one item per local image, its report and labelled regions."""

from __future__ import annotations

from pathlib import Path

from retrieval.ingest.common import Progress, SourceRead, check_images, tick
from retrieval.items import StoreItem
from sim.loaders import BANK_FILE_NAME, read_cases
from sim.loaders._jsonl import read_jsonl


def read_bank(source: Path, progress: Progress = None, limit: int | None = None) -> SourceRead:
    case_file = source / BANK_FILE_NAME if source.is_dir() else source
    loaded = read_cases(source)
    read = SourceRead(problems=list(loaded.problems), rows=loaded.n_records)
    lines = _case_lines(case_file)
    cases = loaded.cases[:limit] if limit else loaded.cases
    wanted = []  # (case, image, path, field name, line) of every local image, checked together below
    for case in cases:
        line = lines.get(case.id)
        for index, image in enumerate(case.images):
            if not image.path or (image.url and not image.available):
                continue  # a remote image that was not fetched has nothing to embed; a local one must be there
            path = Path(image.path) if Path(image.path).is_absolute() else case_file.parent / image.path
            wanted.append((case, image, path, f"images.{index}.path", line))
    checked = check_images((path, str(case_file), line, name) for _, _, path, name, line in wanted)
    for done, ((case, image, path, _, _), (digest, problem)) in enumerate(zip(wanted, checked), start=1):
        if problem:
            read.problems.append(problem)
        else:
            read.items.append(
                StoreItem(
                    case_id=case.id,
                    diagnosis=case.diagnosis.name,
                    report=image.report,
                    source=case.source,
                    condition=str(case.metadata.get("condition", "")),
                    modality=image.modality,
                    body_region=image.body_region,
                    regions=tuple(image.regions),
                    image_ref=str(path),
                    image_path=path,
                    image_hash=digest,
                    context=str(case.metadata.get("context", "")),
                )
            )
        tick(progress, "checking images", done, len(wanted))
    return read


def _case_lines(case_file: Path) -> dict[str, int]:
    """Case id -> line of the case file, so image problems point at the case's line."""
    parsed = read_jsonl(case_file, str(case_file))
    return {str(r.value["id"]): r.line for r in parsed.records if isinstance(r.value, dict) and "id" in r.value}
