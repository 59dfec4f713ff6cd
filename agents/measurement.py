"""The measurement agent: a deterministic lookup of the requested test, exam or image in the case.

No LLM reads the result dictionary (that is how peers hallucinate results and waste tokens). A request
is matched against every key of the case's exam and test trees: canonical names first (synonyms,
abbreviations, filler words), then rapidfuzz. Matched subtrees are flattened to readable lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz, process

from agents.synonyms import canonical
from sim.core.case import Case, CaseImage

FUZZY_CUTOFF = 86.0
IMAGE_CUTOFF = 75.0


@dataclass(frozen=True)
class ResultNode:
    path: tuple[str, ...]  # e.g. ("tests", "Blood_Tests", "Complete_Blood_Count")
    value: object

    @property
    def label(self) -> str:
        return _humanise(self.path[-1])


@dataclass
class MeasurementResult:
    request: str
    kind: str  # "test" | "image"
    text: str
    found: bool
    matched_paths: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    method: str = ""  # "exact" | "fuzzy" | "image" | "missing"


class ResultIndex:
    """Every node of a case's exam and test trees, addressable by its canonical key name."""

    def __init__(self, case: Case):
        self.nodes = list(_walk(("exam",), case.exam)) + list(_walk(("tests",), case.tests))
        # Whole sections can be requested too ("physical examination").
        self.nodes.insert(0, ResultNode(("exam", "Physical_Examination"), case.exam))
        self._keys = [canonical(node.path[-1]) for node in self.nodes]
        self._parent_keys = [canonical(" ".join(node.path[-2:])) if len(node.path) > 2 else "" for node in self.nodes]

    def lookup(self, request: str) -> tuple[list[ResultNode], str]:
        query = canonical(request)
        if not query:
            return [], "missing"
        exact = [n for n, k, pk in zip(self.nodes, self._keys, self._parent_keys) if query in (k, pk)]
        if exact:
            return _outermost(exact), "exact"
        choices = {i: k for i, k in enumerate(self._keys) if k}
        for _, _, index in process.extract(query, choices, scorer=fuzz.token_sort_ratio, score_cutoff=FUZZY_CUTOFF, limit=5):
            if _tokens_align(query, self._keys[index]):
                return [self.nodes[index]], "fuzzy"
        return [], "missing"


class LookupMeasurement:
    """Answers test and image requests from the case alone."""

    def __init__(
        self,
        case: Case,
        case_dir: Path | None = None,
        missing_answer: str = "Not available: this test was not performed for this patient.",
        show_image_report: bool = False,
    ):
        self.case = case
        self.case_dir = case_dir
        self.missing_answer = missing_answer
        self.show_image_report = show_image_report
        self.index = ResultIndex(case)

    def request(self, kind: str, name: str) -> MeasurementResult:
        """An image request, or a test request; a test that names an imaging study the case has as an image
        ("TEST: chest x-ray") gets the image, as a radiology desk would hand it over."""
        if kind == "image":
            return self.request_image(name)
        result = self.request_test(name)
        if not result.found and _names_modality(canonical(name)) and self._matching_images(name):
            return self.request_image(name)
        return result

    def request_test(self, name: str) -> MeasurementResult:
        nodes, method = self.index.lookup(name)
        if not nodes:
            return MeasurementResult(name, "test", f"{name}: {self.missing_answer}", False, method="missing")
        text = "\n".join(format_node(node) for node in nodes)
        paths = [".".join(node.path) for node in nodes]
        return MeasurementResult(name, "test", text, True, paths, method=method)

    def request_image(self, name: str) -> MeasurementResult:
        images = self._matching_images(name)
        if images:
            lines, files = [], []
            for image in images:
                description = " ".join(p for p in (image.body_region, image.modality, image.view) if p)
                if image.available and image.path:
                    files.append(str(self._resolve(image.path)))
                    line = f"{description or 'image'}: acquired (image attached)."
                else:
                    line = f"{description or 'image'}: {image.unavailable_reason or 'image file unavailable'}."
                if self.show_image_report and image.report:
                    line += f" Report: {image.report}"
                lines.append(line)
            return MeasurementResult(name, "image", "\n".join(lines), True, images=files, method="image")
        # Sources like AgentClinic keep imaging as text results ("Imaging.Chest_CT.Findings").
        result = self.request_test(name)
        result.kind = "image"
        return result

    def _matching_images(self, name: str) -> list[CaseImage]:
        query = canonical(name)
        if not self.case.images or not query:
            return []
        if query in ("image", "imaging", "x ray", "radiograph"):
            return list(self.case.images)
        scored = []
        for image in self.case.images:
            descriptor = canonical(f"{image.body_region} {image.modality} {image.view}")
            modality = canonical(image.modality)
            region = canonical(image.body_region)
            score = fuzz.token_set_ratio(query, descriptor)
            # A different modality named explicitly ("chest CT" vs an X-ray) is not a match.
            if modality and modality not in query and _names_modality(query):
                score = 0.0
            elif region and region in query and (not _names_modality(query) or modality in query):
                score = max(score, 100.0)
            scored.append((score, image))
        return [image for score, image in scored if score >= IMAGE_CUTOFF]

    def _resolve(self, path: str) -> Path:
        candidate = Path(path)
        if not candidate.is_absolute() and self.case_dir is not None:
            candidate = self.case_dir / candidate
        return candidate


