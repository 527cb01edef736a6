"""The FastAPI application factory (``uvicorn app.main:create_app --factory``)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.assets import REDOC_JS, SWAGGER_UI_CSS, SWAGGER_UI_FAVICON, SWAGGER_UI_JS, VENDOR_URL, require_web_assets
from app.dependencies import call_backend
from app.errors import install_error_handlers
from app.routes import api, ask, ogc, pages, planner, staff
from app.schemas import Health
from geo import __version__
from geo.service import Service, get_service

__all__ = ["PinLiveState", "create_app"]


class PinLiveState:
    """ASGI middleware: each request works on the live state current when it arrived (`Service.pin`).

    A new index or new staff changes swapped in meanwhile (`geo.live`) are for the next request, so no
    answer mixes rows of two point tables.
    """

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request on the live state pinned at its start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = self.service.pin()
        try:
            await self.app(scope, receive, send)
        finally:
            self.service.unpin(token)


def create_app(
    service: Service | None = None, *, signin_per_minute: int | None = None, writes_per_minute: int | None = None
) -> FastAPI:
    """Build the app on ``service`` (default: the configured backend, loaded now so errors show at start).

    The service's live state is polled in the background from here on (`geo.live.Live.start`) until the
    app shuts down (its lifespan's end stops the poller); the staff rate limits default to
    `app.routes.staff`'s.
    """
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.service.live.stop()  # a server shutting down polls nothing more (its database may be gone)

    app = FastAPI(
        lifespan=lifespan,
        title="gandan — gần dân",
        version=__version__,
        description=(
            "Nơi gần nhất đang mở để làm thủ tục hành chính ở Hà Nội. The nearest open public-service "
            "location in Hanoi for a procedure, commune lookups, coverage, and a free-text lookup. "
            "Map data © OpenStreetMap contributors (ODbL 1.0)."
        ),
        # /docs and /redoc are built by _install_docs on the self-hosted assets (FastAPI's load a CDN).
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service or get_service()
    app.state.service.load_networks()
    app.state.service.live.start()
    # Only large bodies (map layers, GeoJSON pages) are worth compressing; small answers go out as they are.
    app.add_middleware(GZipMiddleware, minimum_size=16_384)
    app.add_middleware(PinLiveState, service=app.state.service)
    install_error_handlers(app)

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz(request: Request) -> Any:
        """Liveness, the state of each part (index, database, live refresh), and what this worker serves.

        ``built_at`` and ``changes_version`` are those of the state this worker serves; a failed
        rebuild shows in ``parts.live`` (the previous state keeps serving) and orphaned staff changes
        (their place was removed by a rebuild) in ``orphaned_changes``.
        """
        svc: Service = request.app.state.service
        parts = await call_backend(svc, svc.health)  # PostGIS: awaited on the event loop
        live = svc.live_health()
        if live["refresh_error"] is not None:  # the last rebuild failed: the previous state is served
            parts["live"] = f"stale: {live['refresh_error']}"
        status = "ok" if all(v == "ok" for v in parts.values()) else "degraded"
        manifest = svc.index.manifest
        return {
            "status": status,
            "backend": svc.name,
            "parts": parts,
            "boundary_set": manifest.get("boundary_set"),
            **live,
        }

    app.include_router(api.router)
    app.include_router(ogc.router)
    app.include_router(ask.router)  # free-text questions: /v1/ask
    app.include_router(planner.router)  # coverage for planners: /v1/coverage, /planner
    settings = app.state.service.settings
    staff.install(
        app,
        signin_per_minute=signin_per_minute or settings.staff_signin_failures_per_minute,
        writes_per_minute=writes_per_minute or settings.staff_writes_per_minute,
    )  # /v1/staff, /staff
    pages.install(app)  # /map, its data layers, and /static/vendor (self-hosted folium assets)
    _install_docs(app)
    # The index, networks and catalogues loaded above live as long as the process: moved out of the
    # collector's generations, a full collection no longer walks them (pauses of 100-180 ms under load
    # became the p99 of /v1/nearest). They are still freed as usual when dropped.
    gc.collect()
    gc.freeze()
    return app


def _install_docs(app: FastAPI) -> None:
    """Add ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) loading their libraries from `VENDOR_URL`.

    FastAPI's own pages load them (and a favicon, and Google Fonts for ReDoc) from the internet, so they
    were blank offline; these are the same pages on the copies `app.assets` installs.
    """
    redirect_url = app.swagger_ui_oauth2_redirect_url

    def vendor(request: Request, path: str) -> str:
        # Behind a proxy (root_path) the page's links must carry the prefix, as FastAPI's do.
        return f"{request.scope.get('root_path', '').rstrip('/')}{VENDOR_URL}/{path}"

    def openapi_url(request: Request) -> str:
        return f"{request.scope.get('root_path', '').rstrip('/')}{app.openapi_url}"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        require_web_assets()  # 503 with what to run, rather than a blank page
        return get_swagger_ui_html(
            openapi_url=openapi_url(request),
            title=f"{app.title} — Swagger UI",
            oauth2_redirect_url=redirect_url,
            swagger_js_url=vendor(request, SWAGGER_UI_JS),
            swagger_css_url=vendor(request, SWAGGER_UI_CSS),
            swagger_favicon_url=vendor(request, SWAGGER_UI_FAVICON),
            # No badge asking validator.swagger.io about the schema.
            swagger_ui_parameters={"validatorUrl": None},
        )

    if redirect_url:

        @app.get(redirect_url, include_in_schema=False)
        async def swagger_ui_redirect() -> HTMLResponse:
            return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        require_web_assets()
        return get_redoc_html(
            openapi_url=openapi_url(request),
            title=f"{app.title} — ReDoc",
            redoc_js_url=vendor(request, REDOC_JS),
            redoc_favicon_url=vendor(request, SWAGGER_UI_FAVICON),
            with_google_fonts=False,
        )
