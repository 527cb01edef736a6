"""``/v1/staff/…``: staff changes (create, list, undo), the audit log, sign-in tokens; and the ``/staff`` page.

Who may do what
    Every write route needs ``Authorization: Bearer <token>`` (`geo.store.staff`): 401 without a valid
    one (missing, malformed, unknown, expired, revoked), 403 for the wrong role. ``editor`` creates
    changes and undoes their own; ``admin`` also undoes anyone's and manages tokens. Read routes that
    citizens' surfaces already show (the changes in force, orphaned changes, places) are public; the
    audit log (who did what) and the token list need a sign-in (``editor`` for the audit, ``admin`` for
    tokens).

Abuse
    Failed sign-ins and writes are rate-limited per client address, in each worker (`RateLimit`): 429
    problem+json with ``Retry-After``. A deployment puts a limit at its load balancer too. Tokens only
    travel in the ``Authorization`` header (never a URL, so never an access log line) and no error
    repeats them. No CORS headers are sent: a page of another origin cannot write.

Each write returns after its transaction is on disk (201); every worker serves the change within
`geo.settings.Settings.live_poll_s` plus the rebuild (`geo.live`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field

from app.dependencies import ServiceDep
from app.errors import problem
from app.routes.pages import PAGES_DIR, STRINGS, Lang
from app.schemas import Problem
from geo.changes import Change, active_changes, validate_change
from geo.errors import BackendUnavailable, DataValidationError, InvalidChange, NotFound, RateLimited
from geo.service import Service
from geo.store.staff import Forbidden, InvalidToken, StaffToken

__all__ = ["RateLimit", "RateLimited", "install", "router"]

router = APIRouter(prefix="/v1/staff", tags=["staff"])
pages = APIRouter(tags=["pages"])
_PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}
WRITE_PROBLEMS: dict[int | str, dict[str, Any]] = {s: _PROBLEM for s in (401, 403, 404, 422, 429, 503)}
READ_PROBLEMS: dict[int | str, dict[str, Any]] = {s: _PROBLEM for s in (401, 403, 422, 429)}
SIGNIN_FAILURES_PER_MINUTE = 10
WRITES_PER_MINUTE = 600


class RateLimit:
    """A sliding-window count of events per client: at most ``limit`` in ``window_s`` seconds."""

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Seconds until ``client`` may try again (0: now)."""
        with self._lock:
            events = self._trim(client, time.monotonic())
            if len(events) < self.limit:
                return 0
            return max(1, int(events[0] + self.window_s - time.monotonic()) + 1)

    def hit(self, client: str) -> None:
        """Count one event of ``client``."""
        with self._lock:
            self._trim(client, time.monotonic()).append(time.monotonic())

    def _trim(self, client: str, now: float) -> deque[float]:
        events = self._events.setdefault(client, deque())
        while events and events[0] <= now - self.window_s:
            events.popleft()
        if len(self._events) > 10_000:  # forget idle clients rather than grow without bound
            for key in [k for k, v in self._events.items() if not v and k != client]:
                del self._events[key]
        return events


# ============================================================================================ sign-in
def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _limits(request: Request) -> tuple[RateLimit, RateLimit]:
    state = request.app.state
    return state.staff_signin_limit, state.staff_write_limit


def _store(service: Service) -> Any:
    if service.staff is None:
        raise BackendUnavailable("staff changes are not configured on this server")
    return service.staff


def _changes_of(service: Service) -> list[Change]:
    """Every stored change (none when this server keeps no staff state)."""
    return [] if service.staff is None else list(service.staff.changes())


def signed_in(request: Request, service: ServiceDep) -> StaffToken:
    """The token of the request (any role); 401 (and a counted failure) otherwise."""
    signin, _ = _limits(request)
    client = _client(request)
    wait = signin.retry_after(client)
    if wait:
        raise RateLimited(f"too many failed sign-ins; try again in {wait} s", retry_after=wait)
    header = request.headers.get("authorization", "")
    scheme, _, bearer = header.partition(" ")
    try:
        if scheme.lower() != "bearer" or not bearer.strip():
            raise InvalidToken("sign in: send Authorization: Bearer <token>")
        if service.staff is None:  # no staff state here: no token can be valid
            raise InvalidToken("the token is not valid")
        return service.staff.verify(bearer.strip())
    except InvalidToken:
        signin.hit(client)
        raise


