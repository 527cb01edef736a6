"""Where to put the next k places: the maximal covering location problem (MCLP) with spopt.

Demand is the coverage grid (`geo.coverage.demand.population_grid`), weighted by population. Today's places
are locked in as spopt *predefined facilities*; candidates come from the new communes' seats (commune
centres not yet handling the procedure), the former commune offices (legacy points) and a regular grid
(`DEFAULT_CANDIDATE_GRID_M`). A candidate covers a demand point when its cost, computed exactly as
`geo.coverage.engine.CoverageEngine.costs` does (geodesic metres, or network minutes with the straight-line x
circuity fallback), is within the threshold.

The model is reduced before it reaches the solver, without changing its optimum:

* demand already covered by today's places is one row ("already covered"), covered by the locked sites;
* demand no candidate can cover is dropped; candidates that cover nothing are dropped;
* a candidate whose covered set is contained in another's is dropped (the other is never worse);
* demand points covered by the same candidates are merged, weights summed.

spopt's ``MCLP.from_cost_matrix`` builds one pulp term per (demand, facility) cell, dense, in Python:
minutes for tens of thousands of demand rows. So the same model (same variables, objective,
predefined-facility and facility-count constraints from spopt's ``FacilityModelBuilder``) is built
with sparse coverage constraints on an ``MCLP`` instance and solved by CBC through spopt
(``MCLP.solve``). `tests/coverage/test_siting.py` checks it against ``from_cost_matrix`` on a fixture.

The chosen sites are then ordered greedily by marginal gain (the population each adds, given today's
places and the sites before it), which is what a planner builds first.

``GANDAN_SITING_TIME_LIMIT_S`` is the budget of one suggestion, counted from the call: CBC gets what is
left of it once its model is written, and is killed `SOLVER_GRACE_S` after that (`_BoundedCBC`), because
CBC honours its ``-sec`` only once branch and bound starts: with few places today (30,000 demand groups x
1,400 candidates) its root LP alone ran for minutes. When CBC has no solution by then, or only an
unproven one that covers fewer people, the plain greedy sites are the answer (`GREEDY_FALLBACK`).
"""

from __future__ import annotations

import os
import subprocess
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pulp
import shapely
from scipy import sparse
from scipy.spatial import cKDTree

from geo.coverage.demand import population_grid
from geo.coverage.engine import MAX_SITES, CoverageEngine
from geo.coverage.scenarios import facilities_frame, today_facilities
from geo.errors import GandanError, InvalidParameter
from geo.geodesy import METRIC_CRS, WGS84, geodesic_m, to_metric

__all__ = [
    "CANDIDATE_SOURCES",
    "DEFAULT_CANDIDATE_GRID_M",
    "GREEDY_FALLBACK",
    "MAX_SITES",
    "SiteChoice",
    "SitingFailed",
    "SitingResult",
    "candidate_sites",
    "coverage_matrix",
    "suggest_sites",
]

CANDIDATE_SOURCES = ("seats", "legacy", "grid")
DEFAULT_CANDIDATE_GRID_M = 2_000.0
GREEDY_FALLBACK = "Greedy (no better solver solution within the time limit)"  # model.status then
SOLVER_FEASIBLE = "Feasible (solver stopped at the time limit)"  # model.status: CBC's incumbent, not proven
SOLVER_GRACE_S = 0.5  # CBC may run this long past its -sec limit (to stop and write its solution) before a kill
MIN_SOLVER_S = 0.5  # CBC's time limit when building the model left less than this of the budget
SAME_PLACE_M = 50.0  # a candidate this close to an existing place (or an earlier candidate) is that place


@dataclass(frozen=True)
class SiteChoice:
    """One suggested site, in build order, with the population it adds."""

    rank: int
    id: str
    source: str
    name: str
    lon: float
    lat: float
    commune_code: str | None
    commune_name: str | None
    gain_population: int
    covered_population: int
    share: float


