"""The cost model per mode: what it costs each demand point to reach its nearest place.

``straight``: geodesic (WGS 84) distance in metres to the nearest place, exact (a KD-tree on UTM 48N
proposes candidates; in Hanoi a projected distance is never longer than the geodesic one, so the search
stops exactly, as in `geo.finder`). Opening hours are ignored: coverage is about where places are,
not about the clock, so `Finder.nearest_many` (which ranks open places first) is not used.

``walk`` / ``motorbike`` / ``car``: seconds. A grid point within the road graph's snap distance gets
the network time of one multi-source Dijkstra from the places on the graph
(`geo.network.RoadNetwork.costs_from_sources`) plus its off-road access leg (snap distance at the
mode's trip speed). Where the graph does not reach (the point or the place is off the graph), the
cost is straight-line distance x the graph's circuity (`RoadNetwork.circuity`) / the mode's trip speed
(measured on the graph: total length / total time of fastest paths between random node pairs). Each
point keeps the cheaper of the two, and the commune says which basis its population used
(``cost_basis``: ``network``, ``straight_line×circuity``, ``mixed`` with ``network_share``, or
``straight_line`` in straight mode).

A module of its own because the same costs serve two consumers: the coverage measures
(`geo.coverage.engine`) and the MCLP's coverage matrix (`geo.coverage.siting`), which must agree to
the metre.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from scipy.spatial import cKDTree

from geo.coverage.demand import F64, I64, Demand
from geo.geodesy import GEODESIC_OVER_PROJECTED_MIN, geodesic_m, to_metric

__all__ = [
    "BASIS_MIXED",
    "BASIS_NETWORK",
    "BASIS_STRAIGHT",
    "BASIS_STRAIGHT_CIRCUITY",
    "NetworkModel",
    "PointCosts",
    "add_places",
    "nearest_geodesic",
    "network_model",
    "place_column",
    "point_costs",
]

BASIS_STRAIGHT = "straight_line"
BASIS_NETWORK = "network"
BASIS_STRAIGHT_CIRCUITY = "straight_line×circuity"
BASIS_MIXED = "mixed"


def nearest_geodesic(
    from_xy: F64, from_lonlat: F64, to_xy: F64, to_lonlat: F64
) -> tuple[F64, I64]:
    """Exact geodesic distance (m) from each origin to its nearest target, and that target's index.

    A KD-tree on EPSG:32648 proposes the 4 nearest targets; an origin whose best geodesic distance is
    not below its farthest proposal's projected distance (the bound no other target can beat) is
    asked again with 4x more. Exact ties go to the target the KD-tree proposed first. Empty targets give
    ``inf`` / ``-1``.
    """
    n, m = len(from_xy), len(to_xy)
    dist = np.full(n, np.inf)
    idx = np.full(n, -1, dtype=np.int64)
    if n == 0 or m == 0:
        return dist, idx
    tree = cKDTree(to_xy)
    todo = np.arange(n)
    k = min(m, 4)
    while len(todo):
        proj, pos = tree.query(from_xy[todo], k=k, workers=-1)
        proj, pos = proj.reshape(len(todo), k), pos.reshape(len(todo), k)
        geo = geodesic_m(
            np.repeat(from_lonlat[todo, 0], k), np.repeat(from_lonlat[todo, 1], k),
            to_lonlat[pos.ravel(), 0], to_lonlat[pos.ravel(), 1],
        ).reshape(len(todo), k)
        # The exact minimum (not the finder's centimetre-rounded key): adding a place never raises a cost.
        best = np.argmin(geo, axis=1)
        rows = np.arange(len(todo))
        dist[todo], idx[todo] = geo[rows, best], pos[rows, best]
        if k == m:
            break
        todo = todo[geo[rows, best] >= proj[:, -1] * GEODESIC_OVER_PROJECTED_MIN]
        k = min(m, k * 4)
    return dist, idx


@dataclass(frozen=True)
class PointCosts:
    """Per demand point: cost to the nearest place (m or s), its row in the places layer, the basis."""

    cost: F64
    source: I64
    on_network: npt.NDArray[np.bool_]


@dataclass
class NetworkModel:
    """A mode's road network prepared for coverage: demand snaps, circuity and trip speed."""

    network: Any  # geo.network.RoadNetwork
    mode: str
    circuity: float
    speed_mps: float
    snapped: I64  # demand point indices on the graph
    exit_node: I64  # (len(snapped), w) nodes reachable from each snapped point, padded with 0
    exit_time: F64  # (len(snapped), w) partial-edge seconds to them, inf padding
    access_s: F64  # off-road leg: snap distance at the trip speed


