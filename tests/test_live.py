"""Live state (`geo.live`): a new index or new staff changes are served without restart, exactly, safely."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import random
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

from geo.changes import Change, overlay_points
from geo.finder import Finder
from geo.hours import TZ
from geo.index import Index, write_index
from geo.live import IndexLinkSource, Live, OverlayBackend, PostgisSource, overlaid_backend
from geo.settings import Settings
from geo.store.staff import SqliteStaffStore
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
MONDAY = datetime(2026, 3, 2, 9, 30, tzinfo=TZ)
BIRTH = "1.001193"


def _changes(index: Index, n: int, seed: int = 7) -> list[Change]:
    """``n`` varied changes (closures, special hours, moves, procedure unavailable) on random places."""
    rng = random.Random(seed)
    points = index.service_points
    out = []
    for i in range(n):
        p = points.iloc[rng.randrange(len(points))]
        kind = ("closure", "special_hours", "location", "procedure_unavailable", "notice")[i % 5]
        base: dict[str, Any] = dict(id=f"chg-{i + 1:06d}", kind=kind, place_id=str(p["id"]), reason=f"r{i}")
        day = MONDAY.replace(hour=0, minute=0) + timedelta(days=rng.randrange(3))
        if kind == "closure":
            base.update(starts=day + timedelta(hours=8), ends=day + timedelta(hours=12))
        elif kind == "special_hours":
            base.update(starts=day, ends=day + timedelta(days=1), hours="10:00-11:00")
        elif kind == "location":
            base.update(
                lon=p.geometry.x + rng.uniform(-0.02, 0.02),
                lat=p.geometry.y + rng.uniform(-0.02, 0.02),
                precision="approximate",
                method="staff_map",
                measured="map",
            )
        elif kind == "procedure_unavailable":
            base.update(procedure=BIRTH, starts=day + timedelta(hours=8), ends=day + timedelta(hours=11))
        else:
            base.update(notice="n")
        out.append(Change(**base))
    return out


def _brute(finder: Finder, excluded: set[str], lon: float, lat: float, at: datetime, k: int) -> list[str]:
    """The ranking rule by hand over every capable row except ``excluded``."""
    from geo.ranking import STATE_RANK, rank_key

    rows = [r for r in finder.capable_rows(BIRTH).tolist() if finder.ids[r] not in excluded]
    keys = []
    for row in rows:
        d = float(Finder.__dict__["nearest"].__globals__["_GEOD"].inv(lon, lat, finder.lon[row], finder.lat[row])[2])
        keys.append(rank_key(STATE_RANK[finder.state_of(row, at).state], d, str(finder.ids[row])))
    return [key[2] for key in sorted(keys)[:k]]


def test_overlay_is_exact_on_both_paths(finder: Finder, index: Index) -> None:
    """Rebuilt engine (embedded) and re-ranked stale rows (the PostGIS path) give the rule's answer."""
    changes = _changes(index, 100)
    overlay = overlay_points(finder.points, changes)
    embedded = overlaid_backend(finder, overlay)
    truth = Finder(replace(index, service_points=overlay.points))
    stale = OverlayBackend(
        finder,
        truth.catalog,
        overlay,
        stale_rows=frozenset(range(len(finder.points))) & frozenset(truth.catalog.row_of[c.place_id] for c in changes),
    )
    rng = random.Random(3)
    minx, miny, maxx, maxy = 105.75, 20.95, 105.9, 21.08
    for _ in range(150):
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        at = MONDAY + timedelta(hours=rng.choice([-1, 0, 1, 2, 24, 25, 48]))
        excluded = {
            pid
            for (pid, code), cs in overlay.unavailable.items()
            if code == BIRTH and any(c.starts <= at < c.ends for c in cs)  # type: ignore[operator]
        }
        expected = _brute(truth, excluded, lon, lat, at, 5)
        assert [m.id for m in embedded.nearest(lon, lat, BIRTH, at, k=5).matches] == expected
        assert [m.id for m in stale.nearest(lon, lat, BIRTH, at, k=5).matches] == expected


def test_procedure_unavailable_respects_its_range(finder: Finder, index: Index) -> None:
    first = finder.nearest(105.85, 21.03, BIRTH, MONDAY, k=1).matches[0].id
    change = Change(
        id="chg-000001",
        kind="procedure_unavailable",
        place_id=first,
        procedure=BIRTH,
        reason="máy hỏng",
        starts=MONDAY - timedelta(hours=1),
        ends=MONDAY + timedelta(hours=1),
    )
    backend = overlaid_backend(finder, overlay_points(finder.points, [change]))
    assert first not in [m.id for m in backend.nearest(105.85, 21.03, BIRTH, MONDAY, k=5).matches]
    later = MONDAY + timedelta(hours=2)
    assert backend.nearest(105.85, 21.03, BIRTH, later, k=1).matches[0].id == first
    other = "1.000000"  # another procedure is not touched (any code the place handles)
    assert backend.capable_at(other, MONDAY) is finder.capable_rows(other)


