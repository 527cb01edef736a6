"""Coverage for planners: ``GET /v1/coverage`` (JSON), ``POST /v1/coverage`` (what-if), ``/planner`` (page).

Every number comes from `geo.coverage.CoverageEngine`; this module only parses requests and renders.
The engine (population grid, prepared networks, a small cache of recent answers) is created on first
use and kept on the app.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field

from app.routes.pages import STRINGS
from app.schemas import Problem
from geo.coverage import DEFAULT_THRESHOLD, CoverageEngine, parse_changes
from geo.modes import TravelMode

__all__ = ["CoverageOut", "ScenarioIn", "router"]

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
ThresholdParam = Annotated[
    float | None,
    Query(
        description="Reach: metres for straight (10..100000, default 2000), minutes for walk/motorbike/car "
        "(0.5..300, default 15).",
        gt=0,
    ),
]
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
    model: dict[str, Any]
    facilities: dict[str, int | None]
    totals: dict[str, Any]
    changes: list[dict[str, Any]]
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
    threshold: float | None = Field(default=None, gt=0, description="Metres (straight) or minutes.")
    changes: list[ChangeIn] = Field(max_length=200, description="Applied in order.")


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
    """What-if: today's network (before) against today's with the changes (after), per commune."""
    changes = parse_changes([c.model_dump() for c in scenario.changes], source="request body changes")
    threshold = _threshold(scenario.mode, scenario.threshold)
    report = engine.run(scenario.procedure, scenario.mode, threshold, changes=changes)
    return JSONResponse(report.to_json())


# ------------------------------------------------------------------------------------------- pages
_templates = Environment(
    loader=FileSystemLoader(PAGES_DIR), autoescape=select_autoescape(["html"]), keep_trailing_newline=True
)


def _pct(value: Any) -> str:
    return "–" if value is None or value != value else f"{value * 100:.1f}"


def _num(value: Any) -> str:
    return "–" if value is None or value != value else f"{value:,.1f}"


@router.get("/planner", response_class=HTMLResponse, include_in_schema=False)
def planner_page(
    request: Request,
    engine: EngineDep,
    procedure: ProcedureParam = "1.001193",
    mode: ModeParam = "straight",
    threshold: ThresholdParam = None,
) -> HTMLResponse:
    """The planner page: choropleth (framed) and the before/after table for a procedure, mode, threshold."""
    from geo.coverage.maps import caption, reach_phrase

    value = _threshold(mode, threshold)
    report = engine.run(procedure, mode, value, compare="before_after")
    table = report.table().sort_values("delta_share")
    procedures: list[dict[str, Any]] = []
    if engine.index is not None:
        catalog = engine.index.procedures
        procedures = catalog[catalog["handled_at"].astype(str) != ""][["code", "name"]].to_dict("records")
    query = urlencode({"procedure": report.procedure["code"], "mode": mode, "threshold": f"{value:g}",
                       "compare": "before_after"})
    html = _templates.get_template("planner.html").render(
        report=report, totals=report.totals(), rows=table.to_dict("records"), procedures=procedures,
        modes=["straight", "walk", "motorbike", "car"], query=query, reach=reach_phrase(report),
        caption=caption(report), pct=_pct, num=_num, defaults=json.dumps(DEFAULT_THRESHOLD), s=STRINGS["en"],
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
    """The folium choropleth alone (the page frames it); libraries come from ``/static/vendor``."""
    from app.assets import VENDOR_URL, require_web_assets
    from geo.coverage.maps import choropleth

    require_web_assets()
    report = engine.run(procedure, mode, _threshold(mode, threshold), compare=compare)
    return HTMLResponse(choropleth(report, assets_url=VENDOR_URL).get_root().render())
