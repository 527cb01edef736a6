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
import os
import statistics
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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

__all__ = ["run"]

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


@contextlib.contextmanager
def _scratch_database(admin_url: str) -> Iterator[str]:
    """A fresh database with PostGIS on the admin's server, dropped afterwards; yields its SQLAlchemy URL."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    libpq = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"gandan_bench_{os.getpid()}"
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    url = admin.set(database=name)
    try:
        with psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
            conn.execute("CREATE EXTENSION postgis")
            conn.execute("CREATE EXTENSION btree_gist")
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


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
    with _scratch_database(args.admin_url) as url:
        _bench(url, args.reader_url or url, args)


if __name__ == "__main__":
    run(sys.argv[1:])
