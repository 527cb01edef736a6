"""RFC 9457 problem+json for every error the API returns."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo.errors import DataValidationError, GandanError

__all__ = ["PROBLEM_BASE", "install_error_handlers", "problem"]

PROBLEM_BASE = "/problems/"
MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("gandan")


def problem(
    status: int, slug: str, title: str, detail: str, instance: str | None = None, **extra: Any
) -> JSONResponse:
    """A problem+json response with a stable ``type`` per kind of error."""
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


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
        return problem(exc.status_code, slug, str(exc.detail), str(exc.detail), request.url.path)

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
