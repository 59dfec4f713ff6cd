"""open_clip image and text towers as one embedder.

Three ways to get weights, all through open_clip's own factory:
- an architecture name plus a local checkpoint file (`create_model_and_transforms(name, pretrained=PATH)`),
  which covers the project's own trained checkpoints (architectures in `retrieval/model_configs/`);
- an `hf-hub:org/name` model, which needs the network the first time;
- an architecture name alone, randomly initialised (only useful in tests and as an untrained baseline).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np

from retrieval.embedders.base import ImageInput, l2_normalise, load_image

MODEL_CONFIGS = Path(__file__).resolve().parents[1] / "model_configs"
_TRUE = {"1", "true", "yes", "on"}


class EmbedderUnavailable(RuntimeError):
    """The requested model cannot be loaded here (offline, missing file, unknown name); the message says why."""


def register_project_architectures() -> None:
    """Make open_clip know the project's small architectures (idempotent)."""
    import open_clip

    if not set(_project_architectures()) <= set(open_clip.list_models()):
        open_clip.add_model_config(MODEL_CONFIGS)


def _project_architectures() -> list[str]:
    return sorted(path.stem for path in MODEL_CONFIGS.glob("*.json"))


def configure_torch_threads() -> None:
    """Intra-op threads for these small CPU models: $CLINSIM_TORCH_THREADS if set; else one thread when the
    other processes already keep every core busy (measured here: on 2 shared cores with a load of 8, one
    thread ran a training step 5x faster than two, which spin-wait for each other), else up to 4."""
    import torch

    cores = os.cpu_count() or 1
    wanted = os.environ.get("CLINSIM_TORCH_THREADS", "").strip()
    if wanted.isdigit() and int(wanted) > 0:
        threads = int(wanted)
    elif busy_cores() >= cores:
        threads = 1
    else:
        threads = min(4, cores)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def busy_cores(samples: int = 5, interval_s: float = 0.01, loadavg: Path = Path("/proc/loadavg")) -> float:
    """How many cores other processes keep busy now: the mean count of runnable tasks in /proc/loadavg over
    a few samples, less this process's own. Not the 1-minute load average, which lags: a minute after
    both cores were busy it still reads 1.7-2 on an idle machine (measured), which would put the first-use
    training that follows `make`'s compile on one thread (302 against 321 ms a step on 2 threads vs 1,
    side by side here). Falls back to that average where /proc is missing."""
    counts = []
    for index in range(samples):
        try:
            counts.append(int(loadavg.read_text().split()[3].split("/")[0]) - 1)
        except (OSError, IndexError, ValueError):
            break
        if index + 1 < samples:
            time.sleep(interval_s)
    if counts:
        return sum(counts) / len(counts)
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def file_digest(path: Path, length: int = 10) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]


