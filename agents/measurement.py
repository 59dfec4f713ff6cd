"""The measurement desk: a deterministic lookup of the requested test, exam or image in the case.

No LLM reads the result dictionary (that is how peers hallucinate results and waste tokens). How a request
in the doctor's own words reaches the case's sections and sub-entries is `agents/request_matching.py`;
the matched subtrees are flattened to readable lines here. Results only ever come from the case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz

from agents.request_matching import Node, RequestMatcher, TextEncoder
from agents.synonyms import canonical
from sim.core.case import Case, CaseImage

IMAGE_CUTOFF = 75.0
MISSING_ANSWER = "Not available: this test was not performed for this patient."
# What the desk adds when it finds nothing: "none", or the examinations the case records (which can steer a
# doctor, so it is a setting; docs/measurement-desk.md has what each did in encounters).
ON_MISSING = ("none", "examinations")


@dataclass
class MeasurementResult:
    request: str
    kind: str  # "test" | "image"
    text: str
    found: bool
    matched_paths: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    method: str = ""  # "words" | "purpose" | "content" | "semantic" | "image" | "missing"
    score: float = 0.0  # the semantic matcher's best similarity, when it was asked


class LookupMeasurement:
    """Answers test and image requests from the case alone."""

    def __init__(
        self,
        case: Case,
        case_dir: Path | None = None,
        missing_answer: str = MISSING_ANSWER,
        show_image_report: bool = False,
        encoder: TextEncoder | None = None,
        on_missing: str = "none",
    ):
        if on_missing not in ON_MISSING:
            raise ValueError(f"on_missing must be one of {', '.join(ON_MISSING)}, got {on_missing!r}")
        self.case = case
        self.case_dir = case_dir
        self.missing_answer = missing_answer
        self.show_image_report = show_image_report
        self.on_missing = on_missing
        self.matcher = RequestMatcher(case.exam, case.tests, encoder)

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
        match = self.matcher.match(name)
        if not match.nodes:
            text = f"{name}: {self.missing_answer}{self._recorded_note()}"
            return MeasurementResult(name, "test", text, False, method="missing", score=match.score)
        text = "\n".join(format_node(node) for node in match.nodes)
        paths = [node.dotted for node in match.nodes]
        return MeasurementResult(name, "test", text, True, paths, method=match.method, score=match.score)

    def _recorded_note(self) -> str:
        if self.on_missing != "examinations" or not isinstance(self.case.exam, dict) or not self.case.exam:
            return ""
        return " Examinations recorded for this patient: " + ", ".join(_humanise(k) for k in self.case.exam) + "."

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
            if not descriptor and image.available and image.path:
                # Nothing to match by (AgentClinic-NEJM's one picture per case): every imaging request means it.
                # Without its file, a request still goes to the case's text results, as before.
                scored.append((100.0, image))
                continue
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


_MODALITIES = (
    "x ray",
    "computed tomography",
    "magnetic resonance imaging",
    "ultrasound",
    "echocardiogram",
    "pet",
    "angiography",
    "mammogram",
    "fluoroscopy",
)


def _names_modality(query: str) -> bool:
    return any(m in query for m in _MODALITIES)


def format_node(node: Node) -> str:
    """A result subtree as readable lines: `Complete Blood Count: WBC 12,000/mm3; Hemoglobin 13 g/dL`."""
    label = (
        "Physical examination"
        if node.path == ("exam",)
        else "Tests"
        if node.path == ("tests",)
        else _humanise(node.path[-1])
    )
    return "\n".join(_format(label, node.value, 0))


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
        return (
            ", ".join(f"{_humanise(k)} {_scalar(v)}" for k, v in value.items())
            if isinstance(value, dict)
            else ", ".join(_scalar(v) for v in value)
        )
    return str(value)


def _humanise(key: str) -> str:
    return key.replace("_", " ").strip()
