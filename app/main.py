"""The FastAPI application factory (``uvicorn app.main:create_app --factory``)."""

from __future__ import annotations

import gc
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware

from app.dependencies import call_backend
from app.errors import install_error_handlers
from app.routes import api, ask, ogc, pages, planner
from app.schemas import Health
from geo import __version__
from geo.service import Service, get_service

__all__ = ["create_app"]


def create_app(service: Service | None = None) -> FastAPI:
    """Build the app on ``service`` (default: the configured backend, loaded now so errors show at start)."""
    app = FastAPI(
        title="gandan — gần dân",
        version=__version__,
        description=(
            "Nơi gần nhất đang mở để làm thủ tục hành chính ở Hà Nội. The nearest open public-service "
            "location in Hanoi for a procedure, commune lookups, coverage, and a free-text lookup. "
            "Map data © OpenStreetMap contributors (ODbL 1.0)."
        ),
    )
    app.state.service = service or get_service()
    app.state.service.load_networks()
    # Only large bodies (map layers, GeoJSON pages) are worth compressing; small answers go out as they are.
    app.add_middleware(GZipMiddleware, minimum_size=16_384)
    install_error_handlers(app)

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz(request: Request) -> Any:
        """Liveness, and the state of each part (index, database)."""
        svc: Service = request.app.state.service
        parts = await call_backend(svc, svc.health)  # PostGIS: awaited on the event loop
        status = "ok" if all(v == "ok" for v in parts.values()) else "degraded"
        manifest = svc.index.manifest
        return {
            "status": status,
            "backend": svc.name,
            "parts": parts,
            "boundary_set": manifest.get("boundary_set"),
            "built_at": manifest.get("built_at"),
        }

    app.include_router(api.router)
    app.include_router(ogc.router)
    app.include_router(ask.router)  # free-text questions: /v1/ask
    app.include_router(planner.router)  # coverage for planners: /v1/coverage, /planner
    pages.install(app)  # /map, its data layers, and /static/vendor (self-hosted folium assets)
    # The index, networks and catalogues loaded above live as long as the process: moved out of the
    # collector's generations, a full collection no longer walks them (pauses of 100-180 ms under load
    # became the p99 of /v1/nearest). They are still freed as usual when dropped.
    gc.collect()
    gc.freeze()
    return app
