"""FastAPI dependencies: the query service and common parameters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from geo.hours import TZ, parse_time
from geo.service import Service

__all__ = ["AtParam", "LatParam", "LonParam", "ServiceDep", "call_backend", "get_service", "resolve_at"]

T = TypeVar("T")


async def get_service(request: Request) -> Service:
    """The service the app was created with (loaded at start-up).

    Async so FastAPI calls it on the event loop rather than handing it to the thread pool.
    """
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]
LatParam = Annotated[float, Query(description="Latitude, WGS 84 degrees (Hanoi: about 20.5 to 21.4).")]
LonParam = Annotated[float, Query(description="Longitude, WGS 84 degrees (Hanoi: about 105.2 to 106.1).")]
AtParam = Annotated[
    str | None,
    Query(
        description="Time of the visit, ISO 8601 with offset (2026-03-02T09:30+07:00); default now in "
        "Asia/Ho_Chi_Minh. A time without offset is refused.",
        max_length=64,
    ),
]


def resolve_at(at: str | None) -> datetime:
    """The query time: parsed (with offset required) or now in Hanoi."""
    return parse_time(at) if at else datetime.now(TZ)


async def call_backend(service: Service, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a query: inline for the in-memory engine, in the thread pool when the backend waits on I/O."""
    if getattr(service.backend, "does_io", False):
        return await run_in_threadpool(fn, *args, **kwargs)
    return fn(*args, **kwargs)
