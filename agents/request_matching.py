"""How the measurement desk hears a request: free words -> the case's sections and sub-entries.

A request ("Perform a physical examination of the abdomen to assess for tenderness", "bloods", "reflexes",
"CXR", "Palpate for splenomegaly") and every key of the case's exam and test trees go through the same
vocabulary (`agents/vocabulary.py`), which turns words into concept tokens of known kinds. Then:

1. The request is read as a head and its qualifiers: lead-ins ("Can I please get") and purposes ("... to
   assess for tenderness") are set aside, and the last phrase before "of", "with", ... is the head. A head
   that names a test ("biopsy", "LDH", "calprotectin") must be found; a head that names a place or a
   manoeuvre ("the abdomen", "palpation") needs one of the request's places or manoeuvres found. A named
   imaging modality must always be the node's.
2. A node is a candidate when its own key names part of the request and nothing in its path contradicts it
   (another body part, system, modality or specimen). Candidates are scored by how much of the request their
   path covers (qualifiers and the purpose included), less what their own key adds that was not asked; the
   best win, nested ones folded into their parent. So "abdominal palpation" reaches
   `Abdominal_Examination.Palpation`, and "examine the abdomen" the whole `Abdominal_Examination`.
3. A request for a panel the case records as its members ("CBC" where the case lists Hb and WBC) gets the
   members; a lone member of a panel recorded as one line ("hemoglobin" where the CBC says "normal") the panel.
4. What the words cannot decide, a sentence-embedding matcher may (when one is given), above a similarity
   threshold; below it the desk finds nothing.

Nothing here produces result text: the desk answers with the chosen nodes' own content, or says the test
was not done.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from rapidfuzz.distance import DamerauLevenshtein

from agents.vocabulary import (
    EXAM,
    IMAGING,
    LABS,
    LIMB_PARTS,
    MODALITIES,
    PART_OVERLAPS,
    PART_SYSTEMS,
    PARTS,
    SPECIMENS,
    SYSTEMS,
    Item,
    concept_tokens,
    is_blood_lab,
    items,
    kind,
    known_words,
    normalise,
    plain,
    singular,
)

# Below this cosine similarity the semantic matcher says nothing (chosen on the development split of the
# labelled request set; docs/measurement-desk.md).
SEMANTIC_THRESHOLD = 0.75
# ... and the best node must beat the best node of another section by this much, or the request is ambiguous.
SEMANTIC_MARGIN = 0.05
# Words of at least this length that the vocabulary and the case do not know may be slips of a known word.
TYPO_MIN_LENGTH = 5

WEIGHTS = {
    "name": 2.0,
    "modality": 2.0,
    "specimen": 1.5,
    "system": 1.5,
    "part": 1.5,
    "manoeuvre": 1.0,
    "qualifier": 0.5,
    "generic": 0.2,
}
# Panels and what they hold, both ways round (rule 3 above).
PANELS = {
    "cbc": {"hemoglobin", "wbc", "platelet", "rbc", "hematocrit", "mcv", "differential"},
    "lft": {"alt", "ast", "alp", "ggt", "bilirubin", "albumin"},
    "electrolyte": {"sodium", "potassium", "chloride", "bicarbonate"},
    "metabolic": {
        "sodium",
        "potassium",
        "chloride",
        "bicarbonate",
        "glucose",
        "bun",
        "creatinine",
        "calcium",
        "electrolyte",
    },
    "coagulation": {"pt", "inr", "aptt", "fibrinogen", "bleeding_time"},
    "renal_function": {"creatinine", "bun"},
    "tft": {"tsh", "t4", "t3"},
    "iron": {"ferritin"},
    "sti": {"hiv", "syphilis", "chlamydia", "gonorrhea", "hepatitis"},
    "mental": {"appearance", "behaviour", "speech", "mood", "orientation", "thought", "perception", "memory"},
}

ROOTS = ("exam", "tests")


class TextEncoder(Protocol):
    """A sentence embedder (retrieval's MiniLM, injected: agents never import retrieval)."""

    def embed_texts(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True, eq=False)
class Node:
    path: tuple[str, ...]  # ("tests", "Blood_Tests", "Complete_Blood_Count")
    value: object

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclass
class _Entry:
    node: Node
    own: frozenset[str]  # tokens of the node's own key (generic keys such as "Findings" take their parent's)
    path: frozenset[str]  # tokens of the key and every ancestor's
    below: frozenset[str]  # tokens of every descendant's key: where a study was done, when its views say so
    described: str  # the node as words, for the semantic matcher ("Abdominal Examination: Palpation")

    @property
    def root(self) -> str:
        return self.node.path[0]


@dataclass
class Request:
    """A request read as what it asks for (`required_all`: every one; `required_any`: at least one), what
    else it says (`tokens`, weighted in the score), and the cleaned words (for the semantic matcher)."""

    text: str
    tokens: dict[str, str]  # token -> kind
    required_all: frozenset[str]
    required_any: frozenset[str]
    words: str
    parts: list[str] = field(default_factory=list)  # "PT and aPTT": each listed test on its own
    purpose: frozenset[str] = frozenset()  # tokens only of the purpose ("... to assess for tenderness")
    kinds_asked: frozenset[str] = frozenset()  # a generic core ("blood tests ... for anaemia"): its classes

    @property
    def only_generic(self) -> bool:
        return not self.required_all and not self.required_any


@dataclass
class Match:
    nodes: list[Node]
    method: str  # "words" | "panel" | "class" | "semantic" | "missing"
    score: float = 0.0
    alternatives: list[str] = field(default_factory=list)


def walk(prefix: tuple[str, ...], tree: object) -> Iterator[Node]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            path = (*prefix, str(key))
            yield Node(path, value)
            yield from walk(path, value)


class RequestMatcher:
    """Every node of one case's exam and test trees, and the rules that pick nodes for a request."""

    def __init__(
        self, exam: object, tests: object, encoder: TextEncoder | None = None, threshold: float = SEMANTIC_THRESHOLD
    ):
        self.roots = {"exam": Node(("exam",), exam), "tests": Node(("tests",), tests)}
        self.entries = [self._entry(n) for root in ROOTS for n in walk((root,), self.roots[root].value)]
        self.case_words = {singular(w) for e in self.entries for key in e.node.path[1:] for w in normalise(key).split()}
        self.encoder = encoder
        self.threshold = threshold
        self._vectors: np.ndarray | None = None

    def _entry(self, node: Node) -> _Entry:
        keys = node.path[1:]
        own = _plain(concept_tokens(keys[-1]))
        if len(keys) > 1 and not own - {EXAM, LABS, IMAGING}:  # "Findings", "Results": the parent names it
            own = own | _plain(concept_tokens(keys[-2]))
        path: set[str] = {EXAM} if node.path[0] == "exam" else set()
        for key in keys:
            path |= _plain(concept_tokens(key))
        if node.path[0] == "tests" and len(keys) == 1 and is_blood_lab(keys[0]):
            own, path = own | {LABS}, path | {LABS}
        if node.path[0] == "tests" and own & MODALITIES:
            path.add(IMAGING)
        below: set[str] = set()
        for child in walk(node.path, node.value):
            below |= _plain(concept_tokens(child.path[-1]))
        described = ": ".join(k.replace("_", " ").strip() for k in keys)
        return _Entry(node, frozenset(own), frozenset(path), frozenset(below), described)

    # --- matching -----------------------------------------------------------------------------------------

    def match(self, text: str) -> Match:
        request = read_request(text, self._correct)
        if not request.tokens:
            return Match([], "missing")
        if request.parts and len(request.required_all) > 1:  # "CRP and CBC", "PT/INR": each on its own
            listed: list[Node] = []
            for part in request.parts:
                extra = read_request(part, self._correct)
                if extra.required_all:
                    listed += self._by_words(extra) or self._by_panel(extra) or self._by_content(extra)
            if listed:
                return Match(_outermost(listed), "words")
        found = self._by_words(request) or self._by_words(_with_systems(request)) or self._by_panel(request)
        if found:
            for part in request.parts:  # "PT and aPTT": the other listed tests too
                extra = read_request(part, self._correct)
                if extra.required_all and not extra.required_all <= request.required_all:
                    found = _outermost([*found, *(self._by_words(extra) or self._by_panel(extra))])
            return Match(found, "words")
        if request.only_generic or request.kinds_asked:
            found = self._by_class(request)
            if found:
                return Match(found, "class")
        for part in request.parts:  # listed tests, each named on its own ("ESR/CRP")
            extra = read_request(part, self._correct)
            if extra.required_all:
                found += self._by_words(extra) or self._by_panel(extra) or self._by_content(extra)
        if found:
            return Match(_outermost(found), "words")
        if set(request.required_any | request.required_all) == {
            "general"
        }:  # "general examination" of a case with no general section
            return Match([self.roots["exam"]], "class")
        found = self._by_content(request)
        if found:
            return Match(found, "content")
        return self._by_meaning(request)

    def _by_words(self, request: Request) -> list[Node]:
        if request.only_generic:
            return []
        scored: list[tuple[tuple[float, float], _Entry]] = []
        for entry in self.entries:
            if not self._fits(request, entry):
                continue
            core = sum(
                WEIGHTS.get(k, 1.0) for t, k in request.tokens.items() if t in entry.path and t not in request.purpose
            )
            excess = [
                t
                for t in entry.own
                if (t not in request.tokens or t in request.purpose) and kind(t) not in ("generic", "qualifier")
            ]
            purpose = sum(1.0 for t in request.purpose if t in entry.path)
            # The request's own words decide; what it is for ("... for splenomegaly") only breaks ties.
            scored.append(((core - 0.5 * len(excess), purpose), entry))
        if not scored:
            return []
        best = max(score for score, _ in scored)
        return _outermost([e.node for score, e in scored if score == best])

    def _fits(self, request: Request, entry: _Entry) -> bool:
        tokens = request.tokens
        if not any(self._has(entry.own, t) for t in tokens if tokens[t] != "generic"):
            return False  # its own key must name part of the request
        if not all(self._has(entry.path, t) for t in request.required_all):
            return False
        if request.required_any and not any(self._has(entry.path, t) for t in request.required_any):
            return False
        if EXAM in tokens and entry.root != "exam" and not any(tokens[t] in ("name", "modality") for t in tokens):
            return False  # an examination is not a test result
        if LABS in tokens and entry.root != "tests":
            return False
        if not _modality_fits(tokens, entry):
            return False
        return not _contradicts(tokens, entry.path | entry.below)

    def _possible(self, request: Request, entry: _Entry) -> bool:
        tokens = request.tokens
        if not _modality_fits(tokens, entry):
            return False
        if EXAM in tokens and entry.root != "exam" and not any(tokens[t] in ("name", "modality") for t in tokens):
            return False
        return not _contradicts(tokens, entry.path | entry.below)

    def _has(self, tokens: frozenset[str], token: str) -> bool:
        return token in tokens

    def _by_panel(self, request: Request) -> list[Node]:
        """A panel asked for and recorded as its members (where most of a section is the panel's members,
        the section), or a member asked for and its panel recorded as one line."""
        names = [t for t in request.required_all | request.required_any if t in PANELS]
        if names:
            members = set().union(*(PANELS[n] for n in names))
            hits = [e for e in self.entries if e.own & members and not e.path & (SPECIMENS - {"blood"})]
            by_parent: dict[tuple[str, ...], list[_Entry]] = {}
            for entry in hits:
                by_parent.setdefault(entry.node.path[:-1], []).append(entry)
            chosen: list[Node] = []
            for parent, found in by_parent.items():
                siblings = [e for e in self.entries if e.node.path[:-1] == parent]
                if len(parent) > 1 and len(found) * 2 > len(siblings):
                    chosen.append(next(e.node for e in self.entries if e.node.path == parent))
                else:
                    chosen.extend(e.node for e in found)
            return _outermost(chosen)
        if len(request.required_all) != 1:
            return []
        (member,) = request.required_all
        panels = {p for p, held in PANELS.items() if member in held}
        return [
            e.node for e in self.entries if e.root == "tests" and e.own & panels and not isinstance(e.node.value, dict)
        ]

    def _by_content(self, request: Request) -> list[Node]:
        """What the keys do not name but a recorded line does: a test recorded under another name ("Other
        findings: peripheral smear shows ..."), or a finding or place an examination line mentions ("the
        cremasteric reflex", "the swollen knee"). Tests give their one or two lines; an examination the section
        the line is in."""
        if request.required_all & MODALITIES:
            return []
        roots: tuple[str, ...] = ("tests", "exam")
        if request.required_all:
            wanted = set(request.required_all)
        else:
            wanted = {
                t
                for t, k in request.tokens.items()
                if k in ("name", "system", "part") and t not in request.purpose and t != "limb"
            }
            roots = ("exam",)
        if not wanted:
            return []
        hits = [
            e.node
            for e in self.entries
            if e.root in roots
            and not isinstance(e.node.value, dict)
            and self._possible(request, e)
            and all(_mentions(_plain(concept_tokens(_text(e.node.value))) | e.path, t) for t in wanted)
        ]
        if not request.required_all:
            hits = _outermost([next(x.node for x in self.entries if x.node.path == h.path[:2]) for h in hits])
        return hits if 0 < len(hits) <= 2 else []

    def _by_class(self, request: Request) -> list[Node]:
        """A request that names only a kind of result: the whole examination, every blood laboratory section,
        every imaging study."""
        tokens = request.kinds_asked or request.tokens
        if LABS in tokens:
            return [e.node for e in self.entries if len(e.node.path) == 2 and LABS in e.own]
        if IMAGING in tokens:
            return _outermost(
                [e.node for e in self.entries if e.root == "tests" and (e.own & MODALITIES or IMAGING in e.own)]
            )
        if EXAM in tokens:
            return [self.roots["exam"]]
        return []

    def _by_meaning(self, request: Request) -> Match:
        if self.encoder is None or not request.words or not self.entries:
            return Match([], "missing")
        if self._vectors is None:
            self._vectors = self.encoder.embed_texts([e.described for e in self.entries])
        query = self.encoder.embed_texts([request.words])[0]
        # The rules that make a node impossible still hold: another modality, body part, system or specimen.
        allowed = np.array([self._possible(request, e) for e in self.entries])
        scores = np.where(allowed, self._vectors @ query, -1.0)
        order = np.argsort(-scores)
        best = int(order[0])
        top = float(scores[best])
        alternatives = [f"{self.entries[int(i)].node.dotted} {scores[int(i)]:.2f}" for i in order[:3]]
        if top < self.threshold:
            return Match([], "missing", top, alternatives)
        section = self.entries[best].node.path[:2]
        rival = next((float(scores[int(i)]) for i in order[1:] if self.entries[int(i)].node.path[:2] != section), -1.0)
        if top - rival < SEMANTIC_MARGIN:
            return Match([], "missing", top, alternatives)
        return Match([self.entries[best].node], "semantic", top, alternatives)

    def _correct(self, word: str) -> str:
        """A misspelt word read as the known one it is a slip of ("rasie" -> "raise", "opthalmology" ->
        "ophthalmology"): letters swapped, or one letter off in a long word. Other words stay as they are
        (a name such as "Wright" is not "weight")."""
        if len(word) < TYPO_MIN_LENGTH or not word.isalpha():
            return word
        if {word, singular(word)} & (self.case_words | known_words()):
            return word
        return next((c for c in sorted(known_words() | self.case_words) if _slip_of(word, c)), word)


def _slip_of(word: str, known: str) -> bool:
    if abs(len(word) - len(known)) > 1 or DamerauLevenshtein.distance(word, known) != 1:
        return False
    return sorted(word) == sorted(known) or min(len(word), len(known)) >= 7


def _mentions(text_tokens: frozenset[str], token: str) -> bool:
    """A recorded line mentions the token, allowing a slip in a long word ("Cremastric reflex")."""
    return token in text_tokens or (len(token) >= 7 and any(_slip_of(token, t) for t in text_tokens))


def _text(value: object) -> str:
    return " ".join(str(v) for v in value) if isinstance(value, list) else str(value)


def _plain(tokens: frozenset[str]) -> frozenset[str]:
    return frozenset(plain(t) for t in tokens)


def _modality_fits(tokens: dict[str, str], entry: _Entry) -> bool:
    """A named modality must be the node's (or the node an imaging study of unnamed kind: "Head imaging");
    a node that is an imaging study is not what a request without modality asks for ("abdomen" is not an
    abdominal CT)."""
    modalities = {t for t in tokens if t in MODALITIES}
    if modalities and not modalities <= entry.path:
        return IMAGING in entry.own and not entry.path & MODALITIES
    return not ((entry.own & MODALITIES or IMAGING in entry.own) and not modalities and IMAGING not in tokens)


def _contradicts(tokens: dict[str, str], node: frozenset[str]) -> bool:
    """The request names a body part, system or specimen and the node names only other ones."""
    firm = {t for t, k in tokens.items() if k != "qualifier"}
    for group in (SYSTEMS, PARTS, SPECIMENS):
        asked, there = firm & group, node & group
        if not asked or not there:
            continue
        if group is PARTS:
            asked = asked | {o for t in asked for o in PART_OVERLAPS.get(t, ())}
        if group is PARTS:
            # "limb" holds every named limb part (a leg examination covers the knee), but two named parts
            # must meet: a foot X-ray is not a hip-and-knee X-ray
            named_asked, named_there = asked - {"limb"}, there - {"limb"}
            if named_asked and named_there:
                if not named_asked & named_there:
                    return True
                continue
            if (named_asked or named_there) <= LIMB_PARTS and "limb" in asked | there:
                continue
        if not asked & there:
            return True
    return False


def _with_systems(request: Request) -> Request:
    """An examination of a body part also read as an examination of its system ("the knee" -> the
    musculoskeletal examination), for cases that record no section of the part's own."""
    extra = {PART_SYSTEMS[t] for t in request.required_any if t in PART_SYSTEMS} - set(request.tokens)
    if request.required_all or not extra:
        return Request(request.text, {}, frozenset(), frozenset(), "")
    tokens = {**request.tokens, **{system: "system" for system in extra}}
    required_any = frozenset({PART_SYSTEMS.get(t, t) for t in request.required_any})
    return Request(request.text, tokens, request.required_all, required_any, request.words)


def _outermost(nodes: Sequence[Node]) -> list[Node]:
    """Drop matches nested inside another match (the parent's text already holds them), and duplicates."""
    unique = list({n.path: n for n in nodes}.values())
    return [n for n in unique if not any(o is not n and n.path[: len(o.path)] == o.path for o in unique)]


# --- reading the request ---------------------------------------------------------------------------------

# Lead-ins that say nothing about what is wanted ("Can I please get a ...", "Let's order ...").
_LEAD_IN = re.compile(
    r"^(?:(?:can|could|may|shall|should|would|will) (?:i|we|you)(?: please)? |i (?:would|d|will|ll|want to|need to)"
    r"(?: like to)? |let s |lets |let me |we (?:should|need to|will) |please |now |next |then |also |and |first |"
    r"i am going to |go ahead and |ok |okay |kindly |to )+"
)
# Verbs that only say "give me": dropped. Verbs that are manoeuvres (examine, palpate, listen) stay words.
_ORDER_VERBS = re.compile(
    r"^(?:perform|performing|do|doing|order|ordering|obtain|get|getting|request|run|send|send off|check|"
    r"take|carry out|conduct|arrange|measure|review|show me|give me|have|repeat|record|compare|"
    r"what (?:is|are|were|was)|what s|how (?:is|are)|any|a|an|the|some|is there|are there|results? of|"
    r"report of|findings of|i)\b ?"
)
# Where the purpose starts: "... to assess for tenderness", "... for anaemia", "... looking for ...".
_PURPOSE = re.compile(
    r"\b(?:to (?:assess|check|evaluate|rule|look|confirm|exclude|see|determine|identify|investigate|screen|detect|"
    r"measure|monitor|search|find|test|ascertain|establish|document|quantify|characteri[sz]e|visuali[sz]e|"
    r"differentiate|distinguish|diagnose|r o|ro)|in order to|looking for|look for|for (?:signs|evidence|any|possible|"
    r"suspected|presence)|for|because|given|due to|r o|rule out|ruling out|as|since|regarding|re|focusing on|"
    r"with focus on|in view of|in case of|if|which|that|so)\b"
)
# What separates listed tests ("PT and aPTT", "ESR/CRP", "CBC, CRP").
_LIST = re.compile(r"\s*(?:,|/|&|\+|;|\band\b|\bplus\b|\bor\b)\s*", re.IGNORECASE)


def read_request(text: str, correct=lambda w: w) -> Request:
    words = normalise(text)
    words = re.sub(r"^(?:test|image|imaging|request|order)\s+", "", words) if ":" in text[:10] else words
    previous = None
    while previous != words:  # lead-ins and order verbs can stack ("Can I please order a ...")
        previous = words
        words = _LEAD_IN.sub("", words)
        words = _ORDER_VERBS.sub("", words)
    words = " ".join(correct(w) for w in words.split())
    core, purpose = words, ""
    split = _PURPOSE.search(words)
    if split and split.start() > 0:
        core, purpose = words[: split.start()].strip(), words[split.end() :].strip()
    segments, purpose_segments = items(core), items(purpose) if purpose else []
    kinds_asked: frozenset[str] = frozenset()
    if not _specific(segments) and _specific(purpose_segments):  # "Examine for hepatosplenomegaly"
        kinds_asked = frozenset(plain(t) for s in segments for i in s for t in i.tokens if plain(t) in (LABS, IMAGING))
        segments, purpose_segments = segments + purpose_segments, []
    tokens: dict[str, str] = {}
    for item in (i for s in segments for i in s):
        for token in item.tokens:
            tokens.setdefault(plain(token), kind(token) if item.known else "name")
    purpose_only: set[str] = set()
    for item in (i for s in purpose_segments for i in s):
        for token in item.tokens:
            if plain(token) not in tokens:
                tokens[plain(token)] = "qualifier"
                purpose_only.add(plain(token))
    head = _head(segments)
    required_all: frozenset[str] = frozenset()
    required_any: frozenset[str] = frozenset()
    if head is None:  # only qualifiers ("Differential count"): the last of them is what is asked for
        head = next(
            (i for s in reversed(segments) for i in reversed(s) if any(kind(t) == "qualifier" for t in i.tokens)), None
        )
        if head is not None:
            head = Item(tuple(plain(t) for t in head.tokens), head.words, False)
            for token in head.tokens:
                tokens[token] = "name"
    places = {t for t, k in tokens.items() if k in ("system", "part") and t not in purpose_only}
    examining = EXAM in tokens or any(k == "manoeuvre" for k in tokens.values())
    if head is not None:
        head_kinds = {t: (kind(t) if head.known else "name") for t in head.tokens}
        named = {plain(t) for t, k in head_kinds.items() if k in ("name", "modality", "specimen")}
        if named and not head.known and examining and places:
            named = set()  # "Examine the leg for conjunctivitis": the place is what is asked, the word a detail
        if named:
            # Every test the first phrase names must be found ("24-hour urine protein", "CBC, CRP").
            first = next((s for s in segments if head in s), [])
            named |= {plain(t) for i in first if i.known for t in i.tokens if kind(t) == "name"}
            required_all = frozenset(named)
        else:
            required_any = frozenset(
                t for t, k in tokens.items() if k in ("system", "part", "manoeuvre") and t not in purpose_only
            )
    parts = [p for p in _LIST.split(core) if p.strip()] if _LIST.search(core) else []
    return Request(
        text,
        tokens,
        required_all,
        required_any,
        core,
        parts if len(parts) > 1 else [],
        frozenset(purpose_only),
        kinds_asked,
    )


def _specific(segments: list[list[Item]]) -> bool:
    return any(kind(t) not in ("generic", "qualifier") for s in segments for i in s for t in i.tokens)


def _head(segments: list[list[Item]]) -> Item | None:
    """The last phrase of the first segment that says something specific: what the request is for."""
    for segment in segments:
        specific = [i for i in segment if any(kind(t) not in ("generic", "qualifier") for t in i.tokens)]
        if specific:
            return specific[-1]
    return None
