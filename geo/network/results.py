"""What a road-network query is asked and answers: candidates, snaps, links and results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Candidate", "Link", "NetworkAnswer", "NetworkResult", "Snap"]


@dataclass(frozen=True)
class Candidate:
    """A place that may be the answer: a service point that handles the procedure (and is open)."""

    id: str
    lon: float
    lat: float


@dataclass(frozen=True)
class Link:
    """How a snapped point connects to a graph node: cost of the partial edge and which way it runs."""

    node: int
    time_s: float
    length_m: float
    via: int


@dataclass(frozen=True)
class Snap:
    """A point projected on the nearest segment the mode can use.

    ``fraction`` is the position along the segment's forward edge (0 at its ``u`` node, 1 at ``v``).
    ``exits`` are the nodes reachable from the point and ``entries`` the nodes from which the point
    is reached, each with the proportional share of the edge's travel time and length; a one-way
    segment offers one exit and one entry.
    """

    segment: int
    fraction: float
    distance_m: float
    lon: float
    lat: float
    x: float
    y: float
    exits: tuple[Link, ...]
    entries: tuple[Link, ...]


@dataclass(frozen=True)
class NetworkResult:
    """One office reached over the road network from the origin."""

    id: str
    travel_time_s: float
    distance_m: float
    route: list[tuple[float, float]] | None = None
    snap_m: float = 0.0


class NetworkAnswer(list[NetworkResult]):
    """The results of `RoadNetwork.nearest`, best first, with what the caller must know about them.

    ``origin`` is the origin's snap. ``off_graph_ids`` lists the candidates farther than the maximum
    snap distance from any segment of the mode: they are absent from the results, so the caller must
    rank them by straight line or drop them, never mix them in silently.
    """

    def __init__(self, results: Sequence[NetworkResult], origin: Snap, off_graph_ids: tuple[str, ...]) -> None:
        super().__init__(results)
        self.origin = origin
        self.off_graph_ids = off_graph_ids
