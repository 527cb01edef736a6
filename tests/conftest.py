"""Shared pytest fixtures.

Sections (add new ones below with the same kind of header):

* Core: settings on the data mirror, the built index, the embedded engine, the service and the HTTP
  client; a folder for files worth looking at.
* Browser: Debian's headless Chromium and a real uvicorn server of the app on the real index, for the
  tests marked ``browser``.
* PostGIS: a fresh PostgreSQL 15 + PostGIS 3 database per test run, with a loader and a
  read-only reader role, and a switch that cuts the reader off for fault tests; and a cluster of
  its own that the database-restart tests may restart.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

REPO_ROOT = Path(__file__).resolve().parent.parent

# Upstream files come from the shared mirror beside the project unless GANDAN_DATA_MIRROR says otherwise.
_DEFAULT_MIRROR = REPO_ROOT.parent / "shared" / "data" / "mirror"
if "GANDAN_DATA_MIRROR" not in os.environ and _DEFAULT_MIRROR.is_dir():
    os.environ["GANDAN_DATA_MIRROR"] = str(_DEFAULT_MIRROR)

from geo.settings import Settings, get_settings  # noqa: E402 (after the mirror is set)

get_settings.cache_clear()


# =============================================================================================
# Core
# =============================================================================================


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The project's settings, reading upstream files from the mirror."""
    return get_settings()


@pytest.fixture(scope="session")
def index(settings: Settings):  # type: ignore[no-untyped-def]
    """The built index (built once when `make test` has not built it)."""
    from geo.errors import IndexNotBuilt
    from geo.index import read_index

    try:
        return read_index(settings=settings)
    except IndexNotBuilt:
        from geo.build import build_index

        return build_index(settings)


@pytest.fixture(scope="session")
def finder(index):  # type: ignore[no-untyped-def]
    """The embedded engine over the real index."""
    from geo.finder import Finder

    return Finder(index)


@pytest.fixture(scope="session")
def service(finder, settings: Settings):  # type: ignore[no-untyped-def]
    """The query service on the embedded engine."""
    from geo.service import Service

    return Service(finder, settings)


@pytest.fixture(scope="session")
def client(service) -> Iterator:  # type: ignore[no-untyped-def]
    """FastAPI test client of the app on the real index."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(service)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def real_settings(settings: Settings) -> Settings:
    """Settings on the real upstream files (the mirror, or files fetched before)."""
    if settings.data_mirror is None and not settings.upstream_dir.exists():
        pytest.fail("no data mirror and no fetched upstream files: run `gandan data fetch`")
    return settings


@pytest.fixture(scope="session")
def real_streets(real_settings: Settings):  # type: ignore[no-untyped-def]
    """OSM street names of the pinned extracts of central Hanoi."""
    from geo.sources import paths_of_group
    from geo.streets import load_osm_streets

    return load_osm_streets(paths_of_group("osm-central-hanoi", real_settings))


@pytest.fixture()
def output_dir() -> Path:
    """Where tests leave files worth looking at (screenshots, maps)."""
    path = REPO_ROOT / "test-output"
    path.mkdir(exist_ok=True)
    return path


# =============================================================================================
# Browser
# =============================================================================================

CHROMIUM = "/usr/bin/chromium"  # Debian's (scripts/test-services.sh), never a downloaded build
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(service) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A real uvicorn server on a free loopback port, serving the app on the real index."""
    import threading
    import time

    import uvicorn

    from app.assets import install_web_assets
    from app.main import create_app

    install_web_assets()  # no-op (milliseconds) when `make build` has installed them
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="uvicorn-browser-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run scripts/test-services.sh"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# =============================================================================================
# PostGIS
# =============================================================================================
#
# Server: 127.0.0.1:5432, superuser `postgres` without a password (what
# scripts/test-services.sh provides: it installs postgresql-15-postgis-3 from Debian, starts
# or creates the cluster 15/main, and lets `postgres` in over loopback). `make test` runs that
# script first; a bare `pytest` that finds no server runs it too (once per process) and then
# fails loudly, never skips, if the server still cannot be had.
# GANDAN_TEST_PG_ADMIN_URL overrides the superuser URL (any database on the server; the
# fixture connects to it only to create and drop the test database).
#
# Per test run (per pytest-xdist worker, each a session of its own) the `postgis_url` fixture
# creates a database `gandan_test_<pid>_<hex>` with the postgis extension, and drops it at the
# end (WITH FORCE). Databases left behind by killed runs are dropped on the next run when
# the process whose pid they carry is gone.
#
# Roles (cluster-wide, created once, re-asserted each run, shared by all test databases):
#   gandan_loader  LOGIN; owns schema public of the test database: creates tables, writes.
#   gandan_reader  LOGIN; CONNECT on the database, USAGE on public, SELECT on its tables
#                  (also on tables the loader creates later, via default privileges); no
#                  CREATE, no TEMP, no INSERT/UPDATE/DELETE.
# PUBLIC has no rights on the test database (REVOKE ALL), so CONNECT is granted per role.
# Passwords equal the role names (test-only), so the URLs also work where the server asks
# for passwords; with the default trust setup they are ignored.
#
# Fault tests: the function-scoped `postgis_outage` fixture cuts a role (default: the reader)
# off from the test database. block() revokes its CONNECT privilege on that database, then
# terminates its open sessions there (pg_terminate_backend, waiting up to 5 s for each), so
# pooled connections die ("terminating connection due to administrator command" / "server
# closed the connection unexpectedly") and new ones are refused ("permission denied for
# database ... User does not have CONNECT privilege"). unblock() grants CONNECT back: new
# connections work at once. restore() unblocks everything; `with outage.down():` blocks for a
# block of code; the fixture's teardown always restores. Per database and per role, so other
# xdist workers, the other role and the admin are untouched (ALTER ROLE ... NOLOGIN would be
# cluster-wide and hit the other workers' databases; ALTER DATABASE ... ALLOW_CONNECTIONS
# false would cut off every role at once).
#
# Mark tests that use these fixtures with @pytest.mark.postgis.