@dataclass
class SitingResult:
    """The MCLP answer: sites in order of gain, coverage before and after, and the model's size."""

    procedure: dict[str, Any]
    mode: str
    threshold: float
    unit: str
    k: int
    population: int
    covered_before: int
    covered_after: int
    greedy_covered: int
    sites: list[SiteChoice]
    model: dict[str, Any] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """The sites as a table (one row per site, in order)."""
        return pd.DataFrame([asdict(s) for s in self.sites], columns=list(SiteChoice.__dataclass_fields__))

    def frame(self) -> gpd.GeoDataFrame:
        """The sites as points (EPSG:4326)."""
        table = self.table()
        return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table["lon"], table["lat"]), crs=WGS84)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "k": self.k,
            "population": self.population,
            "covered_before": self.covered_before,
            "covered_after": self.covered_after,
            "share_before": round(self.covered_before / self.population, 4) if self.population else 0.0,
            "share_after": round(self.covered_after / self.population, 4) if self.population else 0.0,
            "greedy_covered": self.greedy_covered,
            "sites": [asdict(s) for s in self.sites],
            "model": self.model,
        }


class SitingFailed(GandanError):
    """The MCLP solver returned no usable solution (time limit, solver failure)."""

    type = "siting-failed"
    title = "Site suggestion failed"
    status = 500


# ================================================================================== candidates
def candidate_sites(
    engine: CoverageEngine,
    existing: gpd.GeoDataFrame,
    sources: Sequence[str] = CANDIDATE_SOURCES,
    grid_m: float = DEFAULT_CANDIDATE_GRID_M,
) -> gpd.GeoDataFrame:
    """Candidate places (id, name, kind, source, geometry), in priority order seats → legacy → grid.

    A candidate within `SAME_PLACE_M` of an existing place or of an earlier candidate is dropped.
    """
    unknown = sorted(set(sources) - set(CANDIDATE_SOURCES))
    if unknown:
        raise InvalidParameter(f"unknown candidate source(s) {', '.join(unknown)}; use {', '.join(CANDIDATE_SOURCES)}")
    records: list[dict[str, Any]] = []
    index = engine.index
    if "seats" in sources and index is not None:
        seats = index.service_points[index.service_points["kind"] == "commune_center"]
        records += [
            {
                "id": f"seat-{p.id}", "name": str(p.name), "kind": "intake_point", "source": "seat",
                "geometry": p.geometry,
            }
            for p in seats.itertuples()
        ]
    if "legacy" in sources and index is not None:
        records += [
            {
                "id": f"legacy-{u.code}", "name": f"UBND {u.full_name} ({u.district})", "kind": "intake_point",
                "source": "former_office", "geometry": u.geometry,
            }
            for u in index.legacy_units.itertuples()
        ]
    if "grid" in sources:
        grid = population_grid(engine.communes.assign(population=1.0), grid_m)
        names = engine.communes["full_name"] if "full_name" in engine.communes else engine.communes["name"]
        records += [
            {
                "id": f"grid-{int(x)}-{int(y)}", "name": f"grid point in {names.iat[c]}", "kind": "intake_point",
                "source": "grid", "geometry": shapely.Point(lon, lat),
            }
            for x, y, lon, lat, c in zip(grid.x, grid.y, grid.lon, grid.lat, grid.commune, strict=True)
        ]
    if not records:
        return facilities_frame()
    frame = gpd.GeoDataFrame(records, geometry="geometry", crs=WGS84)
    xy = shapely.get_coordinates(frame.geometry.to_crs(METRIC_CRS).to_numpy())
    keep = np.ones(len(frame), dtype=bool)
    if len(existing):
        ex = shapely.get_coordinates(existing.geometry.to_crs(METRIC_CRS).to_numpy())
        keep &= cKDTree(ex).query(xy, k=1)[0] > SAME_PLACE_M
    tree = cKDTree(xy)
    for i, j in sorted(tree.query_pairs(SAME_PLACE_M)):
        if keep[i]:
            keep[j] = False
    frame = frame[keep & ~frame["id"].duplicated().to_numpy()]
    return frame[["id", "name", "kind", "source", "geometry"]].reset_index(drop=True)