def _trip_speed_mps(network: Any, pairs: int = 40, seed: int = 0, min_straight_m: float = 1_000.0) -> float:
    """Total length / total time of fastest paths between random node pairs of ``network``."""
    from geo.network import Candidate

    rng = np.random.default_rng(seed)
    lonlat, xy = network.nodes_lonlat, network.node_xy
    total_m = total_s = 0.0
    for _ in range(pairs * 5):
        a, b = rng.integers(0, len(xy), 2)
        if np.hypot(*(xy[a] - xy[b])) < min_straight_m:
            continue
        answer = network.nearest(float(lonlat[a, 0]), float(lonlat[a, 1]), [Candidate("b", *map(float, lonlat[b]))])
        if answer:
            total_m += answer[0].distance_m
            total_s += answer[0].travel_time_s
            pairs -= 1
            if pairs == 0:
                break
    if total_s > 0:
        return total_m / total_s
    return float(np.sum(network.edge_length_m) / np.sum(network.edge_time_s))


def network_model(network: Any, demand: Demand, mode: str, speed_kmh: float | None = None) -> NetworkModel:
    """Snap the demand points to ``network`` and measure its circuity and trip speed."""
    xy = np.asarray(network.node_xy)
    margin = float(network.max_snap_m)
    near = np.flatnonzero(
        (demand.x >= xy[:, 0].min() - margin) & (demand.x <= xy[:, 0].max() + margin)
        & (demand.y >= xy[:, 1].min() - margin) & (demand.y <= xy[:, 1].max() + margin)
    )
    snaps = network.snap_many(demand.lon[near], demand.lat[near]) if len(near) else []
    keep = [i for i, s in enumerate(snaps) if s is not None]
    width = max((len(snaps[i].exits) for i in keep), default=1)
    exit_node = np.zeros((len(keep), width), dtype=np.int64)
    exit_time = np.full((len(keep), width), np.inf)
    snap_m = np.zeros(len(keep))
    for row, i in enumerate(keep):
        snap = snaps[i]
        snap_m[row] = snap.distance_m
        for j, link in enumerate(snap.exits):
            exit_node[row, j], exit_time[row, j] = link.node, link.time_s
    speed = speed_kmh / 3.6 if speed_kmh else _trip_speed_mps(network)
    return NetworkModel(
        network=network, mode=mode, circuity=float(network.circuity()), speed_mps=float(speed),
        snapped=near[keep].astype(np.int64) if keep else np.empty(0, dtype=np.int64),
        exit_node=exit_node, exit_time=exit_time, access_s=snap_m / speed,
    )


