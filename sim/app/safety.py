"""What the web app may serve and accept.

Gradio serves, besides its own frontend: `allowed_paths`, its upload/output cache (GRADIO_TEMP_DIR, by
default /tmp/gradio), its examples cache (./.gradio/cached_examples), static paths, and it proxies public
http(s) URLs through `/gradio_api/file=URL` and Spaces through `/gradio_api/proxy=`. The app narrows that
to the data directory: both caches are moved inside it, and `FileGuard` refuses every file request whose
target is a URL, contains a `..` segment, resolves outside the data directory, or lies in its private
folder. Images that live elsewhere (a configured case file's images) are copied in by `publish`.

This module must not import gradio: `prepare_environment` has to run before gradio is imported.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote

from PIL import Image, UnidentifiedImageError

from sim.app.paths import AppPaths

DEFAULT_MAX_UPLOAD_MB = 20
IMAGE_FORMATS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "BMP": "bmp", "WEBP": "webp"}
MAX_IMAGE_PIXELS = 64_000_000  # larger "images" are decompression bombs, not radiographs

_FILE_ROUTE = re.compile(r"^(?:/gradio_api)?/file[=/](?P<target>.*)$", re.DOTALL)
_PROXY_ROUTE = re.compile(r"^(?:/gradio_api)?/proxy=")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+:")  # http:, https:, data:, file: ... (not a C: drive)


class UploadRejected(ValueError):
    """An upload the app refuses; the message is shown to the user as is."""


def prepare_environment(paths: AppPaths) -> None:
    """Analytics off and Gradio's caches inside the data directory. Call before importing gradio."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["GRADIO_TEMP_DIR"] = str(paths.gradio)
    os.environ["GRADIO_EXAMPLES_CACHE"] = str(paths.gradio / "examples")


def is_inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


def has_traversal(text: str) -> bool:
    return ".." in re.split(r"[\\/]", text)


def file_request_refusal(path: str, raw_path: bytes, paths: AppPaths) -> str | None:
    """Why a request for a file must be refused, or None when it is not a file request or is fine."""
    raw = unquote(raw_path.decode("latin-1")) if raw_path else path
    if _PROXY_ROUTE.match(path) or _PROXY_ROUTE.match(raw):
        return "proxying is disabled"
    matches = [m for m in (_FILE_ROUTE.match(path), _FILE_ROUTE.match(raw)) if m]
    if not matches:
        return None
    for match in matches:
        target = match.group("target")
        for form in (target, unquote(target)):  # also catch double-encoded %252e%252e
            if has_traversal(form):
                return "'..' is not allowed in file paths"
            if _SCHEME.match(form) and not re.match(r"^[A-Za-z]:[\\/]", form):
                return "only local files of the data directory are served"
    target = Path(os.path.abspath(unquote(matches[0].group("target"))))
    if not is_inside(target, paths.data_dir):
        return "only files inside the data directory are served"
    if is_inside(target, paths.private):
        return "this file is private"
    return None


class FileGuard:
    """ASGI middleware: refuses file requests outside the data directory before Gradio sees them."""

    def __init__(self, app, paths: AppPaths):
        self.app = app
        self.paths = paths

    async def __call__(self, scope, receive, send):
        if scope.get("type") == "http":
            refusal = file_request_refusal(scope.get("path", ""), scope.get("raw_path", b""), self.paths)
            if refusal is not None:
                from starlette.responses import PlainTextResponse

                await PlainTextResponse(f"File not allowed: {refusal}.", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _check_size(path: Path, max_bytes: int, what: str) -> None:
    size = path.stat().st_size
    if size > max_bytes:
        raise UploadRejected(f"{what} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:g} MB")
    if size == 0:
        raise UploadRejected(f"{what} is empty")


def _digest(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def check_case_upload(uploaded: Path, paths: AppPaths, max_bytes: int, name: str | None = None) -> Path:
    """A case file from the browser: .jsonl, within the size limit, UTF-8. Returns its copy in uploads/."""
    name = name or uploaded.name
    if Path(name).suffix.lower() != ".jsonl":
        raise UploadRejected(f"{name}: case files must be .jsonl (one JSON case per line)")
    _check_size(uploaded, max_bytes, name)
    try:
        with open(uploaded, encoding="utf-8") as handle:
            for _ in handle:
                pass
    except UnicodeDecodeError as error:
        raise UploadRejected(f"{name}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).stem)[:60] or "cases"
    target = paths.uploads / f"{_digest(uploaded)[:12]}-{stem}.jsonl"
    if not target.exists():
        shutil.copyfile(uploaded, target)
    return target


def image_format(path: Path) -> str | None:
    """The file extension of an image recognised by its content (not its name), or None."""
    try:
        with Image.open(path) as image:
            kind = image.format
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    if kind not in IMAGE_FORMATS or width * height > MAX_IMAGE_PIXELS:
        return None
    return IMAGE_FORMATS[kind]


def check_image_upload(uploaded: Path, paths: AppPaths, max_bytes: int, name: str | None = None) -> Path:
    """An image from the browser, checked by content and size. Returns its copy in files/."""
    name = name or uploaded.name
    _check_size(uploaded, max_bytes, name)
    extension = image_format(uploaded)
    if extension is None:
        raise UploadRejected(f"{name}: not an image (PNG, JPEG, GIF, BMP or WebP, checked by content)")
    return _copy_in(uploaded, paths, extension)


def _copy_in(source: Path, paths: AppPaths, extension: str) -> Path:
    target = paths.files / f"{_digest(source)[:24]}.{extension}"
    if not target.exists():
        shutil.copyfile(source, target)
    return target


def publish(path: str | Path | None, paths: AppPaths) -> str | None:
    """A path the app may show for this image: itself when inside the data directory, else a copy made
    inside it (only for real images). None when there is nothing showable."""
    if not path:
        return None
    source = Path(path)
    if not source.is_file():
        return None
    if is_inside(source, paths.data_dir) and not is_inside(source, paths.private):
        return str(source.resolve())
    extension = image_format(source)
    return str(_copy_in(source, paths, extension)) if extension else None
