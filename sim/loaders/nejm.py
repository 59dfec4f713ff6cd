"""AgentClinic-NEJM JSONL (image challenge cases) -> `Case`.

One row: {"image_url", "question", "patient_info", "physical_exams", "answers": [{"text", "correct"}]}.

Mapping choices:
- `patient_info` is a second-person role description ("For your role as a patient, you are ..."), not
  a history we could split into fields, so it goes verbatim to `patient.extra["role"]`.
- `question` is the whole vignette, exam and biopsy results included; handing it to the doctor would
  make the interview pointless. The objective is its first sentence (the presentation) plus its final
  question ("What is the most likely diagnosis?"); the full text stays in `metadata["question"]`.
- `physical_exams` is one string mixing exam findings and test results, so it is offered under
  "Reported_Findings" to both the exam and the tests lookups.
- `answers` become `options`; exactly one must be correct, and it is the diagnosis.
- `image_url` becomes an image that is only fetched when `fetch_images=True`; with `image_dir` it is the
  folder's file named after the case id or the URL's file name (NEJM's URLs name the image in `?id=`:
  `IC20240111.jpg`), and a case whose file is missing is a problem at `image_url` (or, with
  `missing_images="skip"`, a skipped case with its reason), unless `fetch_images` gets the image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.core.case import AnswerOption, Case, CaseImage, stable_id
from sim.core.errors import InputError, Problem
from sim.loaders._jsonl import RowContext, SkipRow, json_type
from sim.loaders._rows import SourceRow, diagnosis_from_text, source_for, source_slug
from sim.loaders.images import DEFAULT_TIMEOUT_S, ImageFolder, remote_image

OPTIONS = frozenset({"source", "fetch_images", "image_cache", "image_timeout", "image_dir", "missing_images"})
MISSING_IMAGES = ("error", "skip")  # what a case whose image file is not in `image_dir` becomes
LABEL, EXPECTED_KEYS = "NEJM", "question, answers, patient_info"


def detects(keys: set[str]) -> bool:
    return "patient_info" in keys or {"question", "answers"} <= keys


FINDINGS_KEY = "Reported_Findings"


@dataclass(frozen=True)
class MissingImage:
    """Why a case's image is not in the image folder; `skippable`: the case may be skipped for it (a file that
    is absent), or the folder itself must be put right (one name, several files)."""

    reason: str
    skippable: bool = True


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


def make_converter(
    path: Path,
    source: str | None = None,
    fetch_images: bool = False,
    image_cache: Path | None = None,
    image_timeout: float = DEFAULT_TIMEOUT_S,
    image_dir: str | Path | None = None,
    missing_images: str = "error",
):
    source = source_slug(source) if source else source_for(path)
    if missing_images not in MISSING_IMAGES:
        raise ValueError(f"missing_images must be one of {', '.join(MISSING_IMAGES)}, got {missing_images!r}")
    folder = None
    if image_dir is not None:
        try:
            folder = ImageFolder(Path(image_dir))
        except NotADirectoryError as error:
            raise InputError([Problem(str(image_dir), None, "image_dir", str(error).split(": ", 1)[-1])]) from None

    def image_for(url: str, case_id: str) -> CaseImage | MissingImage:
        """The case's image, or (with an image folder) why it cannot be had."""
        if folder is not None:
            try:
                local = folder.find(case_id, url)
            except ValueError as error:  # one name, several files: the folder must say which
                return MissingImage(str(error), skippable=False)
            if local is not None:
                return CaseImage(url=url, path=str(local.resolve()))
            if not fetch_images:
                looked = ", ".join(f"{name}.*" for name in folder.names(case_id, url))
                return MissingImage(f"no image file for this case in {folder.folder} (looked for {looked})")
        image = remote_image(url, fetch=fetch_images, cache_dir=image_cache, timeout=image_timeout)
        if folder is not None and not image.available:
            return MissingImage(f"no image file for this case in {folder.folder}, and {image.unavailable_reason}")
        return image

    def convert(row: dict[str, Any], where: RowContext) -> Case:
        return row_to_case(row, where, source, image_for, skip_missing=missing_images == "skip")

    return convert


def objective_from_question(question: str) -> str:
    """The presentation (first sentence) and the closing question, without the results in between."""
    sentences = [s.strip() for s in _SENTENCE_END.split(question.strip()) if s.strip()]
    if len(sentences) <= 1:
        return question.strip()
    closing = sentences[-1] if sentences[-1].endswith("?") else "What is the most likely diagnosis?"
    return f"{sentences[0]} {closing}"


def row_to_case(row: dict[str, Any], where: RowContext, source: str, image_for, skip_missing: bool = False) -> Case:
    reader = SourceRow(where)
    question = reader.text(row, "question", "question", required=True)
    role = reader.text(row, "patient_info", "patient_info", required=True)
    findings = _findings(reader, row)
    options = _answer_options(reader, row)
    image_url = reader.text(row, "image_url", "image_url")
    correct = [option for option in options if option.correct]
    if options and len(correct) != 1:
        reader.report("answers", _correct_count_message(row["answers"]))
    reader.finish()
    case_id = stable_id(source, row)
    images: list[CaseImage] = []
    if image_url:
        image = image_for(image_url.strip(), case_id)
        if isinstance(image, MissingImage):  # the image folder has no file for it (or several)
            if skip_missing and image.skippable:
                raise SkipRow(case_id, "image_url", image.reason)
            hint = (
                "; add it, or skip such cases (--skip-missing-images)" if image.skippable and not skip_missing else ""
            )
            reader.report("image_url", image.reason + hint)
            reader.finish()
        else:
            images.append(image)
    assert question is not None  # required: finish() raised on a missing or blank question

    return reader.build_case(
        id=case_id,
        source=source,
        objective=objective_from_question(question),
        patient={"extra": {"role": role}},
        exam=findings,
        tests=findings,
        images=images,
        diagnosis=diagnosis_from_text(correct[0].text),
        options=options,
        metadata={"source_file": where.path.name, "source_line": where.line, "question": question},
    )


def _findings(reader: SourceRow, row: dict[str, Any]) -> dict[str, Any]:
    value = row.get("physical_exams")
    if isinstance(value, dict):  # a structured variant: keep its own keys
        return value
    text = reader.get(row, "physical_exams", "physical_exams", str)
    return {FINDINGS_KEY: text} if text and text.strip() else {}


def _answer_options(reader: SourceRow, row: dict[str, Any]) -> list[AnswerOption]:
    answers = reader.get(row, "answers", "answers", list, required=True)
    if answers is None:
        return []
    if not answers:
        reader.report("answers", "no answers given; exactly one must be marked correct")
        return []
    options = []
    for index, answer in enumerate(answers):
        path = f"answers.{index}"
        if not isinstance(answer, dict):
            reader.report(path, f"expected an object, got {json_type(answer)}")
            continue
        text = reader.text(answer, "text", f"{path}.text", required=True)
        correct = reader.get(answer, "correct", f"{path}.correct", bool, required=True)
        if text is not None and correct is not None:
            options.append(AnswerOption(text=text, correct=correct))
    if len(options) != len(answers):
        return []  # a broken answer makes "which one is correct" meaningless; its problem is reported
    return options


def _correct_count_message(answers: list[dict[str, Any]]) -> str:
    marked = [f"answers.{i}" for i, a in enumerate(answers) if a.get("correct") is True]
    if not marked:
        return "no answer is marked correct; exactly one must be"
    return f"{len(marked)} answers are marked correct ({', '.join(marked)}); exactly one must be"