_MODALITIES = ("x ray", "computed tomography", "magnetic resonance imaging", "ultrasound", "echocardiogram",
               "pet", "angiography", "mammogram", "fluoroscopy")


def _tokens_align(query: str, key: str) -> bool:
    """Every word of each name has a close counterpart in the other (typos and plurals pass), so
    "ultrasound neck" never matches "ultrasound knee" and "blood" never matches "blood pressure"."""
    a, b = query.split(), key.split()
    if not a or not b:
        return False
    return all(max(fuzz.ratio(w, o) for o in b) >= 80 for w in a) and all(
        max(fuzz.ratio(w, o) for o in a) >= 80 for w in b
    )


def _names_modality(query: str) -> bool:
    return any(m in query for m in _MODALITIES)


def _walk(prefix: tuple[str, ...], tree: object) -> Iterator[ResultNode]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            path = (*prefix, str(key))
            yield ResultNode(path, value)
            yield from _walk(path, value)


def _outermost(nodes: list[ResultNode]) -> list[ResultNode]:
    """Drop matches nested inside another match: the parent's text already contains them."""
    kept = []
    for node in nodes:
        if not any(other is not node and node.path[: len(other.path)] == other.path for other in nodes):
            kept.append(node)
    return kept


def format_node(node: ResultNode) -> str:
    """A result subtree as readable lines: `Complete Blood Count: WBC 12,000/mm3; Hemoglobin 13 g/dL`."""
    lines = _format(node.label, node.value, 0)
    return "\n".join(lines)


def _format(label: str, value: object, depth: int) -> list[str]:
    indent = "  " * depth
    if isinstance(value, dict):
        if not value:
            return [f"{indent}{label}: (no result recorded)"]
        if all(not isinstance(v, (dict, list)) for v in value.values()) and len(value) <= 6:
            inner = "; ".join(f"{_humanise(k)} {_scalar(v)}" for k, v in value.items())
            return [f"{indent}{label}: {inner}"]
        lines = [f"{indent}{label}:"]
        for key, sub in value.items():
            lines.extend(_format(_humanise(key), sub, depth + 1))
        return lines
    if isinstance(value, list):
        return [f"{indent}{label}: " + "; ".join(_scalar(v) for v in value)]
    return [f"{indent}{label}: {_scalar(value)}"]


def _scalar(value: object) -> str:
    if isinstance(value, (dict, list)):
        return ", ".join(f"{_humanise(k)} {_scalar(v)}" for k, v in value.items()) if isinstance(value, dict) else ", ".join(_scalar(v) for v in value)
    return str(value)


def _humanise(key: str) -> str:
    return key.replace("_", " ").strip()