PG_ADMIN_URL_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
LOADER_ROLE = "gandan_loader"
READER_ROLE = "gandan_reader"
TEST_DB_PREFIX = "gandan_test_"
_CONNECT_TIMEOUT_S = 5
# Serialises role creation between xdist workers (CREATE ROLE has no IF NOT EXISTS and two
# concurrent ones collide on pg_authid's unique index).
_ROLES_LOCK_KEY = 0x67616E64616E  # "gandan"


class PostgisURLs(NamedTuple):
    """SQLAlchemy URLs (driver postgresql+psycopg) of this run's test database."""

    admin_url: str  # superuser postgres
    loader_url: str  # gandan_loader: owns schema public, writes
    reader_url: str  # gandan_reader: CONNECT, USAGE, SELECT only
    dbname: str


def _admin_server_url() -> str:
    return os.environ.get("GANDAN_TEST_PG_ADMIN_URL", PG_ADMIN_URL_DEFAULT)


def _with_db(url: str, dbname: str, user: str | None = None, password: str | None = None) -> str:
    """The SQLAlchemy URL `url` pointed at `dbname`, optionally as another user."""
    u = make_url(url).set(database=dbname)
    if user is not None:
        u = u.set(username=user, password=password)
    return u.render_as_string(hide_password=False)