# ================================================================================== coverage matrix
def coverage_matrix(
    engine: CoverageEngine,
    candidates: gpd.GeoDataFrame,
    mode: str,
    threshold: float,
    rows: npt.NDArray[np.int64],
) -> sparse.csr_matrix:
    """Which of the demand points ``rows`` each candidate covers: a boolean (len(rows), n_candidates) CSR.

    Uses the cost model of `CoverageEngine.costs`, so a candidate covers here exactly the points it
    would cover once added.
    """
    unit = engine.check(mode, threshold)
    d = engine.demand
    c_ll = shapely.get_coordinates(candidates.geometry.to_numpy()) if len(candidates) else np.empty((0, 2))
    c_xy = to_metric(c_ll[:, 0], c_ll[:, 1]) if len(c_ll) else np.empty((0, 2))
    d_xy = np.column_stack([d.x[rows], d.y[rows]])
    d_ll = np.column_stack([d.lon[rows], d.lat[rows]])
    shape = (len(rows), len(candidates))

    def within(demand_sel: npt.NDArray[np.int64], cand_sel: npt.NDArray[np.int64], radius_m: float) -> tuple[Any, Any]:
        """(demand, candidate) pairs, positions in ``rows`` and ``candidates``, within a geodesic radius."""
        if len(demand_sel) == 0 or len(cand_sel) == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        # Projected <= geodesic in Hanoi, so the projected ball holds every geodesic hit.
        hits = cKDTree(d_xy[demand_sel]).query_ball_point(c_xy[cand_sel], r=radius_m)
        counts = np.fromiter((len(h) for h in hits), dtype=np.int64, count=len(hits))
        if counts.sum() == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        di = demand_sel[np.concatenate([np.asarray(h, dtype=np.int64) for h in hits])]
        ci = np.repeat(cand_sel, counts)
        ok = geodesic_m(d_ll[di, 0], d_ll[di, 1], c_ll[ci, 0], c_ll[ci, 1]) <= radius_m
        return di[ok], ci[ok]

    everyone, all_cands = np.arange(len(rows)), np.arange(len(candidates))
    if unit == "m":
        di, ci = within(everyone, all_cands, threshold)
        return sparse.csr_matrix((np.ones(len(di), dtype=bool), (di, ci)), shape=shape)

    from geo.network import Candidate

    model = engine.network_model(mode)
    limit_s = threshold * 60.0
    radius = limit_s * model.speed_mps / model.circuity
    position = np.full(len(d), -1, dtype=np.int64)
    position[rows] = everyone
    on_rows = position[model.snapped]
    snapped_pos = np.flatnonzero(on_rows >= 0)  # positions in model.snapped that are among rows
    on_d = on_rows[snapped_pos]
    off_d = np.setdiff1d(everyone, on_d)
    c_snaps = model.network.snap_many(c_ll[:, 0], c_ll[:, 1]) if len(c_ll) else []
    on_c = np.array([s is not None for s in c_snaps], dtype=bool)
    parts = [within(off_d, all_cands, radius), within(on_d, np.flatnonzero(~on_c), radius)]
    exit_node, exit_time, access = (
        model.exit_node[snapped_pos], model.exit_time[snapped_pos], model.access_s[snapped_pos]
    )
    for j in np.flatnonzero(on_c):
        cand = Candidate(str(candidates["id"].iat[j]), float(c_ll[j, 0]), float(c_ll[j, 1]))
        node_cost, _ = model.network.costs_from_sources([cand])
        cost = (exit_time + node_cost[exit_node]).min(axis=1) + access
        hit = on_d[cost <= limit_s]
        parts.append((hit, np.full(len(hit), j, dtype=np.int64)))
    di = np.concatenate([p[0] for p in parts])
    ci = np.concatenate([p[1] for p in parts])
    return sparse.csr_matrix((np.ones(len(di), dtype=bool), (di, ci)), shape=shape)


def _undominated(cover: sparse.csr_matrix) -> npt.NDArray[np.bool_]:
    """Columns not contained in another column (of equal sets, the first is kept)."""
    a = cover.astype(np.int32).tocsc()
    size = np.asarray(a.sum(axis=0)).ravel()
    overlap = (a.T @ a).tocoo()
    i, j, v = overlap.row, overlap.col, overlap.data
    dominated_by = (i != j) & (v == size[i]) & ((size[j] > size[i]) | (j < i))
    keep = np.ones(a.shape[1], dtype=bool)
    keep[np.unique(i[dominated_by])] = False
    return keep


def _greedy_order(
    cover: sparse.csc_matrix, weight: npt.NDArray[np.float64], columns: Sequence[int]
) -> list[tuple[int, float]]:
    """Order ``columns`` by marginal gain, each given the previous ones: [(column, gain), ...]."""
    left = weight.copy()
    order: list[tuple[int, float]] = []
    remaining = list(columns)
    while remaining:
        gains = [float(left[cover[:, j].indices].sum()) for j in remaining]
        best = int(np.argmax(gains))
        j = remaining.pop(best)
        order.append((j, gains[best]))
        left[cover[:, j].indices] = 0.0
    return order


