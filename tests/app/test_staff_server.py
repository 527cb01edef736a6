"""The staff API against real servers (2 uvicorn workers): concurrency, crashes, every worker, end to end.

Both staff storages: SQLite in the state folder, and PostGIS (``GANDAN_STAFF_DATABASE_URL``).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from geo.hours import TZ
from geo.index import Index, write_index
from geo.settings import Settings
from tests.test_live import ROOT, serve, stop

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def storage(request: pytest.FixtureRequest, tmp_path: Path, index: Index) -> tuple[Settings, dict[str, str]]:
    """Settings with a copy of the index, and the environment that picks the staff storage."""
    settings = Settings(build_dir=tmp_path / "build", state_dir=tmp_path / "state")
    write_index(index, settings)
    env = {"GANDAN_STAFF_WRITES_PER_MINUTE": "100000"}
    if request.param == "postgis":
        from tests.store.test_staff import migrated_staff_url

        env["GANDAN_STAFF_DATABASE_URL"] = migrated_staff_url(request.getfixturevalue("postgis_url"))
    return settings, env


def cli(settings: Settings, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        **env,
        "PYTHONPATH": str(ROOT),
        "GANDAN_BUILD_DIR": str(settings.build_dir),
        "GANDAN_STATE_DIR": str(settings.staff_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=environ, cwd=ROOT, capture_output=True, text=True, check=True
    )


@pytest.fixture()
def server(storage: tuple[Settings, dict[str, str]]) -> Iterator[tuple[str, str, Settings, dict[str, str]]]:
    """(base URL, an editor token made with the CLI, settings, env) of a running 2-worker server."""
    settings, env = storage
    token = cli(settings, env, "staff", "token", "create", "--name", "Lan", "--role", "editor").stdout.strip()
    proc, url = serve(settings, env=env)
    yield url, token, settings, env
    stop(proc)


def _closure(place: str, i: int) -> dict[str, Any]:
    day = datetime(2027, 1, 4, tzinfo=TZ) + timedelta(days=i % 300)
    return {
        "kind": "closure",
        "place_id": place,
        "reason": f"write {i}",
        "starts": (day + timedelta(hours=13)).isoformat(),
        "ends": (day + timedelta(hours=17)).isoformat(),
    }


def _first_place(url: str) -> str:
    return str(httpx.get(f"{url}/v1/staff/places").json()[0]["id"])


def test_1000_writes_from_8_clients_are_all_in_the_audit(server: tuple[str, str, Settings, dict[str, str]]) -> None:
    url, token, _, _ = server
    place = _first_place(url)
    headers = {"Authorization": f"Bearer {token}"}

    def client(n: int) -> list[str]:
        ids = []
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            for i in range(n * 125, (n + 1) * 125):
                r = http.post("/v1/staff/changes", json=_closure(place, i))
                assert r.status_code == 201, r.text
                ids.append(r.json()["id"])
        return ids

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        ids = [i for part in pool.map(client, range(8)) for i in part]
    assert len(ids) == len(set(ids)) == 1000
    audit = httpx.get(f"{url}/v1/staff/audit", headers=headers, params={"action": "change.", "limit": 1000}).json()
    assert {e["after"]["id"] for e in audit} == set(ids)
    assert sorted(e["reason"] for e in audit) == sorted(f"write {i}" for i in range(1000))


def test_every_acknowledged_write_survives_a_sigkill_of_the_server(
    storage: tuple[Settings, dict[str, str]],
) -> None:
    settings, env = storage
    token = cli(settings, env, "staff", "token", "create", "--name", "Lan").stdout.strip()
    proc, url = serve(settings, env=env)
    place = _first_place(url)
    acknowledged: list[str] = []
    stop_writing = threading.Event()

    def writer(n: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
            i = n * 100_000
            while not stop_writing.is_set():
                try:
                    r = http.post("/v1/staff/changes", json=_closure(place, i))
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code == 201:
                    acknowledged.append(r.json()["id"])
                i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop(proc, signal.SIGKILL)  # the whole process group, mid-writes
    stop_writing.set()
    for t in threads:
        t.join()
    assert len(acknowledged) >= 60
    proc, url = serve(settings, env=env)
    try:
        stored = {c["id"] for c in httpx.get(f"{url}/v1/staff/changes", params={"status": "all"}).json()}
    finally:
        stop(proc)
    assert set(acknowledged) <= stored


def _every_worker(url: str, check: Any, timeout_s: float) -> float:
    """Seconds until ``check(healthz)`` holds on 30 fresh connections in a row (spread over the workers)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if all(check(httpx.get(f"{url}/healthz").json()) for _ in range(30)):
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not every worker after {timeout_s} s")


