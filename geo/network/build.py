"""Build the per-mode road graphs with osmnx and write them as compact artifacts.

Pipeline: OSM ways (XML files or Overpass) → one raw graph of way segments merged by OSM node and way
id → per mode, the segments the mode may use, oriented by its one-way rules, with ``travel_time`` →
largest strongly connected component → osmnx simplification → arrays in ``<out_dir>/<mode>.npz``
plus ``manifest.json``.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import osmnx as ox

from geo.errors import DataProblem, DataValidationError, InvalidParameter, SourceUnavailable
from geo.modes import ROAD_MODES
from geo.network.arrays import graph_arrays
from geo.network.common import FORMAT_VERSION, METRIC_CRS, OSM_ATTRIBUTION
from geo.network.rules import OSMNX_REVERSED_VALUES, ModeRules, SpeedTable, edge_rule, load_speeds, way_tags
from geo.settings import get_settings
from geo.sources import sha256_of

__all__ = [
    "build_from_place",
    "build_graphs",
    "build_mode_graphs",
    "mode_graph",
    "raw_graph_from_place",
    "raw_graph_from_xml",
    "write_network",
]

_log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@contextmanager
def _osmnx_raw_ways(tags: list[str]) -> Iterator[None]:
    """Make osmnx keep every way as stored, one direction, with the tags the rules need.

    ``all_oneway`` adds each way once in its node order (reversed only for ``oneway=-1``) and keeps
    the raw ``oneway`` string, so direction is decided per mode by our rules, not once by osmnx.
    osmnx settings are process globals: they are restored on exit.
    """
    saved = (ox.settings.all_oneway, list(ox.settings.useful_tags_way))
    ox.settings.all_oneway = True
    ox.settings.useful_tags_way = tags
    try:
        yield
    finally:
        ox.settings.all_oneway, ox.settings.useful_tags_way = saved


def _merge(graphs: Iterable[nx.MultiDiGraph]) -> nx.MultiDiGraph:
    """Merge raw graphs by OSM node id and (way id, u, v): overlapping extracts share ways."""
    raw = nx.MultiDiGraph(crs="epsg:4326")
    coords: dict[int, tuple[float, float]] = {}
    for G in graphs:
        for u, v, data in G.edges(data=True):
            way = int(data["osmid"])
            if not raw.has_edge(u, v, key=way):
                raw.add_edge(u, v, key=way, **data)
        for node, data in G.nodes(data=True):
            coords.setdefault(node, (float(data["x"]), float(data["y"])))
    for node in raw.nodes:
        raw.nodes[node]["x"], raw.nodes[node]["y"] = coords[node]
    return raw


def raw_graph_from_xml(osm_paths: Sequence[str | Path], speeds: SpeedTable | None = None) -> nx.MultiDiGraph:
    """Read OSM XML files with `osmnx.graph_from_xml` into one raw graph of way segments.

    Parameters
    ----------
    osm_paths
        OSM XML files (they may overlap: ways and nodes are merged by OSM id).
    speeds
        The rules, which say which tags to keep; default the project's speeds file.

    Returns
    -------
    networkx.MultiDiGraph
        Unsimplified, one edge per way segment in stored order, keyed by way id.
    """
    speeds = speeds or load_speeds()
    if not osm_paths:
        raise InvalidParameter("no OSM XML file given")
    graphs = []
    with _osmnx_raw_ways(way_tags(speeds)):
        for path in osm_paths:
            if not Path(path).is_file():
                raise SourceUnavailable(f"OSM XML file {path} does not exist")
            try:
                graphs.append(ox.graph_from_xml(path, simplify=False, retain_all=True))
            except Exception as exc:  # osmnx raises parser and value errors of several kinds
                raise DataValidationError([DataProblem(str(path), f"not readable as OSM XML: {exc}")]) from exc
    return _merge(graphs)


def raw_graph_from_place(place: str | dict[str, str], speeds: SpeedTable | None = None) -> nx.MultiDiGraph:
    """Download every highway way of a place from Overpass with `osmnx.graph_from_place`.

    Parameters
    ----------
    place
        A Nominatim query, for example ``"Hà Nội, Việt Nam"``.
    speeds
        The rules, which say which tags to keep; default the project's speeds file.

    Returns
    -------
    networkx.MultiDiGraph
        The same raw form as `raw_graph_from_xml`.
    """
    speeds = speeds or load_speeds()
    with _osmnx_raw_ways(way_tags(speeds)):
        try:
            # Every highway way: our rules, not an osmnx network_type, decide what each mode uses,
            # so online and offline builds filter identically.
            G = ox.graph_from_place(place, simplify=False, retain_all=True, custom_filter='["highway"]')
        except Exception as exc:  # network errors, Nominatim misses, empty responses
            raise SourceUnavailable(f"could not fetch the road network of {place!r}: {exc}") from exc
    return _merge([G])


def mode_graph(raw: nx.MultiDiGraph, rules: ModeRules) -> nx.MultiDiGraph:
    """The routable osmnx graph of one mode: usable segments, oriented, with ``travel_time``.

    Parameters
    ----------
    raw
        A raw graph from `raw_graph_from_xml` or `raw_graph_from_place`.
    rules
        The mode's rules.

    Returns
    -------
    networkx.MultiDiGraph
        Simplified, lon/lat (EPSG:4326), the largest strongly connected component only, edges with
        ``length`` (m), ``travel_time`` (s), ``speed_kmh``, ``highway``, ``osmid``.

    Raises
    ------
    DataValidationError
        No segment is usable by the mode.
    """
    G = nx.MultiDiGraph(crs="epsg:4326", mode=rules.mode)
    for u, v, data in raw.edges(data=True):
        stored_reversed = str(data.get("oneway")) in OSMNX_REVERSED_VALUES
        rule = edge_rule(data, rules, stored_reversed)
        if rule is None:
            continue
        kmh, forward, backward = rule
        length = float(data["length"])
        attrs = {
            "osmid": int(data["osmid"]),
            "highway": data["highway"],
            "length": length,
            "speed_kmh": kmh,
            "travel_time": length / (kmh / 3.6),
            "oneway": not (forward and backward),
        }
        if forward:
            G.add_edge(u, v, reversed=False, **attrs)
        if backward:
            G.add_edge(v, u, reversed=True, **attrs)
    if G.number_of_edges() == 0:
        raise DataValidationError([DataProblem("road network", f"no way is usable by mode {rules.mode!r}")])
    for node in G.nodes:
        G.nodes[node]["x"] = raw.nodes[node]["x"]
        G.nodes[node]["y"] = raw.nodes[node]["y"]
    # Strongly connected: every node can reach every other, so no origin or office is stranded
    # on a one-way stub that leaves the extract (a cost of infinity would be a silent failure).
    before = (len(G), G.number_of_edges())
    G = ox.truncate.largest_component(G, strongly=True)
    G.graph["outside_largest_component"] = {"nodes": before[0] - len(G), "edges": before[1] - G.number_of_edges()}
    # Keep nodes where the speed changes, so each edge has one speed and a snapped point's share of
    # the edge's travel time is exactly proportional to its share of the length. Rings are kept:
    # after the component step a ring can only be the whole graph, which must not vanish.
    return ox.simplify_graph(G, edge_attrs_differ=["speed_kmh"], remove_rings=False)


def build_mode_graphs(
    raw: nx.MultiDiGraph,
    speeds: SpeedTable | None = None,
    modes: Sequence[str] = ROAD_MODES,
    progress: Progress | None = None,
) -> dict[str, nx.MultiDiGraph]:
    """Return `mode_graph` for each mode."""
    speeds = speeds or load_speeds()
    graphs = {}
    for mode in modes:
        if mode not in ROAD_MODES:
            raise InvalidParameter(f"mode={mode!r} is not one of {', '.join(ROAD_MODES)}")
        if progress:
            progress(f"{mode} graph")
        graphs[mode] = mode_graph(raw, speeds[mode])
    return graphs


def _write_aside(dest: Path, write: Callable[[Any], None], binary: bool) -> None:
    """Write ``dest`` through a temporary file in the same folder, then rename it into place."""
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}-", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw:
            if binary:
                write(raw)
            else:
                text = io.TextIOWrapper(raw, encoding="utf-8")
                write(text)
                text.flush()
                text.detach()
            raw.flush()
            os.fsync(raw.fileno())
        tmp.chmod(0o644)  # mkstemp makes 0600; a server may run as another user
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)


def write_network(
    graphs: dict[str, nx.MultiDiGraph],
    out_dir: str | Path | None = None,
    source: dict[str, Any] | None = None,
    speeds: SpeedTable | None = None,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Write each mode's arrays to ``<out_dir>/<mode>.npz`` and the ``manifest.json`` last.

    Every file is written aside and renamed into place, so a reader never sees a partial file and a
    failed build leaves the previous artifacts untouched. Each ``.npz`` is self-contained.

    Returns
    -------
    dict
        The manifest.
    """
    speeds = speeds or load_speeds()
    out = Path(out_dir) if out_dir is not None else get_settings().network_dir
    out.mkdir(parents=True, exist_ok=True)
    built_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    modes: dict[str, Any] = {}
    for mode, G in graphs.items():
        arrays = graph_arrays(G)
        arrays["built_at"] = np.array(built_at)
        arrays["speeds_sha256"] = np.array(speeds.sha256)
        dest = out / f"{mode}.npz"
        def save(fh: Any, a: dict[str, Any] = arrays) -> None:
            np.savez(fh, **a)

        _write_aside(dest, save, binary=True)
        lon, lat = arrays["node_lonlat"][:, 0], arrays["node_lonlat"][:, 1]
        modes[mode] = {
            "file": dest.name,
            "sha256": sha256_of(dest),
            "bytes": dest.stat().st_size,
            "nodes": len(arrays["node_osmid"]),
            "edges": len(arrays["edge_u"]),
            "segments": len(arrays["seg_fwd"]),
            "one_way_segments": int((arrays["seg_bwd"] < 0).sum()),
            "length_km": round(float(arrays["edge_length_m"][arrays["seg_fwd"]].sum()) / 1000, 1),
            "bbox_lonlat": [round(float(v), 6) for v in (lon.min(), lat.min(), lon.max(), lat.max())],
            "highway_classes": [str(h) for h in arrays["highway_names"]],
            # unsimplified nodes and edges dropped because they cannot reach or be reached from the rest
            "outside_largest_component": G.graph.get("outside_largest_component"),
        }
    manifest = {
        "format_version": FORMAT_VERSION,
        "built_at": built_at,
        "generator": f"gandan geo.network with osmnx {package_version('osmnx')}",
        "crs": METRIC_CRS,
        "attribution": OSM_ATTRIBUTION,
        "source": source or {},
        "speeds": {"path": speeds.path, "sha256": speeds.sha256},
        "modes": modes,
        "timings_s": {k: round(v, 3) for k, v in (timings or {}).items()},
    }
    _write_aside(out / "manifest.json",
                 lambda fh: json.dump(manifest, fh, ensure_ascii=False, indent=2), binary=False)
    return manifest