def _covered(cover: sparse.csc_matrix, weight: npt.NDArray[np.float64], columns: Sequence[int]) -> float:
    """The population the ``columns`` cover together."""
    hit = np.zeros(len(weight), dtype=bool)
    for j in columns:
        hit[cover[:, j].indices] = True
    return float(weight[hit].sum())


def _greedy_pick(cover: sparse.csc_matrix, weight: npt.NDArray[np.float64], k: int) -> tuple[list[int], float]:
    """The plain greedy heuristic's k columns and the population they cover (the baseline MCLP must match)."""
    left = weight.copy()
    total = 0.0
    picked: list[int] = []
    cover_csr = cover.tocsr()
    for _ in range(k):
        gains = cover_csr.T @ left
        j = int(np.argmax(gains))
        if gains[j] <= 0:
            break
        picked.append(j)
        total += float(gains[j])
        left[cover[:, j].indices] = 0.0
    return picked, total


# ================================================================================== MCLP
class _BoundedCBC(pulp.PULP_CBC_CMD):
    """pulp's bundled CBC, bounded in wall-clock time: its ``-sec`` limit is what is left until ``deadline``.

    CBC checks ``-sec`` only once its branch and bound runs: on a large model its presolve and root LP
    ran for minutes past a 2 s limit. So the process is killed `SOLVER_GRACE_S` after its limit, and the
    model then has no solution (`SitingFailed`).
    """

    def __init__(self, deadline: float) -> None:
        with warnings.catch_warnings():  # pulp 3.3 announces PULP_CBC_CMD's removal in 4.0
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulp\.")
            super().__init__(msg=False)
        self.deadline = deadline

    def actualSolve(self, lp: pulp.LpProblem, **_kwargs: Any) -> int:
        """Solve ``lp`` as pulp's ``COIN_CMD.solve_CBC`` does (MPS in, solution file out), within the bound."""
        tmp_mps, tmp_sol = self.create_tmp_files(lp.name, "mps", "sol")
        try:
            vs, var_names, con_names, _ = lp.writeMPS(tmp_mps, rename=1)
            limit_s = max(self.deadline - time.perf_counter(), MIN_SOLVER_S)
            args = [self.path, tmp_mps, "-max" if lp.sense == pulp.LpMaximize else "-min"]
            args += ["-sec", f"{limit_s:.2f}", "-timeMode", "elapsed", "-solve"]
            args += ["-printingOptions", "all", "-solution", tmp_sol]
            cbc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
            try:
                code = cbc.wait(timeout=limit_s + SOLVER_GRACE_S)
            except subprocess.TimeoutExpired:
                cbc.kill()
                cbc.wait()
                raise SitingFailed(f"the MCLP solver was stopped after {limit_s + SOLVER_GRACE_S:.1f} s") from None
            if code != 0 or not os.path.exists(tmp_sol):
                raise SitingFailed(f"the MCLP solver failed (CBC exit status {code})")
            status, values, _dj, _pi, _slack, sol_status = self.readsol_MPS(tmp_sol, lp, vs, var_names, con_names)
            lp.assignVarsVals(values)
            lp.assignStatus(status, sol_status)
            return int(status)
        finally:
            self.delete_tmp_files(tmp_mps, tmp_sol)


