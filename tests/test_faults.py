"""Database faults under load: a PostgreSQL restart and a cut-off reader, while clients keep asking.

A uvicorn process (2 workers, PostGIS backend, the reader role) on 127.0.0.1 answers eight keep-alive
clients for 20 s (scripts/bench.py faults runs the same for 60 s); in the middle the database restarts
(cluster 15/gandan_faults of tests/conftest.py, so other test runs are untouched) or the reader's sessions
are terminated and its new connections refused for a few seconds. Every response must be a 200 or a 503
problem+json, a 200 must come back within 5 s of the database accepting connections again and nothing but
200s after that, and no worker may die (same worker pids before and after).
"""

from __future__ import annotations

import os
from urllib.parse import urlencode

import numpy as np
import pytest

from scripts.bench_postgis import cluster_restart, drive_load, recovery, scratch_database, serve_api, wait_for_database
from tests.conftest import READER_ROLE, PostgisOutage, PostgisURLs

pytestmark = [pytest.mark.postgis, pytest.mark.xdist_group("postgis-restart")]

RUN_S = 20.0
FAULT_AT_S = 5.0
RECOVERY_S = 5.0


@pytest.fixture(scope="module")
def fault_db(restartable_postgis, index):
    """A database on the restartable cluster (made by `create_database`) holding the index."""
    from geo.store.load import load_index

    name = f"gandan_faults_{os.getpid()}"
    with scratch_database(restartable_postgis.admin_url, name) as (loader, reader):
        load_index(index, loader)
        admin = restartable_postgis.admin_url.rsplit("/", 1)[0] + f"/{name}"
        yield PostgisURLs(admin_url=admin, loader_url=loader, reader_url=reader, dbname=name)


@pytest.fixture(scope="module")
def api(fault_db):
    """The API on that database (PostGIS backend, reader role, two workers)."""
    env = {"GANDAN_BACKEND": "postgis", "GANDAN_DATABASE_URL": fault_db.reader_url}
    with serve_api(env, workers=2) as server:
        yield server


@pytest.fixture(scope="module")
def paths(finder) -> list[str]:
    """300 varied /v1/nearest paths (origins in Hanoi, procedures that someone handles, k 1..5)."""
    rng = np.random.default_rng(15)
    minx, miny, maxx, maxy = finder.bbox
    lon, lat = rng.uniform(minx, maxx, 2000), rng.uniform(miny, maxy, 2000)
    inside = finder.locator.communes_at(lon, lat) >= 0
    codes = [c for c in finder.procedures["code"] if len(finder.capable_rows(c))]
    return [
        "/v1/nearest?"
        + urlencode({"lat": f"{y:.6f}", "lon": f"{x:.6f}", "procedure": codes[rng.integers(len(codes))],
                     "at": "2026-03-02T09:30:00+07:00", "k": int(rng.integers(1, 6))})
        for x, y in zip(lon[inside][:300], lat[inside][:300], strict=True)
    ]


def _assert_rode_it_out(api, records, start: float, up_at: float, pids: set[int]) -> dict:
    report = recovery(records, up_at - start)
    assert report["bad"] == [], report["bad"][:5]  # only 200 and 503 problem+json, never a dropped request
    assert report["statuses"].get(503, 0) > 0, report  # the fault was seen ...
    assert report["statuses"].get(200, 0) > report["statuses"][503], report  # ... and it was a short one
    assert report["recovered_s"] is not None and report["recovered_s"] <= RECOVERY_S, report
    assert report["503_after_up_plus_5s"] == 0, report
    assert api.worker_pids() == pids  # no worker died (uvicorn would have started new ones)
    status, _, body = api.get("/healthz")
    assert status == 200 and b'"database":"ok"' in body.replace(b" ", b"")
    return report


def test_a_database_restart_under_load_ends_in_200s(api, fault_db, restartable_postgis, paths) -> None:
    pids = api.worker_pids()
    assert len(pids) == 2 and api.get(paths[0])[0] == 200
    up: dict[str, float] = {}

    def restart() -> None:
        cluster_restart(restartable_postgis.cluster)
        up["at"] = wait_for_database(fault_db.reader_url)

    records, start = drive_load(api.port, paths, RUN_S, events=[(FAULT_AT_S, restart)])
    _assert_rode_it_out(api, records, start, up["at"], pids)


def test_dropped_connections_and_a_refused_reader_end_in_200s(api, fault_db, paths) -> None:
    pids = api.worker_pids()
    outage = PostgisOutage(fault_db)
    up: dict[str, float] = {}

    def cut() -> None:
        outage.block(READER_ROLE)  # every pooled session terminated, new ones refused

    def heal() -> None:
        outage.unblock(READER_ROLE)
        up["at"] = wait_for_database(fault_db.reader_url)

    try:
        records, start = drive_load(api.port, paths, RUN_S, events=[(FAULT_AT_S, cut), (FAULT_AT_S + 3, heal)])
    finally:
        outage.restore()
    _assert_rode_it_out(api, records, start, up["at"], pids)
