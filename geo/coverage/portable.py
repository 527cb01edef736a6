"""HTML maps that travel: their libraries copied beside them (relative links) or inlined into the file.

A folium page rendered with `geo.offline.use_local_assets` loads Leaflet & co. from the vendor folder.
Written to disk with absolute ``file://`` links, such a page breaks as soon as it is mailed or the folder
moves. Two portable forms instead:

* `copy_assets_beside`: the page links its libraries relatively (``vendor/leaflet/leaflet.js``) and the
  libraries it names are copied into that folder next to it, so the folder can be moved or zipped whole
  (what ``gandan coverage --out DIR`` writes);
* `inline_assets`: every script and stylesheet is put into the page itself, with the images and fonts
  the stylesheets refer to as ``data:`` URIs, so the one file works anywhere (the planner page's
  download).

Only the background tiles still come from the internet; without it the map shows the communes on grey.
"""

from __future__ import annotations

import base64
import mimetypes
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

__all__ = ["ASSETS_FOLDER", "asset_references", "copy_assets_beside", "inline_assets"]

ASSETS_FOLDER = "vendor"  # the folder, next to the HTML, that holds its libraries
# Fonts other than woff2 are fallbacks for old browsers: left out of an inlined page (an empty data URI).
_INLINE_FONTS = (".woff2",)
_FONT_SUFFIXES = (".woff", ".ttf", ".eot", ".otf", ".svg")
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")
_TAG = re.compile(
    r"""<script\b[^>]*\bsrc="(?P<src>[^"]+)"[^>]*>\s*</script>|<link\b[^>]*\bhref="(?P<href>[^"]+)"[^>]*>""",
    re.IGNORECASE,
)


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        url = values.get("src") if tag in ("script", "img", "iframe") else values.get("href") if tag == "link" else None
        if url:
            self.urls.append(url)


def asset_references(html: str) -> list[str]:
    """Every script, stylesheet, image and frame address the page names (in order)."""
    parser = _References()
    parser.feed(html)
    return parser.urls


def _local(url: str, base: str) -> str | None:
    """The path inside the vendor folder of a link made with ``base`` (None: another link)."""
    prefix = base.rstrip("/") + "/"
    return url[len(prefix):].split("?")[0].split("#")[0] if url.startswith(prefix) else None


def copy_assets_beside(html_path: str | Path, vendor_dir: str | Path, base: str = ASSETS_FOLDER) -> list[Path]:
    """Copy the libraries the page at ``html_path`` links under ``base/`` from ``vendor_dir`` beside it.

    Each library's whole folder is copied (its stylesheets refer to fonts and images next to them).
    Returns the folders copied.
    """
    html_path, vendor_dir = Path(html_path), Path(vendor_dir)
    target = html_path.parent / base
    libraries = sorted(
        {local.split("/")[0] for url in asset_references(html_path.read_text("utf-8")) if (local := _local(url, base))}
    )
    copied = []
    for library in libraries:
        source = vendor_dir / library
        if source.is_dir():
            shutil.copytree(source, target / library, dirs_exist_ok=True)
            copied.append(target / library)
    return copied


def _data_uri(path: Path) -> str:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".woff2":
        kind = "font/woff2"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _inline_css(css: str, folder: Path) -> str:
    """``css`` (from ``folder``) with its relative ``url(...)`` references as data URIs."""

    def replace(match: re.Match[str]) -> str:
        ref = match.group(2).strip()
        if ref.startswith(("data:", "#", "http:", "https:", "//")):
            return match.group(0)
        path = (folder / ref.split("?")[0].split("#")[0]).resolve()
        if path.suffix.lower() in _FONT_SUFFIXES and path.suffix.lower() not in _INLINE_FONTS:
            return "url(data:,)"
        if not path.is_file():
            return "url(data:,)"
        return f"url({_data_uri(path)})"

    return _CSS_URL.sub(replace, css)


def inline_assets(html: str, vendor_dir: str | Path, base: str) -> str:
    """``html`` with every script and stylesheet linked under ``base`` put into the page itself.

    Parameters
    ----------
    html
        A page rendered with its libraries at ``base`` (e.g. ``/static/vendor``, see `geo.offline`).
    vendor_dir
        The vendor folder those links point into.
    base
        The link prefix of the vendor folder in ``html``.
    """
    vendor_dir = Path(vendor_dir)

    def replace(match: re.Match[str]) -> str:
        url = match.group("src") or match.group("href")
        local = _local(url, base)
        if local is None or not (vendor_dir / local).is_file():
            return match.group(0)
        path = vendor_dir / local
        text = path.read_text("utf-8")
        if match.group("src"):
            return "<script>" + text.replace("</script", "<\\/script") + "</script>"
        if path.suffix == ".css":
            return "<style>" + _inline_css(text, path.parent).replace("</style", "<\\/style") + "</style>"
        return match.group(0)

    return _TAG.sub(replace, html)
