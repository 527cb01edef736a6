"""``/v1``: nearest, procedures, communes, locate."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from app.dependencies import (
    LatParam,
    LonParam,
    ServiceDep,
    call_backend,
    get_service,
    parse_query,
    query_openapi,
    resolve_at,
)
from app.responses import GeoJSONResponse
from app.schemas import (
    CommuneSummary,
    LocateResult,
    NearestCollection,
    NearestQuery,
    Problem,
    ProcedureDetailOut,
    ProcedureOut,
)

__all__ = ["router"]

# Handlers are async: each does well under a millisecond of CPU work, less than a thread-pool hand-off costs.
router = APIRouter(prefix="/v1", tags=["v1"])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "content": {"application/problem+json": {}}},
    422: {"model": Problem, "content": {"application/problem+json": {}}},
    503: {"model": Problem, "content": {"application/problem+json": {}}},
}


@router.get(
    "/nearest",
    response_model=NearestCollection,
    responses=PROBLEMS,
    response_class=GeoJSONResponse,
    openapi_extra=query_openapi(NearestQuery),
)
async def nearest(request: Request) -> GeoJSONResponse:
    """The nearest places that handle a procedure, open ones first (GeoJSON FeatureCollection)."""
    # Only the request, no declared parameters or dependencies: see `app.dependencies.parse_query`.
    service = await get_service(request)
    query = parse_query(NearestQuery, request)
    result = await call_backend(
        service,
        service.nearest,
        lon=query.lon,
        lat=query.lat,
        procedure=query.procedure,
        at=resolve_at(query.at),
        k=query.k,
        mode=query.mode,
        open_only=query.open_only,
        route=query.route,
    )
    return GeoJSONResponse(service.to_feature_collection(result))


@router.get("/procedures", response_model=list[ProcedureOut], responses=PROBLEMS)
async def procedures(
    service: ServiceDep,
    q: Annotated[
        str | None,
        Query(
            description="Code, words of the name or field, or a common name (sổ đỏ); diacritics optional, "
            "typos forgiven. Blank or over 200 characters: 422.",
            max_length=200,
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="At most this many.")] = 20,
) -> list[dict[str, Any]]:
    """Search the whole procedure catalogue (about 4,800), best first, each with how it matched and a summary."""
    return service.search_procedures(q, limit)


@router.get("/procedures/{code}", response_model=ProcedureDetailOut, responses=PROBLEMS)
async def procedure(
    service: ServiceDep,
    code: Annotated[str, Path(description="National procedure code, e.g. 1.001193.", max_length=64)],
) -> dict[str, Any]:
    """One procedure by its code (or name): channels, documents, legal basis, portal URL, where in Hanoi."""
    return service.procedure_detail(code)


@router.get("/communes", response_model=list[CommuneSummary])
async def communes(
    service: ServiceDep,
    q: Annotated[str | None, Query(description="Words of the name; diacritics optional.", max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=600, description="At most this many.")] = 200,
) -> list[dict[str, Any]]:
    """The communes of the boundary set in force, optionally filtered by name."""
    return service.search_communes(q, limit)


@router.get(
    "/communes/{code}",
    responses={**PROBLEMS, 200: {"content": {"application/geo+json": {"schema": {"type": "object"}}}}},
    response_class=GeoJSONResponse,
)
async def commune(
    service: ServiceDep,
    code: Annotated[str, Path(description="Official 5-digit code, e.g. 00004.", max_length=16)],
) -> GeoJSONResponse:
    """One commune as a GeoJSON Feature with its polygon."""
    return GeoJSONResponse(service.commune_feature(code))


@router.get("/locate", response_model=LocateResult, responses=PROBLEMS)
async def locate(service: ServiceDep, lat: LatParam, lon: LonParam) -> dict[str, Any]:
    """The commune that contains a point, and the pre-merger unit(s) it belonged to."""
    return await call_backend(service, service.locate, lon, lat)
