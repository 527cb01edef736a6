"""Moving a built index into PostGIS and back: connect, migrate, load in one transaction, read.

Loading (`load_index`, ``gandan db load``)
    One transaction as the loader role: migrate to head, take an advisory lock, delete the boundary set
    (its rows go with it by ``ON DELETE CASCADE``), insert every layer again, derive the service area.
    A failure rolls everything back and the previous data stays; loading the same index twice gives the
    same rows; readers see the old rows until the commit, then the new ones.

Reading (`read_stored_index`, `read_index_on`)
    Every layer comes back with the columns, column order and row order it was loaded with, so the
    index read back equals the one loaded; the query backend (`geo.store.backend`) starts from it.

Creating the database (`create_database`, ``gandan db create``)
    As a superuser, from nothing and idempotently: the two login roles, the database, the ``postgis``
    and ``btree_gist`` extensions, and the grants. The loader role owns schema ``public`` (it creates
    and writes the tables); the reader role has ``CONNECT`` on the database, ``USAGE`` on the schema and
    ``SELECT`` on its tables, present and future (default privileges for tables the loader creates),
    nothing else; ``PUBLIC`` has no rights. On a streaming replica all of it arrives with the data.

Least privilege
    SQL is built only from SQLAlchemy expressions with bound parameters (identifiers in the set-up
    statements are quoted by psycopg); the API connects as the reader role only.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from geoalchemy2.shape import from_shape
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.expression import ClauseElement, Executable

from geo.catalog import SERVICE_AREA_BUFFER_M
from geo.errors import BackendUnavailable
from geo.index import Index
from geo.store.models import LAYERS, METRIC_SRID, WGS84_SRID, Base, BoundarySet, Commune, Layer, ServiceAreaPart

__all__ = [
    "DEFAULT_LOADER_ROLE",
    "DEFAULT_READER_ROLE",
    "SERVICE_AREA_PART_VERTICES",
    "LoadReport",
    "alembic_config",
    "create_database",
    "engine_url",
    "error_reason",
    "load_index",
    "migrate",
    "read_index_on",
    "read_stored_index",
    "unavailable",
]

SERVICE_AREA_PART_VERTICES = 256  # ST_Subdivide target: small parts keep point-in-area tests cheap
_LOAD_LOCK_KEY = 0x67616E64616E_01  # pg_advisory_xact_lock key serialising `gandan db load`
_ROLES_LOCK_KEY = 0x67616E64616E  # pg_advisory_lock key serialising role creation (as tests/conftest.py)
DEFAULT_LOADER_ROLE = "gandan_loader"
DEFAULT_READER_ROLE = "gandan_reader"
_TO_METRIC = Transformer.from_crs(f"EPSG:{WGS84_SRID}", f"EPSG:{METRIC_SRID}", always_xy=True)


# =============================================================================================== engine
def engine_url(url: str | URL) -> URL:
    """``url`` as a SQLAlchemy URL on the psycopg 3 driver (``postgresql://`` is taken to mean it)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def error_reason(exc: BaseException) -> str:
    """The first line of a database error, without SQLAlchemy's statement echo."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


def unavailable(exc: BaseException) -> BackendUnavailable:
    """The error a query answers with when the database cannot serve it."""
    return BackendUnavailable(f"the PostGIS database is unavailable: {error_reason(exc)}")


@contextmanager
def _one_shot_engine(url: str | URL, failure: str) -> Iterator[Engine]:
    """An unpooled engine on ``url``, disposed at the end.

    A database error becomes `BackendUnavailable` saying ``failure: <reason>``.
    """
    engine = sa.create_engine(engine_url(url), poolclass=NullPool)
    try:
        yield engine
    except DBAPIError as exc:
        raise BackendUnavailable(f"{failure}: {error_reason(exc)}") from exc
    finally:
        engine.dispose()


# =============================================================================================== creation
def create_database(
    admin_url: str | URL,
    database: str,
    *,
    loader_role: str = DEFAULT_LOADER_ROLE,
    reader_role: str = DEFAULT_READER_ROLE,
    loader_password: str | None = None,
    reader_password: str | None = None,
) -> list[str]:
    """Create the database, its extensions and its two roles from nothing; running it again changes nothing.

    Parameters
    ----------
    admin_url
        URL of a superuser on the server (any database of it; ``postgres`` usually).
    database
        The database to create (kept when it exists).
    loader_role, reader_role
        The login roles to create (kept when they exist; their attributes and grants are re-asserted).
    loader_password, reader_password
        Passwords to set (unchanged when None: for servers that authenticate otherwise).

    Returns
    -------
    list[str]
        What was done, one line per step (``created ...`` or ``... exists``).

    Raises
    ------
    BackendUnavailable
        The server cannot be reached or refused a step (not a superuser, no PostGIS installed, ...).
    """
    import psycopg
    from psycopg import sql

    admin = engine_url(admin_url)
    libpq = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    done: list[str] = []
    db, loader, reader = sql.Identifier(database), sql.Identifier(loader_role), sql.Identifier(reader_role)
    try:
        with psycopg.connect(libpq, autocommit=True, connect_timeout=10) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_ROLES_LOCK_KEY,))
            try:
                for role, password in ((loader_role, loader_password), (reader_role, reader_password)):
                    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
                    verb = "ALTER" if exists else "CREATE"
                    statement = sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(
                        sql.SQL(verb), sql.Identifier(role)
                    )
                    if password is not None:
                        statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(password))
                    conn.execute(statement)
                    done.append(f"role {role} exists" if exists else f"created role {role}")
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_ROLES_LOCK_KEY,))
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
                done.append(f"database {database} exists")
            else:
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(db))
                done.append(f"created database {database}")
        in_database = admin.set(database=database, drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(in_database, autocommit=True, connect_timeout=10) as conn:
            for extension in ("postgis", "btree_gist"):
                present = conn.execute("SELECT 1 FROM pg_extension WHERE extname = %s", (extension,)).fetchone()
                conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension)))
                done.append(f"extension {extension} exists" if present else f"created extension {extension}")
            for grant in (
                "REVOKE ALL ON DATABASE {db} FROM PUBLIC",
                "GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {loader}",
                "GRANT CONNECT ON DATABASE {db} TO {reader}",
                "ALTER SCHEMA public OWNER TO {loader}",
                "REVOKE ALL ON SCHEMA public FROM PUBLIC",
                "GRANT USAGE ON SCHEMA public TO {reader}",
                # Tables already there (spatial_ref_sys, and the loader's after a re-run) and to come.
                "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}",
                "ALTER DEFAULT PRIVILEGES FOR ROLE {loader} IN SCHEMA public GRANT SELECT ON TABLES TO {reader}",
            ):
                conn.execute(sql.SQL(grant).format(db=db, loader=loader, reader=reader))
            done.append(f"granted: {loader_role} owns schema public; {reader_role} may CONNECT, USAGE, SELECT")
    except psycopg.Error as exc:
        raise BackendUnavailable(f"cannot create database {database!r}: {error_reason(exc)}") from exc
    return done


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


def _layer_rows(layer: Layer, frame: pd.DataFrame, boundary_set: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
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
    _add_knn_columns(prepared["capabilities"][0], index.service_points, load_id)
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


def _add_knn_columns(capabilities: list[dict[str, Any]], points: gpd.GeoDataFrame, load_id: uuid.UUID) -> None:
    """Each capability row's ``geom_utm`` (its point's, in UTM 48N) and ``load_id`` (see the model)."""
    x, y = _TO_METRIC.transform(points.geometry.x.to_numpy(), points.geometry.y.to_numpy())
    utm = {
        str(pid): from_shape(Point(px, py), srid=METRIC_SRID, extended=True)
        for pid, px, py in zip(points["id"], x.tolist(), y.tolist(), strict=True)
    }
    for row in capabilities:
        row["geom_utm"] = utm.get(str(row["point_id"]))
        row["load_id"] = load_id


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


def _read_layer(conn: Connection, layer: Layer, boundary_set: str, layout: dict[str, Any]) -> pd.DataFrame:
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


def read_index_on(conn: Connection, boundary_set: str | None) -> tuple[Index, uuid.UUID]:
    """Read the loaded index of ``boundary_set`` (None: the default) and the id of its load."""
    head = _resolve_boundary_set(conn, boundary_set)
    # A set loaded before a layer existed (procedure_details: migration 0002) reads it as empty.
    layers = {
        layer.name: _read_layer(conn, layer, head.id, head.layout[layer.name])
        for layer in LAYERS
        if layer.name in head.layout
    }
    manifest = dict(head.manifest)
    return Index(manifest=manifest, path=None, **layers), head.load_id


def read_stored_index(database_url: str | URL, boundary_set: str | None = None) -> Index:
    """The index stored in the database (default: the boundary set loaded last), as `geo.index.read_index` gives it."""
    with (
        _one_shot_engine(database_url, "cannot read the index from the database") as engine,
        engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
    ):
        return read_index_on(conn, boundary_set)[0]

