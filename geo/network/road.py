"""`RoadNetwork`: a loaded mode graph, with snapping, nearest-by-travel-time, routes and circuity."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geo.errors import IndexNotBuilt, InvalidParameter
from geo.geodesy import TO_METRIC, TO_WGS84
from geo.modes import ROAD_MODES
from geo.network.common import FORMAT_VERSION
from geo.network.results import Candidate, Link, NetworkAnswer, NetworkResult, Snap
from geo.settings import get_settings

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "DEFAULT_MAX_SNAP_M",
    "VIA_AT_NODE",
    "VIA_BACKWARD",
    "VIA_FORWARD",
    "RoadNetwork",
    "load_network",
]

DEFAULT_MAX_SNAP_M = 500.0
DEFAULT_CACHE_SIZE = 32
VIA_FORWARD = 0  # along the segment's forward edge (u → v)
VIA_BACKWARD = 1  # along its backward edge (v → u)
VIA_AT_NODE = 2  # the point is on the node itself
_AT_NODE_M = 0.01  # a snap within 1 cm of a segment end is on that node (absorbs float noise)

F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class _Field:
    """Multi-source result for one candidate set: each node's cost to its nearest candidate."""

    candidates: tuple[Candidate, ...]  # canonical order (sorted by id)
    snaps: tuple[Snap | None, ...]
    cost: F64  # (N,) travel time node → nearest candidate
    length: F64  # (N,) length of that path
    cand: I32  # (N,) canonical candidate index, -1 when none is reachable
    pred: I32  # (N + M,) reverse-graph predecessors: the next node towards the candidate; >= N is a stub
    entry_cand: I32  # (M,) candidate of each stub
    entry_node: I32
    entry_time: F64
    entry_len: F64
    entry_via: I32
    by_segment: Mapping[int, tuple[int, ...]]
    off_graph_ids: tuple[str, ...]


def _tree_lengths(pred: npt.NDArray[Any], weight: F64) -> F64:
    """Sum ``weight`` along each node's predecessor chain to its root, by pointer doubling.

    ``weight[n]`` is the length of the step from ``n`` to ``pred[n]``; roots have ``pred < 0``.
    O(N log depth) in vectorised numpy instead of a Python walk per node.
    """
    idx = np.arange(len(pred))
    ptr = np.where(pred >= 0, pred, idx)
    acc = np.where(pred >= 0, weight, 0.0)
    while True:
        nxt = ptr[ptr]
        if np.array_equal(nxt, ptr):
            return acc
        acc = acc + acc[ptr]
        ptr = nxt


def _cut(xy: F64, start: float, end: float) -> F64:
    """The part of polyline ``xy`` between two fractions of its length (reversed when start > end)."""
    if start > end:
        return _cut(xy, end, start)[::-1]
    steps = np.hypot(*np.diff(xy, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(steps)])
    total = cum[-1]
    if total <= 0:
        return xy[:1]
    da, db = start * total, end * total
    pa = np.array([np.interp(da, cum, xy[:, 0]), np.interp(da, cum, xy[:, 1])])
    pb = np.array([np.interp(db, cum, xy[:, 0]), np.interp(db, cum, xy[:, 1])])
    inner = xy[(cum > da) & (cum < db)]
    return np.vstack([pa, inner, pb])


