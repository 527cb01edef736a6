"""Travel time on the real road network: per-mode osmnx graphs, snapping, nearest office, routes.

Build
-----
`build_graphs` (OSM XML files, offline) and `build_from_place` (Overpass, online) read every
highway way with osmnx, merge overlapping extracts by OSM node and way id, and derive one graph per
mode (``walk``, ``motorbike``, ``car``) with the access, one-way and speed rules of
``data/network_speeds.toml`` (`load_speeds`; another file can replace it). Each graph keeps its
largest strongly connected component (so every node reaches every other: no infinite cost hides in
an answer), is simplified by osmnx keeping nodes where the speed changes, and is written as
``<mode>.npz`` (node OSM ids, lon/lat and EPSG:32648 coordinates, edges, one EPSG:32648 geometry
per physical segment) plus ``manifest.json`` (source checksums, counts, timings), each written
aside and renamed into place. `load_network` reads one back in tens of milliseconds.

Snapping
--------
A point snaps to the nearest point of the nearest segment *the mode can use* (a shapely STRtree
over that mode's segment LineStrings in EPSG:32648; a footway is not in the car graph, so a car
origin can never snap to it), within ``max_snap_m`` (default 500 m). The snapped point reaches the
segment's end nodes at the proportional share of the edge's travel time, only in the directions
the segment allows (`Snap.exits`, `Snap.entries`). Farther than ``max_snap_m`` from every usable
segment, `RoadNetwork.snap` returns None and `RoadNetwork.nearest` returns None: the caller falls
back to straight-line distance with ``cost_basis="straight_line"``. Offices off the graph are
reported in `NetworkAnswer.off_graph_ids`, never silently ranked.

Nearest (k = 1)
---------------
For a candidate set, ONE multi-source Dijkstra (`scipy.sparse.csgraph.dijkstra` with
``min_only=True``) runs on the *reversed* graph from one virtual stub per (office, entry node), each
stub joined to its node by the office's partial-edge cost. That gives every node its travel time to
the nearest office and which office it is (the query is citizen → office, hence the reverse graph
for one-way streets). The result is cached per candidate set in an LRU. A query is then a snap plus
one lookup per exit node (at most two), plus a check of offices on the origin's own segment (which
can be reached without passing a node). `RoadNetwork.costs_from_sources` exposes the per-node costs
(planners use them for coverage).

Nearest (k > 1)
---------------
Each node only knows its single nearest office, so k > 1 runs one forward Dijkstra from the
origin (a virtual node joined to its exits) with ``limit=L``. Every node within L is settled
exactly, so every office whose cost is <= L is exact; if fewer than k qualify, L grows
(2·c1 + 60 s, then 8·c1 + 600 s, then unbounded, where c1 is the k = 1 answer) and the search
reruns. Correct by construction, and fast because most answers lie close to the first one. Ties are
ordered by office id.

Routes
------
With ``route=True`` each result carries its path as (lon, lat) points: the origin, its snap, the
partial first edge, the edges' full geometries, the partial last edge, the office's snap and the
office. Show `OSM_ATTRIBUTION` wherever a route or map is shown.

Circuity
--------
`RoadNetwork.circuity` is the mean ratio of shortest network distance to straight distance over
random node pairs, for planners to scale straight lines where the graph does not reach.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from geo.modes import ROAD_MODES
from geo.network.common import FORMAT_VERSION, METRIC_CRS, OSM_ATTRIBUTION
from geo.network.results import Candidate, Link, NetworkAnswer, NetworkResult, Snap
from geo.network.road import DEFAULT_CACHE_SIZE, DEFAULT_MAX_SNAP_M, RoadNetwork, load_network
from geo.network.rules import DEFAULT_SPEEDS_PATH, ModeRules, SpeedTable, edge_rule, load_speeds

if TYPE_CHECKING:
    from geo.network.arrays import graph_arrays
    from geo.network.build import (
        build_from_place,
        build_graphs,
        build_mode_graphs,
        mode_graph,
        raw_graph_from_place,
        raw_graph_from_xml,
        write_network,
    )

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "DEFAULT_MAX_SNAP_M",
    "DEFAULT_SPEEDS_PATH",
    "FORMAT_VERSION",
    "METRIC_CRS",
    "OSM_ATTRIBUTION",
    "ROAD_MODES",
    "Candidate",
    "Link",
    "ModeRules",
    "NetworkAnswer",
    "NetworkResult",
    "RoadNetwork",
    "Snap",
    "SpeedTable",
    "build_from_place",
    "build_graphs",
    "build_mode_graphs",
    "edge_rule",
    "graph_arrays",
    "load_network",
    "load_speeds",
    "mode_graph",
    "raw_graph_from_place",
    "raw_graph_from_xml",
    "write_network",
]

# The build side imports osmnx (about 1.4 s); a server that only loads and queries never pays it.
_LAZY = {
    "graph_arrays": "geo.network.arrays",
    "build_from_place": "geo.network.build",
    "build_graphs": "geo.network.build",
    "build_mode_graphs": "geo.network.build",
    "mode_graph": "geo.network.build",
    "raw_graph_from_place": "geo.network.build",
    "raw_graph_from_xml": "geo.network.build",
    "write_network": "geo.network.build",
}


def __getattr__(name: str) -> Any:
    """Import the build functions on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
