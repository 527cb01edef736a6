"""Benchmarks with in-run baselines: ``python scripts/bench.py TARGET``.

Targets: build, nearest, http, faults, staff, network, postgis, coverage, ask, procedures (`bench_procedures`), all.

Every target prints what it measured and a ratio against a baseline measured in the same run on the
same inputs. Nothing here asserts a time: the numbers go in the README.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
mirror = ROOT.parent / "shared" / "data" / "mirror"
if "GANDAN_DATA_MIRROR" not in os.environ and mirror.is_dir():
    os.environ["GANDAN_DATA_MIRROR"] = str(mirror)

WORKDAY_MORNING = "2026-03-02T09:30:00+07:00"


def peak_rss_mib() -> float:
    """Peak resident memory of this process, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    """Best wall time of ``repeat`` runs, seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def random_points_in_hanoi(finder, n: int, seed: int = 1):  # type: ignore[no-untyped-def]
    """``n`` random (lon, lat) inside the service area."""
    import numpy as np

    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = finder.bbox
    lons, lats = [], []
    while len(lons) < n:
        lon = rng.uniform(minx, maxx, n)
        lat = rng.uniform(miny, maxy, n)
        inside = finder.locator.communes_at(lon, lat) >= 0
        lons.extend(lon[inside].tolist())
        lats.extend(lat[inside].tolist())
    return np.array(lons[:n]), np.array(lats[:n])


# --------------------------------------------------------------------------------------------- build
def bench_build(_: argparse.Namespace) -> None:
    """Build time and peak memory of a full ``gandan build`` into a scratch folder."""
    from geo.build import build_index
    from geo.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(build_dir=Path(tmp))
        start = time.perf_counter()
        index = build_index(settings)
        seconds = time.perf_counter() - start
    summary = index.manifest["summary"]
    print(
        f"build: {seconds:.2f} s, peak RSS {peak_rss_mib():.0f} MiB "
        f"({summary['communes']} communes, {summary['service_points']['total']} points)"
    )


# --------------------------------------------------------------------------------------------- nearest
def bench_nearest(args: argparse.Namespace) -> None:
    """Single-query and batch throughput of the engine against a geopandas brute-force scan."""
    import geopandas as gpd
    import numpy as np
    from shapely.geometry import Point

    from geo.finder import STATE_RANK, Finder
    from geo.hours import opening_state, parse_time
    from geo.index import read_index

    finder = Finder(read_index())
    at = parse_time(WORKDAY_MORNING)
    code = "1.001193"
    n_single = args.queries
    lons, lats = random_points_in_hanoi(finder, n_single)
    capable = finder.capable_rows(code)
    registry = finder.points.iloc[capable]
    points = gpd.GeoDataFrame(registry[["id", "opening_hours"]], geometry=registry.geometry, crs="EPSG:4326").to_crs(
        "EPSG:32648"
    )
    communes = finder.index.communes

    def baseline(chunk: range) -> list[list[str]]:
        # The same question answered naively: which commune, every point's state, every distance, sort.
        answers = []
        for lon, lat in zip(lons[chunk], lats[chunk], strict=True):
            origin = Point(lon, lat)
            communes[communes.geometry.covers(origin)]
            origin_m = gpd.GeoSeries([origin], crs="EPSG:4326").to_crs("EPSG:32648").iloc[0]
            rank = [STATE_RANK[opening_state(h or None, at, finder.calendar).state] for h in points["opening_hours"]]
            top = points.assign(rank=rank, d=points.distance(origin_m).round(2)).sort_values(["rank", "d", "id"])
            answers.append(top["id"].head(3).tolist())
        return answers

    def engine(chunk: range) -> list[list[str]]:
        return [
            [m.id for m in finder.nearest(lon, lat, code, at, k=3).matches]
            for lon, lat in zip(lons[chunk].tolist(), lats[chunk].tolist(), strict=True)
        ]

    # Interleaved in chunks, so that both sides run under the same machine load (shared cores drift).
    base = ours = 0.0
    agree = 0
    chunk_ratios = []
    for first in range(0, n_single, 100):
        chunk = range(first, min(first + 100, n_single))
        start = time.perf_counter()
        expected = baseline(chunk)
        chunk_base = time.perf_counter() - start
        chunk_ours = timed(lambda chunk=chunk: engine(chunk), repeat=5)  # type: ignore[misc]
        base, ours = base + chunk_base, ours + chunk_ours
        chunk_ratios.append(chunk_base / chunk_ours)
        agree += sum(a == b for a, b in zip(expected, engine(chunk), strict=True))
    low, mid, high = np.percentile(chunk_ratios, [10, 50, 90])
    print(
        f"nearest single: {n_single / ours:,.0f} q/s ({ours / n_single * 1e6:.1f} µs/query, best of 5 per chunk); "
        f"geopandas brute force {n_single / base:,.0f} q/s; ratio {base / ours:.0f}× "
        f"(per 100-query chunk: median {mid:.0f}×, p10 {low:.0f}×, p90 {high:.0f}×); "
        f"same top-3 as brute force in {agree / n_single:.1%} of queries"
    )

    n_batch = args.batch
    blons, blats = random_points_in_hanoi(finder, n_batch, seed=2)
    finder.nearest_many(blons[:10], blats[:10], code, at, k=3)  # warm the trees
    batch = timed(lambda: finder.nearest_many(blons, blats, code, at, k=3), repeat=3)
    print(
        f"nearest batch: {n_batch / batch:,.0f} q/s for {n_batch:,} queries, k=3 "
        f"({batch:.3f} s); ratio to brute force {base / n_single / (batch / n_batch):,.0f}×"
    )
    print(f"peak RSS {peak_rss_mib():.0f} MiB")


# --------------------------------------------------------------------------------------------- http
def _ensure_wrk() -> str:
    """The wrk binary; installed from Debian (as root) when missing, refreshing stale package lists once."""
    path = shutil.which("wrk")
    if path:
        return path
    install = ["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-qq", "--no-install-recommends", "wrk"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, stdout=subprocess.DEVNULL, check=True)
        subprocess.run(install, env=env, stdout=subprocess.DEVNULL, check=True)
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("bench: wrk is not installed and could not be (run as root: apt-get install wrk)")
    return path


def _wrk(wrk: str, url: str, seconds: int, connections: int, paths: Path | None = None) -> dict[str, float]:
    script = ROOT / "scripts" / "wrk_report.lua"
    cmd = [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url]
    if paths is not None:
        cmd += ["--", str(paths)]
    proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
    line = next(li for li in proc.stdout.splitlines() if li.startswith("JSON "))
    return json.loads(line[5:])  # type: ignore[no-any-return]


def bench_http(args: argparse.Namespace) -> None:
    """Requests/s, p50/p99 and errors of /healthz and /v1/nearest, embedded against PostGIS, in one run (wrk).

    Both servers run side by side (``--workers`` uvicorn workers each; PostGIS on a scratch database made
    by `geo.store.load.create_database` and loaded with the index, served as the reader role). The 2,000
    varied queries are run in ``--rounds`` rounds alternating the two backends, so that both see the same
    machine load; their ratio is the headline.
    """
    from bench_postgis import scratch_database, serve_api

    from geo.index import read_index
    from geo.store.load import load_index

    wrk = _ensure_wrk()
    one = "/v1/nearest?lat=21.0285&lon=105.8542&procedure=1.001193&at=2026-03-02T09:30%2B07:00&k=3"
    rounds = max(1, args.rounds)
    with (
        tempfile.NamedTemporaryFile("w", suffix=".txt") as listed,
        scratch_database(args.admin_url, f"gandan_bench_http_{os.getpid()}") as (loader, reader),
    ):
        listed.write("\n".join(_varied_nearest_paths(2000)) + "\n")
        listed.flush()
        load_index(read_index(), loader)
        envs = {"embedded": {"GANDAN_BACKEND": "embedded"}, "postgis": {"GANDAN_BACKEND": "postgis",
                                                                         "GANDAN_DATABASE_URL": reader}}
        with serve_api(envs["embedded"], args.workers) as embedded, serve_api(envs["postgis"], args.workers) as pg:
            servers = {"embedded": embedded, "postgis": pg}
            short = max(5, args.seconds // 3)
            results: dict[str, dict[str, list[dict[str, float]]]] = {}
            for name, url, paths, seconds, n in (
                ("healthz", "/healthz", None, short, 1),
                ("nearest (one query)", one, None, short, 1),
                ("nearest (2,000 varied queries)", "/v1/nearest", Path(listed.name), args.seconds // rounds, rounds),
            ):
                results[name] = {backend: [] for backend in servers}
                for _ in range(n):
                    for backend, server in servers.items():
                        results[name][backend].append(
                            _wrk(wrk, server.url + url, seconds, args.connections, paths)
                        )
    for name, per_backend in results.items():
        merged = {backend: _merge(runs) for backend, runs in per_backend.items()}
        for backend, r in merged.items():
            print(
                f"http {backend} {name}: {r['rps']:,.0f} req/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
                f"errors {int(r['errors'])} (incl. timeouts), non-2xx {int(r['non2xx'])}"
                + (f" [rounds: {', '.join(format(x['rps'], ',.0f') for x in per_backend[backend])} req/s]"
                   if len(per_backend[backend]) > 1 else "")
            )
        ratio = merged["postgis"]["rps"] / merged["embedded"]["rps"]
        per_round = [p["rps"] / e["rps"] for e, p in zip(per_backend["embedded"], per_backend["postgis"], strict=True)]
        print(
            f"http ratio postgis / embedded {name}: {ratio:.0%} of the req/s"
            + (f" (per round {', '.join(f'{x:.0%}' for x in per_round)})" if len(per_round) > 1 else "")
            + f"; p99 {merged['postgis']['p99_ms']:.1f} vs {merged['embedded']['p99_ms']:.1f} ms "
            f"({args.connections} connections, {args.seconds if len(per_round) > 1 else short} s each, "
            f"{args.workers} worker(s) each)"
        )


def _merge(runs: list[dict[str, float]]) -> dict[str, float]:
    """wrk runs of equal length as one: requests/s averaged, p50 averaged, the worst p99, errors summed."""
    return {
        "rps": sum(r["rps"] for r in runs) / len(runs),
        "p50_ms": sum(r["p50_ms"] for r in runs) / len(runs),
        "p99_ms": max(r["p99_ms"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "non2xx": sum(r["non2xx"] for r in runs),
    }


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


# --------------------------------------------------------------------------------------------- faults
def bench_faults(args: argparse.Namespace) -> None:
    """Database restart and dropped connections under load: statuses and recovery, against the run's baseline.

    The API (PostGIS backend, ``--workers`` workers, reader role) on a database of its own cluster
    (15/gandan_faults on port 5434, created by scripts/test-services.sh, as tests/test_faults.py uses:
    restarting it touches nothing else) answers eight keep-alive clients for ``--fault-seconds``; a third
    of the way in, the cluster restarts (``pg_ctlcluster ... restart -m fast``), and in a second run the
    reader's sessions are terminated and its connections refused for 5 s. Printed: every status seen,
    how soon after the database accepted connections again the first 200 came back and the last 503
    went, and the req/s before the fault, until recovery and after it (the baseline is the first).
    """
    import psycopg
    from bench_postgis import (
        cluster_restart,
        drive_load,
        recovery,
        scratch_database,
        serve_api,
        wait_for_database,
    )

    from geo.index import read_index
    from geo.store.load import load_index

    cluster, port = os.environ.get("GANDAN_TEST_FAULT_PG_CLUSTER", "gandan_faults"), 5434
    env = {**os.environ, "GANDAN_TEST_PG_CLUSTER": cluster, "GANDAN_TEST_PG_PORT": str(port),
           "GANDAN_TEST_SKIP_BROWSER": "1"}
    subprocess.run(["bash", str(ROOT / "scripts" / "test-services.sh")], check=True, env=env)
    admin = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    name = f"gandan_bench_faults_{os.getpid()}"
    paths = _varied_nearest_paths(2000)
    seconds = args.fault_seconds
    fault_at = seconds / 3
    with scratch_database(admin, name) as (loader, reader):
        load_index(read_index(), loader)
        db = admin.rsplit("/", 1)[0] + f"/{name}"

        def cut() -> None:
            with psycopg.connect(db.replace("+psycopg", ""), autocommit=True) as conn:
                conn.execute(f"REVOKE CONNECT ON DATABASE {name} FROM gandan_reader")
                conn.execute(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = %s "
                    "AND usename = 'gandan_reader'",
                    (name,),
                )

        def heal() -> None:
            with psycopg.connect(db.replace("+psycopg", ""), autocommit=True) as conn:
                conn.execute(f"GRANT CONNECT ON DATABASE {name} TO gandan_reader")
            up["at"] = wait_for_database(reader)

        def restart() -> None:
            cluster_restart(cluster)
            up["at"] = wait_for_database(reader)

        with serve_api({"GANDAN_BACKEND": "postgis", "GANDAN_DATABASE_URL": reader}, args.workers) as api:
            for label, events in (
                ("database restart", [(fault_at, restart)]),
                ("dropped connections, reader refused 5 s", [(fault_at, cut), (fault_at + 5, heal)]),
            ):
                up: dict[str, float] = {}
                pids = api.worker_pids()
                records, start = drive_load(api.port, paths, seconds, events=events)
                up_s = up["at"] - start
                r = recovery(records, up_s)
                recovered = up_s + (r["recovered_s"] or 0.0)

                def rate(lo: float, hi: float, records: list = records) -> float:
                    done = [x for x in records if lo <= x.ended < hi and x.status == 200]
                    return len(done) / max(hi - lo, 1e-9)

                before, during, after = rate(0, fault_at), rate(fault_at, recovered), rate(recovered + 1, seconds)
                print(
                    f"faults {label} ({seconds:g} s, fault at {fault_at:.1f} s, {args.workers} workers, 8 clients): "
                    f"{r['requests']:,} requests, statuses {dict(sorted(r['statuses'].items()))}, "
                    f"{len(r['bad'])} neither 200 nor 503 problem+json; database accepting again at "
                    f"{up_s:.1f} s, first 200 after it in {_seconds(r['recovered_s'])}, last 503 "
                    f"{_seconds(r['last_503_after_up_s'])} after it; "
                    f"workers {'unchanged' if api.worker_pids() == pids else 'RESTARTED'}"
                )
                print(
                    f"faults {label} throughput: {before:,.0f} req/s before (baseline), {during:,.0f} until recovered "
                    f"({during / before:.0%}), {after:,.0f} after ({after / before:.0%})"
                )


def _varied_nearest_paths(n: int) -> list[str]:
    """``n`` /v1/nearest paths: random points in Hanoi, random in-person procedures, random k, one weekday."""
    from urllib.parse import urlencode

    import numpy as np

    from geo.finder import Finder
    from geo.index import read_index

    finder = Finder(read_index())
    lons, lats = random_points_in_hanoi(finder, n, seed=3)
    codes = [c for c in finder.procedures["code"] if len(finder.capable_rows(c))]
    rng = np.random.default_rng(3)
    return [
        "/v1/nearest?"
        + urlencode(
            {
                "lat": f"{lat:.6f}",
                "lon": f"{lon:.6f}",
                "procedure": codes[rng.integers(len(codes))],
                "at": WORKDAY_MORNING,
                "k": int(rng.integers(1, 6)),
            }
        )
        for lon, lat in zip(lons, lats, strict=True)
    ]


# --------------------------------------------------------------------------------------------- staff
def staff_changes(n: int, seed: int = 5) -> list:  # type: ignore[type-arg]
    """``n`` varied staff changes, all still in force now (every kind, random places).

    Closures and special hours are in the coming days (their rules lengthen the hours strings every
    query evaluates); a procedure unavailable runs from before the bench's weekday morning until next
    week (so the queries meet it); locations and notices have no end.
    """
    import random
    from datetime import datetime, timedelta

    from geo.changes import Change
    from geo.hours import TZ, parse_time
    from geo.index import read_index

    index = read_index()
    points = index.service_points
    caps = index.capabilities
    rng = random.Random(seed)
    morning = parse_time(WORKDAY_MORNING)
    out = []
    for i in range(n):
        day = datetime.now(TZ).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1 + i % 7)
        p = points.iloc[rng.randrange(len(points))]
        kind = ("closure", "special_hours", "location", "procedure_unavailable", "notice")[i % 5]
        fields: dict = dict(id="", kind=kind, place_id=str(p["id"]), reason=f"bench {i}")  # type: ignore[type-arg]
        if kind == "closure":
            fields.update(starts=day + timedelta(hours=8), ends=day + timedelta(hours=10))
        elif kind == "special_hours":
            fields.update(starts=day, ends=day + timedelta(days=1), hours="10:00-11:00")
        elif kind == "location":
            fields.update(
                lon=p.geometry.x + 0.001,
                lat=p.geometry.y + 0.001,
                precision="approximate",
                method="staff_map",
                measured="bench",
            )
        elif kind == "procedure_unavailable":
            codes = caps.loc[caps["point_id"] == p["id"], "procedure_code"].tolist() or ["1.001193"]
            fields.update(procedure=rng.choice(codes), starts=morning - timedelta(days=1), ends=day + timedelta(days=7))
        else:
            fields.update(notice="bench notice")
        out.append(Change(**fields))
    return out


def bench_staff(args: argparse.Namespace) -> None:
    """/v1/nearest with 100 active staff changes against none: two servers, same run, same 2,000 queries (wrk)."""
    from bench_postgis import free_port

    from geo.settings import get_settings
    from geo.store.staff import SqliteStaffStore

    wrk = _ensure_wrk()
    results = {}
    with tempfile.TemporaryDirectory() as tmp, tempfile.NamedTemporaryFile("w", suffix=".txt") as paths:
        paths.write("\n".join(_varied_nearest_paths(2000)) + "\n")
        paths.flush()
        for label, n in (("no changes", 0), ("100 active changes", args.staff_changes)):
            state = Path(tmp) / label.replace(" ", "-")
            store = SqliteStaffStore(state / "staff.sqlite")
            for change in staff_changes(n):
                store.add_change(change, actor="bench")
            port = free_port()
            env = {**os.environ, "GANDAN_STATE_DIR": str(state), "GANDAN_BUILD_DIR": str(get_settings().build_dir)}
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "app.main:create_app",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                    "--workers",
                    str(args.workers),
                ],
                cwd=ROOT,
                env=env,
            )
            try:
                for _ in range(300):
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                        break
                    except OSError:
                        time.sleep(0.1)
                time.sleep(2)  # every worker up
                base = f"http://127.0.0.1:{port}"
                results[label] = _wrk(wrk, f"{base}/v1/nearest", args.seconds, args.connections, Path(paths.name))
            finally:
                server.send_signal(signal.SIGINT)
                server.wait(timeout=30)
    for name, r in results.items():
        print(
            f"staff {name}: {r['rps']:,.0f} req/s, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.1f} ms, "
            f"errors {int(r['errors'])}, non-2xx {int(r['non2xx'])}"
        )
    base_r, changed = results["no changes"], results["100 active changes"]
    print(
        f"staff ratio p50 with/without changes: {changed['p50_ms'] / base_r['p50_ms']:.2f} "
        f"(target <= 1.10), req/s {changed['rps'] / base_r['rps']:.0%} "
        f"({args.connections} connections, {args.seconds} s, {args.workers} worker(s))"
    )


# --------------------------------------------------------------------------------------------- dispatch
def _delegate(module: str) -> Callable[[argparse.Namespace], None]:
    def run(args: argparse.Namespace) -> None:
        importlib.import_module(module).run(args.rest)

    return run


TARGETS: dict[str, Callable[[argparse.Namespace], None]] = {
    "build": bench_build,
    "nearest": bench_nearest,
    "http": bench_http,
    "faults": bench_faults,
    "staff": bench_staff,
    "network": _delegate("bench_network"),
    "postgis": _delegate("bench_postgis"),
    "coverage": _delegate("bench_coverage"),
    "ask": _delegate("bench_ask"),
    "procedures": _delegate("bench_procedures"),
}


def main() -> None:
    """Parse arguments and run the chosen benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("target", choices=[*TARGETS, "all"])
    parser.add_argument("--queries", type=int, default=2000, help="single queries (nearest)")
    parser.add_argument("--batch", type=int, default=200_000, help="batch size (nearest)")
    parser.add_argument("--seconds", type=int, default=30, help="wrk duration (http)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (http)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (http, faults, staff)")
    parser.add_argument("--staff-changes", type=int, default=100, help="active staff changes (staff)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the varied queries (http)")
    parser.add_argument("--fault-seconds", type=float, default=60, help="length of each fault run (faults)")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("GANDAN_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
        help="superuser URL for the scratch PostGIS database (http)",
    )
    args, rest = parser.parse_known_args()
    args.rest = rest  # what this parser does not know goes to the delegated targets
    print(
        f"# gandan bench {args.target} — {datetime.now().isoformat(timespec='seconds')}, "
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"
    )
    targets = list(TARGETS) if args.target == "all" else [args.target]
    for name in targets:
        TARGETS[name](args)


if __name__ == "__main__":
    main()
