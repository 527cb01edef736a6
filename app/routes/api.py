"""``/v1``: nearest, procedures, communes, locate."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from app.dependencies import AtParam, LatParam, LonParam, ServiceDep, resolve_at
from app.schemas import CommuneSummary, LocateResult, NearestCollection, Problem, ProcedureOut
from geo.errors import NotFound
from geo.registry import search_procedures
from geo.service import geometry_json, round_coord
from geo.text import fold

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["v1"])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "content": {"application/problem+json": {}}},
    422: {"model": Problem, "content": {"application/problem+json": {}}},
    503: {"model": Problem, "content": {"application/problem+json": {}}},
}
GEOJSON = "application/geo+json"


@router.get("/nearest", response_model=NearestCollection, responses=PROBLEMS)
def nearest(
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
    result = service.nearest(
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
def procedures(
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
def procedure(
    service: ServiceDep,
    code: Annotated[str, Path(description="National procedure code, e.g. 1.001193.", max_length=64)],
) -> dict[str, Any]:
    """One procedure by its code (or name)."""
    record = service.backend.procedure(code)
    return _procedure_out(pd.Series(record))


def _commune_out(row: pd.Series) -> dict[str, Any]:
    pop = row.get("population")
    area = row.get("area_km2")
    return {
        "code": str(row["code"]),
        "name": str(row["name"]),
        "full_name": str(row["full_name"]),
        "kind": str(row["kind"]),
        "population": None if pd.isna(pop) else int(pop),
        "area_km2": None if pd.isna(area) else float(area),
        "seat_address": row.get("seat_address"),
        "former_units": row.get("former_units"),
    }


@router.get("/communes", response_model=list[CommuneSummary])
def communes(
    service: ServiceDep,
    q: Annotated[
        str | None, Query(description="Words of the name; diacritics optional.", max_length=200)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=600, description="At most this many.")] = 200,
) -> list[dict[str, Any]]:
    """The communes of the boundary set in force, optionally filtered by name."""
    frame = service.backend.index.communes
    if q and q.strip():
        key = fold(q)
        frame = frame[frame["name_ascii"].str.contains(key, regex=False) | (frame["code"] == q.strip())]
    return [_commune_out(row) for _, row in frame.head(limit).iterrows()]


@router.get("/communes/{code}", responses=PROBLEMS)
def commune(
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
        "properties": _commune_out(row),
    }
    return JSONResponse(feature, media_type=GEOJSON)


@router.get("/locate", response_model=LocateResult, responses=PROBLEMS)
def locate(service: ServiceDep, lat: LatParam, lon: LonParam) -> dict[str, Any]:
    """The commune that contains a point, and the pre-merger unit(s) it belonged to."""
    backend = service.backend
    backend.check_location(lon, lat)
    found = backend.commune_at(lon, lat)
    index = backend.index
    if found is None:
        return {"lat": lat, "lon": lon, "commune": None, "former_units": [], "likely_former_unit": None}
    row = index.communes[index.communes["code"] == found["code"]].iloc[0]
    pairs = index.crosswalk[index.crosswalk["new_code"] == found["code"]]
    legacy = index.legacy_units.set_index("code")
    former = []
    for pair in pairs.itertuples():
        unit = legacy.loc[pair.legacy_code] if pair.legacy_code in legacy.index else None
        former.append(
            {
                "code": pair.legacy_code,
                "name": pair.legacy_full_name,
                "district": pair.legacy_district,
                "relation": pair.relation,
                "lon": None if unit is None else round_coord(unit.geometry.x),
                "lat": None if unit is None else round_coord(unit.geometry.y),
            }
        )
    likely = None
    with_points = [f for f in former if f["lon"] is not None]
    if with_points:
        # Legacy units are points (their former office), not polygons: the nearest is a guess, said so.
        nearest_unit = min(with_points, key=lambda f: (f["lon"] - lon) ** 2 + (f["lat"] - lat) ** 2)
        likely = dict(
            nearest_unit,
            precision="approximate",
            method="nearest former unit point within the commune (no pre-merger polygons)",
        )
    return {
        "lat": lat,
        "lon": lon,
        "commune": _commune_out(row),
        "former_units": former,
        "likely_former_unit": likely,
    }