@pytest.fixture()
def build_dir(tmp_path: Path, index: Index) -> Settings:
    """Settings whose build folder holds a copy of the index (its own link)."""
    settings = Settings(build_dir=tmp_path / "build", state_dir=tmp_path / "state")
    write_index(index, settings)
    return settings


def _rebuilt(index: Index, settings: Settings, stamp: str) -> Path:
    return write_index(replace(index, manifest={**index.manifest, "built_at": stamp}), settings)


def test_new_index_and_changes_are_picked_up_and_a_broken_one_changes_nothing(
    build_dir: Settings, index: Index
) -> None:
    store = SqliteStaffStore(build_dir.staff_dir / "staff.sqlite")
    live = Live(IndexLinkSource(build_dir), store)
    first = live.state
    assert live.check() is False  # nothing moved
    # A staff change: the base (and its locator) is reused.
    place = str(index.service_points["id"].iloc[0])
    store.add_change(Change(id="", kind="notice", place_id=place, reason="r", notice="n"), actor="t")
    assert live.check() is True
    assert live.state.base is first.base and live.state.version == 1
    assert live.state.backend.locator is first.base.locator  # type: ignore[attr-defined]
    # A new index: served, changes laid over it again.
    _rebuilt(index, build_dir, "2099-01-01T00:00:00+00:00")
    assert live.check() is True
    assert live.state.built_at == "2099-01-01T00:00:00+00:00" and len(live.state.changes) == 1
    # A broken index behind the link: the previous state keeps serving, the error is reported.
    broken = build_dir.build_dir / "index-broken"
    broken.mkdir()
    (broken / "manifest.json").write_text(json.dumps({"schema_version": 1}), "utf-8")
    tmp_link = build_dir.build_dir / ".link"
    tmp_link.symlink_to(broken.name)
    os.replace(tmp_link, build_dir.index_dir)
    served = live.state
    assert live.check() is False
    assert live.state is served and live.error is not None
    from fastapi.testclient import TestClient

    from app.main import create_app
    from geo.service import Service

    health = TestClient(create_app(Service(settings=build_dir, live=live))).get("/healthz").json()
    assert health["status"] == "degraded" and health["parts"]["live"].startswith("stale: ")
    assert health["built_at"] == "2099-01-01T00:00:00+00:00" and health["changes_version"] == 1
    # A fixed build is picked up and clears the error.
    _rebuilt(index, build_dir, "2099-01-02T00:00:00+00:00")
    assert live.check() is True and live.error is None


def test_orphaned_changes_are_reported(build_dir: Settings, index: Index) -> None:
    store = SqliteStaffStore(build_dir.staff_dir / "staff.sqlite")
    place = str(index.service_points["id"].iloc[-1])
    store.add_change(Change(id="", kind="notice", place_id=place, reason="r", notice="n"), actor="t")
    live = Live(IndexLinkSource(build_dir), store)
    assert live.state.orphans == ()
    fewer = replace(index, service_points=index.service_points[index.service_points["id"] != place])
    write_index(fewer, build_dir)
    assert live.check() is True
    assert [c.place_id for c in live.state.orphans] == [place]


# ============================================================================================ over HTTP


def serve(settings: Settings, workers: int = 2, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """``uvicorn app.main:create_app --factory`` on a free port with these settings; returns (process, base URL)."""
    port = free_port()
    environ = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GANDAN_BUILD_DIR": str(settings.build_dir),
        "GANDAN_STATE_DIR": str(settings.staff_dir),
        **(env or {}),
    }
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1"),
            *("--port", str(port), "--workers", str(workers), "--log-level", "warning"),
        ],
        env=environ,
        cwd=ROOT,
        start_new_session=True,  # its own process group: `stop` (and a SIGKILL test) reach every worker
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server stopped while starting"
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(proc, signal.SIGKILL)
    raise AssertionError("the server did not start within 90 s")


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Send ``sig`` to the server and its workers, and wait for the server."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    proc.wait(timeout=30)


@pytest.fixture()
def server(build_dir: Settings) -> Iterator[str]:
    proc, url = serve(build_dir)
    yield url
    stop(proc)


def _built_at_of_every_worker(url: str, tries: int = 40) -> set[str]:
    # a new connection each time: any worker may answer
    return {httpx.get(f"{url}/healthz", timeout=5).json()["built_at"] for _ in range(tries)}


