"""Benchmark of the PostGIS backend against the embedded engine (``scripts/bench.py postgis`` calls `run`).

On the same random queries (origins in Hanoi, times in 2025–2026 with holidays and make-up days, random
procedures and k, a fifth with ``open_only``) it prints:

(a) single-query latency (mean, p50, p99) and throughput of `geo.store.postgis.PostgisBackend` on one
    connection, against `geo.finder.Finder` in the same process, and the ratio; plus the count of
    answers that agree (same ids in the same order);
(b) throughput with several threads on the backend's connection pool (the server works in parallel;
    the embedded engine is bound by the GIL);
(c) the load time of the whole index (`load_index`: migrate, delete, insert, service area, analyze, in
    one transaction), first load and reloads, against reading the index from its GeoParquet files;
    and the start-up read of the reference tables.

Times are printed, never asserted. By default it creates a scratch database ``gandan_bench_<pid>`` on the
local test server (superuser URL from ``--admin-url`` or ``GANDAN_TEST_PG_ADMIN_URL``) and drops it at
the end; ``--database-url`` uses an existing database instead (loader role; ``--reader-url`` for queries).
Usage::

    python scripts/bench.py postgis [--queries 2000] [--threads 4] [--loads 3]
    python scripts/bench_postgis.py --database-url postgresql+psycopg://gandan_loader@host/db
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(ROOT))
_MIRROR = ROOT.parent / "shared" / "data" / "mirror"
if "GANDAN_DATA_MIRROR" not in os.environ and _MIRROR.is_dir():
    os.environ["GANDAN_DATA_MIRROR"] = str(_MIRROR)

__all__ = [
    "ApiServer",
    "LoadRecord",
    "cluster_restart",
    "drive_load",
    "free_port",
    "libpq_url",
    "recovery",
    "run",
    "scratch_database",
    "serve_api",
    "wait_for_database",
]

ADMIN_URL_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
Query = tuple[float, float, str, datetime, int, bool]


def _queries(finder: Any, n: int, seed: int = 2025) -> list[Query]:
    """``n`` random queries: origins inside a commune, a third of the times on holidays or make-up days."""
    from geo.hours import TZ

    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = finder.bbox
    lons: list[float] = []
    lats: list[float] = []
    while len(lons) < n:
        lon = rng.uniform(minx, maxx, n)
        lat = rng.uniform(miny, maxy, n)
        inside = finder.locator.communes_at(lon, lat) >= 0
        lons += lon[inside].tolist()
        lats += lat[inside].tolist()
    special = [d for d in finder.index.calendar["date"] if d.year in (2025, 2026)]
    codes = sorted(finder.procedures["code"])
    start = datetime(2025, 1, 1, tzinfo=TZ)
    out: list[Query] = []
    for i in range(n):
        if rng.random() < 1 / 3:
            day = special[rng.integers(len(special))]
            minutes = int(rng.integers(6 * 60, 19 * 60))
            at = datetime(day.year, day.month, day.day, tzinfo=TZ) + timedelta(minutes=minutes)
        else:
            at = start + timedelta(minutes=int(rng.integers(0, 730 * 24 * 60)))
        k = int(rng.integers(1, 9))
        out.append((lons[i], lats[i], codes[rng.integers(len(codes))], at, k, bool(rng.random() < 0.2)))
    return out


def _latencies(engine: Any, queries: list[Query]) -> tuple[np.ndarray, list[list[str]]]:
    """Seconds per query and the ids answered, one query after the other."""
    times = np.empty(len(queries))
    answers = []
    for i, (lon, lat, code, at, k, open_only) in enumerate(queries):
        t0 = time.perf_counter()
        result = engine.nearest(lon, lat, code, at, k=k, open_only=open_only)
        times[i] = time.perf_counter() - t0
        answers.append([m.id for m in result.matches])
    return times, answers


def _throughput(engine: Any, queries: list[Query], threads: int) -> float:
    """Queries per second with ``threads`` threads sharing ``engine``."""

    def one(q: Query) -> None:
        engine.nearest(q[0], q[1], q[2], q[3], k=q[4], open_only=q[5])

    with ThreadPoolExecutor(threads) as pool:
        t0 = time.perf_counter()
        list(pool.map(one, queries))
        return len(queries) / (time.perf_counter() - t0)


def _describe(times: np.ndarray) -> str:
    ms = times * 1e3
    return (
        f"mean {ms.mean():6.3f} ms, p50 {np.percentile(ms, 50):6.3f} ms, p99 {np.percentile(ms, 99):6.3f} ms, "
        f"{len(times) / times.sum():8,.0f} q/s"
    )


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL as a libpq URI (for psycopg.connect and pg tools)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def scratch_database(admin_url: str, name: str | None = None) -> Iterator[tuple[str, str]]:
    """A fresh database made by `geo.store.load.create_database` (PostGIS, loader and reader roles) on the
    admin's server, dropped afterwards; yields the SQLAlchemy URLs ``(loader, reader)``."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    from geo.store.load import DEFAULT_LOADER_ROLE, DEFAULT_READER_ROLE, create_database

    name = name or f"gandan_bench_{os.getpid()}"
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(drop)
    create_database(admin_url, name)
    url = make_url(admin_url).set(drivername="postgresql+psycopg", database=name, password=None)
    try:
        yield (
            url.set(username=DEFAULT_LOADER_ROLE).render_as_string(hide_password=False),
            url.set(username=DEFAULT_READER_ROLE).render_as_string(hide_password=False),
        )
    finally:
        with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
            conn.execute(drop)


