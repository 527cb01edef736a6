"""The PostGIS query backend: `PostgisBackend`, the API's backend with ``--backend postgis``.

Queries
    The API connects as the read-only role, in read-only sessions with a statement timeout. Small
    reference tables (procedures, communes, points, capabilities, calendar) are read once at start-up
    (again when ``load_id`` shows a new load) into the same `geo.catalog.Catalog` the embedded engine
    builds; the per-request work is SQL:

    * ``commune_at`` and ``check_location``: one statement, ``ST_Covers`` on the commune polygons (GiST)
      and ``ST_Intersects`` on the subdivided service area (GiST);
    * ``nearest``: a KNN statement ``ORDER BY geom_utm <-> origin LIMIT n`` over the GiST index, joined
      to ``capabilities`` for the procedure, returning each candidate's true geodesic distance
      (``ST_Distance`` on geography, on the WGS 84 spheroid) and its projected distance.

    Opening states are evaluated in Python on that small candidate set, and the ranking is the shared
    rule of `geo.ranking` (`rank_key`, and `rank_nearest` with its exact stop): key (open 0 < unknown 1 <
    closed 2, geodesic distance rounded to the cm, id), batches growing fourfold until the k-th key is open
    and nearer than the projected distance of the farthest candidate fetched (scaled by a margin below the
    UTM scale factor), or every capable point was fetched. Both backends therefore return the same ids in
    the same order (tests/test_postgis.py checks 2,000 random queries).

    The trap avoided here: a distance condition in the WHERE clause of a KNN query (``ST_DWithin``, or
    ``ST_Distance(...) < r``) either makes the planner drop the ordered index scan for a bitmap scan plus
    sort, or, when fewer than ``LIMIT`` rows pass it, keeps the ordered scan walking the whole index
    testing every row, because the executor cannot know the condition will never hold again further out.
    So the statement has no distance filter at all; the stop rule runs in Python, and a larger batch is a
    new ``LIMIT``. (``ST_Distance`` in ``ORDER BY`` would not use the index either: only ``<->`` does.)

Faults
    Every query runs through one helper on one pooled connection. A pooled connection that died (server
    restart, terminated session) is noticed at checkout by ``pool_pre_ping`` (an empty statement, about
    3 % of a simple query's time), or else on first use (psycopg marks it broken, SQLAlchemy invalidates
    the pool), and then the query runs once more on a fresh connection.
    When the database still cannot be reached: `geo.errors.BackendUnavailable` (HTTP 503 problem+json).
    Nothing is cached as "down": the next request tries again, so service resumes by itself when the
    database returns. `PostgisBackend.health` reports ``{"database": "ok" | "down: …"}``.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import sqlalchemy as sa
from geoalchemy2 import Geography
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from geo.boundaries import CommuneLocator
from geo.catalog import Catalog, check_location
from geo.errors import BackendUnavailable
from geo.hours import Calendar, OpeningState, ensure_aware
from geo.index import Index
from geo.ranking import STATE_RANK, Candidates, NearestResult, build_result, check_k, rank_key, rank_nearest
from geo.settings import Settings
from geo.store.load import engine_url, error_reason, read_index_on, unavailable
from geo.store.models import METRIC_SRID, WGS84_SRID, BoundarySet, Capability, Commune, ServiceAreaPart, ServicePoint

__all__ = ["PostgisBackend"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

# Origins farther than this (degrees) outside the communes' bounding box cannot be within the 1 km
# service-area buffer, and are answered without asking the database (nor projecting them to UTM 48N,
# which fails far away from zone 48).
_ENVELOPE_PAD_DEG = 0.05
_DEFAULT_CONNECT_TIMEOUT_S = 3
_DEFAULT_STATEMENT_TIMEOUT_MS = 5_000


# =============================================================================================== statements
def _origin() -> Any:
    lon = sa.bindparam("lon", type_=sa.Double)
    lat = sa.bindparam("lat", type_=sa.Double)
    return sa.func.ST_SetSRID(sa.func.ST_MakePoint(lon, lat), WGS84_SRID)


def _locate_statement() -> sa.Select[Any]:
    """Load id, covering commune (smallest code on a shared border) and service-area membership of an origin."""
    bs = sa.bindparam("boundary_set", type_=sa.Text)
    origin = _origin()
    commune = (
        sa.select(Commune.code)
        .where(Commune.boundary_set == bs, sa.func.ST_Covers(Commune.geom, origin))
        .order_by(Commune.code)
        .limit(1)
        .scalar_subquery()
    )
    in_area = sa.exists().where(
        ServiceAreaPart.boundary_set == bs,
        sa.func.ST_Intersects(ServiceAreaPart.geom, sa.func.ST_Transform(origin, METRIC_SRID)),
    )
    return sa.select(BoundarySet.load_id, commune.label("commune_code"), in_area.label("in_area")).where(
        BoundarySet.id == bs
    )


def _knn_statement() -> sa.Select[Any]:
    """The ``want`` capable points nearest the origin by ``<->`` on the UTM 48N GiST index (no distance WHERE)."""
    sp = ServicePoint.__table__
    cap = Capability.__table__
    origin = _origin()
    projected = sp.c.geom_utm.distance_centroid(sa.func.ST_Transform(origin, METRIC_SRID))
    geodesic = sa.func.ST_Distance(
        sa.cast(sp.c.geom, Geography(srid=WGS84_SRID)), sa.cast(origin, Geography(srid=WGS84_SRID)), True
    )
    return (
        sa.select(sp.c.id, geodesic.label("distance_m"), projected.label("projected_m"))
        .join_from(sp, cap, sa.and_(cap.c.boundary_set == sp.c.boundary_set, cap.c.point_id == sp.c.id))
        .where(
            sp.c.boundary_set == sa.bindparam("boundary_set", type_=sa.Text),
            cap.c.procedure_code == sa.bindparam("code", type_=sa.Text),
        )
        .order_by(projected)
        .limit(sa.bindparam("want", type_=sa.Integer))
    )


_LOCATE = _locate_statement()
_KNN = _knn_statement()
_LOAD_ID = sa.select(BoundarySet.load_id).where(BoundarySet.id == sa.bindparam("boundary_set", type_=sa.Text))


@dataclass(frozen=True)
class _Reference:
    """What one load of the database gives the backend (read at start-up and after a new load), as one object."""

    boundary_set: str
    load_id: uuid.UUID
    catalog: Catalog
    envelope: tuple[float, float, float, float]  # the communes' bounding box, padded

    @classmethod
    def from_index(cls, index: Index, load_id: uuid.UUID) -> _Reference:
        minx, miny, maxx, maxy = (float(v) for v in index.communes.total_bounds)
        pad = _ENVELOPE_PAD_DEG
        return cls(
            boundary_set=index.boundary_set,
            load_id=load_id,
            catalog=Catalog.from_index(index),
            envelope=(minx - pad, miny - pad, maxx + pad, maxy + pad),
        )

    @cached_property
    def locator(self) -> CommuneLocator:
        return CommuneLocator(self.catalog.index.communes, cell_deg=None)  # vectorised callers only


class _Stale(Exception):
    """The database was reloaded between two statements of one query."""


class PostgisBackend:
    """The query backend on PostGIS: a `geo.service.Backend`, answering as `geo.finder.Finder` does.

    Parameters
    ----------
    database_url
        SQLAlchemy URL of the read-only role (``postgresql+psycopg://gandan_reader@host/db``).
    boundary_set
        The boundary set to serve; default the one loaded last.
    connect_timeout_s, statement_timeout_ms
        How long a connection attempt and a statement may take before the request answers 503.
    pool_size
        Pooled connections kept open (plus as many again on demand).
    pre_ping
        Test each pooled connection at checkout (``pool_pre_ping``). A query that meets a dead
        connection is retried once on a fresh one either way.

    Attributes
    ----------
    index
        The index as stored in the database (read at start-up, and again after each new load).
    points
        The service points, in the row order `capable_rows` and `Match.row` refer to.
    catalog
        The `geo.catalog.Catalog` of the load served (the point table the embedded engine builds too).
    calendar, ids, procedures
        Parts of ``catalog``, as on `geo.finder.Finder`.

    Raises
    ------
    BackendUnavailable
        The database cannot be reached at start-up, or holds no loaded index.
    """

    name = "postgis"
    does_io = True  # queries wait on the database: the API runs them in its thread pool

    def __init__(
        self,
        database_url: str | URL,
        boundary_set: str | None = None,
        *,
        connect_timeout_s: int = _DEFAULT_CONNECT_TIMEOUT_S,
        statement_timeout_ms: int = _DEFAULT_STATEMENT_TIMEOUT_MS,
        pool_size: int = 5,
        pre_ping: bool = True,
    ) -> None:
        self.engine: Engine = sa.create_engine(
            engine_url(database_url),
            # Single reads need no BEGIN/ROLLBACK round trips; sessions are read-only all the same.
            isolation_level="AUTOCOMMIT",
            pool_pre_ping=pre_ping,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_timeout=connect_timeout_s,
            connect_args={
                "connect_timeout": connect_timeout_s,
                # Read-only sessions even if the URL's role could write; no statement can hang a worker.
                # plan_cache_mode: the statements have fixed shapes whose best plan (KNN index walk, GiST
                # probes) never depends on the parameters; re-planning them would cost more than running them.
                "options": (
                    f"-c default_transaction_read_only=on -c statement_timeout={int(statement_timeout_ms)} "
                    "-c plan_cache_mode=force_generic_plan"
                ),
                "application_name": "gandan-api",
            },
        )
        self._reload_lock = threading.Lock()
        try:
            self._install(self._read_reference(boundary_set))
        except BackendUnavailable:
            self.engine.dispose()
            raise

    @classmethod
    def from_settings(cls, settings: Settings) -> PostgisBackend:
        """The backend on ``GANDAN_DATABASE_URL``, serving ``GANDAN_BOUNDARY_SET`` when set explicitly."""
        if not settings.database_url:
            raise BackendUnavailable("the postgis backend needs GANDAN_DATABASE_URL (or serve --database-url)")
        explicit = "boundary_set" in settings.model_fields_set
        return cls(settings.database_url, boundary_set=settings.boundary_set if explicit else None)

    def close(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()

    # ------------------------------------------------------------------ plumbing
    def _run(self, work: Callable[[Connection], _T]) -> _T:
        """``work(connection)`` on one pooled connection; once more on a fresh one if that connection had died.

        Every statement is a read, so running the whole of ``work`` again is safe. Any other database
        error becomes `BackendUnavailable`.
        """
        for attempt in (1, 2):
            try:
                with self.engine.connect() as conn:
                    return work(conn)
            except DBAPIError as exc:
                if exc.connection_invalidated and attempt == 1:
                    log.warning("database connection lost (%s); retrying on a fresh one", error_reason(exc))
                    continue
                raise unavailable(exc) from exc
            except SQLAlchemyError as exc:  # pool exhausted and timed out, ...
                raise unavailable(exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _read_reference(self, boundary_set: str | None) -> _Reference:
        try:
            with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
                index, load_id = read_index_on(conn, boundary_set)
        except DBAPIError as exc:
            raise unavailable(exc) from exc
        return _Reference.from_index(index, load_id)

    def _refresh(self, seen_load_id: uuid.UUID | None) -> None:
        """Read the reference tables again when the database holds a newer load than ours."""
        with self._reload_lock:
            if seen_load_id is not None and seen_load_id == self._ref.load_id:
                return  # another thread already refreshed
            log.info("boundary set %s was reloaded in the database; reading it again", self._ref.boundary_set)
            self._install(self._read_reference(self._ref.boundary_set))

    def _install(self, ref: _Reference) -> None:
        # One reference object per load: a query works on the `_ref` it started with. The plain attributes
        # are part of the `geo.service.Backend` protocol, as on the embedded engine.
        self._ref = ref
        self.catalog: Catalog = ref.catalog
        self.index: Index = ref.catalog.index
        self.calendar: Calendar = ref.catalog.calendar
        self.points: gpd.GeoDataFrame = ref.catalog.points
        self.ids: np.ndarray = ref.catalog.ids
        self.procedures: pd.DataFrame = ref.catalog.procedures

    def _locate(self, conn: Connection, lon: float, lat: float) -> tuple[bool, str | None]:
        """(inside the service area, covering commune code) for valid WGS 84 coordinates."""
        ref = self._ref
        minx, miny, maxx, maxy = ref.envelope
        if not (minx <= lon <= maxx and miny <= lat <= maxy):
            return False, None
        rows = conn.execute(_LOCATE, {"boundary_set": ref.boundary_set, "lon": float(lon), "lat": float(lat)}).all()
        if not rows:
            raise BackendUnavailable(
                f"boundary set {ref.boundary_set!r} is no longer loaded in the database; run `gandan db load`"
            )
        load_id, code, in_area = rows[0]
        if load_id != ref.load_id:
            self._refresh(load_id)
        # A covering commune is inside the area by construction (the area buffers their union).
        return bool(in_area) or code is not None, code

    # ------------------------------------------------------------------ reference data (Finder interface)
    @property
    def locator(self) -> CommuneLocator:
        """An in-memory commune locator (for vectorised callers; `commune_at` asks the database)."""
        return self._ref.locator

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """Bounding box (lon/lat) of the communes."""
        minx, miny, maxx, maxy = self._ref.catalog.index.communes.total_bounds
        return float(minx), float(miny), float(maxx), float(maxy)

    @property
    def boundary_set(self) -> str:
        """The boundary set served."""
        return self._ref.boundary_set

    @property
    def load_id(self) -> uuid.UUID:
        """Identity of the load the reference tables were read from (changes with every `load_index`)."""
        return self._ref.load_id

    def procedure(self, query: str) -> dict[str, Any]:
        """The catalog row for a procedure code or name (diacritics optional); raises UnknownProcedure."""
        return self._ref.catalog.procedure(query)

    def capable_rows(self, code: str) -> np.ndarray:
        """Row positions of the service points that handle procedure ``code``."""
        return self._ref.catalog.capable_rows(code)

    def states_at(self, at: datetime) -> tuple[list[OpeningState], np.ndarray]:
        """Opening state of every point at ``at``: the distinct states and each point's class rank."""
        return self._ref.catalog.states.states_at(at)

    def state_of(self, row: int, at: datetime) -> OpeningState:
        """Opening state of the point at ``row``."""
        return self._ref.catalog.states.state_of(row, at)

    # ------------------------------------------------------------------ SQL queries
    def commune_at(self, lon: float, lat: float) -> dict[str, Any] | None:
        """The commune (code, name, full_name, kind) that covers the point, or None (``ST_Covers``)."""
        if not (np.isfinite(lon) and np.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            return None
        return self._commune(self._run(lambda conn: self._locate(conn, lon, lat))[1])

    def _commune(self, code: str | None) -> dict[str, Any] | None:
        return None if code is None else dict(self._ref.catalog.commune_by_code[code])

    def check_location(self, lon: float, lat: float) -> None:
        """Refuse coordinates outside Hanoi; say so when lat and lon look swapped."""
        self._run(lambda conn: check_location(lon, lat, lambda x, y: self._locate(conn, x, y)[0]))

    def health(self) -> dict[str, str]:
        """``{"database": "ok"}``, or ``"down: <reason>"`` when the database or the loaded index is gone."""
        try:
            rows = self._run(lambda conn: conn.execute(_LOAD_ID, {"boundary_set": self._ref.boundary_set}).all())
        except BackendUnavailable as exc:
            return {"database": f"down: {exc.detail}"}
        if not rows:
            return {"database": f"down: boundary set {self._ref.boundary_set!r} is not loaded"}
        if rows[0][0] != self._ref.load_id:
            try:
                self._refresh(rows[0][0])
            except BackendUnavailable as exc:
                return {"database": f"down: {exc.detail}"}
        return {"database": "ok"}

    def nearest(
        self,
        lon: float,
        lat: float,
        procedure: str,
        at: datetime,
        k: int = 3,
        open_only: bool = False,
    ) -> NearestResult:
        """Rank the ``k`` nearest service points that handle ``procedure``, open ones first (see `Finder.nearest`)."""

        def work(conn: Connection) -> NearestResult:
            return self._nearest(conn, lon, lat, procedure, at, k, open_only)

        try:
            return self._run(work)
        except _Stale:
            # A load committed between two statements: read it and answer again, once.
            self._refresh(None)
            try:
                return self._run(work)
            except _Stale as exc:
                raise BackendUnavailable("the database is being reloaded; try again") from exc

    def _nearest(
        self, conn: Connection, lon: float, lat: float, procedure: str, at: datetime, k: int, open_only: bool
    ) -> NearestResult:
        located: dict[tuple[float, float], str | None] = {}

        def inside(x: float, y: float) -> bool:
            hit, located[(x, y)] = self._locate(conn, x, y)
            return hit

        check_location(lon, lat, inside)
        check_k(k)
        at = ensure_aware(at)
        ref = self._ref  # after _locate, which refreshes it when the database was reloaded
        catalog = ref.catalog
        proc = catalog.procedure(procedure)
        code = str(proc["code"])
        capable_count = len(catalog.capable_rows(code))
        params = {"boundary_set": ref.boundary_set, "code": code, "lon": float(lon), "lat": float(lat)}

        def fetch(want: int) -> Candidates:
            rows = conn.execute(_KNN, {**params, "want": want}).all()
            try:
                positions = [catalog.row_of[r.id] for r in rows]
            except KeyError as exc:
                raise _Stale from exc
            states = catalog.states.states_of(positions, at)
            return Candidates(
                ranked=[
                    (rank_key(STATE_RANK[s.state], float(r.distance_m), str(r.id)), pos, float(r.distance_m))
                    for s, r, pos in zip(states, rows, positions, strict=True)
                ],
                frontier_m=float(rows[-1].projected_m) if rows else math.inf,
                exhausted=len(rows) < want or len(rows) >= capable_count,
            )

        ranked = rank_nearest(fetch, k, open_only) if capable_count else []
        return build_result(
            lon=lon,
            lat=lat,
            at=at,
            k=k,
            open_only=open_only,
            procedure=proc,
            ranked=ranked,
            states=catalog.states.states_of([row for _, row, _ in ranked], at),
            capable_count=capable_count,
            origin_commune=self._commune(located.get((lon, lat))),
        )