def test_end_to_end_close_a_place_this_afternoon(
    server: tuple[str, str, Settings, dict[str, str]], index: Index
) -> None:
    url, token, settings, env = server
    places = httpx.get(f"{url}/v1/staff/places").json()
    # A procedure few places take, so the closed one is in every answer below (closed places rank last).
    caps = index.capabilities.groupby("procedure_code")["point_id"].apply(list)
    code = min((len(v), k) for k, v in caps.items() if len(v) > 1)[1]
    place = str(sorted(caps[code])[0])
    spot = next(p for p in places if p["id"] == place)
    now = datetime.now(TZ)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if now.hour >= 17:  # this afternoon is over in Hanoi: the next one (an ended change is not laid over)
        today += timedelta(days=1)
    while today.weekday() >= 5:  # an afternoon the place would be open
        today += timedelta(days=1)
    afternoon = {"starts": (today + timedelta(hours=13)).isoformat(), "ends": (today + timedelta(hours=17)).isoformat()}
    at = (today + timedelta(hours=14)).isoformat()
    reason = "Họp giao ban đột xuất <b>chiều nay</b>"
    r = httpx.post(
        f"{url}/v1/staff/changes",
        headers={"Authorization": f"Bearer {token}"},
        json={"kind": "closure", "place_id": place, "reason": reason, **afternoon},
    )
    assert r.status_code == 201, r.text
    change_id = r.json()["id"]
    took = _every_worker(url, lambda h: h["changes_version"] >= 1, timeout_s=5)
    print(f"change served by every worker after {took:.2f} s")

    def closed_everywhere(base: str) -> None:
        params = {"lon": spot["lon"], "lat": spot["lat"], "procedure": code, "k": 10, "at": at}
        nearest = httpx.get(f"{base}/v1/nearest", params=params).json()
        props = next(f["properties"] for f in nearest["features"] if f["id"] == place)
        assert (props["state"], props["state_reason"], props["change_ids"]) == ("closed", reason, [change_id])
        points = httpx.get(f"{base}/map/points.geojson", params={"at": at}).json()
        mapped = next(f["properties"] for f in points["features"] if f["id"] == place)
        assert (mapped["state"], mapped["state_reason"], mapped["source"]) == ("closed", reason, "staff")
        ask = httpx.get(
            f"{base}/v1/ask",
            params={"q": f"thủ tục {code}", "lon": spot["lon"], "lat": spot["lat"], "at": at, "k": 10},
            timeout=60,  # the first question of a worker loads its gazetteer
        ).json()
        asked = next(f["properties"] for f in ask["result"]["features"] if f["id"] == place)
        assert (asked["state"], asked["state_reason"]) == ("closed", reason)

    closed_everywhere(url)
    # The CLI answers from the same state.
    got = json.loads(
        cli(
            settings,
            env,
            "nearest",
            "--lat",
            str(spot["lat"]),
            "--lon",
            str(spot["lon"]),
            "--procedure",
            code,
            "--at",
            at,
            "--k",
            "10",
            "--json",
        ).stdout
    )
    assert next(f["properties"] for f in got["features"] if f["id"] == place)["state_reason"] == reason
    # Restart: still closed; the audit shows the change.
    proc, again = serve(settings, env=env)
    try:
        closed_everywhere(again)
        audit = httpx.get(f"{again}/v1/staff/audit", headers={"Authorization": f"Bearer {token}"}).json()
        assert audit[0]["after"]["id"] == change_id and audit[0]["reason"] == reason
    finally:
        stop(proc)


def test_a_change_to_a_place_a_rebuild_removes_is_reported(
    server: tuple[str, str, Settings, dict[str, str]], index: Index
) -> None:
    url, token, settings, _ = server
    place = str(index.service_points["id"].iloc[-1])
    r = httpx.post(
        f"{url}/v1/staff/changes",
        headers={"Authorization": f"Bearer {token}"},
        json={"kind": "notice", "place_id": place, "reason": "r", "notice": "Chuyển địa điểm"},
    )
    assert r.status_code == 201
    fewer = replace(index, service_points=index.service_points[index.service_points["id"] != place])
    write_index(replace(fewer, manifest={**index.manifest, "built_at": "2099-09-09T00:00:00+00:00"}), settings)
    _every_worker(url, lambda h: h["built_at"] == "2099-09-09T00:00:00+00:00", timeout_s=45)
    health = httpx.get(f"{url}/healthz").json()
    assert [o["place_id"] for o in health["orphaned_changes"]] == [place]
    assert [o["change_id"] for o in httpx.get(f"{url}/v1/staff/orphans").json()] == [r.json()["id"]]