def editor(request: Request, token: Annotated[StaffToken, Depends(signed_in)]) -> StaffToken:
    """A signed-in editor or admin, within the write rate limit."""
    _, writes = _limits(request)
    client = _client(request)
    wait = writes.retry_after(client)
    if wait:
        raise RateLimited(f"too many writes; try again in {wait} s", retry_after=wait)
    writes.hit(client)
    return token


def admin(token: Annotated[StaffToken, Depends(editor)]) -> StaffToken:
    """A signed-in admin (403 for an editor)."""
    if token.role != "admin":
        raise Forbidden("this needs the admin role")
    return token


def reader(token: Annotated[StaffToken, Depends(signed_in)]) -> StaffToken:
    """A signed-in editor or admin, for reads that name staff (the audit)."""
    return token


def admin_reader(token: Annotated[StaffToken, Depends(signed_in)]) -> StaffToken:
    """A signed-in admin, for reads of the tokens."""
    if token.role != "admin":
        raise Forbidden("this needs the admin role")
    return token


EditorDep = Annotated[StaffToken, Depends(editor)]
AdminDep = Annotated[StaffToken, Depends(admin)]


# ============================================================================================ models
class ChangeIn(BaseModel):
    """A change as staff submit it (see `geo.changes.Change` for each field)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["closure", "special_hours", "location", "procedure_unavailable", "notice"]
    place_id: str = Field(max_length=64, description="The service point's id, e.g. cs-00070.")
    reason: str = Field(max_length=1_000, description="Why; shown to citizens with closures and notices.")
    starts: datetime | None = Field(default=None, description="From (ISO 8601 with offset).")
    ends: datetime | None = Field(default=None, description="Until, exclusive (ISO 8601 with offset).")
    hours: str | None = Field(default=None, max_length=200, description="special_hours: e.g. 08:00-11:00 or off.")
    lon: float | None = Field(default=None, description="location: the corrected point.")
    lat: float | None = Field(default=None, description="location: the corrected point.")
    precision: Literal["exact", "approximate"] | None = None
    method: Literal["surveyed", "staff_map"] | None = None
    measured: str | None = Field(default=None, max_length=500, description="location: how it was measured.")
    procedure: str | None = Field(default=None, max_length=64, description="procedure_unavailable: its code.")
    notice: str | None = Field(default=None, max_length=2_000, description="notice: the text citizens see.")
    confirm_outside_commune: bool = False


class UndoIn(BaseModel):
    """Why a change is undone."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=1_000)


class TokenIn(BaseModel):
    """A new sign-in token."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, description="Who holds it.")
    role: Literal["editor", "admin"] = "editor"
    days: int = Field(default=90, ge=1, le=366)


class RevokeIn(BaseModel):
    """Why a token is revoked."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=1_000)


# ============================================================================================ changes
def _validate(service: Service, change: Change, existing: list[Change]) -> None:
    index = service.state.base.index
    try:
        validate_change(change, index.service_points, index.communes, index.procedures["code"].astype(str), existing)
    except DataValidationError as exc:
        # Each field's problem in Vietnamese (`message`) with the English beside it, as the staff page shows it.
        errors = [{"where": f"body.{p.column}", **p.texts()} for p in exc.problems]
        detail = "; ".join(f"{e['where']}: {e['message_en']}" for e in errors)
        raise InvalidChange(detail, errors=errors) from None


def _public(change: Change) -> dict[str, Any]:
    return change.to_json()


