"""Folium pages that load their libraries from self-hosted copies instead of public CDNs.

folium writes ``<script>`` and ``<link>`` tags that load Leaflet, jQuery, Bootstrap, Font Awesome, the
awesome-markers plugin (and d3 for branca colour scales) from public CDNs. When those libraries are
copied into one folder (the *vendor folder*, laid out as `FOLIUM_ASSETS` says), `use_local_assets`
points a folium map, or any branca ``Figure``, at that folder: at the URL prefix it is served under by a
web server, or at its ``file://`` URI for a standalone file. The caller says where; this module knows
no folder of its own.

`use_local_assets` refuses (`MissingWebAsset`) to render a page that would still load something from a
CDN; `external_asset_urls` lists what a rendered page would fetch from another host.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any, TypeVar

from branca.element import CssLink, Element, Figure, JavascriptLink

from geo.errors import GandanError

__all__ = [
    "FOLIUM_ASSETS",
    "ROTATE_CSS",
    "LocalAssetsHeader",
    "MissingWebAsset",
    "external_asset_urls",
    "use_local_assets",
    "vendor_url",
]

# Not one of the copied npm files: the vendoring step writes it (folium's own rotate stylesheet).
ROTATE_CSS = "folium/leaflet.awesome.rotate.min.css"

# folium's (and branca's) names for its header links -> the local copy, relative to the vendor folder.
FOLIUM_ASSETS: dict[str, str] = {
    "leaflet": "leaflet/leaflet.js",
    "jquery": "jquery/jquery.min.js",
    "bootstrap": "bootstrap/js/bootstrap.bundle.min.js",
    "awesome_markers": "leaflet.awesome-markers/leaflet.awesome-markers.js",
    "leaflet_css": "leaflet/leaflet.css",
    "bootstrap_css": "bootstrap/css/bootstrap.min.css",
    "glyphicons_css": "glyphicons/css/glyphicons.min.css",
    "awesome_markers_font_css": "fontawesome-free/css/all.min.css",
    "awesome_markers_css": "leaflet.awesome-markers/leaflet.awesome-markers.css",
    "awesome_rotate_css": ROTATE_CSS,
    "d3": "d3/d3.min.js",
}


class MissingWebAsset(GandanError):
    """A page would load a library from the internet because no local copy of it is known."""

    type = "missing-web-asset"
    title = "No local copy of a web asset"
    status = 500


def vendor_url(path: str, base_url: str) -> str:
    """The URL of a vendored file (``path`` relative to the vendor folder served at ``base_url``)."""
    return f"{base_url.rstrip('/')}/{path.lstrip('/')}"


def _is_external(url: str) -> bool:
    return url.startswith(("http://", "https://", "//"))


def _localise(header: Any, base_url: str, strict: bool) -> None:
    """Point every CDN script/stylesheet link of a figure's header at its vendored copy."""
    missing = []
    for name, child in header._children.items():
        if not isinstance(child, (JavascriptLink, CssLink)) or not _is_external(child.url):
            continue
        local = FOLIUM_ASSETS.get(name)
        if local is None:
            missing.append(f"{name} ({child.url})")
        else:
            child.url = vendor_url(local, base_url)
    if missing and strict:
        raise MissingWebAsset(
            "no local copy of " + ", ".join(missing) + ": add the library to the vendored web assets and its "
            "folium name to geo.offline.FOLIUM_ASSETS",
            missing=missing,
        )


class LocalAssetsHeader(Element):
    """A figure header that points its CDN links at the vendored copies just before it renders.

    The header renders after every element of the figure has added its links (folium adds them while
    rendering), so rewriting here catches all of them, whatever the order the page was built in.

    Parameters
    ----------
    base_url
        Where the vendor folder is served (a URL prefix or the folder's ``file://`` URI).
    strict
        Raise `MissingWebAsset` for a CDN link without a local copy; when False leave it as it is.
    """

    def __init__(self, base_url: str, strict: bool = True) -> None:
        super().__init__()
        self._name = "Header"
        self.base_url = base_url
        self.strict = strict

    def render(self, **kwargs: Any) -> str:
        """Rewrite the CDN links, then render the links and styles as a plain header."""
        _localise(self, self.base_url, self.strict)
        rendered: str = super().render(**kwargs)
        return rendered


_E = TypeVar("_E")


def use_local_assets(element: _E, base_url: str, strict: bool = True) -> _E:
    """Make a folium map (or any branca element) load its libraries from ``base_url``, not from CDNs.

    Call it once, at any time before rendering: the links are rewritten when the figure renders its
    header, after every element (map, layers, plugins, colour scales) has added its own. The tile
    layer is not touched: tiles still come from the tile URL given to folium.

    Parameters
    ----------
    element
        A ``folium.Map``, a ``branca.element.Figure`` or any element inside one.
    base_url
        Where the vendor folder is served: a URL prefix (``/static/vendor``) or the folder's ``file://`` URI.
    strict
        Raise `MissingWebAsset` at render time when a link has no local copy (default); when False
        such links are left pointing at the internet.

    Returns
    -------
    The same ``element``, for chaining.

    Examples
    --------
    >>> import folium
    >>> m = use_local_assets(folium.Map(location=[21.03, 105.85], zoom_start=12), "/static/vendor")
    >>> external_asset_urls(m.get_root().render())
    []
    """
    figure = element.get_root()  # type: ignore[attr-defined]
    if not isinstance(figure, Figure):
        raise TypeError(f"{type(element).__name__} is not inside a branca Figure; add it to a map first")
    header = figure.header
    if isinstance(header, LocalAssetsHeader):
        header.base_url, header.strict = base_url, strict
        return element
    local = LocalAssetsHeader(base_url=base_url, strict=strict)
    # Take over the existing header: same children (meta tag, links added so far), same place.
    local._children = header._children
    local._parent = figure
    figure.header = local
    return element


class _AssetParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "audio", "video") and values.get("src"):
            self.urls.append(str(values["src"]))
        elif tag == "link" and values.get("href"):
            rel = (values.get("rel") or "").lower()
            if any(r in rel for r in ("stylesheet", "icon", "preload", "modulepreload", "manifest")):
                self.urls.append(str(values["href"]))


def external_asset_urls(html: str) -> list[str]:
    """The scripts, stylesheets, images and frames an HTML page would fetch from another host."""
    parser = _AssetParser()
    parser.feed(html)
    return [u for u in parser.urls if _is_external(u)]
