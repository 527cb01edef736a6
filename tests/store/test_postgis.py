"""The PostGIS backend: schema, one-transaction idempotent load, parity with the embedded engine, faults, roles.

Every test runs against the real server of tests/conftest.py (never skipped). Tests that change data use
boundary sets of their own, so the served set ``hanoi-2025`` stays as loaded by the module fixture.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Iterator
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from geoalchemy2 import alembic_helpers
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from geo.errors import BackendUnavailable, OutsideServiceArea
from geo.finder import Finder
from geo.hours import TZ
from geo.index import Index
from geo.service import Service
from geo.settings import Settings
from geo.store.backend import KNN_SQL
from geo.store.postgis import (
    Base,
    BoundarySet,
    PostgisBackend,
    ServicePoint,
    alembic_config,
    engine_url,
    load_index,
    read_stored_index,
)

pytestmark = pytest.mark.postgis

SERVED = "hanoi-2025"
MIXED_HOURS = [
    "Mo-Fr 08:00-12:00,13:00-17:00; PH off",
    "Mo-Sa 07:30-11:30; PH off",
    "24/7",
    "",
    "Mo-Fr 13:00-17:00; PH 08:00-11:00",
    "Sa,Su 08:00-12:00",
]
LAYERS = (
    "communes", "legacy_units", "crosswalk", "service_points", "procedures", "capabilities", "calendar",
    "procedure_details",
)  # fmt: skip


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(engine_url(url), poolclass=NullPool, connect_args={"connect_timeout": 5})


def _variant(index: Index, boundary_set: str, **layers: pd.DataFrame) -> Index:
    """A copy of ``index`` under another boundary set id, with some layers replaced."""
    manifest = {**copy.deepcopy(index.manifest), "boundary_set": boundary_set}
    return dataclasses.replace(index, manifest=manifest, **layers)


def _mixed_hours(index: Index, boundary_set: str, seed: int = 7) -> Index:
    """The index with varied opening hours (open, closed, unknown mixed), to exercise open-first ranking."""
    rng = np.random.default_rng(seed)
    points = index.service_points.copy()
    points["opening_hours"] = rng.choice(MIXED_HOURS, len(points))
    return _variant(index, boundary_set, service_points=points)


def _assert_same_index(stored: Index, expected: Index) -> None:
    for name in LAYERS:
        got, want = getattr(stored, name), getattr(expected, name)
        assert list(got.columns) == list(want.columns), name
        assert (got.dtypes == want.dtypes).all(), name
        if hasattr(want, "geometry"):
            assert got.crs == want.crs
            assert got.geometry.geom_equals_exact(want.geometry, 0).all(), name
            got, want = pd.DataFrame(got.drop(columns="geometry")), pd.DataFrame(want.drop(columns="geometry"))
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True), obj=name)
    strip = {"load_seconds"}
    assert {k: v for k, v in stored.manifest.items() if k not in strip} == {
        k: v for k, v in expected.manifest.items() if k not in strip
    }


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def loaded(postgis_url, index):
    """The real index loaded (as the loader role) into this run's database."""
    return load_index(index, postgis_url.loader_url)


@pytest.fixture(scope="module")
def backend(loaded, postgis_url) -> Iterator[PostgisBackend]:
    """The backend on the read-only role, serving hanoi-2025."""
    pg = PostgisBackend(postgis_url.reader_url, boundary_set=SERVED)
    yield pg
    pg.close()


@pytest.fixture(scope="module")
def mixed(postgis_url, index) -> Iterator[tuple[Finder, PostgisBackend]]:
    """Both engines over an index with varied hours (its own boundary set)."""
    variant = _mixed_hours(index, "test-mixed-hours")
    load_index(variant, postgis_url.loader_url)
    pg = PostgisBackend(postgis_url.reader_url, boundary_set="test-mixed-hours")
    yield Finder(variant), pg
    pg.close()


