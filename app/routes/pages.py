"""``/map``: the citizen map (folium), its two light data layers, and the self-hosted front-end assets.

The page is a folium map (tiles from ``settings.tile_url``, three empty layers: communes, service
points, results) plus a panel and a script (``app/pages/map.html``, ``map.js``, ``map.css``). Every
answer the page shows comes from the API: ``/v1/procedures`` (search), ``/v1/nearest`` (results and
routes), ``/map/communes.geojson`` and ``/map/points.geojson`` below. Leaflet, Bootstrap, Font Awesome
and the other libraries are served from ``/static/vendor`` (see `app.assets`), so the page works
without the internet; only the background tiles need it.

`install` adds all of this to an app: the router, and the ``/static/vendor`` mount that other folium
pages (the planner map) reuse through `geo.offline.use_local_assets`.
"""

from __future__ import annotations

import hashlib
import html
import json
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import folium
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from folium.elements import JSCSSMixin
from folium.template import Template
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.assets import VENDOR_DIR, VENDOR_URL, require_web_assets
from app.dependencies import AtParam, ServiceDep, resolve_at
from app.responses import GEOJSON, GeoJSONResponse
from app.schemas import Problem
from geo.errors import DataProblem, DataValidationError, InvalidParameter, NotFound
from geo.modes import TRAVEL_MODES, TravelMode
from geo.offline import use_local_assets
from geo.simplify import light_geojson

__all__ = ["PAGES_DIR", "PAGES_URL", "STRINGS", "STRINGS_FILE", "install", "load_strings", "router"]

router = APIRouter(tags=["pages"])
PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"
PAGES_URL = "/static/pages"
PAGE_FILES = {"map.js": "text/javascript; charset=utf-8", "map.css": "text/css; charset=utf-8"}
COMMUNE_TOLERANCES = (10, 30, 100)  # metres; a short fixed list keeps the per-app cache bounded
RESULTS_K = 3
PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "content": {"application/problem+json": {}}},
    422: {"model": Problem, "content": {"application/problem+json": {}}},
    503: {"model": Problem, "content": {"application/problem+json": {}}},
}

Lang = Literal["vi", "en"]
LANGS: tuple[Lang, ...] = ("vi", "en")
STRINGS_FILE = PAGES_DIR / "strings.toml"


def load_strings(path: Path = STRINGS_FILE) -> dict[str, dict[str, str]]:
    """The pages' texts by language, ``{"vi": {key: text}, "en": {key: text}}``, from ``strings.toml``.

    Raises
    ------
    DataValidationError
        A key lacks its Vietnamese or English text (every such key is named).
    """
    with path.open("rb") as handle:
        table = tomllib.load(handle)
    problems = [
        DataProblem(path.name, "needs a non-empty vi and en text, and nothing else", id=key)
        for key, texts in table.items()
        if not isinstance(texts, dict)
        or set(texts) != set(LANGS)
        or not all(isinstance(text, str) and text for text in texts.values())
    ]
    if problems:
        raise DataValidationError(problems)
    return {lang: {key: texts[lang] for key, texts in table.items()} for lang in LANGS}


# Every text the pages show, read once; the map's script gets those of its language (formatting happens there).
STRINGS = load_strings()

_templates = Environment(
    loader=FileSystemLoader(PAGES_DIR), autoescape=select_autoescape(["html"]), keep_trailing_newline=True
)


def install(app: FastAPI) -> None:
    """Add the pages to ``app``: the router and the ``/static/vendor`` mount (folium's libraries)."""
    app.include_router(router)
    # check_dir=False: the app starts before `make web-assets` has run; /map then answers 503.
    app.mount(VENDOR_URL, StaticFiles(directory=VENDOR_DIR, check_dir=False), name="vendor")


@lru_cache(maxsize=len(PAGE_FILES))
def _version(name: str) -> str:
    # Content hash in the URL: browsers may cache the file for long, and a new version has a new URL.
    return hashlib.sha256((PAGES_DIR / name).read_bytes()).hexdigest()[:12]


