"""The ranking rule of gandan, in one place: classes, the key, the exact early stop, the network re-rank.

Every capable point gets a class from its opening state at the query time (open 0, unknown 1, closed 2)
and the key ``(class, geodesic distance rounded to the centimetre, id)``; the first ``k`` keys win. So
open places come first, and when nothing is open the nearest places come back with their next opening.

Both backends find those keys the same way: `rank_nearest` asks a backend's own candidate source (the
numpy scan or KD-tree of `geo.finder`, a KNN statement in `geo.store.backend`) for batches of growing
size, ordered by projected (UTM 48N) distance, and stops as soon as no point left out can change the
answer (`settles`). In Hanoi the UTM scale factor is below 1, so a geodesic distance is never shorter
than the projected one; that bound is what makes the early stop exact.

With a travel mode, `rank_by_network` keeps the classes and ranks each class by travel time on the road
network instead, class after class, until ``k`` places are found.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from geo.errors import InvalidParameter
from geo.geodesy import GEOD, GEODESIC_OVER_PROJECTED_MIN
from geo.hours import OpeningState
from geo.messages import Message, message

if TYPE_CHECKING:
    from geo.network import RoadNetwork

__all__ = [
    "GEODESIC_OVER_PROJECTED_MIN",
    "MAX_ENGINE_K",
    "NO_CAPABLE_POINT_NOTE",
    "OPEN_RANK",
    "STATE_RANK",
    "Candidates",
    "Match",
    "NearestResult",
    "NextOpening",
    "Ranked",
    "build_result",
    "check_k",
    "earliest_reopening",
    "rank_by_network",
    "rank_key",
    "rank_nearest",
    "rank_order",
    "settles",
    "top_k",
]

STATE_RANK = {"open": 0, "unknown": 1, "closed": 2}
OPEN_RANK = STATE_RANK["open"]
MAX_ENGINE_K = 1000
NO_CAPABLE_POINT_NOTE = message("no_capable_point")
_GEOD = GEOD  # the hot path reads a module global

# One ranked candidate: (its `rank_key`, its row in the backend's points, its geodesic distance in metres).
Ranked = tuple[tuple[int, float, str], int, float]


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
    notes: list[Message] = field(default_factory=list)
    next_opening: NextOpening | None = None  # set when no capable place is open at ``at`` (see Service.nearest)


@dataclass(frozen=True, slots=True)
class NextOpening:
    """The capable place that opens first after a time at which none is open (the way out of a dead end)."""

    row: int
    id: str
    opens_at: datetime
    distance_m: float


def earliest_reopening(
    lon: float,
    lat: float,
    rows: Sequence[int],
    opens_at: Sequence[datetime | None],
    places: Sequence[tuple[str, float, float]],
    preferred: Sequence[int] = (),
) -> NextOpening | None:
    """The place among ``rows`` that opens first; of those opening at that time, the one shown first.

    Parameters
    ----------
    lon, lat
        The origin (for the distance, and to break a tie by the nearest).
    rows, opens_at
        The capable rows and the next opening of each (None: not within the look-ahead).
    places
        ``(id, lon, lat)`` of every point, by row.
    preferred
        Rows already shown, best first: a tie goes to the first of them, else to the nearest.
    """
    known = [(when, row) for row, when in zip(rows, opens_at, strict=True) if when is not None]
    if not known:
        return None
    first = min(when for when, _ in known)
    tied = [row for when, row in known if when == first]
    shown = [row for row in preferred if row in set(tied)]
    distances = {row: _GEOD.inv(lon, lat, places[row][1], places[row][2])[2] for row in (shown[:1] or tied)}
    row = shown[0] if shown else min(tied, key=lambda r: (round(distances[r], 2), places[r][0]))
    return NextOpening(row=row, id=places[row][0], opens_at=first, distance_m=round(float(distances[row]), 1))


def rank_key(state_rank: int, distance_m: float, point_id: str) -> tuple[int, float, str]:
    """The ranking key of one point: ``(state rank, distance rounded to 1 cm, id)``; the one rule of gandan.

    Rounding is numpy's (half to even of ``distance_m * 100``, then ``/ 100``), so that `rank_order` and
    the batch form give the very same keys; Python's ``round(x, 2)`` differs from it within an ulp of a
    half cm.
    """
    return (state_rank, round(distance_m * 100) / 100, point_id)


def rank_order(state_rank: np.ndarray, distance_m: np.ndarray, ids: np.ndarray, axis: int = -1) -> np.ndarray:
    """Vectorised `rank_key`: the positions along ``axis`` in rank order (row by row for 2-D arrays)."""
    return np.lexsort((ids, np.round(distance_m, 2), state_rank), axis=axis)


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


def rank_nearest(fetch: Callable[[int], Candidates], k: int, open_only: bool, first: int | None = None) -> list[Ranked]:
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
        entries = [e for e in entries if e[0][0] == OPEN_RANK]
    return sorted(entries)[:k]


def settles(keyed: list[Ranked], batch: Candidates, k: int, open_only: bool) -> bool:
    """True when no point ``batch`` left out can enter ``keyed``, its top ``k`` (the stop rule of `rank_nearest`)."""
    if batch.exhausted:
        return True
    if len(keyed) < k:  # only when every point left out is filtered out
        return open_only and batch.frontier_rank > OPEN_RANK
    last_rank, last_cm = keyed[-1][0][:2]
    # 1 cm of slack: the key compares distances rounded to the centimetre.
    bound = batch.frontier_m * GEODESIC_OVER_PROJECTED_MIN - 0.01
    return last_rank < batch.frontier_rank or (last_rank == batch.frontier_rank and last_cm < bound)


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


def rank_by_network(
    straight: NearestResult,
    network: RoadNetwork,
    mode: str,
    *,
    ranks: np.ndarray,
    capable: np.ndarray,
    places: Sequence[tuple[str, float, float]],
    state_of: Callable[[int, datetime], OpeningState],
    route: bool = False,
) -> NearestResult:
    """``straight`` ranked again by travel time on ``network``, one class after the other.

    Parameters
    ----------
    straight
        The straight-line answer (its origin, time, ``k``, procedure and notes are kept).
    network
        The road network of ``mode``.
    mode
        The travel mode's name, for the answer and its notes.
    ranks
        The class of every point at ``straight.at`` (a backend's ``states_at(at)[1]``).
    capable
        Rows of the points that handle the procedure.
    places
        ``(id, lon, lat)`` of every point, by row.
    state_of
        The opening state of the point at a row, at a time.
    route
        Also return each path.

    Returns
    -------
    NearestResult
        Open places first, then unknown, then closed (open only with ``straight.open_only``), each class
        by travel time; ``straight`` itself, with a note, when the origin is beyond the road network.
    """
    from geo.network import Candidate

    matches: list[Match] = []
    notes = list(straight.notes)
    for rank in sorted(set(STATE_RANK.values())):
        if straight.open_only and rank != OPEN_RANK:
            break
        rows = capable[ranks[capable] == rank]
        if len(rows) == 0:
            continue
        row_of = {places[r][0]: r for r in rows.tolist()}
        candidates = {pid: Candidate(pid, *places[r][1:]) for pid, r in row_of.items()}
        found = network.nearest(
            straight.lon, straight.lat, list(candidates.values()), k=straight.k - len(matches), route=route
        )
        if found is None:
            notes.append(message("beyond_network", mode=mode))
            return replace(straight, mode=mode, notes=notes)
        reach = max((hit.distance_m for hit in found), default=float("inf"))
        # Only places that could have beaten the answer are worth a note: nearer by air than the last pick by road.
        skipped = [
            pid
            for pid in found.off_graph_ids
            if _GEOD.inv(straight.lon, straight.lat, candidates[pid].lon, candidates[pid].lat)[2] < reach
        ]
        if skipped:
            notes.append(
                message("places_off_network", count=len(skipped), mode=mode, ids=", ".join(sorted(skipped)[:5]))
            )
        for hit in found:
            r = row_of[hit.id]
            matches.append(
                Match(
                    row=r,
                    id=hit.id,
                    distance_m=round(float(hit.distance_m), 1),
                    state=state_of(r, straight.at),
                    travel_time_s=round(float(hit.travel_time_s), 1),
                    cost_basis="network",
                    route=hit.route,
                )
            )
        if len(matches) >= straight.k:
            break
    return replace(straight, mode=mode, matches=matches, notes=notes)