class RoadNetwork:
    """The road graph of one travel mode, ready for queries.

    Build it with `load_network` (from ``build/network/<mode>.npz``) or `RoadNetwork.from_graph`.
    Nodes are indexed 0..N-1 (``node_osmid`` gives their OSM ids). Thread-safe for queries.

    Parameters
    ----------
    arrays
        The arrays of `geo.network.build.graph_arrays`.
    max_snap_m
        A point farther than this from every usable segment is off the graph.
    cache_size
        How many candidate sets keep their multi-source result (LRU).
    manifest
        The build manifest, kept for display.
    """

    def __init__(
        self,
        arrays: Mapping[str, np.ndarray],
        *,
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
        cache_size: int = DEFAULT_CACHE_SIZE,
        manifest: Mapping[str, Any] | None = None,
    ) -> None:
        if max_snap_m <= 0:
            raise InvalidParameter(f"max_snap_m={max_snap_m} must be positive")
        self.mode = str(arrays["mode"])
        self.max_snap_m = float(max_snap_m)
        self.manifest = dict(manifest or {})
        self.node_osmid: I64 = arrays["node_osmid"]
        self._lonlat: F64 = arrays["node_lonlat"]
        self.node_xy: F64 = arrays["node_xy"]
        self.n_nodes = len(self.node_osmid)
        self.edge_u: I32 = arrays["edge_u"].astype(np.int32)
        self.edge_v: I32 = arrays["edge_v"].astype(np.int32)
        self.edge_length_m: F64 = arrays["edge_length_m"]
        self.edge_time_s: F64 = arrays["edge_time_s"]
        self.edge_osmid: I64 = arrays["edge_osmid"]
        self.edge_highway = arrays["edge_highway"]
        self.highway_names = [str(h) for h in arrays["highway_names"]]
        self.edge_seg: I32 = arrays["edge_seg"]
        self.edge_rev = arrays["edge_rev"]
        self.seg_fwd: I32 = arrays["seg_fwd"]
        self.seg_bwd: I32 = arrays["seg_bwd"]
        self._seg_offsets: I64 = arrays["seg_offsets"]
        self._seg_xy: F64 = arrays["seg_xy"]
        for arr in (self._lonlat, self.node_xy):
            arr.flags.writeable = False

        # Snapping index: one LineString per physical segment, so a two-way street is one candidate.
        counts = np.diff(self._seg_offsets)
        self._lines = shapely.linestrings(self._seg_xy, indices=np.repeat(np.arange(len(counts)), counts))
        self._line_len = shapely.length(self._lines)
        self._tree = shapely.STRtree(self._lines)

        # CSR of the forward graph, one entry per (u, v) pair: the fastest of any parallel edges.
        n = self.n_nodes
        order = np.lexsort((self.edge_time_s, self.edge_v, self.edge_u))
        u_s, v_s = self.edge_u[order], self.edge_v[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = (u_s[1:] != u_s[:-1]) | (v_s[1:] != v_s[:-1])
        starts = np.flatnonzero(first)
        self._pair_edge: I32 = order[first].astype(np.int32)
        self._pair_u = u_s[first].astype(np.int32)
        self._pair_v = v_s[first].astype(np.int32)
        self._pair_time: F64 = self.edge_time_s[self._pair_edge]
        self._pair_len: F64 = self.edge_length_m[self._pair_edge]
        self._pair_minlen: F64 = (
            np.minimum.reduceat(self.edge_length_m[order], starts) if len(starts) else np.empty(0)
        )
        self._pair_key: I64 = self._pair_u.astype(np.int64) * n + self._pair_v
        self._fwd_indptr = np.concatenate([[0], np.cumsum(np.bincount(self._pair_u, minlength=n))]).astype(np.int64)
        # Reverse graph (for "from every node to the nearest office" in one run from the offices).
        rorder = np.lexsort((self._pair_u, self._pair_v))
        self._rev_indptr = np.concatenate([[0], np.cumsum(np.bincount(self._pair_v, minlength=n))]).astype(np.int64)
        self._rev_indices = self._pair_u[rorder]
        self._rev_time = self._pair_time[rorder]

        self._cache: OrderedDict[frozenset[tuple[str, float, float]], _Field] = OrderedDict()
        self._cache_size = max(0, int(cache_size))
        self._lock = threading.Lock()
        self.cache_hits = 0
        self.cache_misses = 0
        self._circuity: dict[tuple[int, int, float], float] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_graph(cls, G: nx.MultiDiGraph, **kwargs: Any) -> RoadNetwork:
        """Make a network straight from a `geo.network.build.mode_graph` (no artifact on disk)."""
        from geo.network.arrays import graph_arrays

        return cls(graph_arrays(G), **kwargs)

    def to_networkx(self) -> nx.MultiDiGraph:
        """The graph as an osmnx-style MultiDiGraph (OSM node ids, lon/lat ``x``/``y``, ``travel_time``)."""
        import networkx as nx

        G = nx.MultiDiGraph(crs="epsg:4326", mode=self.mode)
        for i, osmid in enumerate(self.node_osmid.tolist()):
            G.add_node(osmid, x=float(self._lonlat[i, 0]), y=float(self._lonlat[i, 1]))
        ids = self.node_osmid
        for e in range(len(self.edge_u)):
            G.add_edge(
                int(ids[self.edge_u[e]]), int(ids[self.edge_v[e]]),
                length=float(self.edge_length_m[e]), travel_time=float(self.edge_time_s[e]),
                osmid=int(self.edge_osmid[e]), highway=self.highway_names[self.edge_highway[e]],
            )
        return G

    # ------------------------------------------------------------------ properties
    @property
    def nodes_lonlat(self) -> F64:
        """(N, 2) lon/lat of the nodes, read-only."""
        return self._lonlat

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return len(self.edge_u)

    @property
    def n_segments(self) -> int:
        """Number of physical segments (a two-way street is one segment, two edges)."""
        return len(self.seg_fwd)

    def segment_highway(self, segment: int) -> str:
        """The highway class of a segment."""
        return self.highway_names[int(self.edge_highway[self.seg_fwd[segment]])]

    def segment_xy(self, segment: int) -> F64:
        """The EPSG:32648 coordinates of a segment, oriented like its forward edge."""
        return self._seg_xy[self._seg_offsets[segment]:self._seg_offsets[segment + 1]]

    def cache_clear(self) -> None:
        """Forget every cached multi-source result."""
        with self._lock:
            self._cache.clear()

    # ------------------------------------------------------------------ snapping
    def _links(self, segment: int, fraction: float) -> tuple[tuple[Link, ...], tuple[Link, ...]]:
        fwd, bwd = int(self.seg_fwd[segment]), int(self.seg_bwd[segment])
        u, v = int(self.edge_u[fwd]), int(self.edge_v[fwd])
        t, length = float(self.edge_time_s[fwd]), float(self.edge_length_m[fwd])
        exits: dict[int, Link] = {}
        entries: dict[int, Link] = {}

        def put(table: dict[int, Link], link: Link) -> None:
            if link.node not in table or link.time_s < table[link.node].time_s:
                table[link.node] = link

        put(exits, Link(v, (1 - fraction) * t, (1 - fraction) * length, VIA_FORWARD))
        put(entries, Link(u, fraction * t, fraction * length, VIA_FORWARD))
        if bwd >= 0:
            tb, lb = float(self.edge_time_s[bwd]), float(self.edge_length_m[bwd])
            put(exits, Link(u, fraction * tb, fraction * lb, VIA_BACKWARD))
            put(entries, Link(v, (1 - fraction) * tb, (1 - fraction) * lb, VIA_BACKWARD))
        # On a node, a one-way segment does not trap the point: the node itself is reachable at no cost.
        for end, at in ((u, fraction == 0.0), (v, fraction == 1.0)):
            if at:
                exits[end] = entries[end] = Link(end, 0.0, 0.0, VIA_AT_NODE)
        return tuple(exits.values()), tuple(entries.values())

    def _snap_xy(self, xs: F64, ys: F64) -> list[Snap | None]:
        points = shapely.points(xs, ys)
        out: list[Snap | None] = [None] * len(points)
        if len(points) == 0 or self.n_segments == 0:
            return out
        (qi, ti), dist = self._tree.query_nearest(
            points, max_distance=self.max_snap_m, return_distance=True, all_matches=True
        )
        if len(qi) == 0:
            return out
        # Equidistant segments (a point on a node): keep the lowest segment index, deterministically.
        order = np.lexsort((ti, qi))
        qi, ti, dist = qi[order], ti[order], dist[order]
        keep = np.ones(len(qi), dtype=bool)
        keep[1:] = qi[1:] != qi[:-1]
        qi, ti, dist = qi[keep], ti[keep], dist[keep]
        lines = self._lines[ti]
        along = shapely.line_locate_point(lines, points[qi])
        total = self._line_len[ti]
        frac = np.where(total > 0, along / np.where(total > 0, total, 1.0), 0.0)
        frac = np.clip(frac, 0.0, 1.0)
        frac = np.where(along <= _AT_NODE_M, 0.0, np.where(total - along <= _AT_NODE_M, 1.0, frac))
        snapped = shapely.get_coordinates(shapely.line_interpolate_point(lines, frac, normalized=True))
        lon, lat = TO_WGS84.transform(snapped[:, 0], snapped[:, 1])
        for j, q in enumerate(qi.tolist()):
            seg = int(ti[j])
            exits, entries = self._links(seg, float(frac[j]))
            out[q] = Snap(
                segment=seg, fraction=float(frac[j]), distance_m=float(dist[j]),
                lon=float(lon[j]), lat=float(lat[j]), x=float(snapped[j, 0]), y=float(snapped[j, 1]),
                exits=exits, entries=entries,
            )
        return out

    def snap(self, lon: float, lat: float) -> Snap | None:
        """Project a point on the nearest segment this mode can use.

        Returns
        -------
        Snap or None
            None when no usable segment lies within ``max_snap_m``: the point is off the graph and
            the caller must fall back to straight-line distance (``cost_basis="straight_line"``).
        """
        x, y = TO_METRIC.transform(lon, lat)
        return self._snap_xy(np.array([x]), np.array([y]))[0]

    def snap_many(self, lons: Sequence[float] | F64, lats: Sequence[float] | F64) -> list[Snap | None]:
        """`snap` for many points in one vectorised call."""
        xs, ys = TO_METRIC.transform(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        return self._snap_xy(np.atleast_1d(xs), np.atleast_1d(ys))

    # ------------------------------------------------------------------ graphs with virtual sources
    def _augmented(
        self, reverse: bool, targets: Sequence[Sequence[int]], weights: Sequence[Sequence[float]]
    ) -> csr_matrix:
        """The forward or reverse CSR with extra rows (virtual source nodes N, N+1, ...) appended."""
        n = self.n_nodes
        if reverse:
            indptr, indices, data = self._rev_indptr, self._rev_indices, self._rev_time
        else:
            indptr, indices, data = self._fwd_indptr, self._pair_v, self._pair_time
        sizes = np.array([len(t) for t in targets], dtype=np.int64)
        extra_t = np.concatenate([np.asarray(t, dtype=np.int32) for t in targets]) if targets else np.empty(0, np.int32)
        extra_w = np.concatenate([np.asarray(w, dtype=float) for w in weights]) if weights else np.empty(0)
        size = n + len(targets)
        # Explicit zero weights are kept as edges by scipy.sparse.csgraph (a point exactly on a node).
        return csr_matrix(
            (np.concatenate([data, extra_w]), np.concatenate([indices, extra_t]),
             np.concatenate([indptr, indptr[-1] + np.cumsum(sizes)])),
            shape=(size, size),
        )

    def _pair_index(self, frm: npt.NDArray[Any], to: npt.NDArray[Any]) -> I64:
        """Index into the (u, v) pair arrays of forward steps ``frm → to`` (all must exist)."""
        return np.searchsorted(self._pair_key, frm.astype(np.int64) * self.n_nodes + to).astype(np.int64)

    # ------------------------------------------------------------------ multi-source costs
    @staticmethod
    def _check(candidates: Sequence[Candidate]) -> None:
        seen: set[str] = set()
        for c in candidates:
            if c.id in seen:
                raise InvalidParameter(f"candidate id {c.id!r} appears twice")
            seen.add(c.id)

    def _field(self, candidates: Sequence[Candidate]) -> _Field:
        key = frozenset((c.id, float(c.lon), float(c.lat)) for c in candidates)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                self.cache_hits += 1
                return hit
            self.cache_misses += 1
        field = self._compute_field(tuple(sorted(candidates, key=lambda c: c.id)))
        with self._lock:
            if self._cache_size:
                self._cache[key] = field
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return field

    def _compute_field(self, cands: tuple[Candidate, ...]) -> _Field:
        n = self.n_nodes
        snaps = tuple(self.snap_many([c.lon for c in cands], [c.lat for c in cands])) if cands else ()
        e_cand, e_node, e_time, e_len, e_via = [], [], [], [], []
        by_segment: dict[int, list[int]] = {}
        for i, s in enumerate(snaps):
            if s is None:
                continue
            by_segment.setdefault(s.segment, []).append(i)
            for link in s.entries:
                e_cand.append(i)
                e_node.append(link.node)
                e_time.append(link.time_s)
                e_len.append(link.length_m)
                e_via.append(link.via)
        m = len(e_node)
        entry_node = np.array(e_node, dtype=np.int32)
        entry_time = np.array(e_time, dtype=np.float64)
        entry_len = np.array(e_len, dtype=np.float64)
        if m:
            # One stub per (candidate, entry node) with the partial-edge cost, all run at once on
            # the reverse graph: min_only gives each node its cheapest stub, i.e. its nearest office.
            graph = self._augmented(True, [[node] for node in e_node], [[t] for t in e_time])
            dist, pred, source = dijkstra(
                graph, directed=True, indices=np.arange(n, n + m), return_predecessors=True, min_only=True
            )
            pred = pred.astype(np.int32)
            entry_cand = np.array(e_cand, dtype=np.int32)
            cand = np.where(source[:n] >= n, entry_cand[np.maximum(source[:n] - n, 0)], -1).astype(np.int32)
            weight = np.zeros(n + m)
            p = pred[:n]
            step = (p >= 0) & (p < n)
            nodes = np.flatnonzero(step)
            weight[nodes] = self._pair_len[self._pair_index(nodes, p[nodes])]
            to_stub = np.flatnonzero(p >= n)
            weight[to_stub] = entry_len[p[to_stub] - n]
            length = _tree_lengths(pred, weight)[:n]
            cost = np.asarray(dist[:n], dtype=np.float64)
        else:
            pred = np.full(n, -9999, dtype=np.int32)
            entry_cand = np.empty(0, dtype=np.int32)
            cand = np.full(n, -1, dtype=np.int32)
            cost = np.full(n, np.inf)
            length = np.full(n, np.inf)
        for arr in (cost, length, cand):
            arr.flags.writeable = False
        return _Field(
            candidates=cands, snaps=snaps, cost=cost, length=length, cand=cand, pred=pred,
            entry_cand=entry_cand, entry_node=entry_node, entry_time=entry_time, entry_len=entry_len,
            entry_via=np.array(e_via, dtype=np.int32),
            by_segment={k: tuple(v) for k, v in by_segment.items()},
            off_graph_ids=tuple(c.id for c, s in zip(cands, snaps, strict=True) if s is None),
        )

    def costs_from_sources(self, candidates: Sequence[Candidate]) -> tuple[F64, I32]:
        """Travel time from every node to its nearest candidate, in one multi-source Dijkstra.

        Parameters
        ----------
        candidates
            Offices (ids must be unique); each is snapped to its nearest usable segment.

        Returns
        -------
        node_cost : numpy.ndarray
            (N,) seconds from each node to the nearest candidate (inf when none is reachable).
        node_source : numpy.ndarray
            (N,) index into ``candidates`` of that candidate, -1 when none.

        Notes
        -----
        Cached per candidate set (LRU). Candidates off the graph are ignored here; see `nearest`.
        """
        self._check(candidates)
        field = self._field(candidates)
        position = {c.id: i for i, c in enumerate(candidates)}
        perm = np.array([position[c.id] for c in field.candidates] or [0], dtype=np.int32)
        source = np.where(field.cand >= 0, perm[np.maximum(field.cand, 0)], -1).astype(np.int32)
        return field.cost, source

    # ------------------------------------------------------------------ nearest
    def _direct(self, origin: Snap, office: Snap) -> tuple[float, float] | None:
        """Time and length along the shared segment, when origin and office are on the same one."""
        s = origin.segment
        if office.fraction >= origin.fraction:
            e, share = int(self.seg_fwd[s]), office.fraction - origin.fraction
        elif self.seg_bwd[s] >= 0:
            e, share = int(self.seg_bwd[s]), origin.fraction - office.fraction
        else:
            return None
        return share * float(self.edge_time_s[e]), share * float(self.edge_length_m[e])

    def nearest(
        self,
        lon: float,
        lat: float,
        candidates: Sequence[Candidate],
        k: int = 1,
        route: bool = False,
    ) -> NetworkAnswer | None:
        """The ``k`` candidates with the shortest travel time from (lon, lat), best first.

        Parameters
        ----------
        lon, lat
            The origin (WGS 84).
        candidates
            The offices to choose from (unique ids).
        k
            How many to return.
        route
            Also return each path as (lon, lat) points: origin, its snap, the graph path, the office's
            snap, the office.

        Returns
        -------
        NetworkAnswer or None
            None when the origin is off the graph (farther than ``max_snap_m`` from any usable
            segment): fall back to straight-line distance. Candidates off the graph are listed in
            ``off_graph_ids`` and absent from the results. Ties are ordered by id for ``k > 1``.
        """
        if k < 1:
            raise InvalidParameter(f"k={k} must be at least 1")
        self._check(candidates)
        origin = self.snap(lon, lat)
        if origin is None:
            return None
        if not candidates:
            return NetworkAnswer([], origin, ())
        field = self._field(candidates)
        if k == 1:
            hits = self._best(origin, field, route, (lon, lat))
        else:
            hits = self._k_best(origin, field, k, route, (lon, lat))
        return NetworkAnswer(hits, origin, field.off_graph_ids)

    def _best(self, origin: Snap, field: _Field, route: bool, start: tuple[float, float]) -> list[NetworkResult]:
        """Answer k = 1: the cached multi-source field gives the answer with one lookup per exit."""
        best_time, best_exit, best_direct = np.inf, None, None
        for link in origin.exits:
            t = link.time_s + field.cost[link.node]
            if t < best_time:
                best_time, best_exit = t, link
        for ci in field.by_segment.get(origin.segment, ()):
            office = field.snaps[ci]
            assert office is not None
            direct = self._direct(origin, office)
            if direct is not None and direct[0] <= best_time:
                best_time, best_exit, best_direct = direct[0], None, (ci, direct[1])
        if not np.isfinite(best_time):
            return []
        if best_direct is not None:
            ci, length = best_direct
            office = field.snaps[ci]
            assert office is not None
            cand = field.candidates[ci]
            path = self._route_direct(origin, office, start, cand) if route else None
            return [NetworkResult(cand.id, float(best_time), float(length), path, office.distance_m)]
        assert best_exit is not None
        node = best_exit.node
        ci = int(field.cand[node])
        cand = field.candidates[ci]
        distance = best_exit.length_m + float(field.length[node])
        office = field.snaps[ci]
        assert office is not None
        path_coords = None
        if route:
            # The reverse-graph predecessors lead from the exit node towards the office; the chain
            # ends at the stub (index >= N) of the entry that was used.
            nodes = [node]
            while field.pred[nodes[-1]] < self.n_nodes:
                nodes.append(int(field.pred[nodes[-1]]))
            stub = int(field.pred[nodes[-1]]) - self.n_nodes
            entry = Link(int(field.entry_node[stub]), float(field.entry_time[stub]),
                         float(field.entry_len[stub]), int(field.entry_via[stub]))
            path_coords = self._route(origin, best_exit, nodes, entry, office, start, cand)
        return [NetworkResult(cand.id, float(best_time), float(distance), path_coords, office.distance_m)]

    def _k_best(
        self, origin: Snap, field: _Field, k: int, route: bool, start: tuple[float, float]
    ) -> list[NetworkResult]:
        """Answer k > 1 with a forward Dijkstra from the origin, bounded by a limit that grows until k are settled."""
        n = self.n_nodes
        exits = {link.node: link for link in origin.exits}
        first = self._best(origin, field, False, start)
        if not first:
            return []
        graph = self._augmented(False, [list(exits)], [[link.time_s for link in exits.values()]])
        n_cand = len(field.candidates)
        ids = np.array([c.id for c in field.candidates], dtype=object)
        direct = np.full(n_cand, np.inf)
        direct_len = np.full(n_cand, np.inf)
        for ci in field.by_segment.get(origin.segment, ()):
            office = field.snaps[ci]
            assert office is not None
            d = self._direct(origin, office)
            if d is not None:
                direct[ci], direct_len[ci] = d
        c1 = first[0].travel_time_s
        for limit in (2 * c1 + 60.0, 8 * c1 + 600.0, np.inf):
            dist, pred = dijkstra(graph, directed=True, indices=n, return_predecessors=True, limit=limit)
            via_graph = dist[field.entry_node] + field.entry_time if len(field.entry_node) else np.empty(0)
            cost = np.full(n_cand, np.inf)
            np.minimum.at(cost, field.entry_cand, via_graph)
            total = np.minimum(cost, direct)
            # A candidate costing <= limit is exact: every node within the limit is settled.
            if np.count_nonzero(total <= limit) >= k or not np.isfinite(limit):
                break
        finite = np.flatnonzero(np.isfinite(total) & (total <= limit))
        chosen = finite[np.lexsort((ids[finite], total[finite]))][:k]
        if len(chosen) == 0:
            return []
        pred = pred.astype(np.int64)
        weight = np.zeros(n + 1)
        p = pred[:n]
        step = np.flatnonzero((p >= 0) & (p < n))
        weight[step] = self._pair_len[self._pair_index(p[step], step)]
        from_origin = np.flatnonzero(p == n)
        weight[from_origin] = [exits[int(i)].length_m for i in from_origin]
        tree_len = _tree_lengths(pred, weight)
        results = []
        for ci in chosen.tolist():
            cand = field.candidates[ci]
            office = field.snaps[ci]
            assert office is not None
            if direct[ci] <= cost[ci]:
                path = self._route_direct(origin, office, start, cand) if route else None
                results.append(NetworkResult(cand.id, float(direct[ci]), float(direct_len[ci]), path,
                                             office.distance_m))
                continue
            mine = np.flatnonzero(field.entry_cand == ci)
            j = int(mine[np.argmin(via_graph[mine])])
            b = int(field.entry_node[j])
            distance = float(tree_len[b]) + float(field.entry_len[j])
            path_coords = None
            if route:
                nodes = [b]
                while pred[nodes[-1]] != n:
                    nodes.append(int(pred[nodes[-1]]))
                nodes.reverse()
                entry = Link(b, float(field.entry_time[j]), float(field.entry_len[j]), int(field.entry_via[j]))
                path_coords = self._route(origin, exits[nodes[0]], nodes, entry, office, start, cand)
            results.append(NetworkResult(cand.id, float(total[ci]), distance, path_coords, office.distance_m))
        return results

    # ------------------------------------------------------------------ routes
    def _to_lonlat(self, parts: list[F64], start: tuple[float, float], cand: Candidate) -> list[tuple[float, float]]:
        xy = np.vstack(parts)
        keep = np.ones(len(xy), dtype=bool)
        keep[1:] = np.any(np.abs(np.diff(xy, axis=0)) > 1e-6, axis=1)
        xy = xy[keep]
        lon, lat = TO_WGS84.transform(xy[:, 0], xy[:, 1])
        coords = [(float(start[0]), float(start[1]))]
        coords += [(float(a), float(b)) for a, b in zip(lon, lat, strict=True)]
        coords.append((float(cand.lon), float(cand.lat)))
        return coords

    def _route_direct(
        self, origin: Snap, office: Snap, start: tuple[float, float], cand: Candidate
    ) -> list[tuple[float, float]]:
        part = _cut(self.segment_xy(origin.segment), origin.fraction, office.fraction)
        return self._to_lonlat([part], start, cand)

    def _route(
        self, origin: Snap, exit_link: Link, nodes: list[int], entry: Link, office: Snap,
        start: tuple[float, float], cand: Candidate,
    ) -> list[tuple[float, float]]:
        """Origin → snap → exit node → graph path → entry node → office snap → office."""
        parts: list[F64] = [np.array([[origin.x, origin.y]])]
        if exit_link.via != VIA_AT_NODE:
            target = 1.0 if exit_link.via == VIA_FORWARD else 0.0
            parts.append(_cut(self.segment_xy(origin.segment), origin.fraction, target))
        if len(nodes) > 1:
            arr = np.array(nodes)
            edges = self._pair_edge[self._pair_index(arr[:-1], arr[1:])]
            for e in edges.tolist():
                xy = self.segment_xy(int(self.edge_seg[e]))
                parts.append(xy[::-1] if self.edge_rev[e] else xy)
        else:
            parts.append(self.node_xy[nodes[:1]])
        if entry.via != VIA_AT_NODE:
            source = 0.0 if entry.via == VIA_FORWARD else 1.0
            parts.append(_cut(self.segment_xy(office.segment), source, office.fraction))
        parts.append(np.array([[office.x, office.y]]))
        return self._to_lonlat(parts, start, cand)

    # ------------------------------------------------------------------ circuity
    def circuity(self, n_pairs: int = 1000, seed: int = 0, min_straight_m: float = 250.0) -> float:
        """Mean ratio of network distance to straight distance over random node pairs.

        Planners multiply straight-line distances by it where the graph does not reach. Network
        distance is the shortest path by length; pairs closer than ``min_straight_m`` are skipped
        (tiny denominators make noisy ratios).
        """
        key = (n_pairs, seed, min_straight_m)
        if key in self._circuity:
            return self._circuity[key]
        n = self.n_nodes
        if n < 2:
            return float("nan")
        rng = np.random.default_rng(seed)
        sources = rng.choice(n, size=min(25, n), replace=False)
        per_source = max(1, -(-n_pairs // len(sources)))
        graph = csr_matrix((self._pair_minlen, self._pair_v, self._fwd_indptr), shape=(n, n))
        dist = dijkstra(graph, directed=True, indices=sources)
        ratios = []
        for row, s in enumerate(sources.tolist()):
            targets = rng.choice(n, size=per_source, replace=True)
            straight = np.hypot(*(self.node_xy[targets] - self.node_xy[s]).T)
            net = dist[row, targets]
            ok = (straight >= min_straight_m) & np.isfinite(net)
            ratios.append(net[ok] / straight[ok])
        allr = np.concatenate(ratios)
        value = float(allr.mean()) if len(allr) else float("nan")
        self._circuity[key] = value
        return value


def load_network(
    mode: str,
    net_dir: str | Path | None = None,
    *,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    cache_size: int = DEFAULT_CACHE_SIZE,
) -> RoadNetwork:
    """Load a mode's road network from ``<net_dir>/<mode>.npz``.

    Parameters
    ----------
    mode
        ``walk``, ``motorbike`` or ``car``.
    net_dir
        Folder of the artifacts; default ``get_settings().network_dir``.
    max_snap_m, cache_size
        See `RoadNetwork`.

    Raises
    ------
    InvalidParameter
        Unknown mode.
    IndexNotBuilt
        The artifact is missing or of another format version: run ``gandan network build``.
    """
    if mode not in ROAD_MODES:
        raise InvalidParameter(f"mode={mode!r} is not one of {', '.join(ROAD_MODES)}")
    folder = Path(net_dir) if net_dir is not None else get_settings().network_dir
    path = folder / f"{mode}.npz"
    if not path.is_file():
        raise IndexNotBuilt(f"no {mode} road network at {path}: run `gandan network build`")
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    found = int(arrays.get("format_version", np.array(-1)))
    if found != FORMAT_VERSION:
        raise IndexNotBuilt(f"{path} has format {found}, expected {FORMAT_VERSION}: run `gandan network build`")
    manifest: dict[str, Any] = {}
    manifest_path = folder / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    return RoadNetwork(arrays, max_snap_m=max_snap_m, cache_size=cache_size, manifest=manifest)