def _build(
    read_raw: Callable[[SpeedTable], nx.MultiDiGraph],
    source: dict[str, Any],
    out_dir: str | Path | None,
    speeds_path: str | Path | None,
    modes: Sequence[str],
    progress: Progress | None,
) -> dict[str, Any]:
    speeds = load_speeds(speeds_path)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if progress:
        progress("reading OSM ways")
    raw = read_raw(speeds)
    timings["read"] = time.perf_counter() - started
    graphs: dict[str, nx.MultiDiGraph] = {}
    for mode in modes:
        t0 = time.perf_counter()
        graphs.update(build_mode_graphs(raw, speeds, [mode], progress))
        timings[mode] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if progress:
        progress("writing artifacts")
    manifest = write_network(graphs, out_dir, source, speeds, timings)
    manifest["timings_s"]["write"] = round(time.perf_counter() - t0, 3)
    manifest["timings_s"]["total"] = round(time.perf_counter() - started, 3)
    return manifest


def build_graphs(
    osm_paths: Sequence[str | Path],
    out_dir: str | Path | None = None,
    speeds_path: str | Path | None = None,
    modes: Sequence[str] = ROAD_MODES,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Build the graphs of ``modes`` offline from OSM XML files and write the artifacts.

    Parameters
    ----------
    osm_paths
        OSM XML files, e.g. ``geo.sources.paths_of_group("osm-central-hanoi")``; overlaps are merged.
    out_dir
        Output folder; default ``get_settings().network_dir`` (``build/network``).
    speeds_path
        A speeds file replacing ``data/network_speeds.toml``.
    modes
        Which of ``walk``, ``motorbike``, ``car`` to build.
    progress
        Called with a short message at each step.

    Returns
    -------
    dict
        The manifest written to ``manifest.json`` (sources with sha256, counts, timings).
    """
    files = [Path(p) for p in osm_paths]
    source = {
        "kind": "osm-xml",
        "files": [
            {"name": p.name, "path": str(p), "sha256": sha256_of(p), "bytes": p.stat().st_size}
            for p in files if p.is_file()
        ],
    }
    return _build(lambda speeds: raw_graph_from_xml(files, speeds), source, out_dir, speeds_path, modes, progress)


def build_from_place(
    place: str | dict[str, str],
    out_dir: str | Path | None = None,
    speeds_path: str | Path | None = None,
    modes: Sequence[str] = ROAD_MODES,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Build the graphs of ``modes`` from Overpass for a place (needs internet) and write the artifacts.

    Parameters
    ----------
    place
        A Nominatim query such as ``"Hà Nội, Việt Nam"``.
    out_dir, speeds_path, modes, progress
        As in `build_graphs`.

    Returns
    -------
    dict
        The manifest (its source records the place and the download time instead of checksums).
    """
    source = {
        "kind": "overpass",
        "place": place,
        "fetched_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "overpass_url": ox.settings.overpass_url,
    }
    return _build(lambda speeds: raw_graph_from_place(place, speeds), source, out_dir, speeds_path, modes, progress)
