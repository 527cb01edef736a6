"""OGC API – Features (Part 1: Core, GeoJSON, HTML) over the layers, so QGIS opens them directly."""

from __future__ import annotations

import html
import re
from typing import Annotated, Any, Literal

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from app.dependencies import ServiceDep
from app.responses import GEOJSON, GeoJSONResponse
from geo.errors import InvalidParameter, NotFound
from geo.service import geometry_json

__all__ = ["router"]

router = APIRouter(tags=["OGC API – Features"])
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
]
COLLECTIONS = {
    "service_points": (
        "Điểm phục vụ hành chính công",
        "Public-service locations (derived coordinates are approximate; see location_precision).",
    ),
    "communes": ("Đơn vị hành chính cấp xã", "Commune-level units of the boundary set in force."),
    "legacy_units": ("Đơn vị cấp xã trước 2025-07-01", "The 526 pre-merger units, one point each."),
}
FormatParam = Annotated[Literal["json", "html"] | None, Query(description="json (default) or html.")]
# What each route answers besides its default JSON (problem+json errors are added for every route by
# `app.errors.document_problems`); 404 where a collection or feature may not exist.
_JSON_OR_HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "text/html": {"schema": {"type": "string"}}}},
}
_GEOJSON_OR_HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {GEOJSON: {"schema": {"type": "object"}}, "text/html": {"schema": {"type": "string"}}}},
    404: {"description": "No such collection or feature (problem+json)."},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such collection (problem+json)."}}
_RESERVED = {"bbox", "limit", "offset", "f"}
_NUMBER = r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*"
BBOX_PATTERN = rf"^{_NUMBER}(?:,{_NUMBER}){{3}}$"  # documented and checked: four decimal numbers
_BBOX = re.compile(BBOX_PATTERN)


def _layer(service: ServiceDep, collection_id: str) -> gpd.GeoDataFrame:
    if collection_id not in COLLECTIONS:
        raise NotFound(f"no collection {collection_id!r}; known: {', '.join(COLLECTIONS)}")
    return service.layer(collection_id)


def _wants_html(request: Request, f: str | None) -> bool:
    if f is not None:
        return f == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang='vi'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def _link(request: Request, path: str, rel: str, media: str, title: str) -> dict[str, str]:
    return {"href": str(request.base_url).rstrip("/") + path, "rel": rel, "type": media, "title": title}


@router.get("/", summary="Landing page", responses=_JSON_OR_HTML)
def landing(request: Request, f: FormatParam = None) -> Response:
    """Landing page with links to the API definition, conformance and collections."""
    links = [
        _link(request, "/", "self", "application/json", "this document"),
        _link(
            request, "/openapi.json", "service-desc", "application/vnd.oai.openapi+json;version=3.0", "API"
        ),
        _link(request, "/docs", "service-doc", "text/html", "API documentation"),
        _link(request, "/conformance", "conformance", "application/json", "conformance"),
        _link(request, "/collections", "data", "application/json", "collections"),
        _link(request, "/map", "alternate", "text/html", "bản đồ / map"),
    ]
    if _wants_html(request, f):
        items = "".join(
            f"<li><a href='{html.escape(li['href'])}'>{html.escape(li['title'])}</a></li>" for li in links
        )
        return _page("gandan — gần dân", f"<ul>{items}</ul>")
    return JSONResponse({"title": "gandan", "description": "Hanoi public-service locations", "links": links})


@router.get("/conformance", summary="Conformance classes")
def conformance() -> dict[str, list[str]]:
    """The conformance classes this API implements."""
    return {"conformsTo": CONFORMANCE}


def _collection_doc(request: Request, service: ServiceDep, cid: str) -> dict[str, Any]:
    title, description = COLLECTIONS[cid]
    minx, miny, maxx, maxy = (float(v) for v in _layer(service, cid).total_bounds)
    return {
        "id": cid,
        "title": title,
        "description": description,
        "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "extent": {
            "spatial": {
                "bbox": [[minx, miny, maxx, maxy]],
                "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            }
        },
        "links": [
            _link(request, f"/collections/{cid}", "self", "application/json", title),
            _link(request, f"/collections/{cid}/items", "items", "application/geo+json", "items"),
            _link(request, f"/collections/{cid}/items?f=html", "items", "text/html", "items (HTML)"),
        ],
    }


