"""Scale-out on one machine: the database made from nothing by `gandan db create`, two API processes on it.

`gandan db create` (as the superuser) makes the database, PostGIS and the two roles; running it again
changes nothing; `gandan db load` (loader role) fills it; two uvicorn processes on two loopback ports serve
it as the reader role and give the very same answers as each other and as the embedded engine.
"""

from __future__ import annotations

import json
import os
import secrets
from urllib.parse import urlencode

import numpy as np
import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from scripts.bench_postgis import libpq_url, serve_api
from tests.conftest import _admin_server_url

pytestmark = pytest.mark.postgis


def _drop(admin_url: str, database: str, *roles: str) -> None:
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        for role in roles:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _create(admin_url: str, database: str, *extra: str) -> str:
    from app.cli import app

    result = CliRunner().invoke(app, ["db", "create", "--admin-url", admin_url, "--database", database, *extra])
    assert result.exit_code == 0, result.output
    return result.output


def test_db_create_makes_database_extensions_and_least_privilege_roles(postgis_url, index) -> None:
    """From nothing (new roles too), twice; the loader can load, the reader can only read."""
    from geo.store.load import load_index, read_stored_index

    admin = _admin_server_url()
    tag = secrets.token_hex(3)
    database, loader, reader = f"gandan_test_{os.getpid()}_create_{tag}", f"gl_{tag}", f"gr_{tag}"
    roles = ["--loader-role", loader, "--reader-role", reader, "--loader-password", loader, "--reader-password", reader]
    try:
        first = _create(admin, database, *roles)
        assert f"created role {loader}" in first and f"created database {database}" in first
        assert "created extension postgis" in first and "created extension btree_gist" in first
        again = _create(admin, database, *roles)
        assert "created" not in again.replace("created with", "") and f"database {database} exists" in again
        base = make_url(admin).set(drivername="postgresql+psycopg", database=database)
        loader_url = base.set(username=loader, password=loader).render_as_string(hide_password=False)
        reader_url = base.set(username=reader, password=reader).render_as_string(hide_password=False)
        load_index(index, loader_url)  # the loader owns the schema: migrations and the load both run
        assert len(read_stored_index(reader_url).service_points) == len(index.service_points)
        with psycopg.connect(libpq_url(reader_url), autocommit=True) as conn:
            for statement in ("DELETE FROM service_points", "CREATE TABLE t (i int)", "CREATE TEMP TABLE t (i int)"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
        with psycopg.connect(libpq_url(admin), autocommit=True) as conn:
            rights = conn.execute(
                "SELECT has_database_privilege('public', %s, 'CONNECT'), rolsuper, rolcreatedb, rolcreaterole "
                "FROM pg_roles WHERE rolname = %s",
                (database, reader),
            ).fetchone()
        assert rights == (False, False, False, False)
    finally:
        _drop(admin, database, loader, reader)


@pytest.fixture(scope="module")
def city_db(postgis_url, index):
    """A database made by ``gandan db create`` with the default roles, loaded by ``gandan db load``."""
    from app.cli import app

    admin = _admin_server_url()
    database = f"gandan_test_{os.getpid()}_city"
    try:
        _create(admin, database)
        urls = make_url(admin).set(drivername="postgresql+psycopg", database=database)
        loader_url = urls.set(username="gandan_loader", password="gandan_loader").render_as_string(False)
        reader_url = urls.set(username="gandan_reader", password="gandan_reader").render_as_string(False)
        result = CliRunner().invoke(app, ["db", "load", "--database-url", loader_url])
        assert result.exit_code == 0, result.output
        yield reader_url
    finally:
        _drop(admin, database)


def test_two_api_processes_on_one_database_give_identical_answers(city_db, finder, client) -> None:
    rng = np.random.default_rng(16)
    minx, miny, maxx, maxy = finder.bbox
    lon, lat = rng.uniform(minx, maxx, 600), rng.uniform(miny, maxy, 600)
    inside = finder.locator.communes_at(lon, lat) >= 0
    codes = sorted(finder.procedures["code"])
    paths = [
        "/v1/nearest?"
        + urlencode({"lat": f"{y:.6f}", "lon": f"{x:.6f}", "procedure": codes[rng.integers(len(codes))],
                     "at": "2026-03-05T14:10:00+07:00", "k": int(rng.integers(1, 9)),
                     "open_only": bool(rng.random() < 0.2)})
        for x, y in zip(lon[inside][:150], lat[inside][:150], strict=True)
    ] + ["/v1/locate?lat=21.0285&lon=105.8542", "/v1/nearest?lat=10.77&lon=106.70&procedure=1.001193"]
    env = {"GANDAN_BACKEND": "postgis", "GANDAN_DATABASE_URL": city_db}
    with serve_api(env, workers=1) as one, serve_api(env, workers=1) as two:
        assert one.port != two.port
        for server in (one, two):
            status, _, body = server.get("/healthz")
            health = json.loads(body)
            assert status == 200 and health["backend"] == "postgis" and health["status"] == "ok"
            assert health["built_at"] == finder.index.manifest["built_at"]
        for path in paths:
            a, b = one.get(path), two.get(path)
            embedded = client.get(path)
            assert a == b, path
            assert a[0] == embedded.status_code and json.loads(a[2]) == embedded.json(), path