def _solve_mclp(
    groups: sparse.csr_matrix,
    weights: npt.NDArray[np.float64],
    n_existing: int,
    covered_weight: float,
    k: int,
    deadline: float,
) -> tuple[list[int], str]:
    """Solve the reduced MCLP with spopt's MCLP model by ``deadline`` (perf_counter); columns and status.

    CBC gets what is left until ``deadline`` once the model is built (at least `MIN_SOLVER_S`) and is
    killed `SOLVER_GRACE_S` after that: `SitingFailed` when it has no solution by then.
    """
    from spopt.locate import MCLP
    from spopt.locate.base import FacilityModelBuilder

    n_groups, n_cand = groups.shape
    has_covered_row = n_existing > 0 and covered_weight > 0
    n_cli = n_groups + int(has_covered_row)
    n_fac = n_existing + n_cand
    problem = pulp.LpProblem("gandan_mclp", pulp.LpMaximize)
    model = MCLP("gandan_mclp", problem)
    with warnings.catch_warnings():
        # pulp 3.3 announces its 4.0 API on every variable spopt creates: thousands of identical lines.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulp\.")
        FacilityModelBuilder.add_facility_integer_variable(model, range(n_fac), "x[{i}]")
        FacilityModelBuilder.add_client_integer_variable(model, range(n_cli), "y[{i}]")
    fac, cli = model.fac_vars, model.cli_vars
    all_weights = np.r_[weights, [covered_weight] if has_covered_row else []]
    problem += pulp.lpSum(float(w) * y for w, y in zip(all_weights, cli, strict=True)), "objective function"
    if n_existing:
        FacilityModelBuilder.add_predefined_facility_constraint(
            model, np.r_[np.ones(n_existing, dtype=int), np.zeros(n_cand, dtype=int)]
        )
    # The coverage constraints of spopt's add_maximal_coverage_constraint, one term per covering site.
    for i in range(n_groups):
        cols = groups.indices[groups.indptr[i]:groups.indptr[i + 1]]
        problem += pulp.lpSum(fac[n_existing + int(j)] for j in cols) >= cli[i]
    if has_covered_row:
        problem += pulp.lpSum(fac[:n_existing]) >= cli[n_groups]
    FacilityModelBuilder.add_facility_constraint(model, n_existing + k)
    model.aij = None  # results=False: the dense client/facility arrays are not needed
    solver = _BoundedCBC(deadline)
    try:
        model.solve(solver, results=False)
    except RuntimeError as exc:  # spopt's check_status: infeasible, or no solution within the time limit
        raise SitingFailed(f"the MCLP solver gave no solution: {exc}") from exc
    chosen = [j - n_existing for j in range(n_existing, n_fac) if (fac[j].value() or 0) > 0.5]
    # CBC stopped by its time limit with an incumbent reports "Optimal" with a merely feasible solution.
    proven = problem.sol_status == pulp.LpSolutionOptimal
    return chosen, pulp.LpStatus[problem.status] if proven else SOLVER_FEASIBLE


