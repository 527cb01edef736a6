"""The embedded engine: nearest capable (and preferably open) service points, single and batch.

Ranking is exact and deterministic. Every capable point gets a class from its opening state at the
query time (open 0, unknown 1, closed 2) and the key ``(class, distance_m rounded to the centimetre, id)``;
the first ``k`` keys win. So open places come first, and when nothing is open the nearest places come
back with their next opening.

Speed comes from a KD-tree per procedure on UTM 48N coordinates: a query takes a few nearest candidates
from the tree, measures their geodesic (WGS 84) distances, and stops as soon as no point farther out in
the tree can change the answer. In Hanoi the UTM scale factor is below 1, so a geodesic distance is never
shorter than the projected one; that bound is what makes the early stop exact.

The pieces both backends share live here as functions: `rank_nearest` (the growing-batch loop with the
exact stop, fed by a backend's own candidate source: the KD-tree here, a KNN query in
`geo.store.postgis`), `PointStates` (opening states per distinct hours string), `check_location` and
`build_result`.
"""

from __future__ import annotations

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
    "STATE_RANK",
    "Candidates",
    "Finder",
    "Match",
    "NearestResult",
    "PointStates",
    "build_result",
    "check_k",
    "check_location",
    "rank_keys",
    "rank_nearest",
]

STATE_RANK = {"open": 0, "unknown": 1, "closed": 2}
Mode = Literal["straight", "walk", "motorbike", "car"]
SERVICE_AREA_BUFFER_M = 1_000.0
MAX_ENGINE_K = 1000
NO_CAPABLE_POINT_NOTE = "no service point in Hanoi handles this procedure in person"
# Geodesic distance / UTM-48N distance is >= 0.9996**-1 > 1 inside Hanoi; 0.999 leaves ample margin.
_GEODESIC_OVER_PROJECTED_MIN = 0.999
_GEOD = pyproj.Geod(ellps="WGS84")
_TO_METRIC = pyproj.Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)


@dataclass(frozen=True)
class Match:
    """One ranked service point in an answer."""

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


