"""Coverage for planners: which share of each commune's population lives within reach of a capable place.

Demand model
------------
Population is spread evenly over a regular grid (`DEFAULT_GRID_M` = 250 m) in EPSG:32648: every grid
cell centre inside a commune carries ``population / cells`` of that commune (a commune too small to
hold a centre gets one point at its representative point). A grid rather than road nodes because the
road graph only covers central Hanoi (about 60 of 3,360 km²): nodes would leave 95 % of the city
without demand, and they cluster on dense street networks, over-weighting the core. The same grid
serves every mode, the pre-merger network and every scenario, so differences come from the places,
never from a change of demand model. Grid points are anchored at multiples of the spacing, so a
fixture laid out on that lattice gives hand-computable shares.

Cost model
----------
``straight``: geodesic (WGS 84) distance in metres to the nearest place, exact (a KD-tree on UTM 48N
proposes candidates; in Hanoi a projected distance is never longer than the geodesic one, so the search
stops exactly, as in `geo.finder`). Opening hours are ignored: coverage is about where places are,
not about the clock, so `Finder.nearest_many` (which ranks open places first) is not used.

``walk`` / ``motorbike`` / ``car``: minutes. A grid point within the road graph's snap distance gets
the network time of one multi-source Dijkstra from the places on the graph
(`geo.network.RoadNetwork.costs_from_sources`) plus its off-road access leg (snap distance at the
mode's trip speed). Where the graph does not reach (the point or the place is off the graph), the
cost is straight-line distance x the graph's circuity (`RoadNetwork.circuity`) / the mode's trip speed
(measured on the graph: total length / total time of fastest paths between random node pairs). Each
point keeps the cheaper of the two, and the commune says which basis its population used
(``cost_basis``: ``network``, ``straight_line×circuity``, ``mixed`` with ``network_share``, or
``straight_line`` in straight mode).

Places
------
*today*: the service points that handle the procedure. *pre-merger*: the 526 former commune offices
(``legacy_units`` points, a geocoded point per unit, not surveyed offices) when the procedure is a
commune-level one (handled at commune centres today), plus today's branches and intake points that
handle it. A *scenario* adds, moves or closes places of today's network (`Change`).

Maps, tables and files of a report: `geo.coverage_maps`. New sites (MCLP): `geo.siting`.
"""

from __future__ import annotations

import csv
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from scipy.spatial import cKDTree

from geo.boundaries import METRIC_CRS, WGS84
from geo.errors import DataProblem, DataValidationError, InvalidParameter, OutsideServiceArea
from geo.index import Index
from geo.registry import find_procedure