def page_url(name: str) -> str:
    """The URL of one of the page's own files, with its content version."""
    return f"{PAGES_URL}/{name}?v={_version(name)}"


@router.get(f"{PAGES_URL}/{{name}}", include_in_schema=False)
def page_file(name: Annotated[str, PathParam(max_length=32)]) -> FileResponse:
    """The page's own script and stylesheet."""
    if name not in PAGE_FILES:
        raise NotFound(f"no page file {name!r}")
    return FileResponse(
        PAGES_DIR / name,
        media_type=PAGE_FILES[name],
        headers={"Cache-Control": "public, max-age=86400"},
    )


class _PageApp(JSCSSMixin):
    """Loads the page's stylesheet and script after folium's, and starts the script on the map."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            window.gandanMap.start({
                map: {{ this._parent.get_name() }},
                layers: {
                    communes: {{ this.communes.get_name() }},
                    points: {{ this.points.get_name() }},
                    results: {{ this.results.get_name() }}
                },
                config: {{ this.config|tojson }}
            });
        {% endmacro %}
        """
    )

    def __init__(
        self,
        communes: folium.FeatureGroup,
        points: folium.FeatureGroup,
        results: folium.FeatureGroup,
        config: dict[str, Any],
    ) -> None:
        super().__init__()
        self._name = "GandanPage"
        self.communes, self.points, self.results = communes, points, results
        self.config = config
        # Instance lists: JSCSSMixin.add_js_link would mutate the class-level defaults.
        self.default_js = [("gandan_map_js", page_url("map.js"))]
        self.default_css = [("gandan_map_css", page_url("map.css"))]


def render_citizen_map(service: Any, lang: str) -> str:
    """The HTML of the citizen map in ``lang`` (``vi`` or ``en``).

    The page does not depend on the request: the script reads the preselection from the address (and
    keeps the language switch pointing at the same view), so one rendering per language is cached.
    """
    strings = STRINGS[lang]
    settings = service.settings
    minx, miny, maxx, maxy = service.bbox

    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=10,
        tiles=None,
        control_scale=False,  # the script adds a metric-only scale
        min_zoom=8,
        width="100%",
        height="100%",
    )
    folium.TileLayer(
        tiles=settings.tile_url,
        attr=settings.tile_attribution,
        name=strings["layer_tiles"],
        max_zoom=19,
        control=False,
    ).add_to(m)
    communes = folium.FeatureGroup(name=strings["layer_communes"])
    points = folium.FeatureGroup(name=strings["layer_points"])
    results = folium.FeatureGroup(name=strings["layer_results"])
    for layer in (communes, points, results):
        layer.add_to(m)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    config = {
        "lang": lang,
        "strings": {key: text for key, text in strings.items() if not key.startswith("planner_")},
        "modes": list(TRAVEL_MODES),
        "k": RESULTS_K,
        "bounds": [[miny, minx], [maxy, maxx]],
        "api": {
            "procedures": "/v1/procedures",
            "procedure": "/v1/procedures/",
            "nearest": "/v1/nearest",
            "communes": "/map/communes.geojson",
            "points": "/map/points.geojson",
        },
    }
    _PageApp(communes, points, results, config).add_to(m)

    figure = m.get_root()
    figure.title = strings["title"]  # type: ignore[attr-defined]
    other_lang = "en" if lang == "vi" else "vi"
    other_href = "/map?lang=en" if other_lang == "en" else "/map"  # Vietnamese is the default
    panel = _templates.get_template("map.html").render(
        s=strings, lang=lang, modes=TRAVEL_MODES, other_lang=other_lang, other_href=other_href
    )
    figure.html.add_child(folium.Element(panel), name="gandan_panel")  # type: ignore[attr-defined]
    figure.header.add_child(  # type: ignore[attr-defined]
        folium.Element(
            f'<meta name="description" content="{html.escape(strings["tagline"])}"/>'
            # No favicon request: the browser would otherwise ask for /favicon.ico.
            '<link rel="icon" href="data:,"/>'
        ),
        name="gandan_meta",
    )
    use_local_assets(m, VENDOR_URL)
    page: str = figure.render()
    # branca's figure template has a bare <html>: say which language the page is in.
    return page.replace("<html>", f'<html lang="{lang}">', 1)