# --------------------------------------------------------------------------------------------- API under load
def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ApiServer:
    """A ``uvicorn app.main:create_app`` process on a loopback port."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    workers: int

    def worker_pids(self) -> set[int]:
        """Process ids of the worker processes, from /proc (the server's own with one worker)."""
        if self.workers == 1:
            return {self.process.pid} if self.process.poll() is None else set()
        pids = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    # multiprocessing's resource tracker is a child too; the workers are the spawned ones
                    if int(fields[1]) != self.process.pid:
                        continue
                    if b"resource_tracker" not in (entry / "cmdline").read_bytes():
                        pids.add(int(entry.name))
        return pids

    def get(self, path: str, timeout_s: float = 10) -> tuple[int, str, bytes]:
        """``(status, content type, body)`` of one GET on a fresh connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout_s)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.getheader("content-type") or "", response.read()
        finally:
            conn.close()


@contextlib.contextmanager
def serve_api(env: dict[str, str], workers: int = 2, start_timeout_s: float = 90) -> Iterator[ApiServer]:
    """Run the API (``env`` added to this process's environment) until the block ends; waits for /healthz."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--workers", str(workers)],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    server = ApiServer(f"http://127.0.0.1:{port}", port, process, workers)
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the API exited with code {process.returncode} before answering")
            try:
                if server.get("/healthz", timeout_s=2)[0] == 200 and len(server.worker_pids()) >= workers:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API did not answer /healthz within {start_timeout_s:g} s")
            time.sleep(0.2)
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class LoadRecord:
    """One request of `drive_load`: when it started and ended (s from the start), its status, content type."""

    started: float
    ended: float
    status: int  # 0: no HTTP answer (connection refused, reset, timeout)
    content_type: str


def drive_load(
    port: int,
    paths: list[str],
    seconds: float,
    threads: int = 8,
    events: list[tuple[float, Callable[[], None]]] | None = None,
    timeout_s: float = 10,
) -> tuple[list[LoadRecord], float]:
    """GET ``paths`` in turn from ``threads`` keep-alive clients for ``seconds``, running each event
    ``(at_s, action)`` in this thread meanwhile; returns the records and this run's start (monotonic)."""
    start = time.monotonic()
    end = start + seconds
    records: list[LoadRecord] = []
    lock = threading.Lock()

    def client(first: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
        mine: list[LoadRecord] = []
        i = first
        while (t0 := time.monotonic()) < end:
            try:
                conn.request("GET", paths[i % len(paths)])
                response = conn.getresponse()
                response.read()
                status, ctype = response.status, response.getheader("content-type") or ""
            except (OSError, http.client.HTTPException) as exc:
                status, ctype = 0, type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
            mine.append(LoadRecord(t0 - start, time.monotonic() - start, status, ctype))
            i += threads
        conn.close()
        with lock:
            records.extend(mine)

    workers = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(threads)]
    for worker in workers:
        worker.start()
    for at_s, action in sorted(events or [], key=lambda e: e[0]):
        time.sleep(max(0.0, start + at_s - time.monotonic()))
        action()
    for worker in workers:
        worker.join(timeout=seconds + timeout_s + 5)
    records.sort(key=lambda r: r.started)
    return records, start


def wait_for_database(url: str, timeout_s: float = 60) -> float:
    """Block until ``url`` accepts a connection (and a query); the monotonic time it first did."""
    import psycopg

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(libpq_url(url), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return time.monotonic()
        except psycopg.Error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def cluster_restart(cluster: str, major: int = 15) -> None:
    """``pg_ctlcluster <major> <cluster> restart`` (root), fast shutdown: sessions are cut at once."""
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", str(major), cluster, "restart", "-m", "fast"],
        check=True,
        capture_output=True,
    )


def recovery(records: list[LoadRecord], up_s: float) -> dict[str, Any]:
    """What a load run through a fault says: statuses, failures, and how soon 200s came back after ``up_s``."""
    by_status: dict[int, int] = {}
    for r in records:
        by_status[r.status] = by_status.get(r.status, 0) + 1
    bad = [r for r in records if not (r.status == 200 or (r.status == 503 and "problem+json" in r.content_type))]
    after = [r for r in records if r.started >= up_s]
    first_ok = next((r.ended for r in after if r.status == 200), None)
    last_503 = max((r.ended for r in records if r.status == 503), default=None)
    return {
        "requests": len(records),
        "statuses": by_status,
        "bad": bad,
        "recovered_s": None if first_ok is None else first_ok - up_s,
        "last_503_after_up_s": None if last_503 is None else last_503 - up_s,
        "503_after_up_plus_5s": sum(1 for r in after if r.status != 200 and r.started >= up_s + 5),
    }


def _bench(loader_url: str, reader_url: str, args: argparse.Namespace) -> None:
    from geo.finder import Finder
    from geo.index import read_index
    from geo.store.postgis import PostgisBackend, load_index

    t0 = time.perf_counter()
    index = read_index()
    parquet_s = time.perf_counter() - t0
    rows = sum(
        len(getattr(index, n))
        for n in ("communes", "legacy_units", "crosswalk", "service_points", "procedures", "capabilities", "calendar")
    )

    # (c) load time of the whole index
    loads = [load_index(index, loader_url) for _ in range(max(1, args.loads))]
    first, again = loads[0].seconds, [r.seconds for r in loads[1:]]
    reload_s = statistics.median(again) if again else first
    print(
        f"load: whole index ({rows:,} rows) first load {first:.2f} s (with schema migration), "
        f"reload median {reload_s:.2f} s over {len(again)} run(s); reading the GeoParquet index {parquet_s:.2f} s; "
        f"ratio reload/parquet read {reload_s / parquet_s:.1f}×"
    )

    t0 = time.perf_counter()
    backend = PostgisBackend(reader_url, boundary_set=index.boundary_set, pool_size=max(args.threads, 1))
    startup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    finder = Finder(index)
    finder_startup_s = time.perf_counter() - t0
    print(f"start-up: PostGIS backend {startup_s:.2f} s (reference tables), embedded Finder {finder_startup_s:.2f} s")

    # (a) latency on the same queries; warm both (calendar caches, prepared statements) on another set first
    queries = _queries(finder, args.queries)
    warm = _queries(finder, min(300, args.queries), seed=7)
    _latencies(finder, warm)
    _latencies(backend, warm)
    finder_t, finder_ids = _latencies(finder, queries)
    pg_t, pg_ids = _latencies(backend, queries)
    agree = sum(a == b for a, b in zip(finder_ids, pg_ids, strict=True))
    print(f"nearest embedded: {_describe(finder_t)}")
    print(f"nearest postgis : {_describe(pg_t)}")
    print(
        f"nearest ratio postgis/embedded: mean latency {pg_t.mean() / finder_t.mean():.1f}×, "
        f"p99 {np.percentile(pg_t, 99) / np.percentile(finder_t, 99):.1f}×; "
        f"same ids in the same order in {agree}/{len(queries)} queries"
    )
    morning = [q for q in queries if q[3].weekday() < 5 and 9 <= q[3].hour < 11 and not q[5]]
    if morning:
        mt, _ = _latencies(finder, morning)
        pt, _ = _latencies(backend, morning)
        print(
            f"nearest on weekday mornings ({len(morning)} queries, nearest places open): embedded "
            f"{mt.mean() * 1e3:.3f} ms, postgis {pt.mean() * 1e3:.3f} ms, ratio {pt.mean() / mt.mean():.1f}×"
        )

    # (b) throughput with threads
    if args.threads > 1:
        pg_q = _throughput(backend, queries, args.threads)
        finder_q = _throughput(finder, queries, args.threads)
        print(
            f"throughput with {args.threads} threads: postgis {pg_q:,.0f} q/s, embedded {finder_q:,.0f} q/s, "
            f"ratio {pg_q / finder_q:.2f}× ({os.cpu_count()} cores shared by client and server)"
        )
    backend.close()


def run(argv: list[str]) -> None:
    """Run the PostGIS benchmark with command-line arguments ``argv``."""
    parser = argparse.ArgumentParser(prog="bench.py postgis", description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=2000, help="random queries (default 2000)")
    parser.add_argument("--threads", type=int, default=4, help="threads for the throughput test (default 4)")
    parser.add_argument("--loads", type=int, default=3, help="loads of the whole index to time (default 3)")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("GANDAN_TEST_PG_ADMIN_URL", ADMIN_URL_DEFAULT),
        help="superuser URL used to create and drop a scratch database",
    )
    parser.add_argument("--database-url", help="use this existing database (loader role) instead of a scratch one")
    parser.add_argument("--reader-url", help="URL for the queries (default: --database-url)")
    args = parser.parse_args(argv)
    if args.database_url:
        _bench(args.database_url, args.reader_url or args.database_url, args)
        return
    with scratch_database(args.admin_url) as (loader, reader):
        _bench(loader, args.reader_url or reader, args)


if __name__ == "__main__":
    run(sys.argv[1:])
