"""The embedded engine: nearest capable (and preferably open) service points, single and batch.

Ranking is exact and deterministic. Every capable point gets a class from its opening state at the
query time (open 0, unknown 1, closed 2) and the key ``(class, distance_m rounded to the centimetre, id)``;
the first ``k`` keys win. So open places come first, and when nothing is open the nearest places come
back with their next opening.

A query orders the capable points of its procedure by ``(class, projected distance)`` on UTM 48N
coordinates (a numpy scan for the small sets Hanoi has, a KD-tree past `SCAN_MAX_POINTS`), measures the
geodesic (WGS 84) distance of the first few, and stops as soon as no point further down can change the
answer. In Hanoi the UTM scale factor is below 1, so a geodesic distance is never shorter than the
projected one; that bound is what makes the early stop exact.

The pieces both backends share live here as functions: `rank_nearest` (the growing-batch loop with the
exact stop, fed by a backend's own candidate source: the scan or KD-tree here, a KNN query in
`geo.store.postgis`), `PointStates` (opening states per distinct hours string), `check_location` and
`build_result`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.spatial import cKDTree

from geo.boundaries import METRIC_CRS, CommuneLocator
from geo.errors import InvalidParameter, OutsideServiceArea
from geo.hours import Calendar, OpeningState, ensure_aware, opening_state
from geo.index import Index
from geo.registry import find_procedure

__all__ = [
    "MAX_ENGINE_K",
    "SCAN_MAX_POINTS",
    "STATE_RANK",
    "Candidates",
    "Finder",
    "Match",
    "NearestResult",
    "PointStates",
    "Ranked",
    "build_result",
    "check_k",
    "check_location",
    "rank_key",
    "rank_keys",
    "rank_nearest",
]

STATE_RANK = {"open": 0, "unknown": 1, "closed": 2}
_OPEN = STATE_RANK["open"]
Mode = Literal["straight", "walk", "motorbike", "car"]
SERVICE_AREA_BUFFER_M = 1_000.0
MAX_ENGINE_K = 1000
NO_CAPABLE_POINT_NOTE = "no service point in Hanoi handles this procedure in person"
# Geodesic distance / UTM-48N distance is >= 0.9996**-1 > 1 inside Hanoi; 0.999 leaves ample margin.
_GEODESIC_OVER_PROJECTED_MIN = 0.999
# Below this many capable points a numpy scan beats a KD-tree query (scripts/bench.py nearest --scan-sweep).
SCAN_MAX_POINTS = 512
# pyproj answers one pair without array set-up in about 1/20 of an array call: loop up to this many.
_SCALAR_GEODESIC_MAX = 32
# Sort key stride that puts every class before the next (Hanoi distances are far below 1e7 m).
_CLASS_STRIDE_M = 1e7
_NO_ROWS = np.empty(0, dtype=np.int64)
_NO_ROWS.setflags(write=False)
_GEOD = pyproj.Geod(ellps="WGS84")
_TO_METRIC = pyproj.Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)


@dataclass(slots=True)
class Match:
    """One ranked service point in an answer (not frozen: a frozen init costs 4× more on the hot path)."""

    row: int
    id: str
    distance_m: float
    state: OpeningState
    travel_time_s: float | None = None
    cost_basis: Literal["straight_line", "network"] = "straight_line"
    route: list[tuple[float, float]] | None = None


@dataclass
class NearestResult:
    """The answer to one nearest query, with what it understood."""

    lon: float
    lat: float
    at: datetime
    k: int
    mode: str
    open_only: bool
    procedure: dict[str, Any]
    matches: list[Match]
    origin_commune: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)


def rank_key(state_rank: int, distance_m: float, point_id: str) -> tuple[int, float, str]:
    """The ranking key of one point: ``(state rank, distance rounded to 1 cm, id)``; the one rule of gandan.

    Rounding is numpy's (half to even of ``distance_m * 100``, then ``/ 100``), so that `rank_keys` and the
    batch form give the very same keys; Python's ``round(x, 2)`` differs from it within an ulp of a half cm.
    """
    return (state_rank, round(distance_m * 100) / 100, point_id)


def rank_keys(state_rank: np.ndarray, distance_m: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Vectorised `rank_key`: positions in rank order."""
    return np.lexsort((ids, np.round(distance_m, 2), state_rank))


# One ranked candidate: (its `rank_key`, its row in the backend's points, its geodesic distance in metres).
Ranked = tuple[tuple[int, float, str], int, float]


