"""Building bank cases and writing a bank folder (cases.jsonl + images/).

Case i depends only on (seed, i): its condition comes from a per-block shuffle, and each aspect
(clinical story, image, report, answer options) from its own generator derived from (seed, i). So a
bank of 10 cases is the first 10 cases of a bank of 20, and re-running gives byte-identical files.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from sim.bank.clinical import build_clinical
from sim.bank.conditions import CONDITIONS, Condition, regions_for
from sim.bank.draw import DEFAULT_SIZE, render_chest, save_png
from sim.bank.reports import radiology_report
from sim.bank.sampling import block_permutation, case_generators
from sim.core.case import AnswerOption, Case, CaseImage, Diagnosis
from sim.core.config import BANKS, DEFAULT_BANK

SOURCE = "bank"
GENERATOR_VERSION = 1

CASES_FILE = "cases.jsonl"
IMAGES_DIR = "images"
OBJECTIVE = "Find the most likely diagnosis: take a history, examine, and order the tests and images you need."


@dataclass(frozen=True)
class BankCase:
    case: Case
    pixels: np.ndarray  # uint8 (size, size), to be saved at case.images[0].path


def case_id(seed: int, index: int) -> str:
    return f"bank-s{seed}-{index:05d}"


def condition_for(seed: int, index: int) -> Condition:
    """Stratified: every block of len(CONDITIONS) consecutive cases holds each condition once."""
    block, slot = divmod(index, len(CONDITIONS))
    return CONDITIONS[block_permutation(seed, block, len(CONDITIONS))[slot]]


def _answer_options(rng: np.random.Generator, correct: Condition) -> list[AnswerOption]:
    """The right answer plus 3 distractors, preferring look-alikes (same family, side or sign)."""
    others = [c for c in CONDITIONS if c.key != correct.key]
    similar = [
        3.0
        if (c.family == correct.family or c.lesion == correct.lesion or (c.side and c.side == correct.side))
        else 1.0
        for c in others
    ]
    weights = np.array(similar) / sum(similar)
    chosen = rng.choice(len(others), size=3, replace=False, p=weights)
    options = [AnswerOption(text=correct.name, correct=True)]
    options += [AnswerOption(text=others[int(i)].name) for i in chosen]
    return [options[int(i)] for i in rng.permutation(len(options))]


def build_case(seed: int, index: int, size: int = DEFAULT_SIZE) -> BankCase:
    """One complete case and its image pixels, without touching the file system."""
    streams = case_generators(seed, index)
    chosen = condition_for(seed, index)
    side, level = chosen.sample_site(streams["clinical"])
    clinical = build_clinical(chosen.family, streams["clinical"], side, level)
    radiograph = render_chest(chosen.lesion_spec(side, level), streams["image"], size)
    report = radiology_report(streams["report"], radiograph.lesion, side, level, radiograph.cardiothoracic_ratio)
    identifier = case_id(seed, index)
    image = CaseImage(
        path=f"{IMAGES_DIR}/{identifier}.png",
        modality="X-ray",
        body_region="chest",
        view="PA",
        regions=regions_for(chosen.lesion, side, level),
        report=report,
    )
    case = Case(
        id=identifier,
        source=SOURCE,
        objective=OBJECTIVE,
        patient=clinical.patient,
        exam=clinical.exam,
        tests=clinical.tests,
        images=[image],
        diagnosis=Diagnosis(name=chosen.name, aliases=list(chosen.aliases)),
        options=_answer_options(streams["options"], chosen),
        metadata={
            "condition": chosen.key,
            "seed": seed,
            "index": index,
            "generator": "sim.bank",
            "generator_version": GENERATOR_VERSION,
            "age": clinical.age,
            "sex": clinical.sex,
            "site": {"side": side, "level": level},
            "image_size": size,
            "cardiothoracic_ratio": round(radiograph.cardiothoracic_ratio, 4),
            "lesion": radiograph.lesion_metadata(),
            "nuisance": radiograph.nuisance.as_metadata(),
        },
    )
    return BankCase(case=case, pixels=radiograph.pixels)


def _replace_atomically(path: Path, write: Callable[[Path], None]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


# Below this many cases the worker processes' start-up (imports, about half a second) costs more than it saves.
PARALLEL_FROM = 64


def generate_bank(
    n: int,
    seed: int,
    out: Path,
    progress: Callable[[int], None] | None = None,
    *,
    size: int = DEFAULT_SIZE,
    workers: int | None = None,
    bank: str = DEFAULT_BANK,
) -> Path:
    """Write `n` cases to `out/cases.jsonl` and their images to `out/images/`; return the jsonl path.

    The jsonl appears only once complete (temp file + os.replace). Images from an earlier, larger run
    in the same folder are left alone; they are simply not referenced. Cases are built in `workers`
    processes (default: one per core for banks of PARALLEL_FROM cases or more); each case depends only on
    (seed, index), so the files are the same whatever the number of workers.
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    if bank not in BANKS:
        raise ValueError(f"unknown bank {bank!r}; choose from {', '.join(BANKS)}")
    out = Path(out)
    (out / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    cases_path = out / CASES_FILE
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if n >= PARALLEL_FROM else 1
    write_one = partial(_write_case, seed, size=size, out=out, bank=bank)

    def write_cases(temporary: Path) -> None:
        with open(temporary, "w", encoding="utf-8", newline="\n") as handle, _mapper(workers) as mapper:
            for index, line in enumerate(mapper(write_one, range(n)), start=1):
                handle.write(line + "\n")
                if progress is not None:
                    progress(index)
            handle.flush()
            os.fsync(handle.fileno())

    _replace_atomically(cases_path, write_cases)
    return cases_path


def _write_case(seed: int, index: int, *, size: int, out: Path, bank: str = DEFAULT_BANK) -> str:
    """Build case `index`, write its image (atomically) and return its jsonl line."""
    if bank == "lookalike":
        from sim.bank.lookalike.cases import build_lookalike_case

        case, pixels = build_lookalike_case(seed, index, size)
    else:
        built = build_case(seed, index, size)
        case, pixels = built.case, built.pixels
    _replace_atomically(out / str(case.images[0].path), partial(save_png, pixels))
    return case.model_dump_json()


class BankMismatch(ValueError):
    """A data directory's bank folder holds another kind of bank than the one asked for."""


def ensure_bank(
    folder: Path, n: int, seed: int = 0, bank: str = DEFAULT_BANK, progress: Callable[[int], None] | None = None
) -> bool:
    """The bank `folder` holds `bank`: generated when missing (returns True), left alone when present. A folder
    holding the other kind (a data directory made before the default changed) is an error that says what to do,
    never silently mixed with a store and an embedder built from the other kind."""
    found = bank_kind(folder)
    if found is None:
        generate_bank(n, seed, folder, progress, bank=bank)
        return True
    if found != bank:
        raise BankMismatch(
            f"{folder} holds the {found} bank, and the {bank} bank is asked for: give the other data directory "
            f"with --data-dir, or move {folder} away together with the case store and embedder built from it "
            f"(chroma/ and models/ beside it), or run on it explicitly with --cases {folder}"
        )
    return False


def bank_kind(folder: Path) -> str | None:
    """Which bank a folder holds ("lookalike" or "findings"), from its first case; None without cases."""
    cases = Path(folder) / CASES_FILE
    if not cases.is_file():
        return None
    with open(cases, encoding="utf-8") as handle:
        first = handle.readline()
    if not first.strip():
        return None
    return "lookalike" if '"bank":"lookalike"' in first.replace(" ", "") else "findings"


@contextmanager
def _mapper(workers: int) -> Iterator[Callable]:
    """An ordered map: the built-in one, or a process pool's (spawned: the caller may hold threads, e.g.
    torch's, which a forked child would inherit in an unknown state)."""
    if workers <= 1:
        yield map
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield partial(pool.map, chunksize=8)
    finally:  # interrupted: drop the cases not started rather than wait for the whole bank
        pool.shutdown(wait=True, cancel_futures=True)
