"""The PostGIS test infrastructure itself (tests/conftest.py, PostGIS section) works."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

pytestmark = pytest.mark.postgis


def _engine(url: str) -> Engine:
    # NullPool: every connect() is a new server session, which is what the outage tests probe.
    return create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})


@pytest.fixture
def engines(postgis_url) -> Iterator[dict[str, Engine]]:
    made = {
        "admin": _engine(postgis_url.admin_url),
        "loader": _engine(postgis_url.loader_url),
        "reader": _engine(postgis_url.reader_url),
    }
    yield made
    for engine in made.values():
        engine.dispose()


@pytest.fixture
def loader_table(engines) -> str:
    """A table created and filled by the loader; its name."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with engines["loader"].begin() as conn:
        conn.execute(text(f"CREATE TABLE {name} (id serial PRIMARY KEY, geom geometry(Point, 4326))"))
        conn.execute(text(f"INSERT INTO {name} (geom) VALUES (ST_SetSRID(ST_MakePoint(105.8342, 21.0278), 4326))"))
    return name


def _is_permission_denied(exc: DBAPIError) -> bool:
    return isinstance(exc.orig, psycopg.errors.InsufficientPrivilege)


def test_urls_use_psycopg_driver_and_fresh_database(postgis_url):
    for url in (postgis_url.admin_url, postgis_url.loader_url, postgis_url.reader_url):
        parsed = make_url(url)
        assert parsed.drivername == "postgresql+psycopg"
        assert parsed.database == postgis_url.dbname
    assert postgis_url.dbname.startswith("gandan_test_")


def test_server_is_postgresql_15_with_postgis_3(engines):
    with engines["admin"].connect() as conn:
        server_major = conn.execute(text("SELECT current_setting('server_version_num')::int / 10000")).scalar()
        postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar()
        ext = conn.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")).scalar()
    assert server_major == 15
    assert postgis.startswith("3."), postgis
    assert ext.startswith("3."), ext


def test_roles_connect_as_themselves(engines):
    for role, expected in (("loader", "gandan_loader"), ("reader", "gandan_reader")):
        with engines[role].connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar() == expected


def test_loader_can_create_and_write(engines, loader_table):
    with engines["loader"].begin() as conn:
        conn.execute(text(f"INSERT INTO {loader_table} (geom) VALUES (ST_GeomFromText('POINT(105.85 21.03)', 4326))"))
        conn.execute(text(f"UPDATE {loader_table} SET geom = ST_SetSRID(ST_MakePoint(105.8, 21.0), 4326) WHERE id = 1"))
        count = conn.execute(text(f"SELECT count(*) FROM {loader_table}")).scalar()
        conn.execute(text(f"DELETE FROM {loader_table} WHERE id = 2"))
        conn.execute(text("CREATE TEMP TABLE scratch (x int)"))
    assert count == 2
    with engines["admin"].connect() as conn:
        owner = conn.execute(text("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'public'")).scalar()
    assert owner == "gandan_loader"


def test_reader_can_select_loader_tables_and_use_postgis(engines, loader_table):
    with engines["reader"].connect() as conn:
        wkt = conn.execute(text(f"SELECT ST_AsText(geom) FROM {loader_table} WHERE id = 1")).scalar()
        srs = conn.execute(text("SELECT count(*) FROM spatial_ref_sys WHERE srid = 4326")).scalar()
    assert wkt == "POINT(105.8342 21.0278)"
    assert srs == 1


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO {t} (geom) VALUES (NULL)",
        "UPDATE {t} SET geom = NULL",
        "DELETE FROM {t}",
        "CREATE TABLE reader_made (x int)",
        "CREATE TEMP TABLE reader_tmp (x int)",
        "DROP TABLE {t}",
    ],
)
def test_reader_is_read_only(engines, loader_table, statement):
    with pytest.raises(DBAPIError) as info, engines["reader"].begin() as conn:
        conn.execute(text(statement.format(t=loader_table)))
    # SQLSTATE 42501: "permission denied for table/schema/database ..." or "must be owner of ..."
    assert _is_permission_denied(info.value), info.value


def test_block_refuses_new_and_kills_open_reader_connections(engines, postgis_outage):
    reader, loader = engines["reader"], engines["loader"]
    held = reader.connect()
    assert held.execute(text("SELECT 1")).scalar() == 1

    postgis_outage.block()
    assert postgis_outage.blocked == {"gandan_reader"}

    # A new connection is refused ...
    with pytest.raises(OperationalError) as refused, reader.connect():
        pass
    assert "CONNECT privilege" in str(refused.value) or "permission denied" in str(refused.value)
    # ... the open one was terminated ...
    with pytest.raises(OperationalError):
        held.execute(text("SELECT 1"))
    held.close()
    # ... and the loader is not affected.
    with loader.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1

    postgis_outage.unblock()
    assert postgis_outage.blocked == set()
    with reader.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_down_context_manager_blocks_only_inside(engines, postgis_outage):
    with postgis_outage.down(), pytest.raises(OperationalError), engines["reader"].connect():
        pass
    with engines["reader"].connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_restore_used_by_fixture_teardown_unblocks_everything(engines, postgis_outage):
    # The fixture's teardown calls restore(), so a test that fails while blocked leaves the
    # roles usable for the next test. (Checked here directly: with pytest 9.2, xdist's
    # loadgroup does not keep two tests on one worker, so an order-based check would be void.)
    postgis_outage.block("gandan_reader", "gandan_loader")
    for role in ("reader", "loader"):
        with pytest.raises(OperationalError), engines[role].connect():
            pass
    postgis_outage.restore()
    assert postgis_outage.blocked == set()
    for role in ("reader", "loader"):
        with engines[role].connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