@router.get("/collections", summary="Collections", responses=_JSON_OR_HTML)
def collections(request: Request, service: ServiceDep, f: FormatParam = None) -> Response:
    """The feature collections."""
    docs = [_collection_doc(request, service, cid) for cid in COLLECTIONS]
    if _wants_html(request, f):
        items = "".join(
            f"<li><a href='/collections/{d['id']}/items?f=html'>{html.escape(d['title'])}</a> — "
            f"{html.escape(d['description'])}</li>"
            for d in docs
        )
        return _page("Collections", f"<ul>{items}</ul>")
    return JSONResponse(
        {
            "collections": docs,
            "links": [_link(request, "/collections", "self", "application/json", "collections")],
        }
    )


@router.get("/collections/{collection_id}", summary="One collection", responses=_NOT_FOUND)
def collection(
    request: Request,
    service: ServiceDep,
    collection_id: Annotated[str, Path(description="service_points, communes or legacy_units")],
) -> dict[str, Any]:
    """Description of one collection."""
    _layer(service, collection_id)
    return _collection_doc(request, service, collection_id)


def _feature(row: pd.Series, id_field: str) -> dict[str, Any]:
    props = {k: (None if _is_missing(v) else _plain(v)) for k, v in row.items() if k != "geometry"}
    return {
        "type": "Feature",
        "id": str(row[id_field]),
        "geometry": geometry_json(row.geometry),
        "properties": props,
    }


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _id_field(cid: str) -> str:
    return "id" if cid == "service_points" else "code"


@router.get("/collections/{collection_id}/items", summary="Features of a collection", responses=_GEOJSON_OR_HTML)
def items(
    request: Request,
    service: ServiceDep,
    collection_id: Annotated[str, Path(description="service_points, communes or legacy_units")],
    bbox: Annotated[
        str | None,
        Query(description="minLon,minLat,maxLon,maxLat (CRS84), decimal degrees.", max_length=200,
              json_schema_extra={"pattern": BBOX_PATTERN}),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000, description="Items to skip.")] = 0,
    f: FormatParam = None,
) -> Response:
    """Features, filtered by bbox and by any property given as a query parameter (``?kind=branch``)."""
    layer = _layer(service, collection_id)
    if bbox:
        if _BBOX.match(bbox) is None:
            raise InvalidParameter(f"bbox={bbox!r} must be four numbers minLon,minLat,maxLon,maxLat")
        minx, miny, maxx, maxy = (float(v) for v in bbox.split(","))
        if minx > maxx or miny > maxy:
            raise InvalidParameter(f"bbox={bbox!r}: min must not exceed max")
        layer = layer.cx[minx:maxx, miny:maxy]
    for key, value in request.query_params.items():
        if key in _RESERVED:
            continue
        if key not in layer.columns or key == "geometry":
            raise InvalidParameter(f"unknown property filter {key!r} for {collection_id}")
        layer = layer[layer[key].astype(str) == value]
    matched = len(layer)
    page = layer.iloc[offset : offset + limit]
    id_field = _id_field(collection_id)
    features = [_feature(row, id_field) for _, row in page.iterrows()]
    if _wants_html(request, f):
        rows = "".join(
            f"<tr><td><a href='/collections/{collection_id}/items/{html.escape(ft['id'])}?f=html'>"
            f"{html.escape(ft['id'])}</a></td><td>{html.escape(str(ft['properties'].get('name', '')))}</td></tr>"
            for ft in features
        )
        return _page(COLLECTIONS[collection_id][0], f"<p>{matched} features</p><table>{rows}</table>")
    path = f"/collections/{collection_id}/items"
    links = [_link(request, f"{path}?offset={offset}&limit={limit}", "self", "application/geo+json", "page")]
    if offset + limit < matched:
        links.append(
            _link(
                request,
                f"{path}?offset={offset + limit}&limit={limit}",
                "next",
                "application/geo+json",
                "next page",
            )
        )
    body = {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": len(features),
        "links": links,
    }
    return GeoJSONResponse(body)


@router.get("/collections/{collection_id}/items/{feature_id}", summary="One feature", responses=_GEOJSON_OR_HTML)
def item(
    request: Request,
    service: ServiceDep,
    collection_id: Annotated[str, Path(description="service_points, communes or legacy_units")],
    feature_id: Annotated[str, Path(description="Feature id (service point id or commune code).")],
    f: FormatParam = None,
) -> Response:
    """One feature by id."""
    layer = _layer(service, collection_id)
    id_field = _id_field(collection_id)
    hit = layer[layer[id_field].astype(str) == feature_id]
    if hit.empty:
        raise NotFound(f"no feature {feature_id!r} in {collection_id}")
    feature = _feature(hit.iloc[0], id_field)
    if _wants_html(request, f):
        rows = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in feature["properties"].items()
        )
        return _page(str(feature["properties"].get("name", feature_id)), f"<table>{rows}</table>")
    return GeoJSONResponse(feature)