def rank_keys(state_rank: np.ndarray, distance_m: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Order positions by ``(state rank, distance rounded to 1 cm, id)``; the one ranking rule of gandan."""
    return np.lexsort((ids, np.round(distance_m, 2), state_rank))


@dataclass(frozen=True)
class Candidates:
    """One batch of nearest candidates from a backend, in the order its projected (UTM 48N) search gave them.

    Attributes
    ----------
    rows
        Row positions of the candidates in the backend's ``points``.
    state_rank
        Class of each candidate at the query time (`STATE_RANK`).
    distance_m
        Geodesic (WGS 84) distance of each candidate from the origin.
    ids
        Service point id of each candidate (the last ranking key).
    frontier_m
        Projected distance of the farthest candidate fetched: no point left out is projected nearer.
    exhausted
        True when the batch holds every capable point (nothing was left out).
    """

    rows: np.ndarray
    state_rank: np.ndarray
    distance_m: np.ndarray
    ids: np.ndarray
    frontier_m: float
    exhausted: bool


def rank_nearest(fetch: Callable[[int], Candidates], k: int, open_only: bool) -> tuple[np.ndarray, np.ndarray]:
    """The exact top ``k`` by `rank_keys`, from candidate batches of growing size: ``(rows, distance_m)``.

    ``fetch(n)`` returns the ``n`` capable points nearest the origin by projected distance (fewer, with
    ``exhausted``, when there are no more). Batches grow fourfold until the answer is exact: the ``k``-th
    key is already "open" and geodesically nearer than any point left out can be, whose geodesic distance
    is at least its projected one (times a margin below the UTM scale factor), or nothing was left out.
    """
    want = max(2 * k, 8)
    while True:
        batch = fetch(want)
        rows, ranks, geo, ids = batch.rows, batch.state_rank, batch.distance_m, batch.ids
        if open_only:
            keep = ranks == STATE_RANK["open"]
            rows, ranks, geo, ids = rows[keep], ranks[keep], geo[keep], ids[keep]
        order = rank_keys(ranks, geo, ids)[:k]
        if batch.exhausted:
            return rows[order], geo[order]
        bound = batch.frontier_m * _GEODESIC_OVER_PROJECTED_MIN
        if len(order) == k and ranks[order[-1]] == STATE_RANK["open"] and geo[order[-1]] < bound:
            return rows[order], geo[order]
        want *= 4


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
        self.calendar = calendar

    def states_at(self, at: datetime) -> tuple[list[OpeningState], np.ndarray]:
        """The distinct states at ``at`` and each point's class rank (see `Finder.states_at`)."""
        at = ensure_aware(at)
        distinct = [opening_state(h or None, at, self.calendar) for h in self.values]
        rank_of_key = np.array([STATE_RANK[s.state] for s in distinct], dtype=np.int8)
        return distinct, rank_of_key[self.key]

    def state_of(self, row: int, at: datetime) -> OpeningState:
        """Opening state of the point at ``row``."""
        hours = self.values[self.key[row]]
        return opening_state(hours or None, ensure_aware(at), self.calendar)

    def states_of(self, rows: np.ndarray, at: datetime) -> list[OpeningState]:
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
    rows: np.ndarray,
    distance_m: np.ndarray,
    ids: np.ndarray,
    states: Sequence[OpeningState],
    capable_count: int,
    origin_commune: dict[str, Any] | None,
) -> NearestResult:
    """A straight-line `NearestResult` from ranked rows (ids and states given per ranked row)."""
    matches = [
        Match(row=int(r), id=str(i), distance_m=round(float(d), 1), state=s)
        for r, d, i, s in zip(rows, distance_m, ids, states, strict=True)
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
        return self._capable.get(code, np.empty(0, dtype=np.int64))

    def commune_at(self, lon: float, lat: float) -> dict[str, Any] | None:
        """The commune (code, name, kind, ...) that covers the point, or None."""
        row = self.locator.commune_at(lon, lat)
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
        self.check_location(lon, lat)
        check_k(k)
        at = ensure_aware(at)
        proc = self.procedure(procedure)
        distinct, ranks = self.states_at(at)
        rows, dist = self._ranked(lon, lat, proc["code"], ranks, k, open_only)
        return build_result(
            lon=lon,
            lat=lat,
            at=at,
            k=k,
            open_only=open_only,
            procedure=proc,
            rows=rows,
            distance_m=dist,
            ids=self.ids[rows],
            states=[distinct[self._states.key[r]] for r in rows],
            capable_count=len(self.capable_rows(proc["code"])),
            origin_commune=self.commune_at(lon, lat),
        )

    def _ranked(
        self, lon: float, lat: float, code: str, ranks: np.ndarray, k: int, open_only: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        capable = self.capable_rows(code)
        n = len(capable)
        if n == 0:
            return capable, np.empty(0)
        x, y = _TO_METRIC.transform(lon, lat)
        tree = self._tree(code)

        def fetch(want: int) -> Candidates:
            proj, pos = tree.query((x, y), k=min(n, want))
            proj, pos = np.atleast_1d(proj), np.atleast_1d(pos)
            rows = capable[pos]
            return Candidates(
                rows=rows,
                state_rank=ranks[rows],
                distance_m=self._geodesic(lon, lat, rows),
                ids=self.ids[rows],
                frontier_m=float(proj[-1]),
                exhausted=want >= n,
            )

        return rank_nearest(fetch, k, open_only)

    def _geodesic(self, lon: float, lat: float, rows: np.ndarray) -> np.ndarray:
        if len(rows) == 0:
            return np.empty(0)
        _, _, dist = _GEOD.inv(
            np.full(len(rows), lon), np.full(len(rows), lat), self.lon[rows], self.lat[rows]
        )
        return np.asarray(dist, dtype=float)

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
            rows, dist = self._ranked(float(lons[i]), float(lats[i]), code, ranks, k, False)
            out_ids[i, :] = ""
            out_dist[i, :] = np.nan
            out_ids[i, : len(rows)] = self.ids[rows]
            out_dist[i, : len(rows)] = dist
        return out_ids, out_dist

    @cached_property
    def bbox(self) -> tuple[float, float, float, float]:
        """Bounding box (lon/lat) of the communes."""
        minx, miny, maxx, maxy = self.index.communes.total_bounds
        return float(minx), float(miny), float(maxx), float(maxy)

    def point_record(self, row: int) -> pd.Series:
        """The registry row of the service point at ``row``."""
        return self.points.iloc[row]