@dataclass(slots=True)
class Candidates:
    """One batch of nearest candidates from a backend.

    Attributes
    ----------
    ranked
        Each candidate as `(rank_key(...), row, distance_m)` (plain Python values: batches are small, sorted
        in Python).
    frontier_m, frontier_rank
        What the batch left out: no capable point outside it has a class below ``frontier_rank``, nor the
        class ``frontier_rank`` and a projected (UTM 48N) distance below ``frontier_m``. A search by
        distance alone (KNN) leaves out points of any class: its ``frontier_rank`` is 0 (open).
    exhausted
        True when the batch holds every capable point (nothing was left out).
    """

    ranked: list[Ranked]
    frontier_m: float
    exhausted: bool
    frontier_rank: int = 0


def rank_nearest(
    fetch: Callable[[int], Candidates], k: int, open_only: bool, first: int | None = None
) -> list[Ranked]:
    """The exact top ``k`` by `rank_key`, from candidate batches of growing size, best first.

    ``fetch(n)`` returns ``n`` candidates (fewer, with ``exhausted``, when there are no more), the first
    ``first`` (default ``max(2 k, 8)``) at the first call. Batches grow fourfold until no point left out
    can enter the answer: its class is worse than the ``k``-th key's, or the same and its geodesic distance,
    at least its projected one times a margin below the UTM scale factor, is longer; with ``open_only``,
    also when no open point is left out.
    """
    want = first if first is not None else max(2 * k, 8)
    while True:
        batch = fetch(want)
        keyed = top_k(batch.ranked, k, open_only)
        if settles(keyed, batch, k, open_only):
            return keyed
        want *= 4


def top_k(entries: list[Ranked], k: int, open_only: bool) -> list[Ranked]:
    """The ``k`` best entries of a batch (open ones only with ``open_only``), best first."""
    if open_only:
        entries = [e for e in entries if e[0][0] == _OPEN]
    return sorted(entries)[:k]


def settles(keyed: list[Ranked], batch: Candidates, k: int, open_only: bool) -> bool:
    """True when no point ``batch`` left out can enter ``keyed``, its top ``k`` (the stop rule of `rank_nearest`)."""
    if batch.exhausted:
        return True
    if len(keyed) < k:  # only when every point left out is filtered out
        return open_only and batch.frontier_rank > _OPEN
    last_rank, last_cm = keyed[-1][0][:2]
    # 1 cm of slack: the key compares distances rounded to the centimetre.
    bound = batch.frontier_m * _GEODESIC_OVER_PROJECTED_MIN - 0.01
    return last_rank < batch.frontier_rank or (last_rank == batch.frontier_rank and last_cm < bound)


class PointStates:
    """Opening states of a fixed list of points, evaluated once per distinct hours string.

    Parameters
    ----------
    hours
        The ``opening_hours`` of each point, in row order (blank or None: unknown).
    calendar
        Holidays and make-up working days.
    """

    def __init__(self, hours: Sequence[str | None] | pd.Series, calendar: Calendar) -> None:
        text = pd.Series(list(hours), dtype=object).fillna("").astype(str).to_numpy()
        self.values, self.key = np.unique(text, return_inverse=True)
        self.key_list: list[int] = self.key.tolist()
        self.calendar = calendar
        self._ranks_of: dict[tuple[int, ...], np.ndarray] = {}
        self._last: tuple[datetime, list[OpeningState], np.ndarray] | None = None

    def states_at(self, at: datetime) -> tuple[list[OpeningState], np.ndarray]:
        """The distinct states at ``at`` and each point's class rank (see `Finder.states_at`)."""
        last = self._last
        if last is not None and last[0] == at:  # a run of queries at one time (a naive `at` never equals it)
            return last[1], last[2]
        at = ensure_aware(at)
        distinct = [opening_state(h or None, at, self.calendar) for h in self.values]
        classes = tuple(STATE_RANK[s.state] for s in distinct)
        ranks = self._ranks_of.get(classes)
        if ranks is None:  # one array per combination of classes: a handful over a year
            ranks = np.array(classes, dtype=np.int8)[self.key]
            ranks.setflags(write=False)
            self._ranks_of[classes] = ranks
        self._last = (at, distinct, ranks)
        return distinct, ranks

    def state_of(self, row: int, at: datetime) -> OpeningState:
        """Opening state of the point at ``row``."""
        hours = self.values[self.key[row]]
        return opening_state(hours or None, ensure_aware(at), self.calendar)

    def states_of(self, rows: Sequence[int] | np.ndarray, at: datetime) -> list[OpeningState]:
        """Opening states of the points at ``rows`` only (each distinct hours string evaluated once)."""
        at = ensure_aware(at)
        seen: dict[int, OpeningState] = {}
        out = []
        for key in self.key[rows].tolist():
            state = seen.get(key)
            if state is None:
                hours = self.values[key]
                state = seen[key] = opening_state(hours or None, at, self.calendar)
            out.append(state)
        return out