class OpenClipEmbedder:
    """Embeds images with `encode_image` and texts with `encode_text`, batched, without gradients."""

    def __init__(self, model, preprocess, tokenizer, name: str, batch_size: int = 64) -> None:
        model.eval()
        self.model = model
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.name = name
        self.batch_size = batch_size
        self.dim = int(model.visual.output_dim)

    @classmethod
    def load(cls, architecture: str, checkpoint: Path | None = None, batch_size: int = 64) -> OpenClipEmbedder:
        """An architecture known to open_clip (built-in or the project's), with weights from `checkpoint`."""
        import open_clip

        register_project_architectures()
        configure_torch_threads()
        if architecture not in open_clip.list_models():
            raise EmbedderUnavailable(
                f"unknown open_clip architecture {architecture!r}; the project's own are {_project_architectures()}"
            )
        if checkpoint is not None and not Path(checkpoint).is_file():
            raise EmbedderUnavailable(f"checkpoint {checkpoint} not found")
        pretrained = str(checkpoint) if checkpoint is not None else None
        model, _, preprocess = open_clip.create_model_and_transforms(architecture, pretrained=pretrained)
        weights = f"{file_digest(Path(checkpoint))}" if checkpoint is not None else "random"
        name = f"openclip-{architecture}-{weights}"
        return cls(model, preprocess, open_clip.get_tokenizer(architecture), name, batch_size)

    @classmethod
    def from_hub(cls, spec: str, batch_size: int = 64) -> OpenClipEmbedder:
        """`hf-hub:org/name`. Fails with a clear message when the hub cannot be reached."""
        import open_clip

        if hub_offline():
            raise EmbedderUnavailable(
                f"{spec} needs the network but HF_HUB_OFFLINE is set; run once online to fill the Hugging Face "
                "cache, or use a local checkpoint path or 'bank'"
            )
        configure_torch_threads()
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(spec)
            tokenizer = open_clip.get_tokenizer(spec)
        except Exception as error:  # network, missing repo, or a repo that is not an open_clip model
            raise EmbedderUnavailable(f"could not load {spec} from the Hugging Face hub: {error}") from error
        name = "openclip-hub-" + spec.removeprefix("hf-hub:").replace("/", "--")
        return cls(model, preprocess, tokenizer, name, batch_size)

    def embed_images(self, images: list[ImageInput]) -> np.ndarray:
        import torch

        rows = []
        with torch.no_grad():
            for start in range(0, len(images), self.batch_size):
                # Radiographs are often grayscale or 16-bit: convert so the RGB preprocessing accepts them.
                batch = [
                    self.preprocess(_as_rgb(load_image(image))) for image in images[start : start + self.batch_size]
                ]
                rows.append(self.model.encode_image(torch.stack(batch)).float().numpy())
        return _stack(rows, self.dim)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        import torch

        rows = []
        with torch.no_grad():
            for start in range(0, len(texts), self.batch_size):
                tokens = self.tokenizer(list(texts[start : start + self.batch_size]))
                rows.append(encode_text_trimmed(self.model, tokens).float().numpy())
        return _stack(rows, self.dim)


def encode_text_trimmed(model, tokens, normalize: bool = False):
    """`model.encode_text(tokens, normalize)` computed on the positions the batch uses. The text tower
    is causal and pools at each sequence's end-of-text token, so the padding after the longest sequence
    cannot change the features; skipping it more than halves the text tower's cost on bank reports (about
    65 of 128 positions used; measured: the text tower was 80% of a training step, and most of a bank
    ingest's report stage)."""
    import torch.nn.functional as F
    from open_clip.transformer import text_global_pool

    exact = (
        getattr(model, "text_pool_type", "") == "argmax"
        and getattr(model, "attn_mask", None) is not None
        and getattr(model, "positional_embedding", None) is not None
    )
    if not exact:  # another kind of text tower: open_clip's own path
        return model.encode_text(tokens, normalize=normalize)
    used = int((tokens != 0).sum(dim=1).max())
    tokens = tokens[:, :used]
    x = model.token_embedding(tokens) + model.positional_embedding[:used]
    x = model.transformer(x, attn_mask=model.attn_mask[:used, :used])
    x = text_global_pool(
        model.ln_final(x), tokens, model.text_pool_type, eos_token_id=getattr(model, "text_eos_id", None)
    )
    x = x @ model.text_projection
    return F.normalize(x, dim=-1) if normalize else x


def _as_rgb(image):
    if image.mode == "RGB":
        return image
    if image.mode in ("I", "I;16", "I;16B", "F"):  # 16-bit and float images: rescale to 8 bits first
        array = np.asarray(image, dtype=np.float32)
        low, high = float(array.min()), float(array.max())
        scaled = (array - low) / (high - low) * 255 if high > low else np.zeros_like(array)
        from PIL import Image

        image = Image.fromarray(scaled.astype(np.uint8))
    return image.convert("RGB")


def _stack(rows: list[np.ndarray], dim: int) -> np.ndarray:
    return l2_normalise(np.concatenate(rows)) if rows else np.zeros((0, dim), dtype=np.float32)
