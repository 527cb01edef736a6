"""Coverage for planners: which share of each commune's population lives within reach of a capable place.

`CoverageEngine` holds one commune map and answers the planner's question: coverage of a procedure's
places today, against the pre-merger network (``before_after``) or against a scenario, per commune
(share, covered population, mean and 90th-percentile cost, the place serving most people, the cost
basis) and for the city. Results are cached per question (LRU), and the engine is safe to share
between threads.

A what-if is answered without measuring everything again: the per-point costs of a places layer are
cached, and a layer that is a cached one plus a few places (a site added or moved on the planner's
page) takes the cached costs and one cost column per extra place (`geo.coverage.costs.place_column`,
itself cached), which is exactly what a full computation gives (`tests/coverage/test_planner_api.py`).

The pieces it puts together each have their own module, because each is used on its own too:

* `geo.coverage.demand`: the population grid (the same for every mode, network and scenario);
* `geo.coverage.costs`: the cost model per mode (geodesic metres, or network minutes with the
  straight-line x circuity fallback), shared with the MCLP;
* `geo.coverage.scenarios`: the places measured (today, pre-merger, a scenario's edits).

This module keeps what turns costs into answers: thresholds, per-commune and city measures
(`CoverageResult`), the comparison and its JSON (`CoverageReport`). Maps, tables and files of a report:
`geo.coverage.maps`. New sites (MCLP): `geo.coverage.siting`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from geo.coverage.costs import (
    BASIS_MIXED,
    BASIS_NETWORK,
    BASIS_STRAIGHT,
    BASIS_STRAIGHT_CIRCUITY,
    NetworkModel,
    PointCosts,
    add_places,
    network_model,
    place_column,
    point_costs,
)
from geo.coverage.demand import DEFAULT_GRID_M, F64, I64, Demand, population_grid
from geo.coverage.scenarios import Change, apply_changes, before_facilities, facilities_frame, today_facilities
from geo.errors import InvalidParameter
from geo.geodesy import WGS84
from geo.index import Index
from geo.modes import TRAVEL_MODES
from geo.registry import find_procedure

__all__ = [
    "CITY_TARGETS",
    "DEFAULT_THRESHOLD",
    "MAX_SITES",
    "THRESHOLD_RANGE",
    "CoverageEngine",
    "CoverageReport",
    "CoverageResult",
]

THRESHOLD_RANGE = {"m": (10.0, 100_000.0), "min": (0.5, 300.0)}
DEFAULT_THRESHOLD = {"straight": 2_000.0, "walk": 15.0, "motorbike": 15.0, "car": 15.0}
# The city's stated target for its service network: a place within 30 minutes' travel or 5 km.
CITY_TARGETS = {"straight": 5_000.0, "walk": 30.0, "motorbike": 30.0, "car": 30.0}
MAX_SITES = 20  # new sites one siting question may ask for (geo.coverage.siting)
MAX_EXTRA_PLACES = 16  # a what-if adding more places than this on top of a cached layer is computed in full
COLUMN_CACHE_SIZE = 64  # per-place cost columns kept (about 0.5 MB each on the 250 m grid)


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
    sites: Any = None  # geo.coverage.siting.SitingResult when new sites were asked for
    notes: list[str] = field(default_factory=list)
    network_extent: Any = None  # convex hull (EPSG:4326) of the road graph's nodes, network modes only
    boundary_set: str | None = None  # the commune map's id (None: the configured default set)

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
            "places": _places_json(self.after),
            "communes": records,
            "notes": self.notes,
        }


_COMPARED = [
    "covered_population", "share", "mean_cost", "p90_cost", "served_by", "served_by_name", "cost_basis",
    "network_share",
]


def _layer_key(facilities: gpd.GeoDataFrame) -> frozenset[tuple[str, float, float]]:
    """A places layer as a set of (id, lon, lat): what its costs depend on."""
    xy = shapely.get_coordinates(facilities.geometry.to_numpy()) if len(facilities) else np.empty((0, 2))
    return frozenset(
        (str(ident), float(lon), float(lat)) for ident, (lon, lat) in zip(facilities["id"], xy, strict=True)
    )


def _places_json(result: CoverageResult) -> list[dict[str, Any]]:
    """The places measured, with the population each one serves (its nearest-place catchment)."""
    f = result.facilities
    xy = shapely.get_coordinates(f.geometry.to_numpy()) if len(f) else np.empty((0, 2))
    served = f["served_population"] if "served_population" in f else np.zeros(len(f), dtype=np.int64)
    return [
        {"id": str(ident), "name": str(name), "kind": str(kind), "source": str(source),
         "lon": round(float(x), 6), "lat": round(float(y), 6), "served_population": int(people)}
        for ident, name, kind, source, (x, y), people in zip(
            f["id"], f["name"], f["kind"], f["source"], xy, served, strict=True
        )
    ]


def _relabel(costs: PointCosts, rows: I64) -> PointCosts:
    """``costs`` with each source row ``r`` renamed ``rows[r]`` (-1, no place, stays -1)."""
    source = np.where(costs.source >= 0, rows[np.maximum(costs.source, 0)], -1)
    return PointCosts(costs.cost, source, costs.on_network)


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
        self._costs: OrderedDict[tuple[str, frozenset[tuple[str, float, float]]], PointCosts] = OrderedDict()
        self._columns: OrderedDict[tuple[str, float, float], tuple[F64, Any]] = OrderedDict()
        self._measures: OrderedDict[tuple[Any, ...], CoverageResult] = OrderedDict()
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
        if mode not in TRAVEL_MODES:
            raise InvalidParameter(f"mode={mode!r} is not one of {', '.join(TRAVEL_MODES)}")
        unit = "m" if mode == "straight" else "min"
        low, high = THRESHOLD_RANGE[unit]
        if not (np.isfinite(threshold) and low <= threshold <= high):
            raise InvalidParameter(
                f"threshold={threshold} {unit} is out of range ({low:g}..{high:g} {unit}) for {mode}"
            )
        return unit

    # ------------------------------------------------------------------ costs
    def costs(self, facilities: gpd.GeoDataFrame, mode: str) -> PointCosts:
        """Cost of every demand point to its nearest place: metres (straight) or seconds (network).

        Costs are cached per places layer. A layer that holds a cached one plus a few places (a what-if
        that adds or moves a site) is answered from the cached costs and one column per extra place
        (`geo.coverage.costs.place_column`, cached per place); anything else is computed in full.
        """
        model = None if mode == "straight" else self.network_model(mode)
        layer = _layer_key(facilities)
        # Cached sources count places in sorted (id, lon, lat) order; the caller's rows may differ.
        ordered = sorted(layer)
        rows = {str(ident): row for row, ident in enumerate(facilities["id"])}
        to_rows = np.array([rows[ident] for ident, _, _ in ordered] or [0], dtype=np.int64)
        with self._lock:
            canonical = self._costs.get((mode, layer))
            if canonical is not None:
                self._costs.move_to_end((mode, layer))
            bases = [(key, pc) for (m, key), pc in self._costs.items() if m == mode and key < layer]
        if canonical is None:
            base = min(bases, key=lambda kv: len(layer - kv[0]), default=None)
            if base is not None and len(layer - base[0]) <= MAX_EXTRA_PLACES:
                canonical = self._extend(ordered, base[0], base[1], layer - base[0], model, mode)
            else:
                position = {place: i for i, place in enumerate(ordered)}
                to_canonical = np.array(
                    [position[(str(i), float(x), float(y))] for i, (x, y) in zip(
                        facilities["id"], shapely.get_coordinates(facilities.geometry.to_numpy()), strict=True
                    )] or [0],
                    dtype=np.int64,
                )
                full = point_costs(self.demand, facilities, model)
                canonical = _relabel(full, to_canonical)
            with self._lock:
                self._costs[(mode, layer)] = canonical
                while len(self._costs) > self._cache_size:
                    self._costs.popitem(last=False)
        return _relabel(canonical, to_rows)

    def _extend(
        self,
        ordered: list[tuple[str, float, float]],
        base_layer: frozenset[tuple[str, float, float]],
        base: PointCosts,
        extra: frozenset[tuple[str, float, float]],
        model: NetworkModel | None,
        mode: str,
    ) -> PointCosts:
        """Costs of the layer ``ordered`` from the cached costs of a subset and one column per extra place."""
        position = {place: i for i, place in enumerate(ordered)}
        base_rows = np.array([position[place] for place in sorted(base_layer)] or [0], dtype=np.int64)
        columns = [(position[place], *self._column(place[1], place[2], model, mode)) for place in sorted(extra)]
        return add_places(_relabel(base, base_rows), columns)

    def _column(self, lon: float, lat: float, model: NetworkModel | None, mode: str) -> tuple[F64, Any]:
        key = (mode, lon, lat)
        with self._lock:
            hit = self._columns.get(key)
            if hit is not None:
                self._columns.move_to_end(key)
                return hit
        column = place_column(self.demand, lon, lat, model)
        with self._lock:
            self._columns[key] = column
            while len(self._columns) > COLUMN_CACHE_SIZE:
                self._columns.popitem(last=False)
        return column

    # ------------------------------------------------------------------ measures
    def measure(
        self, facilities: gpd.GeoDataFrame, mode: str, threshold: float, label: str = "today"
    ) -> CoverageResult:
        """Coverage of ``facilities`` within ``threshold`` (m for straight, minutes otherwise).

        Results are cached per (mode, threshold, label, places layer): a what-if measures today's layer
        once, then only the scenario's.
        """
        unit = self.check(mode, threshold)
        facilities = facilities_frame(facilities.to_dict("records"))
        key = (mode, float(threshold), label, _layer_key(facilities))
        with self._lock:
            hit = self._measures.get(key)
            if hit is not None:
                self._measures.move_to_end(key)
                return hit
        result = self._measure(facilities, mode, float(threshold), unit, label)
        with self._lock:
            self._measures[key] = result
            while len(self._measures) > self._cache_size:
                self._measures.popitem(last=False)
        return result

    def _measure(
        self, facilities: gpd.GeoDataFrame, mode: str, threshold: float, unit: str, label: str
    ) -> CoverageResult:
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
        # Honest figures: the share of people whose cost is an estimate (straight line x circuity), not a
        # road-network time. Straight mode measures the straight line itself, so nothing is modelled there.
        modelled = 0.0 if mode == "straight" else float((w * (finite & ~pc.on_network)).sum())
        totals["modelled_population"] = round(modelled)
        totals["modelled_share"] = round(modelled / total_pop, 4) if total_pop else 0.0
        ok = pc.source >= 0
        facilities["served_population"] = np.round(
            np.bincount(pc.source[ok], w[ok], minlength=len(facilities))
        ).astype(np.int64)
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
        info["sentence"] = self.model_sentence(mode)
        return info

    def model_sentence(self, mode: str) -> dict[str, str]:
        """How the cost is modelled, in one sentence: ``{"vi": ..., "en": ...}``."""
        if mode == "straight":
            return {
                "vi": "Khoảng cách là đường chim bay (đường thẳng trên mặt đất) từ nơi ở tới điểm gần nhất, "
                "không theo đường phố.",
                "en": "Distance is the straight line over the ground from home to the nearest place, not along "
                "the streets.",
            }
        m = self.network_model(mode)
        circuity, speed = f"{m.circuity:.2f}", f"{m.speed_mps * 3.6:.1f}"
        word = {"walk": "đi bộ", "motorbike": "đi xe máy", "car": "đi ô tô"}.get(mode, mode)
        return {
            "vi": f"Thời gian {word} đo trên mạng đường OpenStreetMap nơi có dữ liệu đường; ở nơi khác được ước tính "
            f"bằng khoảng cách đường chim bay × hệ số đường vòng {circuity.replace('.', ',')} chia cho tốc độ "
            f"{speed.replace('.', ',')} km/h.",
            "en": f"{mode.capitalize()} time is measured on the OpenStreetMap road network where the graph reaches; "
            f"elsewhere it is estimated as straight-line distance × circuity {circuity} at {speed} km/h.",
        }

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
            boundary_set=(self.index.boundary_set or None) if self.index is not None else None,
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