@router.post("/changes", status_code=201, responses=WRITE_PROBLEMS, summary="Make a change (editor)")
def create_change(body: ChangeIn, service: ServiceDep, token: EditorDep) -> JSONResponse:
    """Store a change; it is on disk when the 201 comes, and on every surface within seconds."""
    store = _store(service)
    change = Change(id="", **body.model_dump())
    _validate(service, change, [])
    stored = store.add_change(change, actor=token.name)
    return JSONResponse(_public(stored), status_code=201, headers={"Location": f"/v1/staff/changes/{stored.id}"})


@router.get("/changes", responses={422: _PROBLEM}, summary="Changes in force (or all)")
def list_changes(
    service: ServiceDep,
    status: Annotated[Literal["active", "all"], Query(description="active: in force now; all: ever made.")] = "active",
    place: Annotated[str | None, Query(max_length=64, description="Only this place's.")] = None,
) -> list[dict[str, Any]]:
    """The changes (public: citizens see their effects anyway); newest first."""
    changes = _changes_of(service)
    if status == "active":
        changes = active_changes(changes, now=datetime.now().astimezone())
    if place:
        changes = [c for c in changes if c.place_id == place]
    return [_public(c) for c in reversed(changes)]


@router.get("/changes/{change_id}", responses={404: _PROBLEM, 422: _PROBLEM}, summary="One change")
def get_change(service: ServiceDep, change_id: Annotated[str, PathParam(max_length=32)]) -> dict[str, Any]:
    """One change by id."""
    if service.staff is None:
        raise NotFound(f"no change has the id {change_id!r}")
    return _public(service.staff.change(change_id))


@router.post("/changes/{change_id}/undo", status_code=201, responses=WRITE_PROBLEMS, summary="Undo a change")
def undo_change(
    service: ServiceDep, token: EditorDep, body: UndoIn, change_id: Annotated[str, PathParam(max_length=32)]
) -> JSONResponse:
    """Undo a change with a new one (editors their own, admins anyone's)."""
    store = _store(service)
    target = store.change(change_id)
    if token.role != "admin" and target.author != token.name:
        raise Forbidden(f"{change_id} was made by someone else; only an admin may undo it")
    undo = Change(id="", kind="undo", place_id=target.place_id, reason=body.reason, undoes=change_id)
    _validate(service, undo, store.changes())
    stored = store.add_change(undo, actor=token.name)
    return JSONResponse(_public(stored), status_code=201)


@router.get("/orphans", summary="Changes whose place the index no longer has")
def orphans(service: ServiceDep) -> list[dict[str, Any]]:
    """Changes in force on places a rebuild removed: reported here and in /healthz, never dropped silently."""
    from geo.live import orphan_report

    return orphan_report(service.state.orphans)


@router.get("/places", responses={422: _PROBLEM}, summary="Places staff can change")
def places(
    service: ServiceDep, q: Annotated[str | None, Query(max_length=200, description="Words of the name.")] = None
) -> list[dict[str, Any]]:
    """Every service point (or those whose name, address or id contains ``q``) with its location and hours."""
    from geo.text import fold

    key = fold(q) if q and q.strip() else ""
    out = []
    for row in range(len(service.backend.points)):
        props = service.point_feature(row)
        p = props["properties"]
        if key and key not in fold(f"{p['id']} {p['name']} {p['address']}"):
            continue
        lon, lat = props["geometry"]["coordinates"]
        out.append({**p, "lon": lon, "lat": lat})
    return out