__all__ = [
    "BASIS_MIXED",
    "BASIS_NETWORK",
    "BASIS_STRAIGHT",
    "BASIS_STRAIGHT_CIRCUITY",
    "BEFORE_KINDS",
    "DEFAULT_GRID_M",
    "DEFAULT_THRESHOLD",
    "MODES",
    "Change",
    "CoverageEngine",
    "CoverageReport",
    "CoverageResult",
    "Demand",
    "NetworkModel",
    "PointCosts",
    "apply_changes",
    "before_facilities",
    "facilities_frame",
    "geodesic_m",
    "nearest_geodesic",
    "network_model",
    "parse_changes",
    "population_grid",
    "read_scenario",
    "to_metric",
    "today_facilities",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Mode = Literal["straight", "walk", "motorbike", "car"]
MODES: tuple[str, ...] = ("straight", "walk", "motorbike", "car")
DEFAULT_GRID_M = 250.0
BEFORE_KINDS = ("branch", "intake_point")
BASIS_STRAIGHT = "straight_line"
BASIS_NETWORK = "network"
BASIS_STRAIGHT_CIRCUITY = "straight_line×circuity"
BASIS_MIXED = "mixed"
THRESHOLD_RANGE = {"m": (10.0, 100_000.0), "min": (0.5, 300.0)}
DEFAULT_THRESHOLD = {"straight": 2_000.0, "walk": 15.0, "motorbike": 15.0, "car": 15.0}
SCENARIO_COLUMNS = ("action", "id", "lon", "lat", "kind", "name")
FACILITY_COLUMNS = ["id", "name", "kind", "source", "geometry"]
# Geodesic / UTM-48N distance >= 1/0.99973 inside Hanoi; 0.999 leaves margin (see geo.finder).
_GEODESIC_OVER_PROJECTED_MIN = 0.999
_GEOD = pyproj.Geod(ellps="WGS84")
_local = threading.local()


def _transformers() -> tuple[pyproj.Transformer, pyproj.Transformer]:
    """Per-thread (lon/lat → metric, metric → lon/lat) transformers (pyproj objects are not thread-safe)."""
    pair = getattr(_local, "pair", None)
    if pair is None:
        pair = (
            pyproj.Transformer.from_crs(WGS84, METRIC_CRS, always_xy=True),
            pyproj.Transformer.from_crs(METRIC_CRS, WGS84, always_xy=True),
        )
        _local.pair = pair
    return pair


def to_metric(lon: npt.ArrayLike, lat: npt.ArrayLike) -> F64:
    """(n, 2) EPSG:32648 coordinates of lon/lat points."""
    x, y = _transformers()[0].transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.column_stack([np.atleast_1d(x), np.atleast_1d(y)])


def geodesic_m(lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike) -> F64:
    """Element-wise geodesic (WGS 84) distance in metres."""
    _, _, dist = _GEOD.inv(lon1, lat1, lon2, lat2)
    return np.atleast_1d(np.asarray(dist, dtype=float))


# ================================================================================== demand
@dataclass(frozen=True)
class Demand:
    """Population as weighted points: grid cell centres (EPSG:32648 and lon/lat) and their commune row."""

    x: F64
    y: F64
    lon: F64
    lat: F64
    weight: F64
    commune: I64
    spacing_m: float

    def __len__(self) -> int:
        return len(self.x)


def population_grid(communes: gpd.GeoDataFrame, spacing_m: float = DEFAULT_GRID_M) -> Demand:
    """Spread each commune's population evenly over the centres of a regular grid clipped to it.

    Parameters
    ----------
    communes
        Polygons with a ``population`` column (NaN counts as 0), any CRS.
    spacing_m
        Grid spacing in metres (EPSG:32648); centres lie at ``(i + 0.5) * spacing_m``.

    Returns
    -------
    Demand
        One point per cell centre inside a commune (a point on a shared border goes to the row listed
        first), plus the representative point of any commune no centre falls in.
    """
    if not 10 <= spacing_m <= 5_000:
        raise InvalidParameter(f"grid spacing {spacing_m} m is out of range (10..5000)")
    metric = communes.geometry.to_crs(METRIC_CRS).reset_index(drop=True)
    minx, miny, maxx, maxy = metric.total_bounds
    xs = (np.arange(np.floor(minx / spacing_m), np.ceil(maxx / spacing_m)) + 0.5) * spacing_m
    ys = (np.arange(np.floor(miny / spacing_m), np.ceil(maxy / spacing_m)) + 0.5) * spacing_m
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
    geoms = metric.to_numpy()
    # One prepared polygon at a time over the centres in its bounding box: ~50x faster than an STRtree
    # predicate query over every centre (0.03 s vs 1.5 s for Hanoi at 250 m).
    shapely.prepare(geoms)
    bounds = shapely.bounds(geoms)
    owner = np.full(len(gx), -1, dtype=np.int64)
    for row in range(len(geoms) - 1, -1, -1):  # backwards: a border centre ends with the first row
        b = bounds[row]
        near = np.flatnonzero((gx >= b[0]) & (gx <= b[2]) & (gy >= b[1]) & (gy <= b[3]))
        owner[near[shapely.intersects_xy(geoms[row], gx[near], gy[near])]] = row
    inside = owner >= 0
    x, y, commune = gx[inside], gy[inside], owner[inside]
    empty = np.setdiff1d(np.arange(len(metric)), commune)
    if len(empty):
        reps = shapely.get_coordinates(shapely.point_on_surface(geoms[empty]))
        x, y = np.concatenate([x, reps[:, 0]]), np.concatenate([y, reps[:, 1]])
        commune = np.concatenate([commune, empty])
    counts = np.bincount(commune, minlength=len(metric))
    population = pd.to_numeric(communes["population"], errors="coerce").fillna(0).to_numpy(dtype=float)
    weight = population[commune] / counts[commune]
    lon, lat = _transformers()[1].transform(x, y)
    return Demand(x, y, np.asarray(lon), np.asarray(lat), weight, commune, float(spacing_m))


# ================================================================================== places
def facilities_frame(records: Iterable[Mapping[str, Any]] | None = None) -> gpd.GeoDataFrame:
    """A places layer (id, name, kind, source, geometry Point EPSG:4326), sorted by id."""
    frame = gpd.GeoDataFrame(list(records or []), columns=FACILITY_COLUMNS, geometry="geometry", crs=WGS84)
    return frame.sort_values("id", kind="stable").reset_index(drop=True)


def _procedure_code(index: Index, procedure: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(procedure, Mapping):
        return dict(procedure)
    return dict(find_procedure(procedure, index.procedures))


def today_facilities(index: Index, procedure: str | Mapping[str, Any]) -> gpd.GeoDataFrame:
    """Today's places that handle ``procedure`` (code, name or catalog row)."""
    code = _procedure_code(index, procedure)["code"]
    ids = set(index.capabilities.loc[index.capabilities["procedure_code"] == code, "point_id"].astype(str))
    points = index.service_points[index.service_points["id"].astype(str).isin(ids)]
    return facilities_frame(
        {"id": str(p.id), "name": str(p.name), "kind": str(p.kind), "source": "registry", "geometry": p.geometry}
        for p in points.itertuples()
    )


def before_facilities(index: Index, procedure: str | Mapping[str, Any]) -> gpd.GeoDataFrame:
    """The pre-merger network for ``procedure``: former commune offices (if commune-level) + branches.

    A former office is included when the procedure is handled at commune centres today, i.e. it is a
    commune-level procedure that the 526 old communes handled themselves. Its place is the legacy
    unit's point (geocoded, not surveyed). Today's branches and intake points that handle it are
    added as they are (`BEFORE_KINDS`).
    """
    proc = _procedure_code(index, procedure)
    handled = set(str(proc.get("handled_at") or "").split("|"))
    records: list[dict[str, Any]] = []
    if "commune_center" in handled:
        records.extend(
            {
                "id": f"legacy-{u.code}",
                "name": f"UBND {u.full_name} ({u.district})",
                "kind": "former_commune_office",
                "source": "legacy_units",
                "geometry": u.geometry,
            }
            for u in index.legacy_units.itertuples()
        )
    today = today_facilities(index, proc)
    records.extend(today[today["kind"].isin(BEFORE_KINDS)].to_dict("records"))
    return facilities_frame(records)


# ================================================================================== scenarios
@dataclass(frozen=True)
class Change:
    """One what-if edit of the network: ``add`` a place, ``move`` one, or ``close`` one."""

    action: Literal["add", "move", "close"]
    id: str
    lon: float | None = None
    lat: float | None = None
    kind: str | None = None
    name: str | None = None


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def parse_changes(records: Iterable[Mapping[str, Any]], source: str = "scenario") -> list[Change]:
    """Validate scenario rows (``action, id, lon, lat, kind, name``) into `Change` objects.

    Raises
    ------
    DataValidationError
        One `DataProblem` per bad row: unknown action, missing id, missing or non-numeric lon/lat
        for ``add`` and ``move``.
    """
    changes: list[Change] = []
    problems: list[DataProblem] = []
    for row_no, raw in enumerate(records, start=1):
        row = {k: (v.strip() if isinstance(v, str) else v) for k, v in raw.items()}
        action = str(row.get("action") or "").lower()
        ident = str(row.get("id") or "")
        bad = []
        if action not in ("add", "move", "close"):
            bad.append(f"action {row.get('action')!r} is not add, move or close")
        if not ident:
            bad.append("id is empty")
        try:
            lon, lat = _number(row.get("lon")), _number(row.get("lat"))
        except (TypeError, ValueError) as exc:
            bad.append(f"lon/lat: {exc}")
            lon = lat = None
        if action in ("add", "move") and (lon is None or lat is None) and not bad:
            bad.append(f"{action} needs lon and lat")
        problems.extend(DataProblem(source, m, row=row_no, id=ident or None) for m in bad)
        if not bad:
            changes.append(
                Change(action, ident, lon, lat, row.get("kind") or None, row.get("name") or None)  # type: ignore[arg-type]
            )
    if problems:
        raise DataValidationError(problems)
    return changes


def read_scenario(path: str | Path) -> list[Change]:
    """Read a scenario CSV with columns ``action,id,lon,lat,kind,name`` (UTF-8, header required)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in ("action", "id") if c not in (reader.fieldnames or [])]
            if missing:
                raise DataValidationError([DataProblem(str(path), f"missing column(s) {', '.join(missing)}")])
            rows = list(reader)
    except OSError as exc:
        raise DataValidationError([DataProblem(str(path), f"cannot read scenario: {exc}")]) from exc
    return parse_changes(rows, source=str(path))


def apply_changes(
    facilities: gpd.GeoDataFrame,
    changes: Sequence[Change],
    inside: Callable[[float, float], bool] | None = None,
    source: str = "scenario",
) -> gpd.GeoDataFrame:
    """Apply ``changes`` in order to a places layer and return the new layer.

    ``add`` needs a new id; ``move`` and ``close`` an existing one. ``inside(lon, lat)`` (the service
    area check) refuses places outside Hanoi with `OutsideServiceArea`.
    """
    rows = {str(r["id"]): dict(r) for r in facilities.to_dict("records")}
    problems: list[DataProblem] = []
    for n, change in enumerate(changes, start=1):
        exists = change.id in rows
        if change.action == "add" and exists:
            problems.append(DataProblem(source, f"add: id {change.id!r} already exists", row=n, id=change.id))
            continue
        if change.action in ("move", "close") and not exists:
            message = f"{change.action}: no place with id {change.id!r}"
            problems.append(DataProblem(source, message, row=n, id=change.id))
            continue
        if change.action == "close":
            del rows[change.id]
            continue
        assert change.lon is not None and change.lat is not None
        if inside is not None and not inside(change.lon, change.lat):
            raise OutsideServiceArea(
                f"{source} row {n} ({change.action} {change.id}): lon={change.lon}, lat={change.lat} is outside Hanoi"
            )
        point = shapely.Point(change.lon, change.lat)
        if change.action == "move":
            rows[change.id].update(geometry=point, source="scenario:move")
        else:
            rows[change.id] = {
                "id": change.id,
                "name": change.name or change.id,
                "kind": change.kind or "intake_point",
                "source": "scenario:add",
                "geometry": point,
            }
    if problems:
        raise DataValidationError(problems)
    return facilities_frame(rows.values())


# ================================================================================== costs
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
        _, _, geo = _GEOD.inv(
            np.repeat(from_lonlat[todo, 0], k), np.repeat(from_lonlat[todo, 1], k),
            to_lonlat[pos.ravel(), 0], to_lonlat[pos.ravel(), 1],
        )
        geo = np.asarray(geo).reshape(len(todo), k)
        # The exact minimum (not the finder's centimetre-rounded key): adding a place never raises a cost.
        best = np.argmin(geo, axis=1)
        rows = np.arange(len(todo))
        dist[todo], idx[todo] = geo[rows, best], pos[rows, best]
        if k == m:
            break
        todo = todo[geo[rows, best] >= proj[:, -1] * _GEODESIC_OVER_PROJECTED_MIN]
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


# ================================================================================== results
@dataclass
class CoverageResult:
    """Coverage of one places layer: per-commune measures, city totals and the per-point costs."""

    label: str
    mode: str
    threshold: float
    unit: str
    facilities: gpd.GeoDataFrame
    communes: pd.DataFrame
    totals: dict[str, Any]
    points: PointCosts


@dataclass
class CoverageReport:
    """What a planner asked for: one result, or two to compare (pre-merger vs today, today vs scenario)."""

    procedure: dict[str, Any]
    mode: str
    threshold: float
    unit: str
    after: CoverageResult
    before: CoverageResult | None
    geometry: gpd.GeoSeries
    model: dict[str, Any]
    changes: list[Change] = field(default_factory=list)
    sites: Any = None  # geo.siting.SitingResult when new sites were asked for
    notes: list[str] = field(default_factory=list)
    network_extent: Any = None  # convex hull (EPSG:4326) of the road graph's nodes, network modes only

    @property
    def compare(self) -> str | None:
        """``before_after``, ``scenario`` or None."""
        if self.before is None:
            return None
        return "scenario" if self.after.label == "scenario" else "before_after"

    def table(self) -> pd.DataFrame:
        """One row per commune: the measures, and with a comparison ``*_before`` and ``delta_*`` columns."""
        table = self.after.communes.copy()
        if self.before is not None:
            before = self.before.communes.set_index("code")[_COMPARED].add_suffix("_before")
            table = table.join(before, on="code")
            for col in ("share", "covered_population", "mean_cost", "p90_cost"):
                table[f"delta_{col}"] = table[col] - table[f"{col}_before"]
        return table

    def frame(self) -> gpd.GeoDataFrame:
        """`table` with the commune polygons (EPSG:4326)."""
        return gpd.GeoDataFrame(self.table(), geometry=self.geometry.to_numpy(), crs=self.geometry.crs)

    def totals(self) -> dict[str, Any]:
        """City totals of ``after``, with ``before`` and deltas when comparing."""
        out = dict(self.after.totals)
        if self.before is not None:
            out["before"] = dict(self.before.totals)
            for key in ("share", "covered_population", "mean_cost", "p90_cost"):
                a, b = self.after.totals.get(key), self.before.totals.get(key)
                out[f"delta_{key}"] = None if a is None or b is None else _round(a - b, key)
        return out

    def to_json(self) -> dict[str, Any]:
        """The ``/v1/coverage`` body: query, model, totals and one record per commune (no geometry)."""
        labels = {"after": self.after.label, "before": None if self.before is None else self.before.label}
        records = [
            {k: _jsonable(v) for k, v in row.items()} for row in self.table().to_dict("records")
        ]
        return {
            "procedure": {k: _jsonable(self.procedure.get(k)) for k in ("code", "name", "level", "handled_at")},
            "mode": self.mode,
            "threshold": self.threshold,
            "unit": self.unit,
            "compare": self.compare,
            "labels": labels,
            "model": self.model,
            "facilities": {
                "after": len(self.after.facilities),
                "before": None if self.before is None else len(self.before.facilities),
            },
            "totals": {k: _jsonable(v) for k, v in self.totals().items()},
            "changes": [c.__dict__ for c in self.changes],
            "communes": records,
            "notes": self.notes,
        }


_COMPARED = [
    "covered_population", "share", "mean_cost", "p90_cost", "served_by", "served_by_name", "cost_basis",
    "network_share",
]


def _round(value: float, key: str) -> float:
    digits = 4 if "share" in key else 1
    return round(float(value), digits)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _weighted_p90(group: I64, cost: F64, weight: F64, n_groups: int) -> F64:
    """Per group, the smallest cost whose cumulative weight reaches 90 % of the group's weight."""
    out = np.full(n_groups, np.nan)
    if len(group) == 0:
        return out
    order = np.lexsort((cost, group))
    g, c, w = group[order], cost[order], weight[order]
    cum = np.cumsum(w)
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    ends = np.r_[starts[1:], len(g)]
    base = np.r_[0.0, cum][starts]
    totals = cum[ends - 1] - base
    for s, e, b, t, grp in zip(starts, ends, base, totals, g[starts], strict=True):
        if t <= 0:
            continue
        # The 1e-9 slack keeps an exact 90 % boundary (9 of 10 equal weights) on the lower point.
        j = s + int(np.searchsorted(cum[s:e] - b, 0.9 * t * (1 - 1e-9)))
        out[grp] = c[min(j, e - 1)]
    return out


# ================================================================================== engine
class CoverageEngine:
    """Coverage measures on one commune map: demand grid, cost per mode, before/after and scenarios.

    Parameters
    ----------
    communes
        The commune polygons (code, name, full_name, kind, population, geometry).
    index
        The built index, for procedures and today's / pre-merger places (optional for fixtures).
    networks
        ``mode -> RoadNetwork`` (e.g. `geo.service.Service.network`); needed for network modes.
    grid_m
        Demand grid spacing.
    speed_kmh
        Override the measured trip speed per network mode (straight-line fallback).
    """

    def __init__(
        self,
        communes: gpd.GeoDataFrame,
        index: Index | None = None,
        networks: Callable[[str], Any] | None = None,
        grid_m: float = DEFAULT_GRID_M,
        speed_kmh: Mapping[str, float] | None = None,
        cache_size: int = 16,
    ) -> None:
        self.communes = communes.reset_index(drop=True).to_crs(WGS84)
        self.index = index
        self._networks = networks
        self.grid_m = float(grid_m)
        self.speed_kmh = dict(speed_kmh or {})
        self._models: dict[str, NetworkModel] = {}
        self._cache: OrderedDict[tuple[Any, ...], CoverageReport] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @classmethod
    def from_index(cls, index: Index, networks: Callable[[str], Any] | None = None, **kwargs: Any) -> CoverageEngine:
        """An engine on the index's communes and places."""
        return cls(index.communes, index=index, networks=networks, **kwargs)

    @cached_property
    def demand(self) -> Demand:
        """The population grid (built once)."""
        return population_grid(self.communes, self.grid_m)

    @cached_property
    def _area(self) -> Any:
        outline = shapely.union_all(self.communes.geometry.to_numpy())
        shapely.prepare(outline)
        return outline

    @cached_property
    def _tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.communes.geometry.to_numpy())

    def commune_rows(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> I64:
        """Row of the commune covering each point (-1 outside; on a border, the first row)."""
        points = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        out = np.full(len(points), -1, dtype=np.int64)
        p, g = self._tree.query(points, predicate="intersects")
        order = np.lexsort((g, p))
        p, g = p[order], g[order]
        first = np.unique(p, return_index=True)[1]
        out[p[first]] = g[first]
        return out

    def inside(self, lon: float, lat: float) -> bool:
        """Whether (lon, lat) lies in one of the communes."""
        return bool(np.isfinite(lon) and np.isfinite(lat) and shapely.intersects_xy(self._area, lon, lat))

    # ------------------------------------------------------------------ inputs
    def procedure(self, query: str) -> dict[str, Any]:
        """The catalog row for a code or name (raises UnknownProcedure)."""
        if self.index is None:
            raise InvalidParameter("this coverage engine has no index: pass places explicitly")
        return dict(find_procedure(query, self.index.procedures))

    def network_model(self, mode: str) -> NetworkModel:
        """The prepared network of ``mode`` (loaded once)."""
        if mode not in self._models:
            if self._networks is None:
                raise InvalidParameter(f"mode={mode!r} needs a road network and none is configured")
            self._models[mode] = network_model(
                self._networks(mode), self.demand, mode, self.speed_kmh.get(mode)
            )
        return self._models[mode]

    @staticmethod
    def check(mode: str, threshold: float) -> str:
        """Validate mode and threshold; return the unit (``m`` for straight, ``min`` otherwise)."""
        if mode not in MODES:
            raise InvalidParameter(f"mode={mode!r} is not one of {', '.join(MODES)}")
        unit = "m" if mode == "straight" else "min"
        low, high = THRESHOLD_RANGE[unit]
        if not (np.isfinite(threshold) and low <= threshold <= high):
            raise InvalidParameter(
                f"threshold={threshold} {unit} is out of range ({low:g}..{high:g} {unit}) for {mode}"
            )
        return unit

    # ------------------------------------------------------------------ costs
    def costs(self, facilities: gpd.GeoDataFrame, mode: str) -> PointCosts:
        """Cost of every demand point to its nearest place: metres (straight) or seconds (network)."""
        d = self.demand
        d_xy, d_ll = np.column_stack([d.x, d.y]), np.column_stack([d.lon, d.lat])
        f_ll = shapely.get_coordinates(facilities.geometry.to_numpy()) if len(facilities) else np.empty((0, 2))
        f_xy = to_metric(f_ll[:, 0], f_ll[:, 1]) if len(f_ll) else np.empty((0, 2))
        if mode == "straight":
            dist, src = nearest_geodesic(d_xy, d_ll, f_xy, f_ll)
            return PointCosts(dist, src, np.zeros(len(d), dtype=bool))
        from geo.network import Candidate

        model = self.network_model(mode)
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

    # ------------------------------------------------------------------ measures
    def measure(
        self, facilities: gpd.GeoDataFrame, mode: str, threshold: float, label: str = "today"
    ) -> CoverageResult:
        """Coverage of ``facilities`` within ``threshold`` (m for straight, minutes otherwise)."""
        unit = self.check(mode, threshold)
        facilities = facilities_frame(facilities.to_dict("records"))
        pc = self.costs(facilities, mode)
        scale = 1.0 if unit == "m" else 1 / 60.0
        cost = pc.cost * scale
        d, n = self.demand, len(self.communes)
        w, g = d.weight, d.commune
        covered = cost <= threshold
        pop = np.bincount(g, w, minlength=n).astype(float)
        cov_pop = np.bincount(g, w * covered, minlength=n)
        finite = np.isfinite(cost)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(pop > 0, cov_pop / pop, 0.0)
            mean = np.bincount(g, w * np.where(finite, cost, 0.0), minlength=n) / pop
            net_share = np.bincount(g, w * pc.on_network, minlength=n) / pop
        all_finite = np.bincount(g, ~finite, minlength=n) == 0
        mean = np.where(all_finite & (pop > 0), mean, np.nan)
        p90 = np.where(all_finite, _weighted_p90(g, cost, w, n), np.nan)
        served, served_share = self._served_by(g, pc.source, w, pop, n)
        ids, names = facilities["id"].to_numpy(dtype=object), facilities["name"].to_numpy(dtype=object)
        if mode == "straight":
            basis = np.full(n, BASIS_STRAIGHT, dtype=object)
        else:
            basis = np.where(
                net_share >= 1 - 1e-9, BASIS_NETWORK, np.where(net_share <= 1e-9, BASIS_STRAIGHT_CIRCUITY, BASIS_MIXED)
            )
        c = self.communes
        table = pd.DataFrame(
            {
                "code": c["code"].astype(str).to_numpy(),
                "name": c["name"].to_numpy(),
                "full_name": c["full_name"].to_numpy() if "full_name" in c else c["name"].to_numpy(),
                "kind": c["kind"].to_numpy() if "kind" in c else None,
                "population": np.round(pop).astype(np.int64),
                "demand_points": np.bincount(g, minlength=n),
                "covered_population": np.round(cov_pop).astype(np.int64),
                "share": np.round(share, 4),
                "mean_cost": np.round(mean, 1),
                "p90_cost": np.round(p90, 1),
                "unit": unit,
                "served_by": [ids[s] if s >= 0 else None for s in served],
                "served_by_name": [names[s] if s >= 0 else None for s in served],
                "served_share": np.round(served_share, 4),
                "cost_basis": basis,
                "network_share": np.round(np.nan_to_num(net_share), 4),
            }
        )
        total_pop = float(w.sum())
        all_ok = bool(finite.all()) and len(cost) > 0
        city_p90 = float(_weighted_p90(np.zeros(len(cost), np.int64), cost, w, 1)[0]) if all_ok else None
        totals = {
            "population": round(total_pop),
            "covered_population": round(float((w * covered).sum())),
            "share": round(float((w * covered).sum() / total_pop), 4) if total_pop else 0.0,
            "mean_cost": round(float((w * cost).sum() / total_pop), 1) if all_ok and total_pop else None,
            "p90_cost": None if city_p90 is None else round(city_p90, 1),
            "unit": unit,
            "communes": n,
            "communes_fully_covered": int((share >= 0.9999).sum()),
            "communes_under_half": int((share < 0.5).sum()),
            "places": len(facilities),
            "network_share": round(float((w * pc.on_network).sum() / total_pop), 4) if total_pop else 0.0,
        }
        return CoverageResult(label, mode, float(threshold), unit, facilities, table, totals, pc)

    @staticmethod
    def _served_by(g: I64, source: I64, w: F64, pop: F64, n: int) -> tuple[I64, F64]:
        """Per commune, the place serving most of its population (ties: lowest place row)."""
        served = np.full(n, -1, dtype=np.int64)
        share = np.zeros(n)
        ok = source >= 0
        if not ok.any():
            return served, share
        frame = pd.DataFrame({"g": g[ok], "s": source[ok], "w": w[ok]}).groupby(["g", "s"], sort=True)["w"].sum()
        best = frame.reset_index().sort_values(["g", "w", "s"], ascending=[True, False, True]).drop_duplicates("g")
        served[best["g"].to_numpy()] = best["s"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            share[best["g"].to_numpy()] = best["w"].to_numpy() / pop[best["g"].to_numpy()]
        return served, np.nan_to_num(share)

    def model_info(self, mode: str) -> dict[str, Any]:
        """How demand and cost were modelled (for the JSON body and the outputs' captions)."""
        info: dict[str, Any] = {
            "population": (
                f"commune population spread evenly over a {self.grid_m:g} m grid clipped to each commune "
                f"({len(self.demand)} points)"
            ),
            "grid_m": self.grid_m,
            "demand_points": len(self.demand),
        }
        if mode == "straight":
            info["cost"] = "geodesic straight-line distance to the nearest place (m)"
        else:
            m = self.network_model(mode)
            info.update(
                cost=(
                    f"{mode} travel time (min): road network where the graph reaches, else straight line x "
                    f"circuity {m.circuity:.3f} / {m.speed_mps * 3.6:.1f} km/h"
                ),
                circuity=round(m.circuity, 4),
                fallback_speed_kmh=round(m.speed_mps * 3.6, 2),
                demand_points_on_network=len(m.snapped),
                attribution=_osm_attribution(),
            )
        return info

    # ------------------------------------------------------------------ the planner's question
    def report(
        self,
        procedure: Mapping[str, Any],
        after: CoverageResult,
        before: CoverageResult | None = None,
        changes: Sequence[Change] = (),
        notes: Sequence[str] = (),
    ) -> CoverageReport:
        """Bundle measured results (see `measure`) into a report for output and JSON."""
        if before is not None and (before.mode, before.threshold) != (after.mode, after.threshold):
            raise InvalidParameter("before and after must be measured with the same mode and threshold")
        return CoverageReport(
            procedure=dict(procedure), mode=after.mode, threshold=after.threshold, unit=after.unit, after=after,
            before=before, geometry=self.communes.geometry, model=self.model_info(after.mode),
            changes=list(changes), notes=list(notes),
            network_extent=None if after.mode == "straight" else shapely.convex_hull(
                shapely.multipoints(self.network_model(after.mode).network.nodes_lonlat)
            ),
        )

    def run(
        self,
        procedure: str,
        mode: str = "straight",
        threshold: float = 2_000.0,
        compare: str | None = None,
        changes: Sequence[Change] = (),
        progress: Callable[[str], None] | None = None,
    ) -> CoverageReport:
        """Coverage of ``procedure`` today, against the pre-merger network or against a scenario.

        Parameters
        ----------
        procedure
            Code or name.
        mode, threshold
            ``straight`` with metres, or ``walk``/``motorbike``/``car`` with minutes.
        compare
            ``"before_after"``: pre-merger (before) vs today (after). Ignored when ``changes`` are given.
        changes
            A scenario: today (before) vs today with the changes (after).
        progress
            Called with a short message at each step.
        """
        self.check(mode, threshold)
        if compare not in (None, "", "before_after"):
            raise InvalidParameter(f"compare={compare!r}: the only comparison is 'before_after'")
        if compare and changes:
            raise InvalidParameter("compare=before_after and a scenario cannot be combined; run them separately")
        proc = self.procedure(procedure)
        key = (proc["code"], mode, float(threshold), compare or None, tuple(changes))
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        say = progress or (lambda _msg: None)
        assert self.index is not None
        today = today_facilities(self.index, proc)
        notes: list[str] = []
        if len(today) == 0:
            notes.append("no place in Hanoi handles this procedure in person: coverage is 0 everywhere")
        say("population grid")
        _ = self.demand
        if mode != "straight":
            say(f"{mode} network")
            self.network_model(mode)
        before: CoverageResult | None = None
        if changes:
            say("today")
            before = self.measure(today, mode, threshold, "today")
            say("scenario")
            after = self.measure(apply_changes(today, changes, self.inside), mode, threshold, "scenario")
        else:
            say("today")
            after = self.measure(today, mode, threshold, "today")
            if compare:
                say("pre-merger network")
                before = self.measure(before_facilities(self.index, proc), mode, threshold, "pre-merger")
                if "commune_center" not in str(proc.get("handled_at") or ""):
                    notes.append("not a commune-level procedure: the pre-merger network is the branches only")
                notes.append("former commune offices are the legacy units' geocoded points, not surveyed offices")
        report = self.report(proc, after, before, changes, notes)
        with self._lock:
            self._cache[key] = report
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return report


def _osm_attribution() -> str:
    from geo.network import OSM_ATTRIBUTION

    return str(OSM_ATTRIBUTION)
