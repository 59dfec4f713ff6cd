"""Synthetic non-radiographs for outlier exposure during training.

Mixed into training batches with one fixed report ("Not a chest radiograph."), they teach the embedder
to put whatever is not a radiograph far from every radiograph, which is what the k-NN OOD score reads.
Three families, none of them a photograph (photographs are what the benchmark tests against):
white noise, 1/f ("natural-image-like") noise, and random coloured shapes.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

OUTLIER_REPORT = "Not a chest radiograph."


def synthetic_outliers(n: int, size: int, seed: int) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    makers = (_white_noise, _pink_noise, _shapes)
    return [makers[i % len(makers)](rng, size) for i in range(n)]


def _white_noise(rng: np.random.Generator, size: int) -> Image.Image:
    channels = 3 if rng.random() < 0.5 else 1
    pixels = rng.normal(rng.uniform(60, 190), rng.uniform(15, 80), (size, size, channels))
    return _image(pixels)


def _pink_noise(rng: np.random.Generator, size: int) -> Image.Image:
    """Noise with a 1/f^alpha spectrum: smooth structure at every scale, like natural images."""
    alpha = rng.uniform(1.0, 2.5)
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    falloff = 1 / np.maximum(np.hypot(fx, fy), 1 / size) ** alpha
    channels = []
    for _ in range(3 if rng.random() < 0.5 else 1):
        phase = np.exp(2j * np.pi * rng.random(falloff.shape))
        field = np.fft.irfft2(falloff * phase, s=(size, size))
        channels.append((field - field.mean()) / (field.std() + 1e-9) * rng.uniform(30, 70) + rng.uniform(70, 180))
    return _image(np.stack(channels, axis=-1))


def _shapes(rng: np.random.Generator, size: int) -> Image.Image:
    image = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 9))):
        x0, y0 = rng.integers(0, size, 2)
        x1, y1 = x0 + rng.integers(4, size // 2 + 1), y0 + rng.integers(4, size // 2 + 1)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([int(x0), int(y0), int(x1), int(y1)], fill=colour)
    return image


def _image(pixels: np.ndarray) -> Image.Image:
    pixels = np.clip(pixels, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