def _wait_for_built_at(url: str, built_at: str, timeout_s: float = 45) -> float:
    """Seconds until every worker serves ``built_at`` (many fresh connections spread over the workers)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if _built_at_of_every_worker(url) == {built_at}:
            return time.monotonic() - started
        time.sleep(0.25)
    raise AssertionError(f"not every worker serves {built_at} after {timeout_s} s")


def test_a_rebuilt_index_is_served_without_restart_and_without_a_failed_request(
    server: str, build_dir: Settings, index: Index
) -> None:
    params = {"lon": 105.85, "lat": 21.03, "procedure": BIRTH, "at": "2026-03-02T09:30+07:00"}
    stop = threading.Event()
    failures: list[str] = []
    done = [0]

    def load() -> None:
        with httpx.Client(base_url=server, timeout=10) as client:
            while not stop.is_set():
                try:
                    r = client.get("/v1/nearest", params=params)
                    if r.status_code != 200 or len(r.json()["features"]) != 3:
                        failures.append(f"{r.status_code} {r.text[:200]}")
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                done[0] += 1

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(load) for _ in range(4)]
        try:
            time.sleep(3)
            # A failed build first: nothing changes.
            bad = replace(index, manifest={**index.manifest, "built_at": "never"})
            bad.communes = None  # type: ignore[assignment]
            with pytest.raises(AttributeError):
                write_index(bad, build_dir)
            time.sleep(2)
            assert _built_at_of_every_worker(server) == {index.manifest["built_at"]}
            _rebuilt(index, build_dir, "2099-05-05T00:00:00+00:00")
            _wait_for_built_at(server, "2099-05-05T00:00:00+00:00")
            time.sleep(2)  # and more load on the new index
        finally:
            stop.set()
        for f in futures:
            f.result()
    assert failures == [] and done[0] > 100
    health = httpx.get(f"{server}/healthz").json()
    assert health["status"] == "ok" and health["refresh_error"] is None


# ============================================================================================ PostGIS
@pytest.mark.postgis
def test_postgis_live_state_follows_loads_and_staff_changes(postgis_url: Any, index: Index, finder: Finder) -> None:
    """On PostGIS: a staff closure and move are served (re-ranked exactly), and a new load is picked up."""
    from geo.store.load import load_index
    from geo.store.staff_pg import PostgisStaffStore
    from tests.store.test_postgis import _variant
    from tests.store.test_staff import migrated_staff_url

    served = "test-live"
    variant = _variant(index, served)
    load_index(variant, postgis_url.loader_url)
    store = PostgisStaffStore(migrated_staff_url(postgis_url))
    settings = Settings(backend="postgis", database_url=postgis_url.reader_url, boundary_set=served)
    live = Live(PostgisSource(settings), store)
    first = live.state
    assert live.check() is False
    # Close the nearest place and move the third one next to the origin (changes in force now: ended ones
    # are not laid over).
    lon, lat = 105.85, 21.03
    when = datetime.now(TZ).replace(hour=9, minute=30, second=0, microsecond=0) + timedelta(days=7)
    while when.weekday() != 1:  # a Tuesday morning
        when += timedelta(days=1)
    top = [m.id for m in first.backend.nearest(lon, lat, BIRTH, when, k=3).matches]
    store.add_change(
        Change(
            id="",
            kind="closure",
            place_id=top[0],
            reason="Họp",
            starts=when - timedelta(hours=1),
            ends=when + timedelta(hours=1),
        ),
        actor="t",
    )
    store.add_change(
        Change(
            id="",
            kind="location",
            place_id=top[2],
            reason="đo lại",
            lon=lon + 0.0005,
            lat=lat,
            precision="approximate",
            method="staff_map",
            measured="map",
        ),
        actor="t",
    )
    assert live.check() is True and live.state.base is first.base
    got = live.state.backend.nearest(lon, lat, BIRTH, when, k=5)
    truth = Finder(replace(variant, service_points=overlay_points(finder.points, store.changes()).points))
    assert [m.id for m in got.matches] == [m.id for m in truth.nearest(lon, lat, BIRTH, when, k=5).matches]
    assert got.matches[0].id == top[2] and got.matches[0].distance_m < 60
    states = {m.id: m.state.state for m in got.matches}
    assert states.get(top[0], "closed") == "closed"
    # A new load: a new base, the changes laid over it again.
    load_index(variant, postgis_url.loader_url)
    assert live.check() is True and live.state.base is not first.base
    assert [m.id for m in live.state.backend.nearest(lon, lat, BIRTH, when, k=5).matches] == [m.id for m in got.matches]
