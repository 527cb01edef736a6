"""RFC 9457 problem+json for every error the API returns, and an OpenAPI document that says so.

`install_error_handlers` maps every error to problem+json (a 405 keeps its ``Allow`` header, as RFC 9110
asks), and makes ``/openapi.json`` document it: every 4xx/5xx response of every operation is
``application/problem+json`` with the `app.schemas.Problem` schema; every operation documents 422 (invalid
parameter), 500 and 503 (backend unavailable), operations with a path parameter 404; ``.geojson`` routes
answer ``application/geo+json``. ``schemathesis run --checks all`` holds the document to it
(tests/test_api_schema.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.responses import GEOJSON
from geo.errors import DataValidationError, GandanError

__all__ = ["PROBLEM_BASE", "document_problems", "install_error_handlers", "problem"]

PROBLEM_BASE = "/problems/"
MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("gandan")


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response with a stable ``type`` per kind of error."""
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors, validation errors, unknown routes and crashes to problem+json."""

    @app.exception_handler(GandanError)
    async def _domain(request: Request, exc: GandanError) -> JSONResponse:
        extra = dict(exc.extra)
        if isinstance(exc, DataValidationError):
            extra["problems"] = [str(p) for p in exc.problems]
        return problem(exc.status, exc.type, exc.title, exc.detail, request.url.path, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['where']}: {e['message']}" for e in errors) or "invalid request"
        return problem(422, "invalid-parameter", "Invalid parameter", detail, request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # RFC 9110: `Allow` lists every method of the path, over all its routes
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return problem(exc.status_code, slug, str(exc.detail), str(exc.detail), request.url.path, headers=headers)

    document_problems(app)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem(
            500,
            "internal-error",
            "Internal error",
            "an unexpected error occurred; it was logged",
            request.url.path,
        )


def _allowed_methods(request: Request) -> list[str]:
    """The methods the routes of the request's path accept (the router's 405 names only the first route's)."""
    allowed: set[str] = set()
    for route in request.app.router.routes:
        methods = getattr(route, "methods", None)
        if methods and route.matches(request.scope)[0] != Match.NONE:
            allowed |= methods
    return sorted(allowed)


_ERROR_DESCRIPTIONS = {
    "400": "The request body cannot be read (not UTF-8 JSON) (problem+json).",
    "404": "Not found (problem+json).",
    "422": "Invalid parameter, time or location (problem+json).",
    "500": "Internal error (problem+json).",
    "503": "Backend unavailable, e.g. the database is down; try again (problem+json).",
}


def document_problems(app: FastAPI) -> None:
    """Make ``app.openapi()`` document problem+json errors and GeoJSON bodies on every operation (see module)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        _document(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document(schema: dict[str, Any]) -> None:
    from app.schemas import Problem

    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}"))
    problem_content = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            wanted = ["422", "500", "503"]
            if "{" in path:
                wanted.append("404")
            if "requestBody" in operation:  # FastAPI answers 400 to a body it cannot decode
                wanted.append("400")
            for code in wanted:
                responses.setdefault(code, {"description": _ERROR_DESCRIPTIONS[code]})
            for code, response in responses.items():
                if code[:1] in ("4", "5"):
                    response["content"] = dict(problem_content)
            ok = responses.get("200", {})
            if path.endswith(".geojson") and "application/json" in ok.get("content", {}):
                ok["content"] = {GEOJSON: ok["content"]["application/json"]}
    schema.get("components", {}).get("schemas", {}).pop("HTTPValidationError", None)
    schema.get("components", {}).get("schemas", {}).pop("ValidationError", None)
