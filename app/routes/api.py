"""``/v1``: nearest, procedures, communes, locate."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from app.dependencies import AtParam, LatParam, LonParam, ServiceDep, call_backend, resolve_at
from app.schemas import CommuneSummary, LocateResult, NearestCollection, Problem, ProcedureOut
from geo.errors import NotFound
from geo.registry import search_procedures
from geo.service import commune_record, geometry_json
from geo.text import fold

__all__ = ["router"]

# Handlers are async: each does well under a millisecond of CPU work, less than a thread-pool hand-off costs.
router = APIRouter(prefix="/v1", tags=["v1"])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "content": {"application/problem+json": {}}},
    422: {"model": Problem, "content": {"application/problem+json": {}}},
    503: {"model": Problem, "content": {"application/problem+json": {}}},
}
GEOJSON = "application/geo+json"


@router.get("/nearest", response_model=NearestCollection, responses=PROBLEMS)
async def nearest(
    service: ServiceDep,
    lat: LatParam,
    lon: LonParam,
    procedure: Annotated[
        str,
        Query(
            description="Procedure code (1.001193) or name; diacritics optional.",
            min_length=1,
            max_length=200,
        ),
    ],
    at: AtParam = None,
    k: Annotated[int, Query(description="How many places (1..50).", ge=1, le=50)] = 3,
    mode: Annotated[
        Literal["straight", "walk", "motorbike", "car"],
        Query(description="straight (geodesic distance) or a road-network travel mode."),
    ] = "straight",
    open_only: Annotated[bool, Query(description="Only places open at `at`.")] = False,
    route: Annotated[bool, Query(description="Include the route as a LineString (network modes).")] = False,
) -> JSONResponse:
    """The nearest places that handle a procedure, open ones first (GeoJSON FeatureCollection)."""
    result = await call_backend(
        service,
        service.nearest,
        lon=lon,
        lat=lat,
        procedure=procedure,
        at=resolve_at(at),
        k=k,
        mode=mode,
        open_only=open_only,
        route=route,
    )
    return JSONResponse(service.to_feature_collection(result), media_type=GEOJSON)


def _procedure_out(row: pd.Series) -> dict[str, Any]:
    handled = [h for h in str(row.get("handled_at") or "").split("|") if h]
    out = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items() if k not in ("score",)}
    out.update(code=str(row["code"]), handled_at=handled, handled_in_person_here=bool(handled))
    return out


@router.get("/procedures", response_model=list[ProcedureOut])
async def procedures(
    service: ServiceDep,
    q: Annotated[
        str | None, Query(description="Code or words of the name; diacritics optional.", max_length=200)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="At most this many.")] = 20,
) -> list[dict[str, Any]]:
    """Search the procedure catalog by code or name."""
    catalog = service.backend.index.procedures
    found = search_procedures(q, catalog, limit=limit) if q and q.strip() else catalog.head(limit)
    return [_procedure_out(row) for _, row in found.iterrows()]


@router.get("/procedures/{code}", response_model=ProcedureOut, responses=PROBLEMS)
async def procedure(
    service: ServiceDep,
    code: Annotated[str, Path(description="National procedure code, e.g. 1.001193.", max_length=64)],
) -> dict[str, Any]:
    """One procedure by its code (or name)."""
    record = service.backend.procedure(code)
    return _procedure_out(pd.Series(record))


@router.get("/communes", response_model=list[CommuneSummary])
async def communes(
    service: ServiceDep,
    q: Annotated[str | None, Query(description="Words of the name; diacritics optional.", max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=600, description="At most this many.")] = 200,
) -> list[dict[str, Any]]:
    """The communes of the boundary set in force, optionally filtered by name."""
    frame = service.backend.index.communes
    if q and q.strip():
        key = fold(q)
        frame = frame[frame["name_ascii"].str.contains(key, regex=False) | (frame["code"] == q.strip())]
    return [commune_record(row) for _, row in frame.head(limit).iterrows()]


@router.get("/communes/{code}", responses=PROBLEMS)
async def commune(
    service: ServiceDep,
    code: Annotated[str, Path(description="Official 5-digit code, e.g. 00004.", max_length=16)],
) -> JSONResponse:
    """One commune as a GeoJSON Feature with its polygon."""
    frame = service.backend.index.communes
    hit = frame[frame["code"] == code]
    if hit.empty:
        raise NotFound(f"no commune with code {code!r} in boundary set {service.backend.index.boundary_set}")
    row = hit.iloc[0]
    feature = {
        "type": "Feature",
        "id": code,
        "geometry": geometry_json(hit.geometry.iloc[0]),
        "properties": commune_record(row),
    }
    return JSONResponse(feature, media_type=GEOJSON)


@router.get("/locate", response_model=LocateResult, responses=PROBLEMS)
async def locate(service: ServiceDep, lat: LatParam, lon: LonParam) -> dict[str, Any]:
    """The commune that contains a point, and the pre-merger unit(s) it belonged to."""
    return await call_backend(service, service.locate, lon, lat)
