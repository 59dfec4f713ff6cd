"""Contrastive training of the small open_clip model: the loss falls, retrieval beats chance, and the
checkpoint is an ordinary open_clip checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from benchmark.retrieval.metrics import ranking_metrics
from retrieval.datasets import bank_pairs
from retrieval.training import TrainConfig, batch_text_features, contrastive_loss, read_sidecar, train_embedder
from sim.bank import generate_bank

STEPS = 30
# Four visually distinct conditions, 6 cases each: enough signal to learn in a few full-batch steps.
CONDITIONS = {"normal", "cardiomegaly", "effusion_left", "pneumothorax_right"}


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "bank"
    generate_bank(66, seed=3, out=out, size=96, bank="findings")  # 6 cases of each of the 11 conditions
    return out


def _pairs(bank):
    return [pair for pair in bank_pairs(bank) if pair.label in CONDITIONS]


@pytest.fixture(scope="module")
def trained(bank, tmp_path_factory):
    checkpoint = tmp_path_factory.mktemp("model") / "tiny.pt"
    config = TrainConfig(
        steps=STEPS, batch_size=24, learning_rate=6e-3, warmup_steps=5, augment=False, outliers_per_batch=0
    )
    return train_embedder(_pairs(bank), checkpoint, config, source="test bank")


def test_training_lowers_the_loss_and_writes_a_sidecar(trained):
    assert len(trained.losses) == STEPS
    assert trained.last_loss(5) < trained.first_loss(5) - 0.3
    meta = read_sidecar(trained.checkpoint)
    assert meta["architecture"] == "clinsim-tiny" and meta["config"]["steps"] == STEPS and meta["seconds"] > 0


def test_trained_model_retrieves_better_than_chance(trained, bank):
    from retrieval.embedders.open_clip_embedder import OpenClipEmbedder

    pairs = _pairs(bank)
    embedder = OpenClipEmbedder.load(trained.architecture, trained.checkpoint)
    images = embedder.embed_images([p.image for p in pairs])
    reports = embedder.embed_texts([p.report for p in pairs])
    labels = np.array([p.label for p in pairs])
    relevant = labels[:, None] == labels[None, :]
    trained_map = ranking_metrics(images @ reports.T, relevant).mean_average_precision
    chance_map = ranking_metrics(np.random.default_rng(0).random(relevant.shape), relevant).mean_average_precision
    assert trained_map > chance_map + 0.1


def test_checkpoint_reloads_in_open_clip(trained, bank):
    import open_clip
    import torch

    from retrieval.embedders.open_clip_embedder import OpenClipEmbedder, register_project_architectures

    register_project_architectures()
    model, _, preprocess = open_clip.create_model_and_transforms("clinsim-tiny", pretrained=str(trained.checkpoint))
    model.eval()
    image = bank_pairs(bank)[0].image
    with torch.no_grad():
        direct = model.encode_image(preprocess(open_clip_rgb(image)).unsqueeze(0), normalize=True).numpy()
    ours = OpenClipEmbedder.load("clinsim-tiny", trained.checkpoint).embed_images([image])
    assert np.allclose(direct, ours, atol=1e-5)


def test_checkpoint_is_saved_in_the_usual_memory_layout(trained):
    # Training runs the convolutions channels-last; a checkpoint in that layout would load, but slowly and
    # with strides other tools do not expect.
    import torch

    state = torch.load(trained.checkpoint, weights_only=True)
    convolutions = [name for name, tensor in state.items() if tensor.dim() == 4]
    assert convolutions and all(state[name].is_contiguous() for name in convolutions)


def test_training_keeps_freed_memory_for_reuse_on_glibc():
    import platform

    from retrieval.training import keep_freed_memory

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt is glibc's; elsewhere keep_freed_memory changes nothing and says so")
    assert keep_freed_memory() is True
    assert np.ones((64, 1 << 16), dtype=np.float32).sum() == 64 << 16  # allocation still works after it


def open_clip_rgb(path):
    from PIL import Image

    return Image.open(path).convert("RGB")


def test_training_is_deterministic(bank, tmp_path):
    config = TrainConfig(steps=3, batch_size=8, warmup_steps=1)
    first = train_embedder(_pairs(bank)[:16], tmp_path / "a.pt", config)
    second = train_embedder(_pairs(bank)[:16], tmp_path / "b.pt", config)
    assert first.losses == second.losses


@pytest.mark.parametrize("trim", [True, False])
def test_each_distinct_report_is_encoded_once_with_the_same_features_and_gradients(bank, trim):
    import open_clip
    import torch

    from retrieval.embedders.open_clip_embedder import register_project_architectures

    register_project_architectures()
    torch.manual_seed(0)
    model = open_clip.create_model("clinsim-tiny")
    tokenizer = open_clip.get_tokenizer("clinsim-tiny")
    reports = [pair.report for pair in bank_pairs(bank)[:6]]
    texts = [reports[i] for i in (0, 1, 0, 2, 1, 0, 3)]  # repeats, as in a batch
    _, ids = np.unique(texts, return_inverse=True)
    tokens = tokenizer(texts)
    weights = torch.randn(len(texts), model.text_projection.shape[1])

    def gradient(features):
        model.zero_grad()
        (features * weights).sum().backward()
        return model.text_projection.grad.clone(), model.token_embedding.weight.grad.clone()

    every_row = model.encode_text(tokens, normalize=True)
    expected = gradient(every_row)
    deduplicated = batch_text_features(model, tokens, torch.as_tensor(ids), trim)
    assert torch.allclose(deduplicated, every_row.detach(), atol=1e-5)
    for got, want in zip(gradient(deduplicated), expected, strict=True):
        assert torch.allclose(got, want, atol=1e-5)
    calls = []
    model.transformer.register_forward_hook(lambda module, inputs, output: calls.append(len(inputs[0])))
    batch_text_features(model, tokens, torch.as_tensor(ids), trim)
    assert calls == [4]  # four distinct reports among the seven rows


def test_identical_reports_count_as_positives():
    import torch

    features = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), dim=1)
    same_text = torch.tensor([0, 0, 1])
    for loss in ("clip", "siglip"):
        # Rows 0 and 1 share a report: matching both is the perfect answer, not a mistake.
        perfect = contrastive_loss(features, features, torch.tensor(30.0), same_text, loss, torch.tensor(-5.0))
        confused = contrastive_loss(features, features.flip(0), torch.tensor(30.0), same_text, loss, torch.tensor(-5.0))
        assert perfect < confused


def test_siglip_training_with_outlier_exposure_runs(bank, tmp_path):
    result = train_embedder(_pairs(bank)[:16], tmp_path / "s.pt", TrainConfig(loss="siglip", steps=3, batch_size=8))
    assert result.architecture == "clinsim-tiny-sigmoid" and np.isfinite(result.losses).all()


def test_cli_trains_and_the_bank_spec_reuses_the_checkpoint(bank, tmp_path):
    from retrieval.embedder_registry import bank_checkpoint_path, ensure_bank_checkpoint, make_embedder
    from retrieval.embedders.open_clip_embedder import EmbedderUnavailable
    from sim.cli.main import app
    from tests.helpers import scripted_settings

    out = tmp_path / "cli.pt"
    result = CliRunner().invoke(app, ["embedder", "train", "--source", str(bank), "--steps", "2", "--batch-size", "8",
                                      "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.is_file() and "trained in" in result.output
    settings = scripted_settings(tmp_path)
    embedder = make_embedder(str(out), settings)
    assert embedder.embed_images([bank_pairs(bank)[0].image]).shape == (1, 128)

    with pytest.raises(EmbedderUnavailable, match="not trained yet"):  # building an embedder never trains
        make_embedder("bank", settings)
    checkpoint = ensure_bank_checkpoint(settings.data_dir, steps=2, n_cases=11)
    assert checkpoint == bank_checkpoint_path(settings.data_dir)
    stamp = checkpoint.stat().st_mtime_ns
    assert make_embedder("bank", settings).dim == 128
    assert checkpoint.stat().st_mtime_ns == stamp  # loaded, not trained again


def test_cli_reports_a_missing_source(tmp_path):
    from sim.cli.main import app

    result = CliRunner().invoke(app, ["embedder", "train", "--source", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "not found" in result.output