def point_costs(demand: Demand, facilities: gpd.GeoDataFrame, model: NetworkModel | None = None) -> PointCosts:
    """Cost of every demand point to its nearest place: metres (``model`` None) or seconds (a mode's model).

    Parameters
    ----------
    demand
        The demand points (`geo.coverage.demand.population_grid`).
    facilities
        The places layer (`geo.coverage.scenarios.facilities_frame`), rows in the order ``source`` refers to.
    model
        None for straight-line geodesic metres; a `NetworkModel` (`network_model`) for its mode's seconds,
        network time where the graph reaches and straight line x circuity / trip speed elsewhere.
    """
    d = demand
    d_xy, d_ll = np.column_stack([d.x, d.y]), np.column_stack([d.lon, d.lat])
    f_ll = shapely.get_coordinates(facilities.geometry.to_numpy()) if len(facilities) else np.empty((0, 2))
    f_xy = to_metric(f_ll[:, 0], f_ll[:, 1]) if len(f_ll) else np.empty((0, 2))
    if model is None:
        dist, src = nearest_geodesic(d_xy, d_ll, f_xy, f_ll)
        return PointCosts(dist, src, np.zeros(len(d), dtype=bool))
    from geo.network import Candidate

    net, per_m = model.network, model.circuity / model.speed_mps
    f_snaps = net.snap_many(f_ll[:, 0], f_ll[:, 1]) if len(f_ll) else []
    on_f = np.array([s is not None for s in f_snaps], dtype=bool)
    cost = np.full(len(d), np.inf)
    src = np.full(len(d), -1, dtype=np.int64)
    on_network = np.zeros(len(d), dtype=bool)
    off_d = np.ones(len(d), dtype=bool)
    off_d[model.snapped] = False
    # Off the graph: straight line x circuity / trip speed to every place.
    dist, near = nearest_geodesic(d_xy[off_d], d_ll[off_d], f_xy, f_ll)
    cost[off_d], src[off_d] = dist * per_m, near
    snapped = model.snapped
    if len(snapped):
        # On the graph: network time to places on the graph, straight-line fallback to the others.
        off_idx = np.flatnonzero(~on_f)
        dist, near = nearest_geodesic(d_xy[snapped], d_ll[snapped], f_xy[off_idx], f_ll[off_idx])
        fallback = dist * per_m
        fallback_src = off_idx[near] if len(off_idx) else np.full(len(snapped), -1, dtype=np.int64)
        on_idx = np.flatnonzero(on_f)
        net_cost = np.full(len(snapped), np.inf)
        net_src = np.full(len(snapped), -1, dtype=np.int64)
        if len(on_idx):
            cands = [Candidate(str(facilities["id"].iat[i]), float(f_ll[i, 0]), float(f_ll[i, 1])) for i in on_idx]
            node_cost, node_src = net.costs_from_sources(cands)
            via = model.exit_time + node_cost[model.exit_node]
            best = np.argmin(via, axis=1)
            rows = np.arange(len(snapped))
            net_cost = via[rows, best] + model.access_s
            chosen = node_src[model.exit_node[rows, best]]
            net_src = np.where(chosen >= 0, on_idx[np.maximum(chosen, 0)], -1)  # -1: no place reachable
        use_net = net_cost <= fallback
        cost[snapped] = np.where(use_net, net_cost, fallback)
        src[snapped] = np.where(use_net, net_src, fallback_src)
        on_network[snapped] = use_net & np.isfinite(net_cost)
    return PointCosts(cost, src, on_network)



def place_column(
    demand: Demand, lon: float, lat: float, model: NetworkModel | None = None
) -> tuple[F64, npt.NDArray[np.bool_]]:
    """Cost of every demand point to one place at (lon, lat), as `point_costs` would count it, and its basis.

    The cost to the nearest of several places is the minimum of their columns, so a what-if that adds
    a place needs only that place's column on top of the cached costs of the others (`add_places`).

    Returns
    -------
    cost : numpy.ndarray
        Metres (``model`` None) or seconds, per demand point (inf when the graph cannot reach it).
    on_network : numpy.ndarray
        Whether each point's cost is a road-network time (else straight line, or straight line x circuity).
    """
    d = demand
    n = len(d)
    dist = geodesic_m(d.lon, d.lat, np.full(n, lon), np.full(n, lat)) if n else np.empty(0)
    if model is None:
        return dist, np.zeros(n, dtype=bool)
    from geo.network import Candidate

    cost = dist * (model.circuity / model.speed_mps)
    on_network = np.zeros(n, dtype=bool)
    net = model.network
    snapped = model.snapped
    if len(snapped) and net.snap_many([lon], [lat])[0] is not None:
        # A place on the graph: the points on the graph reach it by road only (as in point_costs).
        node_cost, _ = net.costs_from_sources([Candidate("place", float(lon), float(lat))])
        via = (model.exit_time + node_cost[model.exit_node]).min(axis=1) + model.access_s
        cost[snapped] = via
        on_network[snapped] = np.isfinite(via)
    return cost, on_network


def add_places(base: PointCosts, columns: Sequence[tuple[int, F64, npt.NDArray[np.bool_]]]) -> PointCosts:
    """``base`` with more places: each ``(row, cost, on_network)`` column wins where it is cheaper.

    On an exact tie a network time beats a straight-line estimate, as in `point_costs`.
    """
    cost, source, on_network = base.cost.copy(), base.source.copy(), base.on_network.copy()
    for row, column, column_on_network in columns:
        better = (column < cost) | ((column == cost) & column_on_network & ~on_network & np.isfinite(column))
        cost = np.where(better, column, cost)
        source = np.where(better, row, source)
        on_network = np.where(better, column_on_network, on_network)
    return PointCosts(cost, source, on_network)