def _libpq(url: str) -> str:
    """A SQLAlchemy URL as a libpq URI for psycopg.connect()."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _admin_connect(url: str) -> psycopg.Connection:
    return psycopg.connect(_libpq(url), autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S)


def _probe_server(url: str) -> str | None:
    """None when the server takes the superuser and offers PostGIS 3, else the reason why not."""
    try:
        with _admin_connect(url) as conn:
            row = conn.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'postgis'").fetchone()
    except psycopg.Error as exc:
        return f"cannot connect as superuser to {make_url(url)!r}: {str(exc).strip()}"
    if row is None:
        return "the server has no postgis extension available (postgresql-15-postgis-3 not installed?)"
    if not str(row[0]).startswith("3."):
        return f"the server offers PostGIS {row[0]}; the project needs PostGIS 3"
    return None


def _run_test_services(server_url: str) -> str:
    """Run scripts/test-services.sh (installs/starts what is missing); its output."""
    script = REPO_ROOT / "scripts" / "test-services.sh"
    env = dict(os.environ)
    port = make_url(server_url).port
    if port is not None:
        env.setdefault("GANDAN_TEST_PG_PORT", str(port))
    try:
        proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=1800, check=False, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{script} could not run: {exc}"
    output = (proc.stdout + proc.stderr).strip()
    return f"exit {proc.returncode}" + (f": {output}" if output else ", no message")


def _fail_no_server(reason: str, services_output: str | None) -> NoReturn:
    where = "CI (env CI is set)" if os.environ.get("CI") else "this machine"
    lines = [
        f"PostGIS test server unavailable on {where}: {reason}",
    ]
    if services_output is not None:
        lines.append(f"scripts/test-services.sh said: {services_output}")
    lines.append(
        "Start it with `bash scripts/test-services.sh` (as root: installs postgresql-15-postgis-3, "
        "runs `pg_ctlcluster --skip-systemctl-redirect 15 main start`), or run `make test`. "
        "Tests marked postgis never skip."
    )
    pytest.fail("\n".join(lines), pytrace=False)


def _drop_stale_test_dbs(conn: psycopg.Connection) -> None:
    """Drop gandan_test_<pid>_* databases whose pid is no longer a running process."""
    rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (TEST_DB_PREFIX + "%",)).fetchall()
    for (name,) in rows:
        pid_part = name[len(TEST_DB_PREFIX) :].split("_", 1)[0]
        if not pid_part.isdigit() or Path(f"/proc/{pid_part}").exists():
            continue
        with contextlib.suppress(psycopg.Error):
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _ensure_roles(conn: psycopg.Connection) -> None:
    conn.execute("SELECT pg_advisory_lock(%s)", (_ROLES_LOCK_KEY,))
    try:
        for role in (LOADER_ROLE, READER_ROLE):
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            # Re-asserted every run: a killed fault test may have left anything behind.
            conn.execute(
                sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                    sql.SQL(verb), sql.Identifier(role), sql.Literal(role)
                )
            )
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_ROLES_LOCK_KEY,))


def _setup_test_db(admin_db_url: str) -> None:
    """Extension, ownership and privileges inside the freshly created test database."""
    loader, reader = sql.Identifier(LOADER_ROLE), sql.Identifier(READER_ROLE)
    with _admin_connect(admin_db_url) as conn:
        dbname = sql.Identifier(conn.info.dbname)
        for stmt in (
            "CREATE EXTENSION postgis",
            "CREATE EXTENSION btree_gist",  # the nearest statement's index (migration 0002)
            "REVOKE ALL ON DATABASE {db} FROM PUBLIC",
            "GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {loader}",
            "GRANT CONNECT ON DATABASE {db} TO {reader}",
            "ALTER SCHEMA public OWNER TO {loader}",
            "REVOKE ALL ON SCHEMA public FROM PUBLIC",
            "GRANT USAGE ON SCHEMA public TO {reader}",
            # spatial_ref_sys, geometry_columns, ... (owned by postgres, from the extension)
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}",
            "ALTER DEFAULT PRIVILEGES FOR ROLE {loader} IN SCHEMA public GRANT SELECT ON TABLES TO {reader}",
        ):
            conn.execute(sql.SQL(stmt).format(db=dbname, loader=loader, reader=reader))


_services_ran = False


@pytest.fixture(scope="session")
def postgis_url() -> Iterator[PostgisURLs]:
    """A fresh PostGIS database for this test run (this xdist worker); dropped at the end.

    Yields PostgisURLs(admin_url, loader_url, reader_url, dbname): SQLAlchemy URL strings
    (postgresql+psycopg://...) for the superuser, gandan_loader and gandan_reader.
    Fails (never skips) when no PostGIS 3 server can be had on 127.0.0.1:5432.
    """
    global _services_ran
    server_url = _admin_server_url()
    reason = _probe_server(server_url)
    services_output = None
    if reason is not None and not _services_ran:
        _services_ran = True
        services_output = _run_test_services(server_url)
        reason = _probe_server(server_url)
    if reason is not None:
        _fail_no_server(reason, services_output)

    dbname = f"{TEST_DB_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    with _admin_connect(server_url) as conn:
        _drop_stale_test_dbs(conn)
        _ensure_roles(conn)
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(dbname)))
    admin_url = _with_db(server_url, dbname)
    try:
        _setup_test_db(admin_url)
        yield PostgisURLs(
            admin_url=admin_url,
            loader_url=_with_db(server_url, dbname, LOADER_ROLE, LOADER_ROLE),
            reader_url=_with_db(server_url, dbname, READER_ROLE, READER_ROLE),
            dbname=dbname,
        )
    finally:
        with _admin_connect(server_url) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


class PostgisOutage:
    """Cuts roles off from the test database and lets them back in (see section header)."""

    def __init__(self, urls: PostgisURLs) -> None:
        self._urls = urls
        self.blocked: set[str] = set()

    def block(self, *roles: str) -> None:
        """Refuse new connections of `roles` (default: gandan_reader) and kill their sessions."""
        roles = roles or (READER_ROLE,)
        db = sql.Identifier(self._urls.dbname)
        with _admin_connect(self._urls.admin_url) as conn:
            for role in roles:
                conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM {}").format(db, sql.Identifier(role)))
                self.blocked.add(role)
            # Terminate after revoking, so no session can slip in between; wait up to 5 s each.
            conn.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                "WHERE datname = %s AND usename = ANY(%s) AND pid <> pg_backend_pid()",
                (self._urls.dbname, list(roles)),
            )

    def unblock(self, *roles: str) -> None:
        """Let `roles` (default: every blocked role) connect again."""
        roles = roles or tuple(self.blocked)
        db = sql.Identifier(self._urls.dbname)
        with _admin_connect(self._urls.admin_url) as conn:
            for role in roles:
                conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, sql.Identifier(role)))
                self.blocked.discard(role)

    def restore(self) -> None:
        """Unblock every role this object blocked (the fixture's teardown calls it)."""
        if self.blocked:
            self.unblock()

    @contextlib.contextmanager
    def down(self, *roles: str) -> Iterator[None]:
        """`with outage.down(): ...` blocks for the duration of the block."""
        self.block(*roles)
        try:
            yield
        finally:
            self.unblock(*roles)


@pytest.fixture
def postgis_outage(postgis_url: PostgisURLs) -> Iterator[PostgisOutage]:
    """block()/unblock() (or `with .down():`) the reader's access to the test database."""
    outage = PostgisOutage(postgis_url)
    try:
        yield outage
    finally:
        outage.restore()


# ---------------------------------------------------------------------------------------------
# A cluster that may be restarted
# ---------------------------------------------------------------------------------------------
#
# Restarting the server under a load run (tests/test_faults.py) must not break the tests other
# xdist workers run at the same time on 15/main. So the restart tests run on a Debian cluster of
# their own, 15/gandan_faults on 127.0.0.1:5434 (GANDAN_TEST_FAULT_PG_CLUSTER / _PORT), which
# scripts/test-services.sh creates and starts like the main one (GANDAN_TEST_PG_CLUSTER/_PORT).
# The module fixture stops it again at the end. Needs root (pg_ctlcluster); fails, never skips.

FAULT_PG_CLUSTER = os.environ.get("GANDAN_TEST_FAULT_PG_CLUSTER", "gandan_faults")
FAULT_PG_PORT = int(os.environ.get("GANDAN_TEST_FAULT_PG_PORT", "5434"))


class RestartableCluster(NamedTuple):
    """A PostgreSQL cluster the tests own: its Debian name, port and superuser URL."""

    cluster: str
    port: int
    admin_url: str


@pytest.fixture(scope="module")
def restartable_postgis() -> Iterator[RestartableCluster]:
    """Cluster 15/gandan_faults, created and started by scripts/test-services.sh; stopped at the end."""
    env = {
        **os.environ,
        "GANDAN_TEST_PG_CLUSTER": FAULT_PG_CLUSTER,
        "GANDAN_TEST_PG_PORT": str(FAULT_PG_PORT),
        "GANDAN_TEST_SKIP_BROWSER": "1",
    }
    script = REPO_ROOT / "scripts" / "test-services.sh"
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=1800, check=False, env=env)
    if proc.returncode != 0:
        pytest.fail(f"cannot provide cluster 15/{FAULT_PG_CLUSTER}: {(proc.stdout + proc.stderr).strip()}")
    admin_url = f"postgresql+psycopg://postgres@127.0.0.1:{FAULT_PG_PORT}/postgres"
    try:
        yield RestartableCluster(FAULT_PG_CLUSTER, FAULT_PG_PORT, admin_url)
    finally:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", "15", FAULT_PG_CLUSTER, "stop", "-m", "fast"],
            capture_output=True,
            check=False,
        )
