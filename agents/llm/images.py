"""Images for a model that sees: an image file as an OpenAI image content part (a base64 `data:` URL).

The longest side is limited (roles.doctor.image_max_side): a larger image is scaled down with its proportions
kept and saved in its own kind (JPEG stays JPEG, anything else becomes PNG, lossless for radiographs); an image
within the limit in a format every vision server reads (PNG, JPEG, WebP, GIF) is sent as its file's bytes.
Encodings are cached per (file, size on disk, modification time, limit): with `keep_images` an encounter
resends its images every turn, and many episodes share one bank.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from agents.llm.base import LLMError

# Formats sent as they are when small enough (Pillow's format name -> MIME type).
_SENT_AS_IS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
_JPEG_QUALITY = 90
# Modes every server's image decoder shows as they are; others (16-bit or float greyscale, CMYK, ...) are
# converted first.
_EIGHT_BIT = ("1", "L", "LA", "P", "RGB", "RGBA")


@dataclass(frozen=True)
class EncodedImage:
    """One image as it is sent: its data URL and the size the model gets."""

    url: str
    width: int
    height: int
    mime: str


class ImageUnreadable(LLMError):
    """An image the doctor should be shown cannot be read (missing, not an image): the call is not made."""


def image_part(path: str, max_side: int) -> dict:
    """The OpenAI chat content part for the image file at `path`, its longest side at most `max_side`."""
    return {"type": "image_url", "image_url": {"url": encode_image(path, max_side).url}}


def encode_image(path: str, max_side: int) -> EncodedImage:
    file = Path(path)
    try:
        stat = file.stat()
    except OSError as error:
        raise ImageUnreadable(f"image {path}: cannot be read ({error.strerror or error})") from None
    return _encode(str(file.resolve()), stat.st_size, stat.st_mtime_ns, max_side)


@lru_cache(maxsize=256)
def _encode(path: str, size: int, mtime_ns: int, max_side: int) -> EncodedImage:
    """(size, mtime_ns) are part of the cache key only: a file rewritten in place is encoded again."""
    try:
        with Image.open(path) as opened:
            opened.load()
            kind = opened.format or ""
            width, height = opened.size
            if max(width, height) <= max_side and kind in _SENT_AS_IS and opened.mode in _EIGHT_BIT:
                data, mime = Path(path).read_bytes(), _SENT_AS_IS[kind]
            else:
                sent = _scaled(_eight_bit(opened), max_side)
                width, height = sent.size
                data, mime = _saved(sent, kind)
    except (OSError, UnidentifiedImageError, ValueError) as error:
        raise ImageUnreadable(f"image {path}: not a readable image ({error})") from None
    return EncodedImage(f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}", width, height, mime)


def _eight_bit(image: Image.Image) -> Image.Image:
    """16-bit and float greyscale stretched to 8 bits (its own darkest to brightest; a radiograph exported at
    16 bits would otherwise be clipped to white); other modes converted to RGB(A)."""
    if image.mode in _EIGHT_BIT:
        return image
    if image.mode.startswith(("I", "F")):
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
        return Image.fromarray(scaled.round().astype(np.uint8))
    return image.convert("RGBA" if "A" in image.getbands() else "RGB")


def _scaled(image: Image.Image, max_side: int) -> Image.Image:
    width, height = image.size
    longest = max(width, height)
    if longest <= max_side:
        return image
    size = (max(1, round(width * max_side / longest)), max(1, round(height * max_side / longest)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _saved(image: Image.Image, kind: str) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    if kind == "JPEG":
        image.convert("RGB").save(buffer, format="JPEG", quality=_JPEG_QUALITY)
        return buffer.getvalue(), "image/jpeg"
    image.save(buffer, format="PNG")
    return buffer.getvalue(), "image/png"
