"""Flatten a mode graph into the arrays of its ``<mode>.npz`` artifact (no osmnx needed)."""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np

from geo.geodesy import TO_METRIC
from geo.network.common import FORMAT_VERSION

__all__ = ["graph_arrays"]


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) else value


def graph_arrays(G: nx.MultiDiGraph) -> dict[str, np.ndarray]:
    """Flatten a `mode_graph` into the arrays of the ``<mode>.npz`` artifact.

    Nodes keep their OSM id, lon/lat and EPSG:32648 coordinates. Directed edges keep their ends,
    length, travel time, first OSM way id and highway class. Edges that are the two directions of
    one physical street (same ends swapped, reversed geometry) share one *segment*, whose geometry
    (EPSG:32648, oriented like its forward edge) is stored once and indexed for snapping.
    """
    nodes = list(G.nodes)
    index = {node: i for i, node in enumerate(nodes)}
    lonlat = np.array([(G.nodes[n]["x"], G.nodes[n]["y"]) for n in nodes], dtype=np.float64)
    mx, my = TO_METRIC.transform(lonlat[:, 0], lonlat[:, 1])
    node_xy = np.column_stack([mx, my])

    edges = list(G.edges(data=True))
    n_edges = len(edges)
    edge_u = np.array([index[u] for u, _, _ in edges], dtype=np.int32)
    edge_v = np.array([index[v] for _, v, _ in edges], dtype=np.int32)
    length = np.array([float(d["length"]) for _, _, d in edges], dtype=np.float64)
    travel = np.array([float(d["travel_time"]) for _, _, d in edges], dtype=np.float64)
    osmid = np.array([int(_first(d["osmid"])) for _, _, d in edges], dtype=np.int64)
    highway_names = sorted({str(_first(d["highway"])) for _, _, d in edges})
    code = {name: i for i, name in enumerate(highway_names)}
    highway = np.array([code[str(_first(d["highway"]))] for _, _, d in edges], dtype=np.int16)

    # Edge geometries in lon/lat (osmnx gives one only to merged edges), projected in one call.
    parts = []
    for (_, _, data), a, b in zip(edges, edge_u, edge_v, strict=True):
        geom = data.get("geometry")
        parts.append(np.asarray(geom.coords, dtype=np.float64) if geom is not None else lonlat[[a, b]])
    counts = np.array([len(p) for p in parts], dtype=np.int64)
    flat = np.concatenate(parts) if parts else np.empty((0, 2))
    gx, gy = TO_METRIC.transform(flat[:, 0], flat[:, 1])
    flat_xy = np.column_stack([gx, gy])
    starts = np.concatenate([[0], np.cumsum(counts)])

    # Pair the two directions of each two-way street into one segment.
    buckets: dict[tuple[int, int], list[int]] = {}
    for e in range(n_edges):
        key = (min(edge_u[e], edge_v[e]), max(edge_u[e], edge_v[e]))
        buckets.setdefault((int(key[0]), int(key[1])), []).append(e)
    edge_seg = np.full(n_edges, -1, dtype=np.int32)
    edge_rev = np.zeros(n_edges, dtype=bool)
    seg_fwd: list[int] = []
    seg_bwd: list[int] = []
    for e in range(n_edges):
        if edge_seg[e] >= 0:
            continue
        s = len(seg_fwd)
        seg_fwd.append(e)
        edge_seg[e] = s
        partner = -1
        key = (int(min(edge_u[e], edge_v[e])), int(max(edge_u[e], edge_v[e])))
        geom_e = flat_xy[starts[e]:starts[e + 1]]
        for c in buckets[key]:
            if c == e or edge_seg[c] >= 0 or edge_u[c] != edge_v[e] or edge_v[c] != edge_u[e]:
                continue
            if abs(length[c] - length[e]) > 1e-6 * max(1.0, length[e]):
                continue
            geom_c = flat_xy[starts[c]:starts[c + 1]]
            if geom_c.shape == geom_e.shape and np.allclose(geom_c[::-1], geom_e, atol=1e-6):
                partner = c
                break
        seg_bwd.append(partner)
        if partner >= 0:
            edge_seg[partner] = s
            edge_rev[partner] = True
    fwd = np.array(seg_fwd, dtype=np.int32)
    seg_counts = counts[fwd]
    seg_xy = np.concatenate([flat_xy[starts[e]:starts[e + 1]] for e in fwd]) if len(fwd) else flat_xy
    return {
        "format_version": np.array(FORMAT_VERSION, dtype=np.int32),
        "mode": np.array(str(G.graph.get("mode", ""))),
        "node_osmid": np.array(nodes, dtype=np.int64),
        "node_lonlat": lonlat,
        "node_xy": node_xy,
        "edge_u": edge_u,
        "edge_v": edge_v,
        "edge_length_m": length,
        "edge_time_s": travel,
        "edge_osmid": osmid,
        "edge_highway": highway,
        "highway_names": np.array(highway_names, dtype=str),
        "edge_seg": edge_seg,
        "edge_rev": edge_rev,
        "seg_fwd": fwd,
        "seg_bwd": np.array(seg_bwd, dtype=np.int32),
        "seg_offsets": np.concatenate([[0], np.cumsum(seg_counts)]).astype(np.int64),
        "seg_xy": seg_xy,
    }
