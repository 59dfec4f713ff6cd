"""What the retrieval benchmark runs on: tasks (queries, gallery, relevance) and OOD image sets.

Datasets:
- `bank[:PATH]`: a generated bank (seed 0 by default, made in the data directory's cache), split into
  test queries and a gallery; relevance = same condition; plus region-labelled queries;
- `pneumoniamnist:PATH`: test images as queries, train images as the gallery, val images for calibration;
  relevance = same label;
- `iu-xray:PATH`: IU X-ray reports, text only (protocol of ../shared/data/README.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from retrieval.datasets import Pair, bank_pairs, iu_reports, pneumoniamnist_pairs, split_bank

Kind = Literal["image", "text"]
DEFAULT_BANK_SEED = 0
PHOTOGRAPHS = ("astronaut", "coffee", "chelsea", "camera", "rocket")


@dataclass
class Task:
    name: str
    query_kind: Kind
    gallery_kind: Kind
    queries: list
    gallery: list
    relevant: np.ndarray  # (n_queries, n_gallery) bool
    relevance: str  # what counts as relevant, for the report
    # Region-conditioned variant: gallery items carrying the query's labelled region are ranked first.
    region_match: np.ndarray | None = None
    # Gallery index of each query itself (report->report inside one corpus): left out of its ranking.
    self_index: np.ndarray | None = None


@dataclass
class OodSetup:
    gallery: list  # in-distribution images the k-NN distance is measured to
    calibration: list  # held-out in-distribution queries: they set the threshold
    in_distribution: list  # in-distribution test queries
    outliers: dict[str, list] = field(default_factory=dict)  # name -> images that must come out OOD


@dataclass
class BenchData:
    name: str
    tasks: list[Task]
    ood: OodSetup | None = None
    fit_texts: list[str] = field(default_factory=list)  # corpus TF-IDF is fitted on (never the queries' labels)
    train_pairs: list[Pair] = field(default_factory=list)  # what a dataset-specific embedder trains on
    train_key: str = ""  # identifies train_pairs for the cached dataset-specific checkpoint
    # Texts and their label sets a supervised text embedder may train on (never the queries').
    text_train: list[tuple[str, frozenset[str]]] = field(default_factory=list)


def parse_dataset(spec: str) -> tuple[str, Path | None]:
    name, _, path = spec.partition(":")
    if name not in ("bank", "pneumoniamnist", "iu-xray"):
        raise ValueError(f"unknown dataset {spec!r}: use bank[:DIR], pneumoniamnist:NPZ or iu-xray:TGZ")
    if name != "bank" and not path:
        raise ValueError(f"{name} needs a path: {name}:PATH")
    resolved = Path(path).expanduser() if path else None
    if resolved is not None and not resolved.exists():
        raise ValueError(f"{spec}: {resolved} not found")
    return name, resolved


def _subsample(items: list, limit: int | None, seed: int = 0) -> list:
    """Up to `limit` items, evenly spread (deterministic), so a quick run keeps every label."""
    if not limit or len(items) <= limit:
        return items
    keep = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[i] for i in keep]


def _same(a: list[str], b: list[str]) -> np.ndarray:
    return np.asarray(a)[:, None] == np.asarray(b)[None, :]


def pair_tasks(queries: list[Pair], gallery: list[Pair], with_reports: bool = True) -> list[Task]:
    relevant = _same([q.label for q in queries], [g.label for g in gallery])
    q_img, g_img = [q.image for q in queries], [g.image for g in gallery]
    q_txt, g_txt = [q.report for q in queries], [g.report for g in gallery]
    tasks = [Task("image->image", "image", "image", q_img, g_img, relevant, "same label")]
    if with_reports:
        tasks += [
            Task("image->report", "image", "text", q_img, g_txt, relevant, "same label"),
            Task("report->image", "text", "image", q_txt, g_img, relevant, "same label"),
        ]
    return tasks


def region_task(queries: list[Pair], gallery: list[Pair]) -> Task | None:
    """Queries with a labelled region; the first region (where the sign is strongest) conditions the search."""
    with_region = [q for q in queries if q.regions]
    if not with_region:
        return None
    relevant = _same([q.label for q in with_region], [g.label for g in gallery])
    match = np.array([[q.regions[0] in g.regions for g in gallery] for q in with_region])
    return Task("image->image (region queries)", "image", "image", [q.image for q in with_region],
                [g.image for g in gallery], relevant, "same label", region_match=match)  # fmt: skip


def load_bank(path: Path | None, cache_dir: Path, n_cases: int, limit: int | None) -> BenchData:
    if path is None:
        from sim.bank import generate_bank

        path = cache_dir / f"bank-s{DEFAULT_BANK_SEED}-n{n_cases}"
        if not (path / "cases.jsonl").is_file():
            generate_bank(n_cases, DEFAULT_BANK_SEED, path, bank="findings")  # one sign per diagnosis: image retrieval
    split = split_bank(bank_pairs(path))
    queries = _subsample(split.test, limit)
    tasks = pair_tasks(queries, split.train)
    relevant = _same([q.label for q in queries], [g.label for g in split.train])
    tasks.append(Task("report->report", "text", "text", [q.report for q in queries], [g.report for g in split.train],
                      relevant, "same label"))  # fmt: skip
    region = region_task(queries, split.train)
    if region is not None:
        tasks.append(region)
    half = len(split.test) // 2
    ood = OodSetup(
        gallery=[g.image for g in split.train],
        calibration=[q.image for q in split.test[:half]],
        in_distribution=[q.image for q in split.test[half:]],
    )
    return BenchData("bank", tasks, ood, fit_texts=[g.report for g in split.train], train_pairs=split.train,
                     train_key=f"bank-{_digest([str(p.image) for p in split.train])}")  # fmt: skip


def load_pneumoniamnist(path: Path, limit: int | None, gallery_limit: int | None) -> BenchData:
    train = pneumoniamnist_pairs(path, "train")
    gallery = _subsample(train, gallery_limit)
    queries = _subsample(pneumoniamnist_pairs(path, "test"), limit)
    calibration = pneumoniamnist_pairs(path, "val")
    # The reports are one template per label, so report->report would only compare two fixed texts.
    tasks = pair_tasks(queries, gallery)
    ood = OodSetup([g.image for g in gallery], [c.image for c in calibration], [q.image for q in queries])
    return BenchData("pneumoniamnist", tasks, ood, fit_texts=[g.report for g in gallery], train_pairs=train,
                     train_key=f"pneumoniamnist-{_file_digest(path)}")  # fmt: skip


IU_SPLIT_SEED = 0


def load_iu_xray(path: Path, limit: int | None) -> BenchData:
    """Queries are the findings of a held-out half of the labelled reports (seeded split); the gallery is
    every labelled report's findings but the query's own. The other half's MeSH heads are what a
    supervised text embedder may train on; unsupervised methods never see labels."""
    reports = iu_reports(path)
    labelled = [r for r in reports if r.findings and r.mesh_heads]
    findings = [r.findings for r in labelled]
    head_sets = [r.mesh_heads for r in labelled]
    order = np.random.default_rng(IU_SPLIT_SEED).permutation(len(labelled))
    held_out, training = sorted(order[: len(order) // 2].tolist()), sorted(order[len(order) // 2 :].tolist())
    query_rows = _subsample(held_out, limit)
    same_set = np.array([[head_sets[q] == heads for heads in head_sets] for q in query_rows])
    shared = np.array([[bool(head_sets[q] & heads) for heads in head_sets] for q in query_rows])
    queries = [findings[q] for q in query_rows]
    tasks = [
        Task("report->report", "text", "text", queries, findings, _without_self(same_set, query_rows),
             "same set of MeSH major heads", self_index=np.asarray(query_rows)),
        Task("report->report (shared head)", "text", "text", queries, findings, _without_self(shared, query_rows),
             "at least one MeSH major head shared", self_index=np.asarray(query_rows)),
    ]  # fmt: skip
    paired = [r for r in reports if r.findings and r.impression]
    pair_rows = _subsample(list(range(len(paired))), limit)
    own = np.zeros((len(pair_rows), len(paired)), dtype=bool)
    own[np.arange(len(pair_rows)), pair_rows] = True
    tasks.append(Task("findings->impression", "text", "text", [paired[i].findings for i in pair_rows],
                      [r.impression for r in paired], own, "its own impression"))  # fmt: skip
    # TF-IDF's idf comes from the findings (the report->report corpus), as in the reference protocol.
    return BenchData(
        "iu-xray", tasks, None, fit_texts=findings, text_train=[(findings[row], head_sets[row]) for row in training]
    )


def _without_self(relevant: np.ndarray, query_rows: list[int]) -> np.ndarray:
    relevant = relevant.copy()
    relevant[np.arange(len(query_rows)), query_rows] = False
    return relevant


def outlier_images(n_noise: int, seed: int, other: list | None = None, other_name: str = "") -> dict[str, list]:
    """Gaussian-noise images, photographs (scikit-image's samples and their quadrants), another dataset."""
    rng = np.random.default_rng(seed)
    outliers: dict[str, list] = {
        "noise": [Image.fromarray(np.clip(rng.normal(128, 50, (224, 224)), 0, 255).astype(np.uint8))
                  for _ in range(n_noise)]
    }  # fmt: skip
    photographs = _photographs()
    if photographs:
        outliers["photographs"] = photographs
    if other:
        outliers[other_name] = other
    return outliers


def _photographs() -> list[Image.Image]:
    try:
        from skimage import data
    except ImportError:  # scikit-image is a test extra; without it the photograph set is skipped
        return []
    images = []
    for name in PHOTOGRAPHS:
        photo = Image.fromarray(getattr(data, name)())
        width, height = photo.size
        images.append(photo)
        images += [
            photo.crop((x, y, x + width // 2, y + height // 2)) for x in (0, width // 2) for y in (0, height // 2)
        ]
    return images


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:10]


def _file_digest(path: Path) -> str:
    from retrieval.embedders.open_clip_embedder import file_digest

    return file_digest(path)
