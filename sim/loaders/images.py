"""Remote case images: fetched and cached only when the caller allows network access.

A run must not touch the network unless asked (benchmarks are offline by default, and a remote site
may be down or slow). So a remote image is described, not fetched, by default; a case whose image
cannot be had still loads, with the image marked unavailable and the reason kept for reports.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from sim.core.case import CaseImage

DEFAULT_TIMEOUT_S = 10.0
MAX_IMAGE_BYTES = 20_000_000
_SUFFIXES = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp"}


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "clinsim" / "images"


def remote_image(
    url: str,
    *,
    fetch: bool = False,
    cache_dir: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> CaseImage:
    """A CaseImage for `url`: the cached copy if there is one, a fresh download if allowed, else unavailable."""
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:24]
    cached = _cached_copy(cache_dir, key)
    if cached is not None:
        return CaseImage(url=url, path=str(cached))
    if not fetch:
        return CaseImage(
            url=url,
            available=False,
            unavailable_reason="image fetching is off (fetch_images=False) and it is not cached",
        )
    try:
        path = _download(url, cache_dir, key, timeout)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return CaseImage(url=url, available=False, unavailable_reason=f"could not fetch image: {_reason(exc)}")
    return CaseImage(url=url, path=str(path))


def _cached_copy(cache_dir: Path, key: str) -> Path | None:
    if not cache_dir.is_dir():
        return None
    done = sorted(p for p in cache_dir.glob(f"{key}.*") if p.suffix != ".part")
    return done[0] if done else None


def _download(url: str, cache_dir: Path, key: str, timeout: float) -> Path:
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        raise ValueError("only http(s) image URLs are fetched")
    request = urllib.request.Request(url, headers={"User-Agent": "clinsim-case-loader"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # http(s) URLs from case files
        content_type = (response.headers.get_content_type() or "").lower()
        if not content_type.startswith("image/"):
            raise ValueError(f"server sent {content_type or 'no content type'}, not an image")
        data = response.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError(f"image is larger than {MAX_IMAGE_BYTES:,} bytes")
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"{key}{_SUFFIXES.get(content_type, '.img')}"
    partial = target.with_suffix(target.suffix + ".part")
    partial.write_bytes(data)
    partial.replace(target)  # atomic: a concurrent loader never sees half an image
    return target


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


# --- a local folder of case images (offline) ------------------------------------------------------------

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"})
# Query parameters that name an image on sites that serve it from a script (NEJM: ...images?id=IC20240111&...).
_NAME_PARAMETERS = ("id", "image", "img", "file", "filename", "name")


def url_file_names(url: str) -> list[str]:
    """The names a saved copy of `url` goes by: the last segment of its path when that is a file name (it has a
    suffix: ".../IC20240111.jpg"), and the value of a parameter naming the image (NEJM's `?id=IC20240111`)."""
    parts = urllib.parse.urlsplit(url)
    names = []
    last = urllib.parse.unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    if Path(last).suffix:
        names.append(last)
    names += [value for key, value in urllib.parse.parse_qsl(parts.query) if key.lower() in _NAME_PARAMETERS and value]
    return list(dict.fromkeys(names))


class ImageFolder:
    """The image files of one folder, found by a case's id or its image URL's file name (whole file name or
    without its suffix, letter case ignored): `agentclinic-nejm-909c7af23c.jpg`, `IC20240111.jpg`."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise NotADirectoryError(f"{self.folder}: not a folder of images")
        self._by_name: dict[str, list[Path]] = {}
        for path in sorted(self.folder.iterdir()):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                for key in {path.name.casefold(), path.stem.casefold()}:
                    self._by_name.setdefault(key, []).append(path)

    def names(self, case_id: str, url: str) -> list[str]:
        """What a case's image file may be called, in the order they are looked for."""
        return list(dict.fromkeys([case_id, *url_file_names(url)]))

    def find(self, case_id: str, url: str) -> Path | None:
        """The case's image file, or None. Raises ValueError when one name fits several files
        (`IC20240111.jpg` and `IC20240111.png`): which one is meant cannot be told."""
        for name in self.names(case_id, url):
            found = self._by_name.get(name.casefold(), [])
            if len(found) > 1:
                raise ValueError(
                    f"{len(found)} files in {self.folder} are named '{name}' "
                    f"({', '.join(p.name for p in found)}); keep one"
                )
            if found:
                return found[0]
        return None
