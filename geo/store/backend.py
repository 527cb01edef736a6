"""The PostGIS query backend: `PostgisBackend`, the API's backend with ``--backend postgis``.

Queries
    The API connects as the read-only role, in read-only sessions with a statement timeout. Small
    reference tables (procedures, communes, points, capabilities, calendar) are read once at start-up
    (again when ``load_id`` shows a new load) into the same `geo.catalog.Catalog` the embedded engine
    builds, with the embedded `geo.boundaries.CommuneLocator` on the communes read; the per-request work
    is one SQL statement:

    * ``nearest``: a KNN statement ``ORDER BY geom_utm <-> origin LIMIT n`` on ``capabilities``, whose
      rows carry their point's UTM 48N position, over the GiST index on ``(boundary_set,
      procedure_code, geom_utm)``: the walk meets only the points that handle the procedure, nearest
      first. It returns each candidate's id, projected distance and the ``load_id`` that wrote the row
      (so a new load is noticed by the very statement that answers). Three choices took the statement
      from about 500 µs to about 70 µs of database time on this machine: the origin's UTM 48N
      coordinates computed here (pyproj) rather than by a server-side ``ST_Transform`` (the largest
      share); the index per procedure rather than a walk over every point probing ``capabilities`` for
      each; the geodesic (WGS 84 ellipsoid) distance of the few candidates computed here with the
      embedded engine's `pyproj.Geod` rather than by ``ST_Distance`` on geography, which also makes
      both backends' keys bit-identical. ``LIMIT`` never
      exceeds the procedure's capable points, so the walk stops at the last of them.
    * the commune of an origin comes from the in-memory locator; only an origin outside every commune
      (the 1 km buffer, or outside Hanoi) asks the database whether it lies in the service area
      (``ST_Intersects`` on the subdivided area, GiST).

    Opening states are evaluated in Python on that small candidate set, and the ranking is the shared
    rule of `geo.ranking` (`rank_key`, and `rank_nearest` with its exact stop): key (open 0 < unknown 1 <
    closed 2, geodesic distance rounded to the cm, id), batches growing fourfold until the k-th key is open
    and nearer than the projected distance of the farthest candidate fetched (scaled by a margin below the
    UTM scale factor), or every capable point was fetched. The class of every capable point is known in
    memory, so a batch also says the best class it left out (``frontier_rank``): when every place is
    closed (nights, holidays) the first batch settles too, where a distance-only frontier would fetch them
    all. Both backends therefore return the same ids in the same order (tests/test_postgis.py checks
    2,000 random queries).

    The trap avoided here: a distance condition in the WHERE clause of a KNN query (``ST_DWithin``, or
    ``ST_Distance(...) < r``) either makes the planner drop the ordered index scan for a bitmap scan plus
    sort, or, when fewer than ``LIMIT`` rows pass it, keeps the ordered scan walking the whole index
    testing every row, because the executor cannot know the condition will never hold again further out.
    So the statement has no distance filter at all; the stop rule runs in Python, and a larger batch is a
    new ``LIMIT``. (``ST_Distance`` in ``ORDER BY`` would not use the index either: only ``<->`` does.)

Connections
    Two paths share the statement. The HTTP API awaits `PostgisBackend.nearest_async` and
    `health_async` on the event loop: an async psycopg connection pool per event loop (per worker
    process; `geo.store.pool`), at most ``async_pool_size`` connections opened on demand, each statement
    prepared on the server at its first use (``prepare_threshold=0``) and planned once
    (``plan_cache_mode=force_generic_plan``); no thread hand-off and no per-request session set-up. The
    KNN statements that requests of one event-loop turn await leave as one statement
    (`KNN_BATCH_SQL`, a ``LATERAL`` walk per query). The synchronous methods (CLI, MCP, tests) use the
    SQLAlchemy engine's pool and run the same prepared `KNN_SQL` on its psycopg connection.

Faults
    A pooled connection that died (server restart, terminated session) fails its statement; it is
    dropped, with the other idle connections of the async pool (after a restart they are all dead), and
    the query runs once more on a fresh connection. When the database still cannot be reached, or no
    connection frees up within the connect timeout, or a statement outlives its timeout (also enforced
    on the client, for a network that drops packets): `geo.errors.BackendUnavailable` (HTTP 503
    problem+json). Nothing is cached as "down": the next request tries again, so service resumes by
    itself when the database returns. `PostgisBackend.health` reports ``{"database": "ok" | "down: …"}``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pyproj
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from geo.boundaries import METRIC_CRS, CommuneLocator
from geo.catalog import Catalog, check_location
from geo.errors import BackendUnavailable
from geo.hours import Calendar, OpeningState, ensure_aware
from geo.index import Index
from geo.ranking import (
    STATE_RANK,
    Candidates,
    NearestResult,
    Ranked,
    build_result,
    check_k,
    rank_key,
    rank_nearest,
    settles,
    top_k,
)
from geo.settings import Settings
from geo.store.load import engine_url, error_reason, read_index_on, unavailable
from geo.store.models import (
    METRIC_SRID,
    WGS84_SRID,
    BoundarySet,
    Capability,
    Commune,
    ServiceAreaPart,
)
from geo.store.pool import AsyncPool, KnnBatcher

__all__ = ["KNN_BATCH_SQL", "KNN_SQL", "LOAD_ID_SQL", "PostgisBackend"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

# Origins farther than this (degrees) outside the communes' bounding box cannot be within the 1 km
# service-area buffer, and are answered without asking the database (nor projecting them to UTM 48N,
# which fails far away from zone 48).
_ENVELOPE_PAD_DEG = 0.05
_DEFAULT_CONNECT_TIMEOUT_S = 3
_DEFAULT_STATEMENT_TIMEOUT_MS = 5_000
# Connections the synchronous engine keeps (CLI, MCP, a worker's rare threaded calls), plus as many on demand.
_DEFAULT_POOL_SIZE = 2
# /healthz answers "ok" without a round trip when a statement succeeded this recently (under load, every
# request proves the database answers); otherwise it asks.
_HEALTH_FRESH_S = 1.0
_NO_CLASS_LEFT = len(STATE_RANK)  # frontier_rank of a batch that left nothing out
_TO_METRIC = pyproj.Transformer.from_crs(f"EPSG:{WGS84_SRID}", METRIC_CRS, always_xy=True)
_GEOD = pyproj.Geod(ellps="WGS84")


# =============================================================================================== statements
# The hot statement is plain SQL run by psycopg (prepared on the server at its first use); SQLAlchemy's
# compile and result layers cost more than the statement's own execution. Table names come from the models.
KNN_SQL = f"""
SELECT c.point_id, c.geom_utm <-> ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), {METRIC_SRID}), c.load_id
FROM {Capability.__tablename__} c
WHERE c.boundary_set = %(boundary_set)s AND c.procedure_code = %(code)s
ORDER BY c.geom_utm <-> ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), {METRIC_SRID})
LIMIT %(want)s
"""
"""The ``want`` points nearest the origin that handle the procedure, by ``<->`` on the GiST index
``ix_capabilities_knn`` (no distance WHERE): ``point id, projected metres, load_id`` per row."""

KNN_BATCH_SQL = f"""
SELECT q.i, k.point_id, k.projected_m, k.load_id
FROM unnest(%(codes)s::text[], %(xs)s::float8[], %(ys)s::float8[], %(wants)s::int4[])
     WITH ORDINALITY AS q(code, x, y, want, i)