# ============================================================================================ audit
@router.get("/audit", responses=READ_PROBLEMS, summary="The audit log (signed in)")
def audit(
    service: ServiceDep,
    token: Annotated[StaffToken, Depends(reader)],
    actor: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[str | None, Query(max_length=64, description="Prefix, e.g. change. or token.")] = None,
    place: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601 with offset.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[dict[str, Any]]:
    """Who did what, when and why, newest first."""
    entries = _store(service).audit(
        actor=actor,
        action=action,
        target=f"place:{place}" if place else None,
        since=since,
        limit=limit,
        offset=offset,
    )
    return [e.to_json() for e in entries]


@router.get("/me", responses=READ_PROBLEMS, summary="The signed-in token")
def me(token: Annotated[StaffToken, Depends(signed_in)]) -> dict[str, Any]:
    """Who is signed in, with which role (the staff page's sign-in check)."""
    return token.to_json()


# ============================================================================================ tokens
@router.post("/tokens", status_code=201, responses=WRITE_PROBLEMS, summary="Create a token (admin)")
def create_token(body: TokenIn, service: ServiceDep, token: AdminDep) -> JSONResponse:
    """A new token: its secret is in this answer only."""
    secret, record = _store(service).create_token(body.name, body.role, days=body.days, created_by=token.name)
    return JSONResponse({"token": secret, **record.to_json()}, status_code=201)


@router.get("/tokens", responses=READ_PROBLEMS, summary="Tokens (admin)")
def list_tokens(service: ServiceDep, token: Annotated[StaffToken, Depends(admin_reader)]) -> list[dict[str, Any]]:
    """Every token (never a secret)."""
    return [t.to_json() for t in _store(service).tokens()]


@router.post("/tokens/{token_id}/revoke", responses=WRITE_PROBLEMS, summary="Revoke a token (admin)")
def revoke_token(
    service: ServiceDep, token: AdminDep, token_id: Annotated[str, PathParam(max_length=32)], body: RevokeIn
) -> dict[str, Any]:
    """Revoke a token (every worker refuses it within the verification cache time, 5 s)."""
    return _store(service).revoke_token(token_id, actor=token.name, reason=body.reason).to_json()


# ============================================================================================ page
_templates = Environment(loader=FileSystemLoader(PAGES_DIR), autoescape=select_autoescape(["html"]))
STAFF_JS = PAGES_DIR / "staff.js"


@pages.get("/staff", response_class=HTMLResponse, summary="The staff page")
def staff_page(service: ServiceDep, lang: Annotated[Lang, Query(description="Page language.")] = "vi") -> HTMLResponse:
    """Sign in with a token, find a place, correct it, see the audit (Vietnamese first)."""
    strings = STRINGS[lang]
    texts = {k[len("staff_") :]: v for k, v in strings.items() if k.startswith("staff_")}
    other = "en" if lang == "vi" else "vi"
    page = _templates.get_template("staff.html").render(
        s=texts,
        lang=lang,
        other_href="/staff?lang=en" if other == "en" else "/staff",
        config={
            "lang": lang,
            "strings": texts,
            "tile_url": service.settings.tile_url,
            "tile_attribution": service.settings.tile_attribution,
        },
        script=f"/staff/staff.js?v={int(Path(STAFF_JS).stat().st_mtime)}",
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@pages.get("/staff/staff.js", include_in_schema=False)
def staff_script() -> FileResponse:
    """The staff page's script."""
    return FileResponse(STAFF_JS, media_type="text/javascript; charset=utf-8")


# ============================================================================================ install
def install(app: FastAPI, *, signin_per_minute: int | None = None, writes_per_minute: int | None = None) -> None:
    """Add the staff routes, the page, the rate limits and the 401/429 answers (with their headers) to ``app``."""
    app.state.staff_signin_limit = RateLimit(signin_per_minute or SIGNIN_FAILURES_PER_MINUTE)
    app.state.staff_write_limit = RateLimit(writes_per_minute or WRITES_PER_MINUTE)
    app.include_router(router)
    app.include_router(pages)

    @app.exception_handler(InvalidToken)
    async def _unauthorized(request: Request, exc: InvalidToken) -> JSONResponse:
        response = problem(401, exc.type, exc.title, exc.detail, request.url.path)
        response.headers["WWW-Authenticate"] = 'Bearer realm="gandan-staff"'
        return response

    @app.exception_handler(RateLimited)
    async def _too_many(request: Request, exc: RateLimited) -> JSONResponse:
        wait = int(exc.extra.get("retry_after", 60))
        response = problem(429, exc.type, exc.title, exc.detail, request.url.path, retry_after=wait)
        response.headers["Retry-After"] = str(wait)
        return response
