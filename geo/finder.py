"""The embedded engine: nearest capable (and preferably open) service points, single and batch.

The rule is `geo.ranking`'s: key ``(class, distance_m rounded to the centimetre, id)``, open places
first, the first ``k`` keys win, found by `geo.ranking.rank_nearest` with its exact early stop. What this
module adds is the candidate source: it orders the capable points of a procedure by ``(class, projected
distance)`` on UTM 48N coordinates (a numpy scan for the small sets Hanoi has, a KD-tree past
`SCAN_MAX_POINTS`) and measures the geodesic (WGS 84) distance of the first few. The point table comes
from `geo.catalog.Catalog`, which the PostGIS backend builds from too.

Shared names (`STATE_RANK`, `Match`, `NearestResult`, `PointStates`, ...) are importable from here for
older callers; their home is `geo.ranking` and `geo.catalog`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np
import shapely
from scipy.spatial import cKDTree

from geo.boundaries import CommuneLocator
from geo.catalog import SERVICE_AREA_BUFFER_M, Catalog, PointStates, check_location
from geo.geodesy import GEOD, TO_METRIC
from geo.hours import Calendar, OpeningState, ensure_aware
from geo.index import Index
from geo.ranking import (
    GEODESIC_OVER_PROJECTED_MIN,
    MAX_ENGINE_K,
    STATE_RANK,
    Candidates,
    Match,
    NearestResult,
    Ranked,
    build_result,
    check_k,
    rank_key,
    rank_nearest,
    rank_order,
    settles,
    top_k,
)

__all__ = [
    "MAX_ENGINE_K",
    "SCAN_MAX_POINTS",
    "STATE_RANK",
    "Finder",
    "Match",
    "NearestResult",
    "PointStates",
]

# Below this many capable points a numpy scan beats a KD-tree query (scripts/bench.py nearest --scan-sweep).
SCAN_MAX_POINTS = 512
# pyproj answers one pair without array set-up in about 1/20 of an array call: loop up to this many.
_SCALAR_GEODESIC_MAX = 32
# Sort key stride that puts every class before the next (Hanoi distances are far below 1e7 m).
_CLASS_STRIDE_M = 1e7
_GEOD = GEOD  # the hot path reads module globals
_TO_METRIC = TO_METRIC


@dataclass(frozen=True)
class _Scan:
    """One procedure's capable points at one combination of opening classes, laid out for a numpy scan.

    Lists are in capable-row order; positions index all of them.
    """

    ranks: np.ndarray  # the class array it was made for (held so its id() stays unique)
    rows: list[int]
    rank: list[int]
    ids: list[str]
    lon: list[float]
    lat: list[float]
    xy: np.ndarray  # projected coordinates as x + iy: one subtraction and one abs() give the distances
    class_offset_m: np.ndarray  # class × stride: sorting distance + offset sorts by (class, distance)
    one_class: bool

    @classmethod
    def of(cls, capable: np.ndarray, finder: Finder, ranks: np.ndarray) -> _Scan:
        rank = ranks[capable]
        return cls(
            ranks=ranks,
            rows=capable.tolist(),
            rank=rank.tolist(),
            ids=finder.ids[capable].tolist(),
            lon=finder.lon[capable].tolist(),
            lat=finder.lat[capable].tolist(),
            xy=finder.xy[capable, 0] + 1j * finder.xy[capable, 1],
            class_offset_m=rank * _CLASS_STRIDE_M,
            one_class=len(set(rank.tolist())) <= 1,
        )

    def batch(self, lon: float, lat: float, order: np.ndarray, projected: np.ndarray, want: int) -> Candidates:
        """The first ``want`` points of ``order`` (positions by class and distance) as candidates."""
        # One more than wanted is read, not measured: the first point left out is the frontier.
        taken = order[: want + 1].tolist()
        exhausted = len(taken) <= want
        frontier = -1 if exhausted else taken.pop()
        return Candidates(
            ranked=self.entries(lon, lat, taken),
            frontier_m=math.inf if exhausted else float(projected[frontier]),
            frontier_rank=len(STATE_RANK) if exhausted else self.rank[frontier],
            exhausted=exhausted,
        )

    def entries(self, lon: float, lat: float, positions: list[int]) -> list[Ranked]:
        """The points at ``positions`` ranked from (lon, lat): `rank_key`, row and geodesic distance of each."""
        rank, ids, rows, lons, lats = self.rank, self.ids, self.rows, self.lon, self.lat
        if len(positions) > _SCALAR_GEODESIC_MAX:
            n = len(positions)
            _, _, far = _GEOD.inv(np.full(n, lon), np.full(n, lat), np.take(lons, positions), np.take(lats, positions))
            return [(rank_key(rank[i], d, ids[i]), rows[i], d) for i, d in zip(positions, far.tolist(), strict=True)]
        inv, out = _GEOD.inv, []
        for i in positions:  # the hot path of every query: one loop
            d = inv(lon, lat, lons[i], lats[i])[2]
            out.append((rank_key(rank[i], d, ids[i]), rows[i], d))
        return out


class Finder:
    """Nearest-service-point engine over a built `Index`, in memory (a `geo.service.Backend`)."""

    name = "embedded"
    does_io = False  # answers from memory: the API runs its queries inline

    def __init__(self, index: Index, calendar: Calendar | None = None, *, shared_from: Finder | None = None) -> None:
        # ``shared_from``: a Finder on the same communes (an index whose points alone changed, e.g. staff
        # changes laid over it); its commune locator and service area are reused (0.8 s of the 1.2 s).
        catalog = Catalog.from_index(index, calendar)
        self.catalog = catalog
        self.index = index
        self.calendar = catalog.calendar
        self.points = catalog.points
        self.ids = catalog.ids
        self.lon = catalog.lon
        self.lat = catalog.lat
        x, y = _TO_METRIC.transform(self.lon, self.lat)
        self.xy = np.column_stack([x, y])
        self.procedures = catalog.procedures
        # The catalog's own objects, bound here: the hot path reads them without one more lookup.
        self._states = catalog.states
        self._procedure_memo = catalog.procedure_memo
        self._commune_records = catalog.commune_records
        self._trees: dict[str, cKDTree] = {}
        self._scan_of: dict[tuple[str, int], _Scan] = {}
        if shared_from is not None:
            self.locator: CommuneLocator = shared_from.locator
            self._service_area: shapely.Geometry = shared_from._service_area
            return
        self.locator = CommuneLocator(index.communes)
        metric_outline = shapely.transform(
            self.locator.outline, lambda c: np.column_stack(_TO_METRIC.transform(c[:, 0], c[:, 1]))
        )
        self._service_area = shapely.buffer(metric_outline, SERVICE_AREA_BUFFER_M)
        shapely.prepare(self._service_area)

    # ------------------------------------------------------------------ lookups
    def procedure(self, query: str) -> dict[str, Any]:
        """The catalog row for a procedure code or name (diacritics optional); raises UnknownProcedure."""
        found = self._procedure_memo.get(query.strip())
        return self.catalog.procedure(query) if found is None else found

    def capable_rows(self, code: str) -> np.ndarray:
        """Row positions of the service points that handle procedure ``code``."""
        return self.catalog.capable_rows(code)

    def health(self) -> dict[str, str]:
        """Nothing to report beyond the index (``{}``): the engine has no part that can go down."""
        return {}

    def commune_at(self, lon: float, lat: float) -> dict[str, Any] | None:
        """The commune (code, name, kind, ...) that covers the point, or None."""
        return self._commune_record(self.locator.commune_at(lon, lat))

    def _commune_record(self, row: int | None) -> dict[str, Any] | None:
        return None if row is None else dict(self._commune_records[row])

    def check_location(self, lon: float, lat: float) -> None:
        """Refuse coordinates outside Hanoi; say so when lat and lon look swapped."""
        check_location(lon, lat, self._inside)

    def _inside(self, lon: float, lat: float) -> bool:
        x, y = _TO_METRIC.transform(lon, lat)
        return bool(shapely.contains_xy(self._service_area, x, y))

    # ------------------------------------------------------------------ states
    def states_at(self, at: datetime) -> tuple[list[OpeningState], np.ndarray]:
        """Opening state of every point at ``at``: the distinct states and each point's class rank."""
        return self._states.states_at(at)

    def state_of(self, row: int, at: datetime) -> OpeningState:
        """Opening state of the point at ``row``."""
        return self._states.state_of(row, at)

    def _tree(self, code: str) -> cKDTree:
        tree = self._trees.get(code)
        if tree is None:
            tree = self._trees[code] = cKDTree(self.xy[self.capable_rows(code)])
        return tree

    # ------------------------------------------------------------------ nearest
    def nearest(
        self,
        lon: float,
        lat: float,
        procedure: str,
        at: datetime,
        k: int = 3,
        open_only: bool = False,
    ) -> NearestResult:
        """Rank the ``k`` nearest service points that handle ``procedure``, open ones first.

        Parameters
        ----------
        lon, lat
            Origin in WGS 84 degrees; must lie in Hanoi.
        procedure
            Procedure code (``1.001193``) or name.
        at
            Time of the visit, timezone-aware (Asia/Ho_Chi_Minh is the local zone).
        k
            How many places to return, 1 to ``max_k``.
        open_only
            Return only places open at ``at``.
        """
        commune = self.locator.commune_at(lon, lat)
        if commune is None:  # inside a commune is inside the service area: only the rest needs the check
            self.check_location(lon, lat)
        check_k(k)
        at = ensure_aware(at)
        proc = self.procedure(procedure)
        distinct, ranks = self._states.states_at(at)
        capable = self.capable_rows(proc["code"])
        ranked = self._ranked(lon, lat, proc["code"], capable, ranks, k, open_only)
        key = self._states.key_list
        return build_result(
            lon=lon,
            lat=lat,
            at=at,
            k=k,
            open_only=open_only,
            procedure=proc,
            ranked=ranked,
            states=[distinct[key[row]] for _, row, _ in ranked],
            capable_count=len(capable),
            origin_commune=self._commune_record(commune),
        )

    def _ranked(
        self, lon: float, lat: float, code: str, capable: np.ndarray, ranks: np.ndarray, k: int, open_only: bool
    ) -> list[Ranked]:
        if len(capable) == 0:
            return []
        x, y = _TO_METRIC.transform(lon, lat)
        scan = self._scan_of.get((code, id(ranks)))
        if scan is None or scan.ranks is not ranks:
            scan = self._scan_of[(code, id(ranks))] = _Scan.of(capable, self, ranks)
        if len(capable) > SCAN_MAX_POINTS:
            return rank_nearest(self._tree_fetch(code, scan, lon, lat, x, y), k, open_only)
        # Positions in (class, projected distance) order. Operators and methods, not np.abs / np.argsort:
        # numpy's function dispatch costs more than the work on a hundred points.
        projected = abs(scan.xy - complex(x, y))
        order = (projected if scan.one_class else projected + scan.class_offset_m).argsort(kind="stable")
        # The scan knows the first point it leaves out, so k measured points usually settle the answer;
        # rank_nearest takes over (with the same rule) only when they do not.
        batch = scan.batch(lon, lat, order, projected, k)
        keyed = top_k(batch.ranked, k, open_only)
        if settles(keyed, batch, k, open_only):
            return keyed
        return rank_nearest(lambda want: scan.batch(lon, lat, order, projected, want), k, open_only, first=4 * k)

    def _tree_fetch(
        self, code: str, scan: _Scan, lon: float, lat: float, x: float, y: float
    ) -> Callable[[int], Candidates]:
        """Candidates in projected distance order (any class) from the procedure's KD-tree."""
        tree, n = self._tree(code), len(scan.rows)

        def fetch(want: int) -> Candidates:
            # The tree is built on the capable points in the scan's order: its positions are the scan's.
            proj, pos = tree.query((x, y), k=min(n, want))
            return Candidates(
                ranked=scan.entries(lon, lat, np.atleast_1d(pos).tolist()),
                frontier_m=float(np.atleast_1d(proj)[-1]),
                exhausted=want >= n,
            )

        return fetch

    def nearest_many(
        self,
        lons: Sequence[float] | np.ndarray,
        lats: Sequence[float] | np.ndarray,
        procedure: str,
        at: datetime,
        k: int = 3,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Batch form of `nearest` for one procedure and time: ``(ids [n, k], distance_m [n, k])``.

        Rows with fewer than ``k`` capable points are padded with ``""`` and ``nan``. Origins are not
        checked against the service area here; callers validate them.
        """
        lons = np.asarray(lons, dtype=float)
        lats = np.asarray(lats, dtype=float)
        code = self.procedure(procedure)["code"]
        capable = self.capable_rows(code)
        n_out = len(lons)
        out_ids = np.full((n_out, k), "", dtype=object)
        out_dist = np.full((n_out, k), np.nan)
        if len(capable) == 0 or n_out == 0:
            return out_ids, out_dist
        _, ranks = self.states_at(at)
        x, y = _TO_METRIC.transform(lons, lats)
        origins = np.column_stack([x, y])
        take = min(len(capable), k + 4)
        # Per class: a tree over the capable points of that class, so a query never has to skip any.
        cand_rows, cand_proj = [], []
        remaining = k
        for rank in sorted(set(ranks[capable].tolist())):
            members = capable[ranks[capable] == rank]
            t = min(len(members), take)
            proj, pos = cKDTree(self.xy[members]).query(origins, k=t, workers=-1)
            proj, pos = proj.reshape(n_out, t), pos.reshape(n_out, t)
            cand_rows.append((members[pos], rank, t == len(members)))
            cand_proj.append(proj)
            remaining -= len(members)
            if remaining <= 0:
                break
        rows_all = np.concatenate([c[0] for c in cand_rows], axis=1)
        ranks_all = ranks[rows_all]
        _, _, geo = _GEOD.inv(
            np.repeat(lons, rows_all.shape[1]),
            np.repeat(lats, rows_all.shape[1]),
            self.lon[rows_all].ravel(),
            self.lat[rows_all].ravel(),
        )
        geo = np.asarray(geo).reshape(rows_all.shape)
        ids_all = self.ids[rows_all]
        # Sort each row by (rank, distance in cm, id) in one vectorised pass.
        order = rank_order(ranks_all, geo, ids_all, axis=1)[:, :k]
        picked = np.take_along_axis(rows_all, order, axis=1)
        picked_geo = np.take_along_axis(geo, order, axis=1)
        width = picked.shape[1]
        out_ids[:, :width] = self.ids[picked]
        out_dist[:, :width] = picked_geo
        # Rows where the per-class candidate lists may have been too short are redone exactly.
        exact = np.ones(n_out, dtype=bool)
        for (_, rank, complete), proj in zip(cand_rows, cand_proj, strict=True):
            if complete:
                continue
            bound = proj[:, -1] * GEODESIC_OVER_PROJECTED_MIN
            in_class = ranks[picked] == rank
            last_geo = np.where(in_class, picked_geo, -np.inf).max(axis=1)
            exact &= ~in_class.any(axis=1) | (last_geo < bound)
        for i in np.flatnonzero(~exact):
            ranked = self._ranked(float(lons[i]), float(lats[i]), code, capable, ranks, k, False)
            out_ids[i, :] = ""
            out_dist[i, :] = np.nan
            out_ids[i, : len(ranked)] = [key[2] for key, _, _ in ranked]
            out_dist[i, : len(ranked)] = [d for _, _, d in ranked]
        return out_ids, out_dist

    @cached_property
    def bbox(self) -> tuple[float, float, float, float]:
        """Bounding box (lon/lat) of the communes."""
        minx, miny, maxx, maxy = self.index.communes.total_bounds
        return float(minx), float(miny), float(maxx), float(maxy)
