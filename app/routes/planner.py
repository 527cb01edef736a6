"""Coverage for planners: ``/v1/coverage`` (JSON, what-if), ``/v1/coverage/sites`` (new sites), the page.

``GET /v1/coverage`` measures a procedure's places (against the pre-merger network), ``POST /v1/coverage``
a scenario (against today), ``POST /v1/coverage/sites`` suggests where to add places,
``POST /v1/coverage/scenarios/read`` reads a scenario file as the CLI does, ``POST /v1/coverage/export``
returns a file (CSV, GeoPackage, PNG, HTML). ``/planner`` is the planner's workspace (planner.html,
planner.js, planner.css): Vietnamese first, every figure fetched from those endpoints.

Every number comes from `geo.coverage.CoverageEngine`; this module only parses requests and renders.
The engine (population grid, prepared networks, a small cache of recent answers) is created on first
use and kept on the app.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field

from app.routes.pages import STRINGS
from app.schemas import Problem
from geo.coverage import CITY_TARGETS, DEFAULT_THRESHOLD, MAX_SITES, CoverageEngine, parse_changes
from geo.coverage.engine import THRESHOLD_RANGE
from geo.errors import NotFound
from geo.modes import TravelMode

__all__ = ["CoverageOut", "ExportIn", "ScenarioFileIn", "ScenarioIn", "SitesIn", "SitesOut", "router"]

router = APIRouter(tags=["planner"])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "content": {"application/problem+json": {}}},
    422: {"model": Problem, "content": {"application/problem+json": {}}},
    503: {"model": Problem, "content": {"application/problem+json": {}}},
}
_engine_lock = threading.Lock()
PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"

ProcedureParam = Annotated[
    str, Query(description="Procedure code (1.001193) or name; diacritics optional.", min_length=1, max_length=200)
]
ModeParam = Annotated[
    TravelMode, Query(description="straight (geodesic metres) or a road-network travel mode (minutes).")
]
# The schema bounds a threshold by the union of `THRESHOLD_RANGE`'s units (0.5 .. 100000); which part of it
# applies depends on the mode, which a parameter's schema cannot say (422 invalid-parameter outside it).
THRESHOLD_MIN = min(low for low, _ in THRESHOLD_RANGE.values())
THRESHOLD_MAX = max(high for _, high in THRESHOLD_RANGE.values())
THRESHOLD_DOC = (
    "Reach: metres for straight ({m[0]:g}..{m[1]:g}, default {d[straight]:g}), minutes for walk/motorbike/car "
    "({min[0]:g}..{min[1]:g}, default {d[walk]:g})."
).format(m=THRESHOLD_RANGE["m"], min=THRESHOLD_RANGE["min"], d=DEFAULT_THRESHOLD)
ThresholdParam = Annotated[float | None, Query(description=THRESHOLD_DOC, ge=THRESHOLD_MIN, le=THRESHOLD_MAX)]
CompareParam = Annotated[
    Literal["before_after"] | None,
    Query(description="before_after: also measure the pre-merger network (526 former commune offices + branches)."),
]


# ------------------------------------------------------------------------------------------- schemas
class CommuneCoverage(BaseModel):
    """Coverage of one commune (``*_before`` and ``delta_*`` fields when comparing)."""

    model_config = ConfigDict(extra="allow")
    code: str
    name: str
    population: int
    covered_population: int
    share: float = Field(description="Share of the population within the threshold, 0..1.")
    mean_cost: float | None = Field(description="Population-weighted mean cost (m or min); null without places.")
    p90_cost: float | None = Field(description="90th percentile of cost over the population (m or min).")
    unit: Literal["m", "min"]
    served_by: str | None = Field(description="Id of the place nearest to most of the population.")
    served_by_name: str | None
    cost_basis: Literal["straight_line", "network", "straight_line×circuity", "mixed"]
    network_share: float = Field(description="Share of the population whose cost came from the road network.")


class CoverageOut(BaseModel):
    """Per-commune coverage and city totals of a procedure (and the comparison asked for)."""

    model_config = ConfigDict(extra="allow")
    procedure: dict[str, Any]
    mode: TravelMode
    threshold: float
    unit: Literal["m", "min"]
    compare: Literal["before_after", "scenario"] | None
    labels: dict[str, str | None]
    model: dict[str, Any] = Field(
        description="How demand and cost were modelled; ``sentence`` says it in one sentence (vi, en)."
    )
    facilities: dict[str, int | None]
    totals: dict[str, Any] = Field(
        description="City totals; ``modelled_share``: share of the population whose cost is straight line × "
        "circuity rather than a road-network time (0 in straight mode)."
    )
    changes: list[dict[str, Any]]
    places: list[dict[str, Any]] = Field(
        description="The places measured (after): id, name, kind, source, lon, lat, served_population."
    )
    communes: list[CommuneCoverage]
    notes: list[str]


class ChangeIn(BaseModel):
    """One edit of today's network."""

    action: Literal["add", "move", "close"]
    id: str = Field(min_length=1, max_length=100, description="New id for add; an existing place id otherwise.")
    lon: float | None = Field(default=None, description="WGS 84 longitude (add, move).")
    lat: float | None = Field(default=None, description="WGS 84 latitude (add, move).")
    kind: str | None = Field(default=None, max_length=50, description="Kind of an added place (intake_point).")
    name: str | None = Field(default=None, max_length=200, description="Name of an added place.")


