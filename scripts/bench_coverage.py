"""Coverage benchmark: a full 126-commune run for one procedure, before/after, network modes, MCLP k=5.

``python scripts/bench.py coverage [-- --procedure 1.001193 --threshold 2000 --k 5 --network-dir DIR]``

Each measure is printed with a baseline measured in the same run on the same inputs:

* straight line: the vectorised engine against a per-point loop (geodesic distance from each grid point
  to every capable place, the minimum, then a pandas groupby per commune);
* network modes: one multi-source Dijkstra for every graph node against one `RoadNetwork.nearest` query
  per grid point on the graph;
* MCLP: the spopt model against the plain greedy heuristic (time and population covered).

* what-if (the planner page's recompute when a site is added): today's costs cached plus one new cost
  column, against the same question with every cost computed again (full recompute); straight line 5 km
  and motorbike 30 min, the city's targets; then siting k=5 at those targets;
* siting the hard question (2.001610: 4 places, 5 km, k=20) within a 5 s time limit.

The targets from the issues: a full run in at most 5 s on a 2-core machine; a what-if with one site added
in at most 1 s (straight 5 km) and 3 s (motorbike 30 min); siting k=5 in at most 5 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
mirror = ROOT.parent / "shared" / "data" / "mirror"
if "GANDAN_DATA_MIRROR" not in os.environ and mirror.is_dir():
    os.environ["GANDAN_DATA_MIRROR"] = str(mirror)

TARGET_S = 5.0
WHAT_IF_TARGET_S = {"straight": 1.0, "motorbike": 3.0}
SITING_TARGET_S = 5.0
HARD_SITING = ("2.001610", 5000.0, 20)  # procedure with 4 places, metres, k: CBC ran 3 minutes past a 2 s limit
HARD_LIMIT_S = 5.0
# Sites added by the what-if runs: inside Hanoi, away from today's places (one per repetition, so no
# run finds its column already cached).
WHAT_IF_SITES = [(105.62 + 0.01 * i, 20.93 + 0.004 * i) for i in range(8)]


def _naive_straight(engine, facilities) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Per grid point: geodesic distance to every place, keep the minimum; then aggregate with pandas."""
    from geo.geodesy import GEOD as geod
    d = engine.demand
    flon, flat = facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy()
    best = np.empty(len(d))
    for i in range(len(d)):
        _, _, dist = geod.inv(np.full(len(flon), d.lon[i]), np.full(len(flon), d.lat[i]), flon, flat)
        best[i] = np.min(dist)
    frame = pd.DataFrame({"commune": d.commune, "w": d.weight, "cost": best})
    frame["covered_w"] = frame["w"] * (frame["cost"] <= 2000.0)
    return frame.groupby("commune")[["w", "covered_w"]].sum()


