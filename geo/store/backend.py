"""The PostGIS backend: GeoAlchemy2 models of the built index, its loader, and queries served from SQL.

Schema (created by the Alembic migrations in ``geo/store/migrations``; `migrate` runs them)
    Every layer of a built `geo.index.Index` is a table keyed by its boundary set: ``boundary_sets``
    (manifest, column layout, ``load_id``), ``communes``, ``legacy_units``, ``crosswalk``,
    ``service_points``, ``procedures``, ``capabilities`` (point ↔ procedure), ``calendar_days`` and
    ``service_area_parts`` (the 1 km buffer of Hanoi, subdivided). Geometries are EPSG:4326; service points
    also keep a stored UTM 48N copy (``geom_utm``, a generated column) with the GiST index the nearest
    query walks, communes have a GiST index for ``ST_Covers``. Columns the models do not know go to a
    JSONB ``extra`` column and every row keeps its ``position``, so the index read back from the database
    equals the one loaded, row order included.

Loading (`load_index`, ``gandan db load``)
    One transaction as the loader role: migrate to head, take an advisory lock, delete the boundary set
    (its rows go with it by ``ON DELETE CASCADE``), insert every layer again, derive the service area.
    A failure rolls everything back and the previous data stays; loading the same index twice gives the
    same rows; readers see the old rows until the commit, then the new ones.

Queries (`PostgisBackend`, the API's backend with ``--backend postgis``)
    The API connects as the read-only role, in read-only sessions with a statement timeout. Small
    reference tables (procedures, communes, points, capabilities, calendar) are read once at start-up
    (again when ``load_id`` shows a new load); the per-request work is SQL:

    * ``commune_at`` and ``check_location``: one statement, ``ST_Covers`` on the commune polygons (GiST)
      and ``ST_Intersects`` on the subdivided service area (GiST);
    * ``nearest``: a KNN statement ``ORDER BY geom_utm <-> origin LIMIT n`` over the GiST index, joined
      to ``capabilities`` for the procedure, returning each candidate's true geodesic distance
      (``ST_Distance`` on geography, on the WGS 84 spheroid) and its projected distance.

    Opening states are evaluated in Python on that small candidate set, and the ranking loop is the
    embedded engine's own (`geo.finder.rank_nearest`, `geo.finder.rank_keys`): key (open 0 < unknown 1 <
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

Least privilege
    SQL is built only from SQLAlchemy expressions with bound parameters; the loader role owns the schema,
    the reader role only needs ``SELECT`` (see tests/conftest.py for the grants used in tests).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from geoalchemy2 import Geography, Geometry
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.expression import ClauseElement, Executable

from geo.boundaries import METRIC_CRS, CommuneLocator
from geo.errors import BackendUnavailable
from geo.finder import (
    SERVICE_AREA_BUFFER_M,
    STATE_RANK,
    Candidates,
    NearestResult,
    PointStates,
    build_result,
    check_k,
    check_location,
    rank_key,
    rank_nearest,
)
from geo.hours import Calendar, OpeningState, ensure_aware
from geo.index import Index
from geo.registry import find_procedure
from geo.settings import Settings

__all__ = [
    "WGS84_SRID",
    "Base",
    "BoundarySet",
    "CalendarDay",
    "Capability",
    "Commune",
    "Crosswalk",
    "LegacyUnit",
    "LoadReport",
    "PostgisBackend",
    "Procedure",
    "ServiceAreaPart",
    "ServicePoint",
    "alembic_config",
    "engine_url",
    "load_index",
    "migrate",
    "read_stored_index",
]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

WGS84_SRID = 4326
METRIC_SRID = int(str(METRIC_CRS).rsplit(":", 1)[-1])  # UTM 48N, the embedded engine's metric CRS
SERVICE_AREA_PART_VERTICES = 256  # ST_Subdivide target: small parts keep point-in-area tests cheap
_LOAD_LOCK_KEY = 0x67616E64616E_01  # pg_advisory_xact_lock key serialising `gandan db load`
# Origins farther than this (degrees) outside the communes' bounding box cannot be within the 1 km
# service-area buffer, and are answered without asking the database (nor projecting them to UTM 48N,
# which fails far away from zone 48).
_ENVELOPE_PAD_DEG = 0.05
_DEFAULT_CONNECT_TIMEOUT_S = 3
_DEFAULT_STATEMENT_TIMEOUT_MS = 5_000


# =============================================================================================== models
class Base(DeclarativeBase):
    """Declarative base of the gandan schema (constraint names follow a fixed convention)."""

    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def _set_fk() -> Any:
    return sa.ForeignKey("boundary_sets.id", ondelete="CASCADE")


class BoundarySet(Base):
    """One loaded index: its boundary set id, manifest, column layout and load identity."""

    __tablename__ = "boundary_sets"

    id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    title: Mapped[str | None] = mapped_column(sa.Text)
    built_at: Mapped[str | None] = mapped_column(sa.Text)
    loaded_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    load_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSONB)
    layout: Mapped[dict[str, Any]] = mapped_column(JSONB)


class Commune(Base):
    """A unit of the boundary set (ward or commune) with its polygon."""

    __tablename__ = "communes"
    __table_args__ = (sa.Index("ix_communes_geom", "geom", postgresql_using="gist"),)

    boundary_set: Mapped[str] = mapped_column(sa.Text, _set_fk(), primary_key=True)
    code: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str | None] = mapped_column(sa.Text)
    full_name: Mapped[str | None] = mapped_column(sa.Text)
    name_ascii: Mapped[str | None] = mapped_column(sa.Text)
    kind: Mapped[str | None] = mapped_column(sa.Text)
    area_km2: Mapped[float | None] = mapped_column(sa.Double)
    population: Mapped[int | None] = mapped_column(sa.BigInteger)
    former_units: Mapped[str | None] = mapped_column(sa.Text)
    seat_address: Mapped[str | None] = mapped_column(sa.Text)
    area_km2_polygon: Mapped[float | None] = mapped_column(sa.Double)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB)
    geom: Mapped[Any] = mapped_column(Geometry("MULTIPOLYGON", srid=WGS84_SRID, spatial_index=False), nullable=True)


class LegacyUnit(Base):
    """A pre-merger (before 2025-07-01) commune-level unit, as a point."""

    __tablename__ = "legacy_units"

    boundary_set: Mapped[str] = mapped_column(sa.Text, _set_fk(), primary_key=True)
    code: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str | None] = mapped_column(sa.Text)
    full_name: Mapped[str | None] = mapped_column(sa.Text)
    name_ascii: Mapped[str | None] = mapped_column(sa.Text)
    kind: Mapped[str | None] = mapped_column(sa.Text)
    district: Mapped[str | None] = mapped_column(sa.Text)
    district_ascii: Mapped[str | None] = mapped_column(sa.Text)
    district_code: Mapped[str | None] = mapped_column(sa.Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB)
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=WGS84_SRID, spatial_index=False), nullable=True)


class Crosswalk(Base):
    """Legacy unit → new commune, ``whole`` or ``part``."""

    __tablename__ = "crosswalk"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["boundary_set", "legacy_code"], ["legacy_units.boundary_set", "legacy_units.code"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["boundary_set", "new_code"], ["communes.boundary_set", "communes.code"], ondelete="CASCADE"
        ),
        sa.Index("ix_crosswalk_boundary_set_new_code", "boundary_set", "new_code"),
    )

    boundary_set: Mapped[str] = mapped_column(sa.Text, _set_fk(), primary_key=True)
    legacy_code: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    new_code: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    legacy_name: Mapped[str | None] = mapped_column(sa.Text)
    legacy_full_name: Mapped[str | None] = mapped_column(sa.Text)
    legacy_district: Mapped[str | None] = mapped_column(sa.Text)
    new_name: Mapped[str | None] = mapped_column(sa.Text)
    new_full_name: Mapped[str | None] = mapped_column(sa.Text)
    relation: Mapped[str | None] = mapped_column(sa.Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB)


class ServicePoint(Base):
    """A public-service location (city centre, branch, commune centre, ...), with its UTM 48N copy."""

    __tablename__ = "service_points"
    __table_args__ = (sa.Index("ix_service_points_geom_utm", "geom_utm", postgresql_using="gist"),)

    boundary_set: Mapped[str] = mapped_column(sa.Text, _set_fk(), primary_key=True)
    id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    kind: Mapped[str | None] = mapped_column(sa.Text)
    name: Mapped[str | None] = mapped_column(sa.Text)
    address: Mapped[str | None] = mapped_column(sa.Text)
    commune_code: Mapped[str | None] = mapped_column(sa.Text)
    commune_name: Mapped[str | None] = mapped_column(sa.Text)
    location_precision: Mapped[str | None] = mapped_column(sa.Text)
    location_method: Mapped[str | None] = mapped_column(sa.Text)
    location_detail: Mapped[str | None] = mapped_column(sa.Text)
    opening_hours: Mapped[str | None] = mapped_column(sa.Text)
    hours_source: Mapped[str | None] = mapped_column(sa.Text)
    services: Mapped[str | None] = mapped_column(sa.Text)
    source: Mapped[str | None] = mapped_column(sa.Text)
    note: Mapped[str | None] = mapped_column(sa.Text)
    confidence: Mapped[str | None] = mapped_column(sa.Text)
    name_ascii: Mapped[str | None] = mapped_column(sa.Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB)
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=WGS84_SRID, spatial_index=False), nullable=False)
    # Stored, never written by hand: the KNN statement orders by `geom_utm <-> origin` on its GiST index.
    geom_utm: Mapped[Any] = mapped_column(
        Geometry("POINT", srid=METRIC_SRID, spatial_index=False),
        sa.Computed(sa.func.ST_Transform(sa.column("geom"), METRIC_SRID), persisted=True),
    )


class Procedure(Base):
    """An administrative procedure of the catalog."""

    __tablename__ = "procedures"

    boundary_set: Mapped[str] = mapped_column(sa.Text, _set_fk(), primary_key=True)
    code: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str | None] = mapped_column(sa.Text)
    field: Mapped[str | None] = mapped_column(sa.Text)
    level: Mapped[str | None] = mapped_column(sa.Text)
    agency: Mapped[str | None] = mapped_column(sa.Text)
    handled_at: Mapped[str | None] = mapped_column(sa.Text)
    boundary_free: Mapped[str | None] = mapped_column(sa.Text)
    online_full: Mapped[str | None] = mapped_column(sa.Text)
    in_person: Mapped[str | None] = mapped_column(sa.Text)
    note: Mapped[str | None] = mapped_column(sa.Text)
    source: Mapped[str | None] = mapped_column(sa.Text)
    confidence: Mapped[str | None] = mapped_column(sa.Text)
    name_ascii: Mapped[str | None] = mapped_column(sa.Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB)


class Capability(Base):
    """Service point ``point_id`` handles procedure ``procedure_code`` (primary key leads with the code)."""

    __tablename__ = "capabilities"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["boundary_set", "point_id"], ["service_points.boundary_set", "service_points.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["boundary_set", "procedure_code"], ["procedures.boundary_set", "procedures.code"], ondelete="CASCADE"
        ),
        sa.Index("ix_capabilities_boundary_set_point_id", "boundary_set", "point_id"),
    )

    boundary_set: Mapped[str] = mapped_column(sa.Text, _set_fk(), primary_key=True)
    procedure_code: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    point_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB)


class CalendarDay(Base):
    """A public holiday or extra day off (``closed``), or a make-up working day (not ``closed``)."""

    __tablename__ = "calendar_days"

    boundary_set: Mapped[str] = mapped_column(sa.Text, _set_fk(), primary_key=True)
    date: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    closed: Mapped[bool | None] = mapped_column(sa.Boolean)
    kind: Mapped[str | None] = mapped_column(sa.Text)
    name: Mapped[str | None] = mapped_column(sa.Text)
    source: Mapped[str | None] = mapped_column(sa.Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB)


class ServiceAreaPart(Base):
    """A piece of the service area (communes' union buffered by 1 km, in UTM 48N), from ``ST_Subdivide``."""

    __tablename__ = "service_area_parts"
    __table_args__ = (sa.Index("ix_service_area_parts_geom", "geom", postgresql_using="gist"),)

    boundary_set: Mapped[str] = mapped_column(sa.Text, _set_fk(), primary_key=True)
    part: Mapped[int] = mapped_column(sa.Integer, sa.Identity(), primary_key=True)
    geom: Mapped[Any] = mapped_column(Geometry("GEOMETRY", srid=METRIC_SRID, spatial_index=False), nullable=False)


@dataclass(frozen=True)
class _Layer:
    name: str  # attribute of geo.index.Index
    model: type[Base]
    geometry: bool = False
    multi: bool = False  # polygons are stored as MultiPolygon

    @property
    def table(self) -> sa.Table:
        return self.model.__table__  # type: ignore[return-value]

    @property
    def typed(self) -> list[str]:
        """Index columns with a column of their own (the rest go to ``extra``)."""
        return [c.name for c in self.table.columns if c.name not in _META_COLUMNS]


_META_COLUMNS = frozenset({"boundary_set", "position", "extra", "geom", "geom_utm"})
# Insertion order respects the foreign keys (capabilities and crosswalk last).
LAYERS = (
    _Layer("communes", Commune, geometry=True, multi=True),
    _Layer("legacy_units", LegacyUnit, geometry=True),
    _Layer("service_points", ServicePoint, geometry=True),
    _Layer("procedures", Procedure),
    _Layer("crosswalk", Crosswalk),
    _Layer("capabilities", Capability),
    _Layer("calendar", CalendarDay),
)


# =============================================================================================== engine
def engine_url(url: str | URL) -> URL:
    """``url`` as a SQLAlchemy URL on the psycopg 3 driver (``postgresql://`` is taken to mean it)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _reason(exc: BaseException) -> str:
    """The first line of a database error, without SQLAlchemy's statement echo."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


def _unavailable(exc: BaseException) -> BackendUnavailable:
    """The error a query answers with when the database cannot serve it."""
    return BackendUnavailable(f"the PostGIS database is unavailable: {_reason(exc)}")


@contextmanager
def _one_shot_engine(url: str | URL, failure: str) -> Iterator[Engine]:
    """An unpooled engine on ``url``, disposed at the end; a database error becomes `BackendUnavailable`
    saying ``failure: <reason>``."""
    engine = sa.create_engine(engine_url(url), poolclass=NullPool)
    try:
        yield engine
    except DBAPIError as exc:
        raise BackendUnavailable(f"{failure}: {_reason(exc)}") from exc
    finally:
        engine.dispose()


# =============================================================================================== migrations
def alembic_config(connection: Connection | None = None, url: str | URL | None = None) -> Any:
    """An Alembic `Config` for the packaged migrations (no ``alembic.ini`` needed).

    Parameters
    ----------
    connection
        Run the migrations on this connection, inside its transaction.
    url
        Or connect to this database.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "geo.store:migrations")
    if url is not None:
        # `%` is ConfigParser's interpolation character.
        config.set_main_option("sqlalchemy.url", engine_url(url).render_as_string(False).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def migrate(target: str | URL | Connection, revision: str = "head") -> None:
    """Upgrade the schema of ``target`` (a URL of the loader role, or an open connection) to ``revision``."""
    from alembic import command

    if isinstance(target, Connection):
        command.upgrade(alembic_config(connection=target), revision)
        return
    with _one_shot_engine(target, "cannot migrate the database") as engine, engine.begin() as conn:
        command.upgrade(alembic_config(connection=conn), revision)


# =============================================================================================== loading
class _Analyze(Executable, ClauseElement):
    """``ANALYZE table, ...`` as a SQLAlchemy construct (table names quoted by the dialect, never pasted)."""

    inherit_cache = False

    def __init__(self, *tables: sa.Table) -> None:
        self.tables = tables


@compiles(_Analyze)
def _compile_analyze(element: _Analyze, compiler: Any, **_: Any) -> str:
    return "ANALYZE " + ", ".join(compiler.preparer.format_table(t) for t in element.tables)


@dataclass(frozen=True)
class LoadReport:
    """What `load_index` wrote."""

    boundary_set: str
    load_id: uuid.UUID
    rows: dict[str, int]
    service_area_parts: int
    seconds: float


def _plain(value: Any) -> Any:
    """A value for a typed column: numpy scalars as Python ones, missing values as None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _jsonable(value: Any) -> Any:
    """A value for the JSONB ``extra`` column."""
    value = _plain(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def _as_multi(geom: BaseGeometry) -> BaseGeometry:
    return MultiPolygon([geom]) if isinstance(geom, Polygon) else geom


def _layer_rows(layer: _Layer, frame: pd.DataFrame, boundary_set: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows to insert for ``frame``, and the layout that reads them back in the same shape."""
    geometry = frame.geometry.name if layer.geometry else None
    columns = [str(c) for c in frame.columns]
    typed = [c for c in layer.typed if c in columns]
    extra = [c for c in columns if c not in typed and c != geometry]
    data = pd.DataFrame(frame.drop(columns=[geometry] if geometry else []))
    records = data.to_dict("records")
    geoms = list(frame.geometry) if geometry else []
    rows = []
    for i, record in enumerate(records):
        row: dict[str, Any] = {"boundary_set": boundary_set, "position": i}
        row.update({c: _plain(record.get(c)) for c in layer.typed})
        row["extra"] = {c: _jsonable(record[c]) for c in extra}
        if geometry:
            geom = geoms[i]
            if geom is None or geom.is_empty:
                row["geom"] = None
            else:
                row["geom"] = from_shape(_as_multi(geom) if layer.multi else geom, srid=WGS84_SRID, extended=True)
        rows.append(row)
    return rows, {"columns": columns, "geometry": geometry}


def load_index(index: Index, database_url: str | URL, *, migrate_schema: bool = True) -> LoadReport:
    """Load ``index`` into the database as one transaction; loading it again gives the same rows.

    Parameters
    ----------
    index
        A built index (`geo.index.read_index`).
    database_url
        SQLAlchemy URL of the loader role (owns the schema, may write).
    migrate_schema
        Upgrade the schema to the latest migration first, in the same transaction.

    Returns
    -------
    LoadReport
        Row counts per layer and the time taken.

    Raises
    ------
    BackendUnavailable
        The database cannot be reached or refused the load; nothing was changed.
    """
    started = time.perf_counter()
    boundary_set = index.boundary_set
    if not boundary_set:
        raise BackendUnavailable("the index manifest names no boundary set; rebuild it with `gandan build`")
    load_id = uuid.uuid4()
    prepared = {layer.name: _layer_rows(layer, getattr(index, layer.name), boundary_set) for layer in LAYERS}
    with (
        _one_shot_engine(database_url, "loading into the database failed, nothing changed") as engine,
        engine.begin() as conn,
    ):
        # Two loads at once would each delete and insert: serialise them.
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOAD_LOCK_KEY)))
        if migrate_schema:
            migrate(conn)
        conn.execute(sa.delete(BoundarySet).where(BoundarySet.id == boundary_set))
        conn.execute(
            sa.insert(BoundarySet).values(
                id=boundary_set,
                title=index.manifest.get("boundary_title"),
                built_at=index.manifest.get("built_at"),
                loaded_at=datetime.now(UTC),
                load_id=load_id,
                manifest=_jsonable(index.manifest),
                layout={name: layout for name, (_, layout) in prepared.items()},
            )
        )
        for layer in LAYERS:
            rows = prepared[layer.name][0]
            if rows:
                conn.execute(sa.insert(layer.table), rows)
        parts = _insert_service_area(conn, boundary_set)
        # Fresh planner statistics, so the first queries after a load already walk the GiST indexes.
        conn.execute(_Analyze(*Base.metadata.sorted_tables))
    return LoadReport(
        boundary_set=boundary_set,
        load_id=load_id,
        rows={name: len(rows) for name, (rows, _) in prepared.items()},
        service_area_parts=parts,
        seconds=round(time.perf_counter() - started, 3),
    )


def _insert_service_area(conn: Connection, boundary_set: str) -> int:
    """Buffer the union of the communes by 1 km in UTM 48N (as the embedded engine does) and subdivide it."""
    union = (
        sa.select(sa.func.ST_Union(sa.func.ST_Transform(Commune.geom, METRIC_SRID)).label("geom"))
        .where(Commune.boundary_set == boundary_set)
        .subquery()
    )
    parts = sa.select(
        sa.literal(boundary_set, sa.Text),
        sa.func.ST_Subdivide(sa.func.ST_Buffer(union.c.geom, SERVICE_AREA_BUFFER_M), SERVICE_AREA_PART_VERTICES),
    )
    conn.execute(sa.insert(ServiceAreaPart).from_select(["boundary_set", "geom"], parts))
    count = sa.select(sa.func.count()).select_from(ServiceAreaPart).where(ServiceAreaPart.boundary_set == boundary_set)
    return int(conn.execute(count).scalar_one())


# =============================================================================================== reading
def _resolve_boundary_set(conn: Connection, boundary_set: str | None) -> Any:
    query = sa.select(BoundarySet.id, BoundarySet.load_id, BoundarySet.manifest, BoundarySet.layout)
    if boundary_set is None:
        query = query.order_by(BoundarySet.loaded_at.desc(), BoundarySet.id).limit(1)
    else:
        query = query.where(BoundarySet.id == boundary_set)
    row = conn.execute(query).first()
    if row is None:
        which = "no boundary set" if boundary_set is None else f"boundary set {boundary_set!r} is not"
        raise BackendUnavailable(f"{which} loaded in the database; run `gandan db load` first")
    return row


def _read_layer(conn: Connection, layer: _Layer, boundary_set: str, layout: dict[str, Any]) -> pd.DataFrame:
    """One stored layer with the columns, column order and row order it was loaded with."""
    table = layer.table
    typed = {name: i for i, name in enumerate(layer.typed)}
    selected = [*(table.c[name] for name in typed), table.c.extra, *([table.c.geom] if layer.geometry else [])]
    query = sa.select(*selected).where(table.c.boundary_set == boundary_set).order_by(table.c.position)
    rows = conn.execute(query).all()
    columns: list[str] = list(layout["columns"])
    geometry: str | None = layout.get("geometry")
    attributes = [c for c in columns if c != geometry]
    data = {c: [r[typed[c]] for r in rows] if c in typed else [r.extra.get(c) for r in rows] for c in attributes}
    frame = pd.DataFrame(data, columns=attributes, index=pd.RangeIndex(len(rows)))
    if geometry is None:
        return frame
    geoms = shapely.from_wkb([None if r.geom is None else bytes(r.geom.data) for r in rows])
    frame.insert(columns.index(geometry), geometry, gpd.GeoSeries(geoms, index=frame.index, crs=f"EPSG:{WGS84_SRID}"))
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=f"EPSG:{WGS84_SRID}")


def _read_index(conn: Connection, boundary_set: str | None) -> tuple[Index, uuid.UUID]:
    head = _resolve_boundary_set(conn, boundary_set)
    layers = {layer.name: _read_layer(conn, layer, head.id, head.layout[layer.name]) for layer in LAYERS}
    manifest = dict(head.manifest)
    return Index(manifest=manifest, path=None, **layers), head.load_id


def read_stored_index(database_url: str | URL, boundary_set: str | None = None) -> Index:
    """The index stored in the database (default: the boundary set loaded last), as `geo.index.read_index` gives it."""
    with (
        _one_shot_engine(database_url, "cannot read the index from the database") as engine,
        engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
    ):
        return _read_index(conn, boundary_set)[0]


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


# =============================================================================================== backend
@dataclass
class _Reference:
    """The small tables read at start-up (and after a new load), swapped as one object."""

    boundary_set: str
    load_id: uuid.UUID
    index: Index
    calendar: Calendar
    points: gpd.GeoDataFrame
    ids: np.ndarray
    row_of: dict[str, int]
    capable: dict[str, np.ndarray]
    states: PointStates
    communes: dict[str, dict[str, Any]]
    envelope: tuple[float, float, float, float]
    procedures: pd.DataFrame = field(repr=False)
    procedure_memo: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_index(cls, index: Index, load_id: uuid.UUID) -> _Reference:
        calendar = Calendar.from_frame(index.calendar)
        points = index.service_points.reset_index(drop=True)
        ids = points["id"].astype(str).to_numpy()
        row_of = {pid: i for i, pid in enumerate(ids)}
        capable = {
            str(code): np.array(sorted(row_of[p] for p in group["point_id"] if p in row_of), dtype=np.int64)
            for code, group in index.capabilities.groupby("procedure_code")
        }
        communes = {
            str(r["code"]): {k: r[k] for k in ("code", "name", "full_name", "kind")}
            for r in index.communes.drop(columns=index.communes.geometry.name).to_dict("records")
        }
        minx, miny, maxx, maxy = (float(v) for v in index.communes.total_bounds)
        pad = _ENVELOPE_PAD_DEG
        procedures = index.procedures.set_index("code", drop=False)
        return cls(
            boundary_set=index.boundary_set,
            load_id=load_id,
            index=index,
            calendar=calendar,
            points=points,
            ids=ids,
            row_of=row_of,
            capable=capable,
            states=PointStates(points["opening_hours"], calendar),
            communes=communes,
            envelope=(minx - pad, miny - pad, maxx + pad, maxy + pad),
            procedures=procedures,
            procedure_memo={str(code): dict(row) for code, row in procedures.iterrows()},
        )

    def procedure(self, query: str) -> dict[str, Any]:
        # Codes and names already asked are answered from a bounded memo, as the embedded engine does:
        # the catalog search ranks every procedure by fuzzy score.
        key = query.strip()
        found = self.procedure_memo.get(key)
        if found is None:
            found = dict(find_procedure(key, self.index.procedures))
            if len(self.procedure_memo) < 10_000:
                self.procedure_memo[key] = found
        return found

    @cached_property
    def locator(self) -> CommuneLocator:
        return CommuneLocator(self.index.communes, cell_deg=None)  # vectorised callers only


class _Stale(Exception):
    """The database was reloaded between two statements of one query."""


class PostgisBackend:
    """The query backend on PostGIS, with the interface of `geo.finder.Finder`.

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
    calendar, ids, procedures
        As in `geo.finder.Finder`.

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
                    log.warning("database connection lost (%s); retrying on a fresh one", _reason(exc))
                    continue
                raise _unavailable(exc) from exc
            except SQLAlchemyError as exc:  # pool exhausted and timed out, ...
                raise _unavailable(exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _read_reference(self, boundary_set: str | None) -> _Reference:
        try:
            with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
                index, load_id = _read_index(conn, boundary_set)
        except DBAPIError as exc:
            raise _unavailable(exc) from exc
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
        # are the Finder interface (`Service` reads `points` and `index`).
        self._ref = ref
        self.index: Index = ref.index
        self.calendar: Calendar = ref.calendar
        self.points: gpd.GeoDataFrame = ref.points
        self.ids: np.ndarray = ref.ids
        self.procedures: pd.DataFrame = ref.procedures

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
        minx, miny, maxx, maxy = self._ref.index.communes.total_bounds
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
        return self._ref.procedure(query)

    def capable_rows(self, code: str) -> np.ndarray:
        """Row positions of the service points that handle procedure ``code``."""
        return self._ref.capable.get(code, np.empty(0, dtype=np.int64))

    def states_at(self, at: datetime) -> tuple[list[OpeningState], np.ndarray]:
        """Opening state of every point at ``at``: the distinct states and each point's class rank."""
        return self._ref.states.states_at(at)

    def state_of(self, row: int, at: datetime) -> OpeningState:
        """Opening state of the point at ``row``."""
        return self._ref.states.state_of(row, at)

    def point_record(self, row: int) -> pd.Series:
        """The registry row of the service point at ``row``."""
        return self._ref.points.iloc[row]

    # ------------------------------------------------------------------ SQL queries
    def commune_at(self, lon: float, lat: float) -> dict[str, Any] | None:
        """The commune (code, name, full_name, kind) that covers the point, or None (``ST_Covers``)."""
        if not (np.isfinite(lon) and np.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            return None
        return self._commune(self._run(lambda conn: self._locate(conn, lon, lat))[1])

    def _commune(self, code: str | None) -> dict[str, Any] | None:
        return None if code is None else dict(self._ref.communes[code])

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
        proc = ref.procedure(procedure)
        code = str(proc["code"])
        capable_count = len(ref.capable.get(code, ()))
        params = {"boundary_set": ref.boundary_set, "code": code, "lon": float(lon), "lat": float(lat)}

        def fetch(want: int) -> Candidates:
            rows = conn.execute(_KNN, {**params, "want": want}).all()
            try:
                positions = [ref.row_of[r.id] for r in rows]
            except KeyError as exc:
                raise _Stale from exc
            states = ref.states.states_of(positions, at)
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
            states=ref.states.states_of([row for _, row, _ in ranked], at),
            capable_count=capable_count,
            origin_commune=self._commune(located.get((lon, lat))),
        )
