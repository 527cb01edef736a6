"""Benchmark of geo.network on the central-Hanoi road graphs (``scripts/bench.py network`` calls `run`).

For each mode, on the same graph and the same offices, it prints:

(a) the all-nodes nearest-office precompute (one multi-source Dijkstra) against pandana's
    ``Network.nearest_pois`` (target: no slower), and whether the two agree;
(b) the latency of one nearest query (snap + lookup) against a loop of osmnx/networkx shortest-path
    calls over the offices (target: at least 1000x faster);
(c) the graph build time and the artifact load time;
(d) peak memory (``resource.getrusage``) and the tracemalloc peak of load + precompute + queries.

Times are printed, never asserted. Usage::

    python scripts/bench.py network [--modes walk,car] [--candidates 30] [--queries 2000]
    python scripts/bench_network.py --net-dir build/network --skip-build
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(ROOT))

__all__ = ["run"]


def _timed(func: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Median wall time of ``repeat`` calls (seconds) and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def _fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:8.2f} ms"
    return f"{seconds:8.2f} s "


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence file descriptor 1: pandana's C++ core prints progress that redirect_stdout cannot catch."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def _pandana(net: Any, cand_nodes: np.ndarray, max_cost: float, ours: np.ndarray) -> dict[str, Any]:
    """Run pandana on the same directed graph (one edge per node pair, the same travel times)."""
    import pandana
    import pandas as pd

    n = net.n_nodes
    nodes = pd.DataFrame({"x": net.node_xy[:, 0], "y": net.node_xy[:, 1]}, index=np.arange(n))
    with _quiet_stdout():
        t_ch, pnet = _timed(lambda: pandana.Network(
            nodes["x"], nodes["y"], pd.Series(net._pair_u), pd.Series(net._pair_v),
            pd.DataFrame({"time": net._pair_time}), twoway=False,
        ))
    # Offices placed exactly on nodes, so pandana's node mapping and our edge snapping agree.
    xs = pd.Series(net.node_xy[cand_nodes, 0])
    ys = pd.Series(net.node_xy[cand_nodes, 1])

    def nearest() -> Any:
        with _quiet_stdout():
            pnet.set_pois("offices", maxdist=max_cost, maxitems=1, x_col=xs, y_col=ys)
            return pnet.nearest_pois(max_cost, "offices", num_pois=1, max_distance=np.inf)

    t_q, df = _timed(nearest, repeat=3)
    theirs = df[1].to_numpy(dtype=float)
    finite = np.isfinite(ours) & np.isfinite(theirs)
    return {"ch": t_ch, "query": t_q, "max_diff": float(np.abs(theirs[finite] - ours[finite]).max()),
            "finite_ours": int(np.isfinite(ours).sum()), "finite_theirs": int(np.isfinite(theirs).sum())}


def _networkx_loop(net: Any, origins: np.ndarray, cand_nodes: np.ndarray) -> tuple[float, list[float]]:
    """Per origin: nearest node, then one osmnx shortest path per office; the naive approach."""
    import networkx as nx
    import osmnx as ox

    G = net.to_networkx()
    ids = [int(net.node_osmid[i]) for i in cand_nodes]  # offices pre-snapped: generous to the baseline
    times, best = [], []
    for lon, lat in origins:
        t0 = time.perf_counter()
        orig = int(ox.distance.nearest_nodes(G, lon, lat))
        costs = []
        for dest in ids:
            path = ox.routing.shortest_path(G, orig, dest, weight="travel_time")
            costs.append(nx.path_weight(G, path, "travel_time") if path else np.inf)
        times.append(time.perf_counter() - t0)
        best.append(min(costs))
    return statistics.median(times), best


def run(argv: list[str]) -> None:
    """Run the road-network benchmark and print its numbers.

    Parameters
    ----------
    argv
        Command-line arguments (see ``--help``).
    """
    parser = argparse.ArgumentParser(prog="bench.py network", description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default="walk,motorbike,car", help="comma-separated modes")
    parser.add_argument("--candidates", type=int, default=30, help="offices per candidate set")
    parser.add_argument("--queries", type=int, default=2000, help="timed nearest queries per mode")
    parser.add_argument("--nx-origins", type=int, default=5, help="origins timed with the networkx loop")
    parser.add_argument("--net-dir", type=Path, default=None, help="artifact folder (default: a temp dir)")
    parser.add_argument("--skip-build", action="store_true", help="use the artifacts already in --net-dir")
    parser.add_argument("--no-pandana", action="store_true", help="skip the pandana comparison")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from geo.network import Candidate, build_graphs, load_network
    from geo.settings import PROJECT_ROOT, Settings
    from geo.sources import paths_of_group

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    tmp = None
    if args.net_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="gandan-bench-network-")
        args.net_dir = Path(tmp.name)
    print(f"geo.network benchmark — modes {', '.join(modes)}, {args.candidates} offices, "
          f"{os.cpu_count()} CPUs, artifacts in {args.net_dir}")

    # (c) build
    if not args.skip_build:
        settings = Settings()
        mirror = PROJECT_ROOT.parent / "shared" / "data" / "mirror"
        if settings.data_mirror is None and mirror.is_dir():
            settings = Settings(data_mirror=mirror)
        paths = paths_of_group("osm-central-hanoi", settings)
        t_build, manifest = _timed(lambda: build_graphs(paths, args.net_dir, modes=modes))
        steps = ", ".join(f"{k} {v:.2f} s" for k, v in manifest["timings_s"].items())
        print(f"\n(c) build from {len(paths)} OSM XML files: {t_build:.2f} s ({steps})")
    rng = np.random.default_rng(args.seed)
    summary = []
    for mode in modes:
        gc.collect()  # the build's networkx graphs must not be collected inside the first timed load
        t_cold, net = _timed(partial(load_network, mode, args.net_dir))
        t_load, net = _timed(partial(load_network, mode, args.net_dir), repeat=5)
        size = (args.net_dir / f"{mode}.npz").stat().st_size
        print(f"\n=== {mode}: {net.n_nodes:,} nodes, {net.n_edges:,} edges, {net.n_segments:,} segments "
              f"({size / 1e6:.1f} MB)")
        print(f"(c) load: first {_fmt(t_cold)}, then median {_fmt(t_load)}")

        cand_nodes = rng.choice(net.n_nodes, args.candidates, replace=False)
        cands = [Candidate(f"o{i}", *net.nodes_lonlat[n]) for i, n in enumerate(cand_nodes)]

        def precompute(n: Any = net, c: list[Candidate] = cands) -> Any:
            n.cache_clear()
            return n.costs_from_sources(c)

        t_ours, (cost, _) = _timed(precompute, repeat=5)
        print(f"(a) all-nodes nearest office, one multi-source Dijkstra: {_fmt(t_ours)}")
        if not args.no_pandana:
            p = _pandana(net, cand_nodes, float(np.nanmax(cost[np.isfinite(cost)])) * 1.001, cost)
            print(f"    pandana: contraction hierarchy {_fmt(p['ch'])}, set_pois + nearest_pois {_fmt(p['query'])} "
                  f"-> ours is {p['query'] / t_ours:.1f}x faster than nearest_pois alone, "
                  f"{(p['ch'] + p['query']) / t_ours:.1f}x including its preprocessing")
            print(f"    agreement: max |pandana - ours| = {p['max_diff']:.3g} s over "
                  f"{p['finite_ours']:,} nodes (pandana reached {p['finite_theirs']:,})")

        origins = net.nodes_lonlat[rng.choice(net.n_nodes, args.queries)] + rng.normal(0, 3e-4, (args.queries, 2))
        net.costs_from_sources(cands)  # warm the cache, as a server does after the first query
        lat1 = []
        for lon, lat in origins:
            t0 = time.perf_counter()
            net.nearest(lon, lat, cands)
            lat1.append(time.perf_counter() - t0)
        lon0, lat0 = origins[0]
        t_k5, _ = _timed(partial(net.nearest, lon0, lat0, cands, k=5), repeat=200)
        t_route, _ = _timed(partial(net.nearest, lon0, lat0, cands, route=True), repeat=200)
        t_snap, _ = _timed(partial(net.snap, lon0, lat0), repeat=500)
        med = statistics.median(lat1)
        p95 = float(np.percentile(lat1, 95))
        print(f"(b) nearest (k=1, cached set): median {_fmt(med)}, p95 {_fmt(p95)} over {len(lat1)} queries; "
              f"snap alone {_fmt(t_snap)}; k=5 {_fmt(t_k5)}; k=1 with route {_fmt(t_route)}")
        t_nx, nx_best = _networkx_loop(net, origins[: args.nx_origins], cand_nodes)
        ours_best = []
        for o in origins[: args.nx_origins]:
            answer = net.nearest(*o, cands)
            ours_best.append(answer[0].travel_time_s if answer else np.inf)
        print(f"    networkx loop (nearest_nodes + {args.candidates} x osmnx shortest_path): median {_fmt(t_nx)} "
              f"-> ours is {t_nx / med:,.0f}x faster")
        print(f"    (answers differ by design: the loop snaps the origin to a node, ours to the nearest "
              f"street; mean |diff| {np.mean(np.abs(np.array(nx_best) - np.array(ours_best))):.1f} s)")
        summary.append((mode, t_ours, med, t_nx / med, t_load))

    # (d) memory: tracemalloc slows Python code, so it runs apart from the timings above.
    mode = modes[0]
    tracemalloc.start()
    net = load_network(mode, args.net_dir)
    cands = [Candidate(f"o{i}", *net.nodes_lonlat[n]) for i, n in
             enumerate(rng.choice(net.n_nodes, args.candidates, replace=False))]
    net.costs_from_sources(cands)
    for lon, lat in net.nodes_lonlat[rng.choice(net.n_nodes, 200)]:
        net.nearest(lon, lat, cands, k=3, route=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\n(d) tracemalloc peak of load + precompute + 200 queries ({mode}): {peak / 1e6:.1f} MB; "
          f"process peak RSS (whole run, including osmnx build and pandana): {maxrss_kb / 1e3:.0f} MB")
    print("\nsummary: mode, precompute, query median, speed-up vs networkx loop, load")
    for mode, pre, q, ratio, load in summary:
        print(f"  {mode:<10} {_fmt(pre)} {_fmt(q)} {ratio:>10,.0f}x {_fmt(load)}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    run(sys.argv[1:])