def _naive_network(net, model, facilities, n: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Time one forward Dijkstra per on-graph grid point (to every node), then the cheapest place."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    from geo.network import Candidate

    graph = csr_matrix((net.edge_time_s, (net.edge_u, net.edge_v)), shape=(net.n_nodes, net.n_nodes))
    cands = [Candidate(str(r.id), float(r.geometry.x), float(r.geometry.y)) for r in facilities.itertuples()]
    snaps = [s for s in net.snap_many([c.lon for c in cands], [c.lat for c in cands]) if s is not None]
    entry_nodes = np.array([link.node for s in snaps for link in s.entries])
    start = time.perf_counter()
    for row in range(n):
        origin = int(model.exit_node[row, 0])
        dist = dijkstra(graph, directed=True, indices=origin)
        float(np.min(dist[entry_nodes]))
    return time.perf_counter() - start, n


def _what_if(index, net_dir: Path, proc: str, mode: str, threshold: float, repeat: int) -> None:  # type: ignore[no-untyped-def]
    """Time a what-if with one site added: cached costs + one column, against a full recompute."""
    from geo.coverage import Change, CoverageEngine
    from geo.network import load_network

    engine = CoverageEngine.from_index(index, networks=lambda m: load_network(m, net_dir))
    engine.run(proc, mode, threshold)  # today's costs cached, as on the page before the first edit
    fast, full = [], []
    for i in range(repeat):
        lon, lat = WHAT_IF_SITES[i % len(WHAT_IF_SITES)]
        changes = [Change("add", f"bench-{i}", lon, lat)]
        start = time.perf_counter()
        incremental = engine.run(proc, mode, threshold, changes=changes)
        fast.append(time.perf_counter() - start)
        for cache in (engine._cache, engine._measures, engine._costs, engine._columns):
            cache.clear()
        if mode != "straight":
            engine.network_model(mode).network.cache_clear()
        start = time.perf_counter()
        again = engine.run(proc, mode, threshold, changes=changes)
        full.append(time.perf_counter() - start)
        assert again.totals()["covered_population"] == incremental.totals()["covered_population"]
        engine.run(proc, mode, threshold)  # back to a warm engine for the next repetition
    best_fast, best_full = min(fast), min(full)
    unit = "m" if mode == "straight" else "min"
    print(
        f"what-if {mode} {threshold:g} {unit}, one site added: {best_fast:.3f} s (cached costs + one column; "
        f"target <= {WHAT_IF_TARGET_S[mode]:g} s); full recompute {best_full:.3f} s; ratio {best_full / best_fast:.1f}x"
    )


def run(argv: list[str]) -> None:
    """Run the coverage benchmark and print what it measured."""
    parser = argparse.ArgumentParser(prog="bench.py coverage", description=__doc__)
    parser.add_argument("--procedure", default="1.001193")
    parser.add_argument("--threshold", type=float, default=2000.0, help="metres, straight line")
    parser.add_argument("--minutes", type=float, default=15.0, help="minutes, network modes")
    parser.add_argument("--k", type=int, default=5, help="new sites for MCLP")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--network-dir", type=Path, default=None, help="default: the settings' network folder")
    args = parser.parse_args([a for a in argv if a != "--"])

    from bench import timed

    from geo.coverage import CoverageEngine, today_facilities
    from geo.coverage.siting import _greedy_pick, candidate_sites, coverage_matrix, suggest_sites
    from geo.errors import IndexNotBuilt
    from geo.index import read_index
    from geo.network import load_network
    from geo.settings import get_settings

    settings = get_settings()
    net_dir = args.network_dir or settings.network_dir
    index = read_index(settings=settings)
    proc, thr = args.procedure, args.threshold

    def fresh() -> CoverageEngine:
        return CoverageEngine.from_index(index, networks=lambda mode: load_network(mode, net_dir))

    # ----------------------------------------------------------------- straight line, one procedure
    start = time.perf_counter()
    engine = fresh()
    engine.run(proc, "straight", thr)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    fresh().run(proc, "straight", thr, compare="before_after")
    cold_ba = time.perf_counter() - start

    def warm(compare: str | None = None, mode: str = "straight", threshold: float = thr) -> None:
        for cache in (engine._cache, engine._measures, engine._costs):
            cache.clear()
        engine.run(proc, mode, threshold, compare=compare)

    one = timed(warm, args.repeat)
    both = timed(lambda: warm("before_after"), args.repeat)
    today = today_facilities(index, proc)
    start = time.perf_counter()
    naive = _naive_straight(engine, today)
    naive_s = time.perf_counter() - start
    ours = engine.run(proc, "straight", thr).after.communes
    agree = np.allclose(naive["covered_w"].to_numpy(), ours["covered_population"].to_numpy(), atol=1)
    print(
        f"coverage straight {thr:g} m, {proc}, {len(engine.demand):,} grid points x {len(today)} places, "
        f"126 communes: cold {cold:.2f} s (grid included), warm {one:.3f} s; before/after cold {cold_ba:.2f} s, "
        f"warm {both:.3f} s (target <= {TARGET_S:g} s)"
    )
    print(
        f"coverage straight naive per-point loop: {naive_s:.2f} s; ratio {naive_s / one:.0f}x "
        f"(same covered population per commune: {agree})"
    )

    # ----------------------------------------------------------------- network modes
    for mode in ("walk", "motorbike", "car"):
        try:
            net = load_network(mode, net_dir)
        except IndexNotBuilt as exc:
            print(f"coverage {mode}: skipped ({exc.detail})")
            continue
        start = time.perf_counter()
        eng = fresh()
        eng.run(proc, mode, args.minutes, compare="before_after")
        cold_net = time.perf_counter() - start
        model = eng.network_model(mode)

        def warm_net(e: CoverageEngine = eng, m: str = mode) -> None:
            for cache in (e._cache, e._measures, e._costs):
                cache.clear()
            e.run(proc, m, args.minutes, compare="before_after")

        warm_s = timed(warm_net, args.repeat)
        d = eng.demand
        on = model.snapped
        net.cache_clear()
        eng._costs.clear()
        start = time.perf_counter()
        eng.costs(today, mode)  # one multi-source Dijkstra (uncached) + straight-line fallback, all points
        multi_s = time.perf_counter() - start
        loop_s, sample = _naive_network(net, model, today, n=min(200, len(on)))
        loop_s *= len(on) / sample  # extrapolated from the sample to every on-graph point
        report = eng.run(proc, mode, args.minutes, compare="before_after")
        basis = report.after.communes["cost_basis"].value_counts().to_dict()
        print(
            f"coverage {mode} {args.minutes:g} min before/after: cold {cold_net:.2f} s (snapping {len(on)} grid "
            f"points, circuity {model.circuity:.3f}, trip speed {model.speed_mps * 3.6:.1f} km/h), warm "
            f"{warm_s:.3f} s; cost basis per commune {basis}"
        )
        print(
            f"coverage {mode} costs: multi-source Dijkstra + fallback for all {len(d):,} points {multi_s:.3f} s; "
            f"naive one Dijkstra per on-graph point ({len(on)}, timed on {sample}) {loop_s:.2f} s; "
            f"ratio {loop_s / multi_s:.0f}x"
        )

    # ----------------------------------------------------------------- what-if and siting at the city's targets
    for mode, threshold in (("straight", 5000.0), ("motorbike", 30.0)):
        try:
            _what_if(index, net_dir, proc, mode, threshold, args.repeat)
            start = time.perf_counter()
            sited = suggest_sites(fresh(), proc, mode, threshold, 5)
            siting_s = time.perf_counter() - start
        except IndexNotBuilt as exc:
            print(f"what-if {mode}: skipped ({exc.detail})")
            continue
        print(
            f"siting {mode} {threshold:g}, k=5, cold engine: {siting_s:.2f} s (target <= {SITING_TARGET_S:g} s); "
            f"covered {sited.covered_before:,} -> {sited.covered_after:,}"
        )

    # ----------------------------------------------------------------- siting, the hard question
    # 2.001610 has 4 places: a 30,000-row MIP CBC cannot solve in time; the answer must come within the budget.
    start = time.perf_counter()
    hard = suggest_sites(fresh(), HARD_SITING[0], "straight", HARD_SITING[1], HARD_SITING[2], time_limit_s=HARD_LIMIT_S)
    hard_s = time.perf_counter() - start
    print(
        f"siting {HARD_SITING[0]} straight {HARD_SITING[1]:g}, k={HARD_SITING[2]}, time limit {HARD_LIMIT_S:g} s: "
        f"{hard_s:.2f} s ({hard.model['demand_groups']:,} demand groups x {hard.model['candidates_in_model']} "
        f"candidates, {hard.model['status']}); covered {hard.covered_before:,} -> {hard.covered_after:,}"
    )

    # ----------------------------------------------------------------- MCLP
    for mode, threshold in (("straight", thr), ("motorbike", args.minutes)):
        try:
            start = time.perf_counter()
            result = suggest_sites(engine, proc, mode, threshold, args.k)
            mclp_s = time.perf_counter() - start
        except IndexNotBuilt as exc:
            print(f"mclp {mode}: skipped ({exc.detail})")
            continue
        existing = today_facilities(index, proc)
        cands = candidate_sites(engine, existing)
        native = threshold if mode == "straight" else threshold * 60
        base = engine.costs(existing, mode)
        rows = np.flatnonzero(base.cost > native)
        start = time.perf_counter()
        cover = coverage_matrix(engine, cands, mode, threshold, rows).tocsc()
        greedy = _greedy_pick(cover, engine.demand.weight[rows], args.k)[1]
        greedy_s = time.perf_counter() - start
        m = result.model
        gains = ", ".join(f"+{s.gain_population:,}" for s in result.sites)
        print(
            f"mclp {mode} {threshold:g} {'m' if mode == 'straight' else 'min'}, k={args.k}: {mclp_s:.2f} s "
            f"({m['candidates']} candidates, {m['candidates_in_model']} in the model after dominance, "
            f"{m['demand_groups']:,} demand groups, {m['status']}); covered {result.covered_before:,} -> "
            f"{result.covered_after:,} ({gains})"
        )
        gap = result.covered_after - result.covered_before - greedy
        gap = 0.0 if abs(gap) < 1 else gap  # both are sums of the same float weights in different orders
        print(
            f"mclp {mode} greedy baseline: {greedy_s:.2f} s, covers {result.covered_before + greedy:,.0f} "
            f"(MCLP - greedy = {gap:+,.0f} people)"
        )


if __name__ == "__main__":
    run(sys.argv[1:])