class ScenarioIn(BaseModel):
    """A what-if: today's places for a procedure with some added, moved or closed."""

    procedure: str = Field(min_length=1, max_length=200, description="Procedure code or name.")
    mode: TravelMode = "straight"
    threshold: float | None = Field(default=None, ge=THRESHOLD_MIN, le=THRESHOLD_MAX, description=THRESHOLD_DOC)
    changes: list[ChangeIn] = Field(max_length=200, description="Applied in order.")
    name: str | None = Field(default=None, max_length=200, description="The scenario's name (echoed back).")


class SitesIn(BaseModel):
    """Where to add ``k`` places: today's places (after the scenario's changes) are locked in."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"procedure": "1.001193", "mode": "straight", "threshold": 5000, "k": 5}]}
    )

    procedure: str = Field(min_length=1, max_length=200, description="Procedure code or name.")
    mode: TravelMode = "straight"
    threshold: float | None = Field(default=None, ge=THRESHOLD_MIN, le=THRESHOLD_MAX, description=THRESHOLD_DOC)
    k: int = Field(default=5, ge=1, le=MAX_SITES, description=f"How many new sites, 1..{MAX_SITES}.")
    changes: list[ChangeIn] = Field(default_factory=list, max_length=200, description="A scenario to build on.")


class SiteOut(BaseModel):
    """One suggested site, in build order."""

    rank: int
    id: str
    source: str = Field(description="seat (a commune seat), former_office (a pre-merger office) or grid.")
    name: str
    lon: float
    lat: float
    commune_code: str | None
    commune_name: str | None
    gain_population: int = Field(description="People it brings within reach, given the sites before it.")
    covered_population: int = Field(description="People within reach once it and the sites before it are added.")
    share: float = Field(description="covered_population over the city's population.")


class SitesOut(BaseModel):
    """The maximal covering answer: sites in order of marginal gain, coverage before and after."""

    model_config = ConfigDict(extra="allow")
    procedure: dict[str, Any]
    mode: TravelMode
    threshold: float
    unit: Literal["m", "min"]
    k: int
    population: int
    covered_before: int
    covered_after: int
    share_before: float
    share_after: float
    sites: list[SiteOut]
    model: dict[str, Any]


class ScenarioFileIn(BaseModel):
    """A scenario file's content, to be read as `gandan coverage --scenario` reads it."""

    filename: str = Field(min_length=1, max_length=200, description="Its name; .json is read as JSON, else CSV.")
    text: str = Field(max_length=1_000_000, description="The file's text (UTF-8).")


class ScenarioFileOut(BaseModel):
    """The changes a scenario file holds."""

    name: str | None
    changes: list[ChangeIn]