def suggest_sites(
    engine: CoverageEngine,
    procedure: str,
    mode: str,
    threshold: float,
    k: int,
    existing: gpd.GeoDataFrame | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    sources: Sequence[str] = CANDIDATE_SOURCES,
    candidate_grid_m: float = DEFAULT_CANDIDATE_GRID_M,
    time_limit_s: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> SitingResult:
    """The ``k`` new sites that cover the most population within ``threshold``, today's places locked in.

    Parameters
    ----------
    engine
        The coverage engine (demand grid, cost model).
    procedure
        Code or name; today's places that handle it are the locked-in sites unless ``existing`` is given.
    mode, threshold
        As in `CoverageEngine.run`.
    k
        How many sites to add, 1..`MAX_SITES`.
    existing, candidates
        Override today's places / the candidate sites (layers like `geo.coverage.scenarios.facilities_frame`).
    sources, candidate_grid_m
        Candidate sources and grid spacing when ``candidates`` is not given.
    time_limit_s
        Time budget of the whole suggestion, counted from the call (default: ``GANDAN_SITING_TIME_LIMIT_S``):
        CBC gets what is left once its model is built and is stopped `SOLVER_GRACE_S` later; the better of
        its best solution by then and the greedy sites is the answer.
    """
    if not 1 <= k <= MAX_SITES:
        raise InvalidParameter(f"k={k} is out of range (1..{MAX_SITES})")
    unit = engine.check(mode, threshold)
    say = progress or (lambda _m: None)
    started = time.perf_counter()
    if time_limit_s is None:
        from geo.settings import get_settings

        time_limit_s = get_settings().siting_time_limit_s
    proc = engine.procedure(procedure) if engine.index is not None else {"code": procedure, "name": procedure}
    if existing is None:
        assert engine.index is not None
        existing = today_facilities(engine.index, proc)
    existing = facilities_frame(existing.to_dict("records"))
    if candidates is None:
        say("candidate sites")
        candidates = candidate_sites(engine, existing, sources, candidate_grid_m)
    candidates = candidates.reset_index(drop=True)
    d = engine.demand
    native = threshold if unit == "m" else threshold * 60.0
    say("coverage of today's places")
    base = engine.costs(existing, mode)
    covered0 = base.cost <= native
    rows = np.flatnonzero(~covered0 & (d.weight > 0))
    say(f"coverage of {len(candidates)} candidates")
    cover = coverage_matrix(engine, candidates, mode, threshold, rows)
    weight = d.weight[rows]
    useful_rows = np.flatnonzero(np.diff(cover.indptr) > 0)
    cover, weight = cover[useful_rows], weight[useful_rows]
    useful_cols = np.flatnonzero(np.asarray(cover.sum(axis=0)).ravel() > 0)
    cover = cover[:, useful_cols]
    keep = _undominated(cover)
    cols = useful_cols[keep]
    reduced = cover[:, np.flatnonzero(keep)].tocsr()
    reduced.sort_indices()
    # Merge demand points covered by the same candidates.
    keys: dict[bytes, int] = {}
    group_of = np.empty(reduced.shape[0], dtype=np.int64)
    for i in range(reduced.shape[0]):
        key = reduced.indices[reduced.indptr[i]:reduced.indptr[i + 1]].tobytes()
        group_of[i] = keys.setdefault(key, len(keys))
    first = np.unique(group_of, return_index=True)[1]
    groups = reduced[first]
    group_weight = np.bincount(group_of, weight, minlength=len(first)).astype(float)
    covered_before = float(d.weight[covered0].sum())
    k_eff = min(k, len(cols))
    say(f"MCLP: {len(first)} demand groups x {len(cols)} candidates, k={k_eff}")
    cover_csc = cover.tocsc()
    greedy_cols, greedy = _greedy_pick(cover_csc, weight, k_eff)
    chosen: list[int] = []
    status = "Optimal"
    full_cols = {int(c): n for n, c in enumerate(useful_cols)}
    if k_eff:
        deadline = started + time_limit_s
        try:
            picked, status = _solve_mclp(groups, group_weight, len(existing), covered_before, k_eff, deadline)
            chosen = [int(cols[j]) for j in picked]
        except SitingFailed as exc:
            say(f"MCLP: {exc.detail}")
            status = GREEDY_FALLBACK
        beaten = status == SOLVER_FEASIBLE and _covered(cover_csc, weight, [full_cols[c] for c in chosen]) < greedy
        if status == GREEDY_FALLBACK or beaten:
            # No solver solution within the budget (large models, a short limit), or an unproven one the
            # greedy sites beat: the greedy sites are the answer, and the status says so.
            say(f"MCLP: no better solution within {time_limit_s:g} s, greedy sites")
            chosen, status = [int(useful_cols[j]) for j in greedy_cols], GREEDY_FALLBACK
    order = _greedy_order(cover_csc, weight, [full_cols[c] for c in chosen])
    sites: list[SiteChoice] = []
    running = covered_before
    total_pop = float(d.weight.sum())
    c_ll = shapely.get_coordinates(candidates.geometry.to_numpy())
    commune_of = engine.commune_rows(c_ll[:, 0], c_ll[:, 1])
    for rank, (col, gain) in enumerate(order, start=1):
        j = int(useful_cols[col])
        running += gain
        row = candidates.iloc[j]
        c = int(commune_of[j])
        sites.append(
            SiteChoice(
                rank=rank, id=str(row["id"]), source=str(row["source"]), name=str(row["name"]),
                lon=round(float(c_ll[j, 0]), 6), lat=round(float(c_ll[j, 1]), 6),
                commune_code=str(engine.communes["code"].iat[c]) if c >= 0 else None,
                commune_name=str(engine.communes["name"].iat[c]) if c >= 0 else None,
                gain_population=round(gain), covered_population=round(running),
                share=round(running / total_pop, 4) if total_pop else 0.0,
            )
        )
    return SitingResult(
        procedure=proc, mode=mode, threshold=float(threshold), unit=unit, k=k,
        population=round(total_pop), covered_before=round(covered_before),
        covered_after=round(running), greedy_covered=round(covered_before + greedy), sites=sites,
        model={
            "solver": "CBC via pulp (spopt.locate.MCLP)", "status": status, "existing_locked": len(existing),
            "candidates": len(candidates), "candidates_useful": len(useful_cols), "candidates_in_model": len(cols),
            "demand_points_uncovered": len(rows), "demand_groups": len(first),
            "seconds": round(time.perf_counter() - started, 3),
        },
    )