def _random_queries(finder: Finder, n: int, seed: int) -> list[tuple[float, float, str, datetime, int, bool]]:
    """Random origins in Hanoi, times in 2025–2026 (a third on holidays and make-up days), procedures, k."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = finder.bbox
    lon = rng.uniform(minx, maxx, 4 * n)
    lat = rng.uniform(miny, maxy, 4 * n)
    inside = finder.locator.communes_at(lon, lat) >= 0
    lon, lat = lon[inside][:n], lat[inside][:n]
    calendar = finder.index.calendar
    special = [d for d in calendar["date"] if d.year in (2025, 2026)]
    special += [datetime(2025, 1, 29).date(), datetime(2026, 2, 17).date()]  # Tết, mùng 1
    codes = sorted(finder.procedures["code"])
    start = datetime(2025, 1, 1, tzinfo=TZ)
    queries = []
    for i in range(n):
        if rng.random() < 1 / 3:
            day = special[rng.integers(len(special))]
            minutes = int(rng.integers(6 * 60, 19 * 60))
            at = datetime(day.year, day.month, day.day, tzinfo=TZ) + timedelta(minutes=minutes)
        else:
            at = start + timedelta(minutes=int(rng.integers(0, 730 * 24 * 60)))
        k = int(rng.integers(1, 9)) if rng.random() < 0.9 else int(rng.integers(9, 51))
        queries.append((float(lon[i]), float(lat[i]), codes[rng.integers(len(codes))], at, k, bool(rng.random() < 0.2)))
    return queries


def _assert_same_answers(finder: Finder, pg: PostgisBackend, queries) -> None:
    for lon, lat, code, at, k, open_only in queries:
        want = finder.nearest(lon, lat, code, at, k=k, open_only=open_only)
        got = pg.nearest(lon, lat, code, at, k=k, open_only=open_only)
        where = f"nearest({lon}, {lat}, {code}, {at.isoformat()}, k={k}, open_only={open_only})"
        assert [m.id for m in got.matches] == [m.id for m in want.matches], where
        assert [m.row for m in got.matches] == [m.row for m in want.matches], where
        assert [m.state for m in got.matches] == [m.state for m in want.matches], where
        assert np.allclose([m.distance_m for m in got.matches], [m.distance_m for m in want.matches], atol=0.11)
        assert got.origin_commune == want.origin_commune, where
        assert got.notes == want.notes and got.procedure == want.procedure, where


# ------------------------------------------------------------------------------------------ schema and load
def test_migrations_build_the_schema_the_models_describe(loaded, postgis_url) -> None:
    engine = _engine(postgis_url.loader_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": alembic_helpers.include_object, "compare_type": True}
        )
        assert context.get_current_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert compare_metadata(context, Base.metadata) == []
        gist = conn.execute(
            sa.text("SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%USING gist%' ORDER BY 1")
        ).scalars()
        assert {"ix_communes_geom", "ix_service_points_geom_utm", "ix_service_area_parts_geom"} <= set(gist)
        columns = sa.text("SELECT f_table_name || '.' || f_geometry_column, srid FROM geometry_columns")
        srids = {name: srid for name, srid in conn.execute(columns)}
    engine.dispose()
    assert srids["communes.geom"] == srids["service_points.geom"] == srids["legacy_units.geom"] == 4326
    assert srids["service_points.geom_utm"] == 32648


def test_load_round_trips_the_index(loaded, postgis_url, index) -> None:
    assert loaded.boundary_set == SERVED
    assert loaded.rows == {name: len(getattr(index, name)) for name in LAYERS}
    assert loaded.service_area_parts > 0
    _assert_same_index(read_stored_index(postgis_url.reader_url, SERVED), index)


def test_backend_serves_the_stored_index(backend, index, finder) -> None:
    _assert_same_index(backend.index, index)
    assert list(backend.points["id"]) == list(finder.points["id"])
    for code in ("1.001193", "1.004222", "2.002154"):
        assert np.array_equal(backend.capable_rows(code), finder.capable_rows(code))
    assert backend.bbox == finder.bbox
    at = datetime(2026, 1, 10, 9, 0, tzinfo=TZ)  # make-up working Saturday
    assert backend.states_at(at)[1].tolist() == finder.states_at(at)[1].tolist()
    assert backend.state_of(5, at) == finder.state_of(5, at)


def test_cli_load_again_gives_the_same_data(postgis_url, loaded, backend, index) -> None:
    from app.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["db", "migrate", "--database-url", postgis_url.loader_url])
    assert result.exit_code == 0, result.output
    # The module fixture loaded hanoi-2025 once already: this is the second load of the same index.
    result = runner.invoke(app, ["db", "load", "--database-url", postgis_url.loader_url])
    assert result.exit_code == 0, result.output
    assert "loaded boundary set hanoi-2025" in result.output and "134 service_points" in result.output
    _assert_same_index(read_stored_index(postgis_url.reader_url, SERVED), index)
    engine = _engine(postgis_url.reader_url)
    with engine.connect() as conn:
        count = sa.select(sa.func.count()).select_from(ServicePoint).where(ServicePoint.boundary_set == SERVED)
        assert conn.execute(count).scalar_one() == len(index.service_points)
        load_id = conn.execute(sa.select(BoundarySet.load_id).where(BoundarySet.id == SERVED)).scalar_one()
    engine.dispose()
    assert load_id != loaded.load_id
    # The running backend notices the new load and reads it again.
    assert backend.health() == {"database": "ok"} and backend.load_id == load_id
    result = runner.invoke(app, ["db", "load", "--database-url", postgis_url.reader_url])
    assert result.exit_code == 1 and "nothing changed" in result.output


def test_failed_load_leaves_the_previous_data(postgis_url, loaded, index) -> None:
    before = read_stored_index(postgis_url.reader_url, SERVED)
    # A capability naming a point that does not exist: the foreign key fails near the end of the load,
    # after the old rows were deleted and the changed points inserted.
    capabilities = pd.concat(
        [index.capabilities, pd.DataFrame({"point_id": ["no-such-point"], "procedure_code": ["1.001193"]})],
        ignore_index=True,
    )
    points = index.service_points.copy()
    points["name"] = "changed"
    bad = dataclasses.replace(index, capabilities=capabilities, service_points=points)
    with pytest.raises(BackendUnavailable, match="nothing changed"):
        load_index(bad, postgis_url.loader_url)
    after = read_stored_index(postgis_url.reader_url, SERVED)
    _assert_same_index(after, index)
    assert after.manifest == before.manifest


# ------------------------------------------------------------------------------------------ privileges
@pytest.mark.parametrize(
    "statement",
    [
        sa.delete(ServicePoint),
        sa.update(BoundarySet).values(title="x"),
        sa.insert(BoundarySet).values(id="x", loaded_at=sa.func.now(), load_id=sa.func.gen_random_uuid(),
                                      manifest={}, layout={}),
        sa.schema.CreateTable(sa.Table("intruder", sa.MetaData(), sa.Column("id", sa.Integer))),
    ],
    ids=["delete", "update", "insert", "create"],
)
def test_reader_cannot_write(loaded, postgis_url, statement) -> None:
    engine = _engine(postgis_url.reader_url)
    with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
        conn.execute(statement)
    engine.dispose()
    assert isinstance(caught.value.orig, psycopg.errors.InsufficientPrivilege)


def test_reader_cannot_load(loaded, postgis_url, index) -> None:
    with pytest.raises(BackendUnavailable, match="permission denied"):
        load_index(_variant(index, "test-reader-load"), postgis_url.reader_url)


def test_backend_sessions_are_read_only_even_for_a_writer(loaded, postgis_url) -> None:
    pg = PostgisBackend(postgis_url.loader_url, boundary_set=SERVED)
    try:
        with pg.engine.connect() as conn:
            assert conn.execute(sa.text("SHOW default_transaction_read_only")).scalar() == "on"
            with pytest.raises(DBAPIError) as caught:
                conn.execute(sa.delete(ServicePoint))
        assert isinstance(caught.value.orig, psycopg.errors.ReadOnlySqlTransaction)
    finally:
        pg.close()


def test_from_settings(loaded, postgis_url) -> None:
    with pytest.raises(BackendUnavailable, match="GANDAN_DATABASE_URL"):
        PostgisBackend.from_settings(Settings(backend="postgis"))
    pg = PostgisBackend.from_settings(Settings(backend="postgis", database_url=postgis_url.reader_url))
    try:
        assert pg.health() == {"database": "ok"} and len(pg.points) == 134
    finally:
        pg.close()
    with pytest.raises(BackendUnavailable, match="'nowhere' is not loaded"):
        PostgisBackend(postgis_url.reader_url, boundary_set="nowhere")


# ------------------------------------------------------------------------------------------ queries
def test_two_thousand_random_queries_match_the_embedded_engine(finder, backend) -> None:
    _assert_same_answers(finder, backend, _random_queries(finder, 2000, seed=2025))


def test_mixed_hours_queries_match_the_embedded_engine(mixed) -> None:
    finder, pg = mixed
    states = {s.state for s in finder.states_at(datetime(2026, 3, 2, 12, 30, tzinfo=TZ))[0]}
    assert states == {"open", "closed", "unknown"}  # the variant really mixes the classes
    _assert_same_answers(finder, pg, _random_queries(finder, 600, seed=11))


def test_locations_and_communes_match_the_embedded_engine(finder, backend) -> None:
    rng = np.random.default_rng(5)
    minx, miny, maxx, maxy = finder.bbox
    # The bounding box widened by ~3 km: inside, in the 1 km buffer, and outside.
    lons = rng.uniform(minx - 0.03, maxx + 0.03, 300)
    lats = rng.uniform(miny - 0.03, maxy + 0.03, 300)
    cases = [*zip(lons.tolist(), lats.tolist(), strict=True), (21.0285, 105.8542), (106.70, 10.77), (200.0, 95.0)]
    cases += [(float("nan"), 21.0)]
    for lon, lat in cases:
        assert backend.commune_at(lon, lat) == finder.commune_at(lon, lat), (lon, lat)
        try:
            finder.check_location(lon, lat)
            expected = None
        except OutsideServiceArea as exc:
            expected = (exc.detail, exc.extra)
        try:
            backend.check_location(lon, lat)
            got = None
        except OutsideServiceArea as exc:
            got = (exc.detail, exc.extra)
        assert got == expected, (lon, lat)


def test_geojson_is_identical_through_the_service(finder, backend, settings) -> None:
    embedded, stored = Service(finder, settings), Service(backend, settings)
    at = datetime(2026, 3, 2, 9, 30, tzinfo=TZ)
    for lon, lat, code, at, k, open_only in _random_queries(finder, 40, seed=3):
        a = embedded.to_feature_collection(embedded.nearest(lon, lat, code, at, k=k, open_only=open_only))
        b = stored.to_feature_collection(stored.nearest(lon, lat, code, at, k=k, open_only=open_only))
        assert a == b
    # The same lookups through the one facade, whichever backend serves them.
    assert stored.name == "postgis" and stored.does_io is True
    assert stored.health() == {"index": "ok", "database": "ok"}
    assert stored.points_collection("1.001193", at) == embedded.points_collection("1.001193", at)
    assert stored.search_communes("hoan kiem", 5) == embedded.search_communes("hoan kiem", 5)
    assert stored.procedure_detail("1.001193") == embedded.procedure_detail("1.001193")
    assert stored.commune_feature("00004") == embedded.commune_feature("00004")
    assert stored.locate(105.8542, 21.0285) == embedded.locate(105.8542, 21.0285)
    walk = [s.to_feature_collection(s.nearest(105.8542, 21.0285, "1.001193", at, k=3, mode="walk")) for s in
            (embedded, stored)]
    assert walk[0] == walk[1] and walk[0]["features"][0]["properties"]["cost_basis"] == "network"


def test_knn_walks_the_gist_index_without_sorting(backend, postgis_url) -> None:
    params = {"boundary_set": SERVED, "code": "1.001193", "x": 586000.0, "y": 2325000.0, "want": 8}
    with psycopg.connect(make_url(postgis_url.reader_url).set(drivername="postgresql").render_as_string(False)) as conn:
        plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + KNN_SQL, params))
    assert "Index Scan using ix_capabilities_knn" in plan and "Order By" in plan, plan
    assert "Index Cond" in plan and "procedure_code" in plan, plan  # the walk meets this procedure's points only
    assert "Sort" not in plan, plan


def _count_statements(pg: PostgisBackend, run, monkeypatch) -> list[int]:
    """The LIMIT of every KNN statement ``run`` sends (nothing else reaches the database)."""
    seen: list[int] = []
    fetch = pg._fetch

    def counting(query: str, params: dict) -> list:
        seen.append(params.get("want", -1))
        return fetch(query, params)

    monkeypatch.setattr(pg, "_fetch", counting)
    sa_statements: list[str] = []

    def before(conn, cursor, statement, *_) -> None:
        sa_statements.append(statement)

    sa.event.listen(pg.engine, "before_cursor_execute", before)
    try:
        run()
    finally:
        monkeypatch.undo()
        sa.event.remove(pg.engine, "before_cursor_execute", before)
    assert [s for s in sa_statements if s.strip() != ";"] == []  # no location statement: communes in memory
    return seen


def test_one_statement_settles_open_and_closed_answers(backend, monkeypatch) -> None:
    hoan_kiem = (105.8542, 21.0285)
    morning = datetime(2026, 3, 2, 9, 30, tzinfo=TZ)
    night = datetime(2026, 3, 2, 22, 0, tzinfo=TZ)
    # Open now: one KNN batch of 8 settles k=3.
    assert _count_statements(backend, lambda: backend.nearest(*hoan_kiem, "1.001193", morning, k=3), monkeypatch) == [8]
    # Everything closed: the classes of the points left out are known in memory (all closed too), so the
    # first batch settles as well, where a distance-only frontier would walk all 130 capable points.
    assert len(backend.capable_rows("1.001193")) == 130
    assert _count_statements(backend, lambda: backend.nearest(*hoan_kiem, "1.001193", night, k=3), monkeypatch) == [8]
    result = backend.nearest(*hoan_kiem, "1.001193", night, k=3)
    assert [m.state.state for m in result.matches] == ["closed"] * 3
    assert result.matches[0].state.opens_at == datetime(2026, 3, 3, 8, 0, tzinfo=TZ)


def test_batches_grow_when_the_classes_are_mixed(mixed, monkeypatch) -> None:
    finder, pg = mixed
    at = datetime(2026, 3, 2, 12, 30, tzinfo=TZ)  # lunch: some places open, some closed, some unknown
    limits: list[list[int]] = []
    for q in _random_queries(finder, 200, seed=17):
        lon, lat, code, _, k, open_only = q
        run = functools.partial(pg.nearest, lon, lat, code, at, k=k, open_only=open_only)
        limits.append(_count_statements(pg, run, monkeypatch))
        capable = len(pg.capable_rows(pg.procedure(code)["code"]))
        batch = limits[-1]
        # Fourfold growth from max(2k, 8), never past the procedure's capable points.
        assert batch == [min(max(2 * k, 8) * 4**i, capable) for i in range(len(batch))], (q, batch)
    assert any(len(batch) > 1 for batch in limits)  # a far open place needs a larger batch


def test_new_load_is_picked_up_by_a_running_backend(postgis_url, index) -> None:
    load_index(_variant(index, "test-reload"), postgis_url.loader_url)
    pg = PostgisBackend(postgis_url.reader_url, boundary_set="test-reload")
    try:
        at = datetime(2026, 3, 2, 9, 30, tzinfo=TZ)
        first = pg.nearest(105.8542, 21.0285, "1.001193", at, k=1).matches[0]
        points = index.service_points[index.service_points["id"] != first.id].reset_index(drop=True)
        capabilities = index.capabilities[index.capabilities["point_id"] != first.id].reset_index(drop=True)
        smaller = _variant(index, "test-reload", service_points=points, capabilities=capabilities)
        load_index(smaller, postgis_url.loader_url)
        again = pg.nearest(105.8542, 21.0285, "1.001193", at, k=1).matches[0]
        assert again.id != first.id and len(pg.points) == len(index.service_points) - 1
        assert pg.points.iloc[again.row]["id"] == again.id
    finally:
        pg.close()


# ------------------------------------------------------------------------------------------ faults
def test_api_degrades_and_recovers_when_the_database_goes_away(loaded, postgis_url, postgis_outage, settings) -> None:
    pg = PostgisBackend(postgis_url.reader_url, boundary_set=SERVED, connect_timeout_s=2)
    from app.main import create_app

    params = {"lat": 21.0285, "lon": 105.8542, "procedure": "1.001193", "at": "2026-03-02T09:30:00+07:00", "k": 3}
    try:
        with TestClient(create_app(Service(pg, settings))) as client:
            healthy = client.get("/v1/nearest", params=params)
            assert healthy.status_code == 200
            assert client.get("/healthz").json()["parts"] == {"index": "ok", "database": "ok"}

            postgis_outage.block()
            down = client.get("/v1/nearest", params=params)
            assert down.status_code == 503
            assert down.headers["content-type"].startswith("application/problem+json")
            problem = down.json()
            assert problem["type"] == "/problems/backend-unavailable" and "permission denied" in problem["detail"]
            health = client.get("/healthz")
            assert health.status_code == 200
            body = health.json()
            assert body["status"] == "degraded" and body["parts"]["index"] == "ok"
            assert body["parts"]["database"].startswith("down: ")
            # What needs no database still answers.
            assert client.get("/v1/communes").status_code == 200

            postgis_outage.unblock()
            back = client.get("/v1/nearest", params=params)
            assert back.status_code == 200 and back.json() == healthy.json()
            assert client.get("/healthz").json()["status"] == "ok"
    finally:
        pg.close()


def test_pooled_connections_killed_under_the_backend_are_replaced(backend, postgis_outage) -> None:
    at = datetime(2026, 3, 2, 9, 30, tzinfo=TZ)
    before = backend.nearest(105.8542, 21.0285, "1.001193", at, k=3)
    with postgis_outage.down():
        with pytest.raises(BackendUnavailable):
            backend.nearest(105.8542, 21.0285, "1.001193", at, k=3)
        assert backend.health()["database"].startswith("down: ")
    after = backend.nearest(105.8542, 21.0285, "1.001193", at, k=3)
    assert [m.id for m in after.matches] == [m.id for m in before.matches]
    assert backend.health() == {"database": "ok"}


def test_a_dead_pooled_connection_is_retried_without_pre_ping(loaded, postgis_url, postgis_outage, caplog) -> None:
    pg = PostgisBackend(postgis_url.reader_url, boundary_set=SERVED, pre_ping=False, pool_size=1)
    try:
        at = datetime(2026, 3, 2, 9, 30, tzinfo=TZ)
        before = pg.nearest(105.8542, 21.0285, "1.001193", at, k=3)
        postgis_outage.block()  # terminates the pooled session
        postgis_outage.unblock()
        # The pooled connection is dead; the first statement fails on it and the query runs again.
        with caplog.at_level("WARNING", logger="geo.store.postgis"):
            after = pg.nearest(105.8542, 21.0285, "1.001193", at, k=3)
        assert [m.id for m in after.matches] == [m.id for m in before.matches]
        assert "retrying on a fresh one" in caplog.text
    finally:
        pg.close()


def test_catalogue_search_and_details_match_the_embedded_engine(finder, backend, settings, index) -> None:
    embedded, stored = Service(finder, settings), Service(backend, settings)
    assert len(backend.index.procedures) == len(index.procedures) >= 4000
    assert len(backend.index.procedure_details) == len(index.procedure_details) >= 1500
    for q in ("giay phep karaoke", "sổ đỏ", "1.0011", "tro cap that nghiep", "dang ki khai sinh", "nhãn hiệu"):
        assert stored.search_procedures(q, 10) == embedded.search_procedures(q, 10), q
    for code in ("1.001193", "1.001029", "1.015002", "1.014748", "1.013076"):
        assert stored.procedure_detail(code) == embedded.procedure_detail(code), code
    at = datetime(2026, 3, 2, 9, 30, tzinfo=TZ)
    for code in ("1.015002", "1.001029"):
        a = embedded.to_feature_collection(embedded.nearest(105.8542, 21.0285, code, at))
        assert a == stored.to_feature_collection(stored.nearest(105.8542, 21.0285, code, at)), code