class ExportIn(ScenarioIn):
    """A coverage (or a scenario) as a file."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"procedure": "1.001193", "mode": "straight", "threshold": 5000, "format": kind}
                for kind in ("csv", "gpkg", "png", "html")
            ]
        }
    )

    changes: list[ChangeIn] = Field(default_factory=list, max_length=200, description="Applied in order.")
    format: Literal["csv", "gpkg", "png", "html"] = Field(description="csv, gpkg, png or html (assets inlined).")


# ------------------------------------------------------------------------------------------- engine
def get_engine(request: Request) -> CoverageEngine:
    """The app's coverage engine on its service's index and road networks (created once)."""
    engine: CoverageEngine | None = getattr(request.app.state, "coverage_engine", None)
    if engine is None:
        with _engine_lock:
            engine = getattr(request.app.state, "coverage_engine", None)
            if engine is None:
                service = request.app.state.service
                engine = CoverageEngine.from_index(service.index, networks=service.network)
                request.app.state.coverage_engine = engine
    return engine


EngineDep = Annotated[CoverageEngine, Depends(get_engine)]


def _threshold(mode: str, threshold: float | None) -> float:
    return threshold if threshold is not None else DEFAULT_THRESHOLD[mode]


# ------------------------------------------------------------------------------------------- API
@router.get("/v1/coverage", response_model=CoverageOut, responses=PROBLEMS)
def coverage(
    engine: EngineDep,
    procedure: ProcedureParam,
    mode: ModeParam = "straight",
    threshold: ThresholdParam = None,
    compare: CompareParam = None,
) -> JSONResponse:
    """Per-commune coverage of a procedure, with city totals.

    Per commune: share of the population within reach of a place that handles the procedure, mean and
    90th-percentile cost, the place that serves most of it, and the cost basis.
    """
    report = engine.run(procedure, mode, _threshold(mode, threshold), compare=compare)
    return JSONResponse(report.to_json())


@router.post("/v1/coverage", response_model=CoverageOut, responses=PROBLEMS)
def coverage_scenario(engine: EngineDep, scenario: ScenarioIn) -> JSONResponse:
    """What-if: today's network (before) against today's with the changes (after), per commune.

    Changes are applied in order: ``add`` a new id at (lon, lat), ``move`` an existing place, ``close``
    one. A place outside Hanoi's communes is refused (422, ``outside-service-area``), as is an unknown
    id (422, ``data-validation``, one problem per bad change). A scenario that adds a site on top of a
    layer measured before is answered from cached per-place costs: one new cost column.
    """
    changes = parse_changes([c.model_dump() for c in scenario.changes], source="changes")
    threshold = _threshold(scenario.mode, scenario.threshold)
    report = engine.run(scenario.procedure, scenario.mode, threshold, changes=changes)
    body = report.to_json()
    body["name"] = scenario.name
    return JSONResponse(body)


@router.post("/v1/coverage/sites", response_model=SitesOut, responses=PROBLEMS)
def coverage_sites(engine: EngineDep, question: SitesIn) -> JSONResponse:
    """Where to add ``k`` places: the maximal covering location problem, today's places locked in.

    Today's places that handle the procedure (with the scenario's ``changes`` applied) stay; the
    candidates are the new communes' seats, the former commune offices and a 2 km grid. The answer
    lists the chosen sites in the order a planner would build them: each with its commune, the
    population it adds (``gain_population``, given the sites before it) and the share covered once it
    is built. The same model as ``gandan coverage --sites K``.

    Example: ``{"procedure": "1.001193", "mode": "straight", "threshold": 5000, "k": 5}``.
    """
    from geo.coverage import apply_changes, suggest_sites, today_facilities

    threshold = _threshold(question.mode, question.threshold)
    engine.check(question.mode, threshold)
    proc = engine.procedure(question.procedure)
    assert engine.index is not None
    existing = today_facilities(engine.index, proc)
    if question.changes:
        changes = parse_changes([c.model_dump() for c in question.changes], source="changes")
        existing = apply_changes(existing, changes, engine.inside, source="changes")
    result = suggest_sites(engine, proc["code"], question.mode, threshold, question.k, existing=existing)
    body = result.to_json()
    body.update(
        procedure={k: proc.get(k) for k in ("code", "name")}, mode=question.mode, threshold=threshold,
        unit=result.unit,
    )
    return JSONResponse(body)


@router.post("/v1/coverage/scenarios/read", response_model=ScenarioFileOut, responses=PROBLEMS)
def read_scenario_file(upload: ScenarioFileIn) -> JSONResponse:
    """Read a scenario file (CSV ``action,id,lon,lat,kind,name`` or the page's JSON) as the CLI reads it.

    A bad file answers 422 with every problem at once in ``problems``, each as ``file:row:column [id]:
    what`` (CSV rows are line numbers, the header is row 1; JSON rows count the changes from 1).
    """
    from geo.coverage import read_scenario

    name = None
    if upload.filename.lower().endswith(".json"):
        try:
            body = json.loads(upload.text)
            name = body.get("name") if isinstance(body, dict) else None
        except json.JSONDecodeError:
            pass  # read_scenario says what is wrong
    changes = read_scenario(upload.filename, text=upload.text)
    return JSONResponse({"name": name, "changes": [c.__dict__ for c in changes]})


_MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "gpkg": "application/geopackage+sqlite3",
    "png": "image/png",
    "html": "text/html; charset=utf-8",
}


@router.post("/v1/coverage/export", responses={**PROBLEMS, 200: {"content": {m: {} for m in _MEDIA.values()}}})
def coverage_export(engine: EngineDep, export: ExportIn) -> Response:
    """The coverage (against the pre-merger network) or a scenario (against today) as a file to keep.

    ``csv``: the per-commune table; ``gpkg``: communes, places and changes for QGIS; ``png``: a static
    map; ``html``: the interactive map with its libraries inlined, so the one file works on any machine.
    """
    from app.assets import VENDOR_DIR, require_web_assets
    from geo.coverage.maps import output_stem, write_csv, write_geopackage, write_html, write_png

    changes = parse_changes([c.model_dump() for c in export.changes], source="changes")
    threshold = _threshold(export.mode, export.threshold)
    compare = None if changes else "before_after"
    report = engine.run(export.procedure, export.mode, threshold, compare=compare, changes=changes)
    if export.format == "html":
        require_web_assets()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{output_stem(report)}.{export.format}"
        writers: dict[str, Any] = {
            "csv": lambda: write_csv(report, path),
            "gpkg": lambda: write_geopackage(report, path, engine.demand),
            "png": lambda: write_png(report, path),
            "html": lambda: write_html(report, path, vendor_dir=VENDOR_DIR, inline=True),
        }
        writers[export.format]()
        content = path.read_bytes()
    return Response(
        content, media_type=_MEDIA[export.format],
        headers={"Content-Disposition": f'attachment; filename="{path.name}"'},
    )


# ------------------------------------------------------------------------------------------- pages
_templates = Environment(
    loader=FileSystemLoader(PAGES_DIR), autoescape=select_autoescape(["html"]), keep_trailing_newline=True
)
PAGE_FILES = {"planner.js": "text/javascript; charset=utf-8", "planner.css": "text/css; charset=utf-8"}
PLANNER_STATIC = "/planner/static"


@lru_cache(maxsize=len(PAGE_FILES))
def _version(name: str) -> str:
    # Content hash in the URL: the browser may cache the file, a new version gets a new URL.
    return hashlib.sha256((PAGES_DIR / name).read_bytes()).hexdigest()[:12]


@router.get(f"{PLANNER_STATIC}/{{name}}", include_in_schema=False)
def planner_file(name: Annotated[str, PathParam(max_length=32)]) -> FileResponse:
    """The planner page's own script and stylesheet."""
    if name not in PAGE_FILES:
        raise NotFound(f"no page file {name!r}")
    headers = {"Cache-Control": "public, max-age=86400"}
    return FileResponse(PAGES_DIR / name, media_type=PAGE_FILES[name], headers=headers)


def _planner_strings(lang: str) -> dict[str, str]:
    """The planner's texts (``planner_*`` keys without the prefix) and the mode names, in ``lang``."""
    strings = STRINGS[lang]
    out = {k.removeprefix("planner_"): v for k, v in strings.items() if k.startswith("planner_")}
    out.update({k: v for k, v in strings.items() if k.startswith(("mode_", "lang_switch"))})
    return out


@router.get("/planner", response_class=HTMLResponse, include_in_schema=False)
def planner_page(request: Request, lang: str = "vi") -> HTMLResponse:
    """The planner's workspace (Vietnamese by default, ``?lang=en``): every figure comes from the API.

    The procedure, mode and threshold in the address (``?procedure=1.001193&mode=straight&threshold=5000``)
    are read and checked by the page's script, which says on the page what is wrong with them.
    """
    from app.assets import VENDOR_URL, require_web_assets

    require_web_assets()
    lang = lang if lang in ("vi", "en") else "vi"
    strings = _planner_strings(lang)
    settings = request.app.state.service.settings
    config = {
        "lang": lang,
        "strings": strings,
        "modes": ["straight", "walk", "motorbike", "car"],
        "defaults": DEFAULT_THRESHOLD,
        "targets": CITY_TARGETS,
        "ranges": {"m": THRESHOLD_RANGE["m"], "min": THRESHOLD_RANGE["min"]},
        "max_sites": MAX_SITES,
        "default_procedure": "1.001193",
        "tiles": {"url": settings.tile_url, "attribution": settings.tile_attribution},
        "api": {
            "procedures": "/v1/procedures",
            "coverage": "/v1/coverage",
            "sites": "/v1/coverage/sites",
            "read": "/v1/coverage/scenarios/read",
            "export": "/v1/coverage/export",
            "communes": "/map/communes.geojson",
        },
    }
    html = _templates.get_template("planner.html").render(
        lang=lang, s=strings, config=json.dumps(config, ensure_ascii=False).replace("</", "<\\/"), vendor=VENDOR_URL,
        css=f"{PLANNER_STATIC}/planner.css?v={_version('planner.css')}",
        js=f"{PLANNER_STATIC}/planner.js?v={_version('planner.js')}",
        other_lang="en" if lang == "vi" else "vi",
    )
    return HTMLResponse(html)


@router.get("/planner/map", response_class=HTMLResponse, include_in_schema=False)
def planner_map(
    engine: EngineDep,
    procedure: ProcedureParam,
    mode: ModeParam = "straight",
    threshold: ThresholdParam = None,
    compare: CompareParam = None,
) -> HTMLResponse:
    """The folium choropleth alone (as ``gandan coverage`` writes it); libraries from ``/static/vendor``."""
    from app.assets import VENDOR_URL, require_web_assets
    from geo.coverage.maps import choropleth

    require_web_assets()
    report = engine.run(procedure, mode, _threshold(mode, threshold), compare=compare)
    return HTMLResponse(choropleth(report, assets_url=VENDOR_URL).get_root().render())
