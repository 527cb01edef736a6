"""FastAPI dependencies: the query service and common parameters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request

from geo.hours import TZ, parse_time
from geo.service import Service

__all__ = ["AtParam", "LatParam", "LonParam", "ServiceDep", "get_service", "resolve_at"]


def get_service(request: Request) -> Service:
    """The service the app was created with (loaded at start-up)."""
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