@router.get("/map", response_class=HTMLResponse, responses=PROBLEMS, summary="Citizen map")
def citizen_map(
    request: Request,
    service: ServiceDep,
    lang: Annotated[Lang, Query(description="Page language: vi (default) or en.")] = "vi",
    procedure: Annotated[
        str | None, Query(description="Procedure to preselect (code), read by the page's script.", max_length=200)
    ] = None,
    lat: Annotated[float | None, Query(description="Starting point latitude, read by the page's script.")] = None,
    lon: Annotated[float | None, Query(description="Starting point longitude, read by the page's script.")] = None,
    mode: Annotated[
        TravelMode | None,
        Query(description="Travel mode to preselect, read by the page's script."),
    ] = None,
    at: AtParam = None,
) -> HTMLResponse:
    """The citizen map: pick a procedure and a place, see the nearest open offices (HTML page).

    The preselection parameters are validated here and acted on by the page (its script reads them
    from the address, so a result can be shared as a link).
    """
    if at:
        resolve_at(at)  # refuse a bad time here (422) rather than on every request the page makes
    require_web_assets()
    key = ("page", id(service.index), lang)
    cache = _cache(request)
    body = cache.get(key)
    if body is None:
        body = cache[key] = render_citizen_map(service, lang).encode()
    return HTMLResponse(body)


def _cache(request: Request) -> dict[Any, bytes]:
    cache: dict[Any, bytes] | None = getattr(request.app.state, "map_cache", None)
    if cache is None:
        cache = {}
        request.app.state.map_cache = cache
    return cache


@router.get("/map/communes.geojson", responses=PROBLEMS, summary="Commune boundaries, simplified for web maps")
def communes_geojson(
    request: Request,
    service: ServiceDep,
    tolerance_m: Annotated[
        int,
        # An int with a documented enum: a Literal of ints never matches a query string (every value was 422).
        Query(description="Simplification tolerance in metres (shared edges stay shared).",
              json_schema_extra={"enum": [10, 30, 100]}),
    ] = 30,
) -> Response:
    """All communes as one light GeoJSON FeatureCollection (code, name, kind), for a background layer."""
    if tolerance_m not in (10, 30, 100):
        raise InvalidParameter(f"tolerance_m={tolerance_m} must be 10, 30 or 100")
    index = service.index
    key = ("communes", id(index), int(tolerance_m))
    cache = _cache(request)
    body = cache.get(key)
    if body is None:
        collection = light_geojson(
            index.communes, columns=["code", "name", "kind"], id_column="code", tolerance_m=float(tolerance_m)
        )
        collection["boundary_set"] = index.manifest.get("boundary_set")
        collection["tolerance_m"] = int(tolerance_m)
        body = json.dumps(collection, ensure_ascii=False, separators=(",", ":")).encode()
        cache[key] = body
    return Response(body, media_type=GEOJSON, headers={"Cache-Control": "public, max-age=3600"})


@router.get("/map/points.geojson", responses=PROBLEMS, summary="Service points with their state now")
def points_geojson(
    service: ServiceDep,
    procedure: Annotated[
        str | None,
        Query(description="Only the points that handle this procedure (code or name).", max_length=200),
    ] = None,
    at: AtParam = None,
) -> Response:
    """Every public-service point (or those handling ``procedure``) with its opening state and today's hours."""
    return GeoJSONResponse(service.points_collection(procedure, resolve_at(at)))
