"""FastAPI dependencies: the query service and common parameters."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import unquote_plus

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from app.schemas import AT_HELP, AT_MAX_LENGTH, AT_PATTERN, LAT_BOUNDS, LAT_HELP, LON_BOUNDS, LON_HELP
from geo.errors import InvalidTime
from geo.hours import TZ, parse_time
from geo.service import Service

__all__ = [
    "AtParam",
    "LatParam",
    "LonParam",
    "ServiceDep",
    "call_backend",
    "get_service",
    "parse_query",
    "query_dict",
    "query_openapi",
    "resolve_at",
]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


async def get_service(request: Request) -> Service:
    """The service the app was created with (loaded at start-up).

    Async so FastAPI calls it on the event loop rather than handing it to the thread pool.
    """
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]
LatParam = Annotated[float, Query(description=LAT_HELP, json_schema_extra=LAT_BOUNDS)]
LonParam = Annotated[float, Query(description=LON_HELP, json_schema_extra=LON_BOUNDS)]
# The pattern is documented, and checked by `resolve_at` (so a bad time is an invalid-time problem).
AtParam = Annotated[
    str | None, Query(description=AT_HELP, max_length=AT_MAX_LENGTH, json_schema_extra={"pattern": AT_PATTERN})
]
_AT = re.compile(AT_PATTERN)


def resolve_at(at: str | None) -> datetime:
    """The query time: parsed (the documented `AT_PATTERN`, offset required) or now in Hanoi."""
    if not at:
        return datetime.now(TZ)
    if _AT.match(at) is None:
        parse_time(at)  # its message says what is wrong, when it can tell
        raise InvalidTime(f"time {at!r} is not of the form 2026-03-02T09:30+07:00 (years 2000 to 2099)")
    return parse_time(at)


async def call_backend(service: Service, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a query the way its backend needs.

    Inline for the in-memory engine; when the backend waits on I/O, awaited on the event loop if the service
    method has an ``_async`` twin the backend supports (``nearest``, ``health`` on PostGIS), else in the
    thread pool.
    """
    if service.does_io:  # hot path: measured, see README
        twin = _async_twin(service, fn)
        if twin is not None:
            return await twin(*args, **kwargs)
        return await run_in_threadpool(fn, *args, **kwargs)
    return fn(*args, **kwargs)


def _async_twin(service: Service, fn: Callable[..., Any]) -> Callable[..., Any] | None:
    """``service.<name>_async`` for the bound method ``service.<name>``, when its backend has ``<name>_async``."""
    name = getattr(fn, "__name__", "") + "_async"
    if getattr(fn, "__self__", None) is service and hasattr(service.backend, name):
        return getattr(service, name, None)
    return None


# FastAPI works out each declared parameter and sub-dependency afresh on every request (about 40 µs a
# query parameter in FastAPI 0.165, more than the nearest query itself). The hot route takes only the
# request, validates its whole query string with one pydantic-core call, and documents the parameters
# through `query_openapi`.
def parse_query(model: type[M], request: Request) -> M:
    """The request's query string validated against ``model``.

    Errors are raised as FastAPI's own `RequestValidationError` with ``("query", field)`` locations, so
    they become the same problem+json as any other invalid parameter.
    """
    try:
        return model.model_validate(query_dict(request.scope.get("query_string", b"")))
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def query_dict(raw: bytes) -> dict[str, str]:
    """A query string as ``{name: value}``, the last value of a repeated name winning.

    The same answer as ``dict(starlette.datastructures.QueryParams(raw))`` (`urllib.parse.parse_qsl` with
    blank values kept) in a third of the time: only the pairs with an escape are unquoted.
    """
    out: dict[str, str] = {}
    for pair in raw.decode("latin-1").split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "%" in pair or "+" in pair:
            name, value = unquote_plus(name, errors="replace"), unquote_plus(value, errors="replace")
        out[name] = value
    return out


def query_openapi(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI ``parameters`` of a query model, for the ``openapi_extra`` of a route using `parse_query`."""
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema["properties"].items():
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "description": prop.get("description", ""),
                "schema": {k: v for k, v in prop.items() if k not in ("title", "description")},
            }
        )
    return {"parameters": parameters}