CROSS JOIN LATERAL (
    SELECT c.point_id, c.geom_utm <-> ST_SetSRID(ST_MakePoint(q.x, q.y), {METRIC_SRID}) AS projected_m, c.load_id
    FROM {Capability.__tablename__} c
    WHERE c.boundary_set = %(boundary_set)s AND c.procedure_code = q.code
    ORDER BY c.geom_utm <-> ST_SetSRID(ST_MakePoint(q.x, q.y), {METRIC_SRID})
    LIMIT q.want
) k
"""
"""`KNN_SQL` for several queries at once (`geo.store.pool.KnnBatcher`): ``i`` (1-based) and its row."""

LOAD_ID_SQL = f"SELECT load_id FROM {BoundarySet.__tablename__} WHERE id = %(boundary_set)s"
"""The ``load_id`` of the boundary set served (health)."""


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


_LOCATE = _locate_statement()
_LOAD_ID = sa.select(BoundarySet.load_id).where(BoundarySet.id == sa.bindparam("boundary_set", type_=sa.Text))


def _first_batch(k: int) -> int:
    """Candidates fetched by the first KNN statement of a query (`rank_nearest`'s default)."""
    return max(2 * k, 8)


@dataclass(frozen=True)
class _Reference:
    """What one load of the database gives the backend (read at start-up and after a new load), as one object."""

    boundary_set: str
    load_id: uuid.UUID
    catalog: Catalog
    envelope: tuple[float, float, float, float]  # the communes' bounding box, padded
    locator: CommuneLocator

    @classmethod
    def from_index(cls, index: Index, load_id: uuid.UUID) -> _Reference:
        minx, miny, maxx, maxy = (float(v) for v in index.communes.total_bounds)
        pad = _ENVELOPE_PAD_DEG
        catalog = Catalog.from_index(index)
        return cls(
            boundary_set=index.boundary_set,
            load_id=load_id,
            catalog=catalog,
            envelope=(minx - pad, miny - pad, maxx + pad, maxy + pad),
            locator=CommuneLocator(catalog.index.communes),  # the embedded engine's, raster included
        )


@dataclass(slots=True)
class _Query:
    """One nearest query, checked and resolved in memory before its statement runs."""

    ref: _Reference
    lon: float
    lat: float
    at: datetime
    k: int
    open_only: bool
    procedure: dict[str, Any]
    capable_count: int
    class_left: list[int]  # capable points per class at ``at``
    ranks: np.ndarray  # every point's class at ``at``
    commune_row: int | None
    params: dict[str, Any]


class _Stale(Exception):
    """The database holds another load than the reference tables in memory."""

    def __init__(self, load_id: uuid.UUID | None) -> None:
        super().__init__(load_id)
        self.load_id = load_id


class PostgisBackend:
    """The query backend on PostGIS: a `geo.service.Backend`, answering as `geo.finder.Finder` does.

    Parameters
    ----------
    database_url
        SQLAlchemy URL of the read-only role (``postgresql+psycopg://gandan_reader@host/db``).
    boundary_set
        The boundary set to serve; default the one loaded last.
    connect_timeout_s, statement_timeout_ms
        How long a connection attempt (or the wait for a free pooled connection) and a statement may
        take before the request answers 503.
    pool_size
        Connections kept open by the synchronous pool (plus as many again on demand).
    async_pool_size
        Connections per event loop (one per uvicorn worker; `nearest_async`): ``GANDAN_DATABASE_POOL_SIZE``
        (see `geo.settings.Settings.database_pool_size` for why one is the default).
    pre_ping
        Test each connection of the synchronous pool at checkout (``pool_pre_ping``). A query that meets
        a dead connection is retried once on a fresh one either way.

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
    does_io = True  # queries wait on the database: the API awaits `nearest_async`

    def __init__(
        self,
        database_url: str | URL,
        boundary_set: str | None = None,
        *,
        connect_timeout_s: int = _DEFAULT_CONNECT_TIMEOUT_S,
        statement_timeout_ms: int = _DEFAULT_STATEMENT_TIMEOUT_MS,
        pool_size: int = _DEFAULT_POOL_SIZE,
        async_pool_size: int = 1,
        pre_ping: bool = True,
    ) -> None:
        url = engine_url(database_url)
        # Read-only sessions even if the URL's role could write; no statement can hang a worker.
        # plan_cache_mode: the statements have fixed shapes whose best plan (KNN index walk, GiST
        # probes) never depends on the parameters; re-planning them would cost more than running them.
        options = (
            f"-c default_transaction_read_only=on -c statement_timeout={int(statement_timeout_ms)} "
            "-c plan_cache_mode=force_generic_plan"
        )
        self.engine: Engine = sa.create_engine(
            url,
            # Single reads need no BEGIN/ROLLBACK round trips; sessions are read-only all the same.
            isolation_level="AUTOCOMMIT",
            pool_pre_ping=pre_ping,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_timeout=connect_timeout_s,
            connect_args={"connect_timeout": connect_timeout_s, "options": options, "application_name": "gandan-api"},
        )
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._async_options: dict[str, Any] = {
            "autocommit": True,
            "prepare_threshold": 0,  # prepared on the server at the first execution
            "connect_timeout": connect_timeout_s,
            "options": options,
            "application_name": "gandan-api",
        }
        self._async_pool_size = async_pool_size
        self._connect_timeout_s = float(connect_timeout_s)
        self._statement_timeout_s = statement_timeout_ms / 1000
        self._async_pool: AsyncPool | None = None
        self._knn_batcher: KnnBatcher | None = None
        self._health_probe: asyncio.Task[dict[str, str]] | None = None
        self._reload_lock = threading.Lock()
        self._class_counts: dict[tuple[str, int], tuple[np.ndarray, list[int]]] = {}
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
        return cls(
            settings.database_url,
            boundary_set=settings.boundary_set if explicit else None,
            async_pool_size=settings.database_pool_size,
        )

    def close(self) -> None:
        """Close the pooled connections."""
        if self._async_pool is not None:
            self._async_pool.discard()
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

    def _fetch(self, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of ``query`` by psycopg on a connection of the synchronous pool (retried once, as `_run`)."""
        for attempt in (1, 2):
            try:
                raw = self.engine.raw_connection()
            except (SQLAlchemyError, psycopg.Error) as exc:  # a failed reconnect comes as psycopg's own error
                raise unavailable(exc) from exc
            try:
                conn: psycopg.Connection[Any] = raw.driver_connection  # type: ignore[assignment]
                return conn.execute(query, params, prepare=True).fetchall()
            except psycopg.Error as exc:
                if not (conn.broken or conn.closed):
                    raise unavailable(exc) from exc
                raw.invalidate()
                if attempt == 2:
                    raise unavailable(exc) from exc
                log.warning("database connection lost (%s); retrying on a fresh one", error_reason(exc))
            finally:
                raw.close()
        raise AssertionError("unreachable")  # pragma: no cover

    def _pool(self) -> AsyncPool:
        """The async pool of the running event loop (a new loop, as in tests, gets a pool of its own)."""
        pool = self._async_pool
        if pool is None or pool.loop is not asyncio.get_running_loop():
            if pool is not None:
                pool.discard()
            pool = self._async_pool = AsyncPool(
                self._conninfo,
                self._async_options,
                self._async_pool_size,
                self._connect_timeout_s,
                self._statement_timeout_s,
            )
            self._knn_batcher = KnnBatcher(pool, KNN_SQL, KNN_BATCH_SQL)
        return pool

    def _batcher(self) -> KnnBatcher:
        """The KNN batcher of the running event loop's pool."""
        self._pool()
        assert self._knn_batcher is not None
        return self._knn_batcher

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
        self._class_counts = {}
        self.catalog: Catalog = ref.catalog
        self.index: Index = ref.catalog.index
        self.calendar: Calendar = ref.catalog.calendar
        self.points: gpd.GeoDataFrame = ref.catalog.points
        self.ids: np.ndarray = ref.catalog.ids
        self.procedures: pd.DataFrame = ref.catalog.procedures

    def _locate(self, conn: Connection, lon: float, lat: float) -> tuple[bool, str | None]:
        """(inside the service area, covering commune code) for valid WGS 84 coordinates, from the database."""
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

    def _inside(self, lon: float, lat: float) -> bool:
        """Whether a valid WGS 84 origin lies in the service area: in a commune (memory), else the database."""
        if self._ref.locator.commune_at(lon, lat) is not None:
            return True
        return self._run(lambda conn: self._locate(conn, lon, lat))[0]

    # ------------------------------------------------------------------ reference data (Finder interface)
    @property
    def locator(self) -> CommuneLocator:
        """The in-memory commune locator of the load served (the embedded engine's)."""
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

    def commune_at(self, lon: float, lat: float) -> dict[str, Any] | None:
        """The commune (code, name, full_name, kind) that covers the point, or None (in-memory locator)."""
        ref = self._ref
        row = ref.locator.commune_at(lon, lat)
        return None if row is None else dict(ref.catalog.commune_records[row])

    def check_location(self, lon: float, lat: float) -> None:
        """Refuse coordinates outside Hanoi; say so when lat and lon look swapped."""
        check_location(lon, lat, self._inside)

    # ------------------------------------------------------------------ health
    def health(self) -> dict[str, str]:
        """``{"database": "ok"}``, or ``"down: <reason>"`` when the database or the loaded index is gone."""
        try:
            rows = self._fetch(LOAD_ID_SQL, {"boundary_set": self._ref.boundary_set})
        except BackendUnavailable as exc:
            return {"database": f"down: {exc.detail}"}
        return self._health_of(rows)

    async def health_async(self) -> dict[str, str]:
        """`health` on the event loop (the API's ``/healthz``).

        No round trip when a statement just succeeded, and one probe at a time (the checks that arrive
        meanwhile share its answer: queued one behind the other, the probes of a busy worker once kept some
        checks waiting for seconds).
        """
        pool = self._pool()
        if pool.answered_within(_HEALTH_FRESH_S):
            return {"database": "ok"}
        probe = self._health_probe
        if probe is None or probe.done() or probe.get_loop() is not pool.loop:
            probe = self._health_probe = pool.loop.create_task(self._probe(pool))
        return dict(await asyncio.shield(probe))

    async def _probe(self, pool: AsyncPool) -> dict[str, str]:
        try:
            rows = await pool.fetch(LOAD_ID_SQL, {"boundary_set": self._ref.boundary_set})
        except BackendUnavailable as exc:
            return {"database": f"down: {exc.detail}"}
        if rows and rows[0][0] != self._ref.load_id:
            try:
                await asyncio.to_thread(self._refresh, rows[0][0])
            except BackendUnavailable as exc:
                return {"database": f"down: {exc.detail}"}
        return self._health_of(rows)

    def _health_of(self, rows: list[tuple[Any, ...]]) -> dict[str, str]:
        if not rows:
            return {"database": f"down: boundary set {self._ref.boundary_set!r} is not loaded"}
        if rows[0][0] != self._ref.load_id:
            try:
                self._refresh(rows[0][0])
            except BackendUnavailable as exc:
                return {"database": f"down: {exc.detail}"}
        return {"database": "ok"}

    # ------------------------------------------------------------------ nearest
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
        if self._ref.locator.commune_at(lon, lat) is None:  # outside every commune: ask the database
            self.check_location(lon, lat)
        for attempt in (1, 2):
            query = self._query(self._ref, lon, lat, procedure, at, k, open_only)
            try:

                def fetch(want: int, query: _Query = query) -> Candidates:
                    limit = min(want, query.capable_count)
                    return self._candidates(query, self._fetch(KNN_SQL, {**query.params, "want": limit}), want)

                ranked = rank_nearest(fetch, k, open_only, first=_first_batch(k)) if query.capable_count else []
            except _Stale as stale:
                self._reload_after(stale, attempt)
                continue
            return self._result(query, ranked)
        raise AssertionError("unreachable")  # pragma: no cover

    async def nearest_async(
        self,
        lon: float,
        lat: float,
        procedure: str,
        at: datetime,
        k: int = 3,
        open_only: bool = False,
    ) -> NearestResult:
        """`nearest` on the event loop: the same statement and rule, awaited on the async pool."""
        if self._ref.locator.commune_at(lon, lat) is None:
            await asyncio.to_thread(self.check_location, lon, lat)
        for attempt in (1, 2):
            query = self._query(self._ref, lon, lat, procedure, at, k, open_only)
            ranked: list[Ranked] = []
            try:
                want = _first_batch(k)
                while query.capable_count:  # `rank_nearest`'s loop, with an awaited fetch
                    limit = min(want, query.capable_count)
                    rows = await self._batcher().fetch({**query.params, "want": limit})
                    batch = self._candidates(query, rows, want)
                    ranked = top_k(batch.ranked, k, open_only)
                    if settles(ranked, batch, k, open_only):
                        break
                    want *= 4
            except _Stale as stale:
                await asyncio.to_thread(self._reload_after, stale, attempt)
                continue
            return self._result(query, ranked)
        raise AssertionError("unreachable")  # pragma: no cover

    def _reload_after(self, stale: _Stale, attempt: int) -> None:
        """Read the load the database holds (the query then runs again), or give up on the second time."""
        if attempt == 2:
            raise BackendUnavailable("the database is being reloaded; try again") from stale
        self._refresh(stale.load_id)  # None: read again whatever is loaded (fails if nothing is)

    def _query(
        self, ref: _Reference, lon: float, lat: float, procedure: str, at: datetime, k: int, open_only: bool
    ) -> _Query:
        """Everything a query in the service area needs from the load ``ref``: commune, procedure, classes."""
        check_k(k)
        at = ensure_aware(at)
        catalog = ref.catalog
        proc = catalog.procedure(procedure)
        code = str(proc["code"])
        capable = catalog.capable_rows(code)
        ranks = catalog.states.states_at(at)[1]
        cached = self._class_counts.get((code, id(ranks)))
        if cached is None or cached[0] is not ranks:  # held with its array, so the id() stays unique
            counts = np.bincount(ranks[capable], minlength=_NO_CLASS_LEFT).tolist()
            cached = self._class_counts[(code, id(ranks))] = (ranks, counts)
        x, y = _TO_METRIC.transform(lon, lat)
        return _Query(
            ref=ref,
            lon=lon,
            lat=lat,
            at=at,
            k=k,
            open_only=open_only,
            procedure=proc,
            capable_count=len(capable),
            class_left=cached[1],
            ranks=ranks,
            commune_row=ref.locator.commune_at(lon, lat),
            params={
                "boundary_set": ref.boundary_set,
                "code": code,
                "x": float(x),
                "y": float(y),
            },
        )

    def _candidates(self, query: _Query, rows: list[tuple[Any, ...]], want: int) -> Candidates:
        """One KNN batch as `Candidates`: geodesic distances and the best class it left out, from memory."""
        ref = query.ref
        if rows and rows[0][2] != ref.load_id:
            raise _Stale(rows[0][2])
        if not rows and query.capable_count:  # the boundary set's rows are gone (deleted, or being reloaded)
            raise _Stale(None)
        row_of = ref.catalog.row_of
        try:
            positions = [row_of[r[0]] for r in rows]
        except KeyError:  # ids of another load, with the same load_id: cannot be, but never answer with them
            raise _Stale(None) from None
        catalog = ref.catalog
        states = catalog.states.states_of(positions, query.at)
        inv, lon, lat, lons, lats = _GEOD.inv, query.lon, query.lat, catalog.lon, catalog.lat
        distances = [inv(lon, lat, lons[pos], lats[pos])[2] for pos in positions]
        left = list(query.class_left)
        for rank in query.ranks[positions].tolist():
            left[rank] -= 1
        frontier_rank = next((c for c, n in enumerate(left) if n > 0), _NO_CLASS_LEFT)
        return Candidates(
            ranked=[
                (rank_key(STATE_RANK[s.state], d, str(r[0])), pos, d)
                for s, r, pos, d in zip(states, rows, positions, distances, strict=True)
            ],
            frontier_m=float(rows[-1][1]) if rows else math.inf,
            frontier_rank=frontier_rank,
            exhausted=len(rows) < want or len(rows) >= query.capable_count,
        )

    def _result(self, query: _Query, ranked: list[Ranked]) -> NearestResult:
        catalog = query.ref.catalog
        row = query.commune_row
        return build_result(
            lon=query.lon,
            lat=query.lat,
            at=query.at,
            k=query.k,
            open_only=query.open_only,
            procedure=query.procedure,
            ranked=ranked,
            states=catalog.states.states_of([r for _, r, _ in ranked], query.at),
            capable_count=query.capable_count,
            origin_commune=None if row is None else dict(catalog.commune_records[row]),
        )
