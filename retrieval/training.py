"""Contrastive training of a small open_clip model on image-report pairs, on CPU.

The checkpoint is a plain state dict that open_clip loads with
`create_model_and_transforms(ARCHITECTURE, pretrained=PATH)` once the project's architectures are
registered; a JSON sidecar (`PATH.json`) records the architecture and how the model was trained.

Losses: CLIP's symmetric InfoNCE, or SigLIP's pairwise sigmoid loss. Both treat pairs whose reports are
identical as positives rather than negatives: templated reports (PneumoniaMNIST, short normal reports)
repeat inside a batch, and calling an identical report a negative would fight the objective itself.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from retrieval.datasets import Pair
from retrieval.embedders.base import load_image

Loss = Literal["clip", "siglip"]
LOSSES: tuple[Loss, ...] = ("clip", "siglip")
ARCHITECTURES: dict[str, str] = {"clip": "clinsim-tiny", "siglip": "clinsim-tiny-sigmoid"}


@dataclass(frozen=True)
class TrainConfig:
    loss: Loss = "clip"
    steps: int = 300
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 0.05
    warmup_steps: int = 20
    seed: int = 0
    augment: bool = True  # small shifts, scalings and rotations; never flips (left/right is a finding)
    # Outlier exposure: this many synthetic non-radiographs join each batch (see retrieval/outliers.py).
    outliers_per_batch: int = 8
    # Run the text tower on the positions a batch uses (exact; see encode_text_trimmed). False: on all of the
    # context, as open_clip does; kept so `clinsim bench perf` can measure what trimming saves.
    trim_text: bool = True

    @property
    def architecture(self) -> str:
        return ARCHITECTURES[self.loss]


@dataclass
class TrainResult:
    checkpoint: Path
    architecture: str
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    n_pairs: int = 0

    def first_loss(self, window: int = 10) -> float:
        return float(np.mean(self.losses[:window]))

    def last_loss(self, window: int = 10) -> float:
        return float(np.mean(self.losses[-window:]))


def sidecar_path(checkpoint: Path) -> Path:
    return Path(f"{checkpoint}.json")


def read_sidecar(checkpoint: Path) -> dict:
    path = sidecar_path(checkpoint)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def contrastive_loss(image_features, text_features, logit_scale, text_ids, loss: Loss, logit_bias=None):
    """CLIP or SigLIP loss on L2-normalised features; `text_ids` equal => the pair counts as positive."""
    import torch
    import torch.nn.functional as F

    logits = logit_scale * image_features @ text_features.T
    same = (text_ids[:, None] == text_ids[None, :]).float()
    if loss == "clip":
        targets = same / same.sum(dim=1, keepdim=True)  # symmetric, so it serves both directions
        return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
    if logit_bias is not None:
        logits = logits + logit_bias
    return -F.logsigmoid((2 * same - 1) * logits).sum() / torch.tensor(float(len(logits)))


def batch_text_features(model, tokens, text_ids, trim: bool = True):
    """Normalised text features of a batch's rows. Each distinct report goes through the text tower once (a
    report repeats across cases, and every outlier row has the same one) and its features are copied to its
    rows, which leaves the loss and its gradient as if every row had been encoded (a test checks both)."""
    import torch

    from retrieval.embedders.open_clip_embedder import encode_text_trimmed

    _, first, rows = np.unique(np.asarray(text_ids), return_index=True, return_inverse=True)
    distinct = tokens[torch.as_tensor(first)]
    features = (
        encode_text_trimmed(model, distinct, normalize=True) if trim else model.encode_text(distinct, normalize=True)
    )
    return features[torch.as_tensor(rows.reshape(-1))]


def train_embedder(
    pairs: list[Pair],
    out: Path,
    config: TrainConfig = TrainConfig(),
    on_step: Callable[[int, float], None] | None = None,
    source: str = "",
) -> TrainResult:
    """Train from scratch on `pairs`, save to `out` (+ sidecar). `on_step(step, loss)` drives progress bars."""
    import open_clip
    import torch

    from retrieval.embedders.open_clip_embedder import configure_torch_threads, register_project_architectures

    if len(pairs) < 2:
        raise ValueError("training needs at least 2 image-report pairs")
    register_project_architectures()
    configure_torch_threads()
    keep_freed_memory()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    started = time.perf_counter()

    model, _, preprocess = open_clip.create_model_and_transforms(config.architecture)
    # Channels-last convolutions: oneDNN's faster layout on CPU (measured side by side: a step 190-201 ->
    # 175 ms, the image tower's forward 22 -> 15 ms). The checkpoint is saved in the usual layout.
    model = model.to(memory_format=torch.channels_last)
    tokenizer = open_clip.get_tokenizer(config.architecture)
    images = torch.stack([preprocess(load_image(pair.image).convert("RGB")) for pair in pairs])
    tokens = tokenizer([pair.report for pair in pairs])
    _, report_ids = np.unique([pair.report for pair in pairs], return_inverse=True)
    text_ids = torch.as_tensor(report_ids)
    outliers = _outlier_batch_source(config, preprocess, tokenizer, int(text_ids.max()) + 1)

    # The fused kernel: one pass over all parameters instead of a loop of small ops per tensor (measured: a
    # step of the 8.3M-parameter model's optimizer 23.8 -> 2.5 ms; the 6.3M-row token embedding dominates).
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay, fused=True
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_cosine(config.warmup_steps, config.steps))
    generator = torch.Generator().manual_seed(config.seed)
    batch_size = min(config.batch_size, len(pairs))
    order: list[int] = []
    losses: list[float] = []
    model.train()
    for step in range(config.steps):
        if len(order) < batch_size:  # epochs of shuffled indices, drawn without replacement
            order.extend(rng.permutation(len(pairs)).tolist())
        batch, order = order[:batch_size], order[batch_size:]
        batch_images, batch_tokens, batch_ids = images[batch], tokens[batch], text_ids[batch]
        if outliers is not None:
            pick = torch.randint(len(outliers[0]), (config.outliers_per_batch,), generator=generator)
            batch_images = torch.cat([batch_images, outliers[0][pick]])
            batch_tokens = torch.cat([batch_tokens, outliers[1].expand(len(pick), -1)])
            batch_ids = torch.cat([batch_ids, outliers[2].expand(len(pick))])
        if config.augment:
            batch_images = _jitter(batch_images, generator)
        batch_images = batch_images.contiguous(memory_format=torch.channels_last)
        image_features = model.encode_image(batch_images, normalize=True)
        text_features = batch_text_features(model, batch_tokens, batch_ids, config.trim_text)
        logit_scale, logit_bias = model.logit_scale.exp(), getattr(model, "logit_bias", None)
        loss = contrastive_loss(image_features, text_features, logit_scale, batch_ids, config.loss, logit_bias)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        with torch.no_grad():  # CLIP's guard against a runaway temperature
            model.logit_scale.clamp_(0, math.log(100))
        losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(step + 1, losses[-1])

    model = model.eval().to(memory_format=torch.contiguous_format)
    seconds = time.perf_counter() - started
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.tmp")
    torch.save(model.state_dict(), temporary)
    temporary.replace(out)
    meta = {
        "architecture": config.architecture,
        "config": asdict(config),
        "source": source,
        "n_pairs": len(pairs),
        "seconds": round(seconds, 1),
        "torch_threads": torch.get_num_threads(),
        "first_loss": round(float(np.mean(losses[:10])), 4),
        "last_loss": round(float(np.mean(losses[-10:])), 4),
    }
    sidecar_path(out).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return TrainResult(out, config.architecture, losses, seconds, len(pairs))


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed blocks for reuse instead of handing them back to the kernel.

    Each training step allocates and frees the same tensors (the token embedding's 25 MB gradient among
    them); by default glibc serves blocks that large with fresh mmaps and trims freed heap tops, so every
    step page-faults its memory in again (measured side by side, two rounds of the whole first use: 68.0 /
    69.5 s before, 64.5 / 65.8 s after). It costs a little memory: a training process's peak 1,343 -> 1,401 MB
    (25 steps). Process-wide, so only training calls it. False where there is no glibc (nothing changes)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    # 32 MB is the largest mmap threshold glibc accepts on 64-bit systems (it refuses larger values).
    return bool(mallopt(_M_TRIM_THRESHOLD, 1 << 30)) and bool(mallopt(_M_MMAP_THRESHOLD, 32 << 20))


def _outlier_batch_source(config: TrainConfig, preprocess, tokenizer, text_id: int):
    """(images, the outlier report's tokens, its text id) for outlier exposure, or None when off."""
    import torch

    from retrieval.outliers import OUTLIER_REPORT, synthetic_outliers

    if config.outliers_per_batch <= 0:
        return None
    pool = synthetic_outliers(256, 96, seed=config.seed + 1)
    images = torch.stack([preprocess(image.convert("RGB")) for image in pool])
    return images, tokenizer([OUTLIER_REPORT]), torch.tensor([text_id])


def _warmup_cosine(warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


def _jitter(images, generator):
    """Per image: a random affine (scale 0.9-1.1, shift up to 6%, rotation up to 6 degrees) and exposure
    (contrast x0.8-1.2, brightness +-0.2 in normalised units): radiographs differ in both between machines."""
    import torch
    import torch.nn.functional as F

    n = images.shape[0]
    uniform = lambda low, high: low + (high - low) * torch.rand(n, generator=generator)
    angle = uniform(-0.1, 0.1)
    scale = uniform(0.9, 1.1)
    shift = torch.stack([uniform(-0.06, 0.06), uniform(-0.06, 0.06)], dim=1)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    moved = F.grid_sample(images, grid, padding_mode="border", align_corners=False)
    contrast = uniform(0.8, 1.2).view(n, 1, 1, 1)
    brightness = uniform(-0.2, 0.2).view(n, 1, 1, 1)
    return moved * contrast + brightness