def check_location(lon: float, lat: float, inside: Callable[[float, float], bool]) -> None:
    """Refuse coordinates for which ``inside(lon, lat)`` is false; say so when lat and lon look swapped.

    ``inside`` is asked only about valid WGS 84 coordinates.
    """
    if not (np.isfinite(lon) and np.isfinite(lat)):
        raise OutsideServiceArea(f"lon={lon}, lat={lat} are not finite numbers")
    if -90 <= lat <= 90 and -180 <= lon <= 180 and inside(lon, lat):
        return
    if -90 <= lon <= 90 and -180 <= lat <= 180 and inside(lat, lon):
        raise OutsideServiceArea(
            f"lat={lat}, lon={lon} is outside Hanoi, but swapped (lat={lon}, lon={lat}) it is inside: "
            "latitude and longitude look swapped",
            swapped=True,
        )
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise OutsideServiceArea(f"lat={lat}, lon={lon} are not valid WGS 84 coordinates")
    raise OutsideServiceArea(f"lat={lat}, lon={lon} is outside Hanoi (the service area)")


def check_k(k: int) -> None:
    """Refuse a ``k`` outside ``1..MAX_ENGINE_K`` (the service applies its own, smaller limit first)."""
    if not 1 <= k <= MAX_ENGINE_K:
        raise InvalidParameter(f"k={k} is out of range (1..{MAX_ENGINE_K})")


def build_result(
    *,
    lon: float,
    lat: float,
    at: datetime,
    k: int,
    open_only: bool,
    procedure: dict[str, Any],
    ranked: Sequence[Ranked],
    states: Sequence[OpeningState],
    capable_count: int,
    origin_commune: dict[str, Any] | None,
) -> NearestResult:
    """A straight-line `NearestResult` from `rank_nearest`'s answer and the state of each ranked point."""
    matches = [
        Match(row=row, id=key[2], distance_m=round(d, 1), state=s)
        for (key, row, d), s in zip(ranked, states, strict=True)
    ]
    notes = [NO_CAPABLE_POINT_NOTE] if capable_count == 0 else []
    return NearestResult(
        lon=lon,
        lat=lat,
        at=at,
        k=k,
        mode="straight",
        open_only=open_only,
        procedure=procedure,
        matches=matches,
        origin_commune=origin_commune,
        notes=notes,
    )


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
    """Nearest-service-point engine over a built `Index`."""

    name = "embedded"

    def __init__(self, index: Index, calendar: Calendar | None = None) -> None:
        self.index = index
        self.calendar = calendar or Calendar.from_frame(index.calendar)
        points = index.service_points.reset_index(drop=True)
        self.points = points
        self.ids = points["id"].astype(str).to_numpy()
        self.lon = points.geometry.x.to_numpy()
        self.lat = points.geometry.y.to_numpy()
        x, y = _TO_METRIC.transform(self.lon, self.lat)
        self.xy = np.column_stack([x, y])
        self._states = PointStates(points["opening_hours"], self.calendar)
        self.procedures = index.procedures.set_index("code", drop=False)
        position = {pid: i for i, pid in enumerate(self.ids)}
        self._capable: dict[str, np.ndarray] = {
            code: np.array(sorted(position[p] for p in group["point_id"] if p in position), dtype=np.int64)
            for code, group in index.capabilities.groupby("procedure_code")
        }
        self._trees: dict[str, cKDTree] = {}
        self._scan_of: dict[tuple[str, int], _Scan] = {}
        self._procedure_by_query: dict[str, dict[str, Any]] = {
            str(code): dict(row) for code, row in self.procedures.iterrows()
        }
        self.locator = CommuneLocator(index.communes)
        self._commune_records = self.locator.communes[["code", "name", "full_name", "kind"]].to_dict("records")
        metric_outline = shapely.transform(
            self.locator.outline, lambda c: np.column_stack(_TO_METRIC.transform(c[:, 0], c[:, 1]))
        )
        self._service_area = shapely.buffer(metric_outline, SERVICE_AREA_BUFFER_M)
        shapely.prepare(self._service_area)

    # ------------------------------------------------------------------ lookups
    def procedure(self, query: str) -> dict[str, Any]:
        """The catalog row for a procedure code or name (diacritics optional); raises UnknownProcedure."""
        key = query.strip()
        found = self._procedure_by_query.get(key)
        if found is None:
            found = dict(find_procedure(key, self.index.procedures))
            if len(self._procedure_by_query) < 10_000:  # names typed by users: bounded memo
                self._procedure_by_query[key] = found
        return found

    def capable_rows(self, code: str) -> np.ndarray:
        """Row positions of the service points that handle procedure ``code``."""
        return self._capable.get(code, _NO_ROWS)

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
        order = np.lexsort((ids_all, np.round(geo, 2), ranks_all), axis=1)[:, :k]
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
            bound = proj[:, -1] * _GEODESIC_OVER_PROJECTED_MIN
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

    def point_record(self, row: int) -> pd.Series:
        """The registry row of the service point at ``row``."""
        return self.points.iloc[row]
