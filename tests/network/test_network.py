"""Tests of geo.network: rules, build, snapping, multi-source nearest, k > 1, routes, artifacts.

Brute force is networkx Dijkstra (weight ``travel_time``) on the osmnx graph the artifact was made
from, with the partial-edge costs of the snapped points derived here independently.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.errors import DataValidationError, IndexNotBuilt, InvalidParameter, SourceUnavailable
from geo.modes import ROAD_MODES
from geo.network import (
    OSM_ATTRIBUTION,
    Candidate,
    RoadNetwork,
    Snap,
    build_from_place,
    build_graphs,
    build_mode_graphs,
    edge_rule,
    load_network,
    load_speeds,
    raw_graph_from_xml,
    write_network,
)
from geo.network.road import VIA_AT_NODE
from geo.settings import PROJECT_ROOT, Settings
from geo.sources import load_sources, paths_of_group, sha256_of

pytestmark = pytest.mark.xdist_group("network")  # one worker builds the real graph once

FIXTURES = Path(__file__).parent.parent / "fixtures" / "network"
TO_METRIC = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True)
A, B, C, D = (105.800, 21.030), (105.802, 21.030), (105.802, 21.032), (105.800, 21.032)  # oneway.osm


# ---------------------------------------------------------------------------------------------- helpers
def fixture_networks(name: str, speeds_path: Path | None = None, **kwargs: Any) -> dict[str, RoadNetwork]:
    speeds = load_speeds(speeds_path)
    graphs = build_mode_graphs(raw_graph_from_xml([FIXTURES / name], speeds), speeds)
    return {mode: RoadNetwork.from_graph(G, **kwargs) for mode, G in graphs.items()}


def links(net: RoadNetwork, snap: Snap, outgoing: bool) -> list[tuple[int, float]]:
    """Nodes reachable from (outgoing) or reaching (incoming) a snapped point, derived independently."""
    fwd, bwd = int(net.seg_fwd[snap.segment]), int(net.seg_bwd[snap.segment])
    u, v, f = int(net.edge_u[fwd]), int(net.edge_v[fwd]), snap.fraction
    out = [(v, (1 - f) * net.edge_time_s[fwd])] if outgoing else [(u, f * net.edge_time_s[fwd])]
    if bwd >= 0:
        out.append((u, f * net.edge_time_s[bwd]) if outgoing else (v, (1 - f) * net.edge_time_s[bwd]))
    if f == 0:
        out.append((u, 0.0))
    if f == 1:
        out.append((v, 0.0))
    return out


def same_segment(net: RoadNetwork, o: Snap, c: Snap) -> float:
    if o.segment != c.segment:
        return np.inf
    fwd, bwd = int(net.seg_fwd[o.segment]), int(net.seg_bwd[o.segment])
    if c.fraction >= o.fraction:
        return (c.fraction - o.fraction) * net.edge_time_s[fwd]
    return (o.fraction - c.fraction) * net.edge_time_s[bwd] if bwd >= 0 else np.inf


class Brute:
    """Travel time origin → candidate by networkx, one reverse single-source run per candidate."""

    def __init__(self, net: RoadNetwork, G: nx.MultiDiGraph, candidates: list[Candidate]) -> None:
        self.net, self.ids = net, net.node_osmid
        reverse = G.reverse(copy=False)
        self.to: list[tuple[Snap, dict[int, float]] | None] = []
        for c in candidates:
            snap = net.snap(c.lon, c.lat)
            if snap is None:
                self.to.append(None)
                continue
            best: dict[int, float] = {}
            for node, cost in links(net, snap, outgoing=False):
                lengths = nx.single_source_dijkstra_path_length(reverse, int(self.ids[node]), weight="travel_time")
                for k, t in lengths.items():
                    best[k] = min(best.get(k, np.inf), t + cost)
            self.to.append((snap, best))

    def costs(self, lon: float, lat: float) -> np.ndarray:
        origin = self.net.snap(lon, lat)
        assert origin is not None
        out = []
        for entry in self.to:
            if entry is None:
                out.append(np.inf)
                continue
            snap, best = entry
            via = min(t + best.get(int(self.ids[n]), np.inf) for n, t in links(self.net, origin, outgoing=True))
            out.append(min(via, same_segment(self.net, origin, snap)))
        return np.array(out)


def on_node(net: RoadNetwork, i: int, entries: bool) -> bool:
    """Whether a point placed on node ``i`` snaps onto that node (not onto a segment crossing it)."""
    snap = net.snap(*net.nodes_lonlat[i])
    return snap is not None and any(
        x.node == i and x.via == VIA_AT_NODE for x in (snap.entries if entries else snap.exits)
    )


def route_length_m(route: list[tuple[float, float]]) -> float:
    """Great-circle length of a route without its two connectors (origin → snap, snap → office).

    osmnx measures edges on a sphere, which differs from UTM or ellipsoid lengths by up to 0.5 %
    here, so the route is measured the same way. A snap's fraction is measured in UTM (conformal,
    the same scale in every direction) while the sphere overstates north-south lengths by about
    0.5 % against east-west ones at 21° N, so on an edge that bends from east-west to north-south a
    partial edge may differ by a few tenths of a percent: hence the 0.5 % tolerance.
    """
    import osmnx as ox

    pts = np.array(route[1:-1])
    return float(ox.distance.great_circle(pts[:-1, 1], pts[:-1, 0], pts[1:, 1], pts[1:, 0]).sum())


# ---------------------------------------------------------------------------------------------- real graph
@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The central-Hanoi graphs, built once: osmnx graphs, artifacts on disk and loaded networks."""
    settings = Settings()
    mirror = PROJECT_ROOT.parent / "shared" / "data" / "mirror"
    if settings.data_mirror is None and mirror.is_dir():
        settings = Settings(data_mirror=mirror)
    try:
        paths = paths_of_group("osm-central-hanoi", settings)
    except SourceUnavailable as exc:  # no mirror and no internet
        pytest.skip(f"central-Hanoi OSM extract unavailable: {exc}")
    out = tmp_path_factory.mktemp("network")
    speeds = load_speeds()
    graphs = build_mode_graphs(raw_graph_from_xml(paths, speeds), speeds)
    source = {"kind": "osm-xml", "files": [{"name": p.name, "sha256": sha256_of(p)}
                                           for p in paths]}
    manifest = write_network(graphs, out, source, speeds)
    nets = {mode: load_network(mode, out) for mode in ROAD_MODES}
    return {"paths": paths, "dir": out, "graphs": graphs, "nets": nets, "manifest": manifest}


def random_points(net: RoadNetwork, rng: np.random.Generator, n: int, jitter_deg: float = 0.0004) -> np.ndarray:
    """Points near random nodes, so most lie beside a street rather than on a node."""
    return net.nodes_lonlat[rng.choice(net.n_nodes, n)] + rng.normal(0, jitter_deg, (n, 2))


def test_manifest_and_artifacts(real: dict[str, Any]) -> None:
    manifest = json.loads((real["dir"] / "manifest.json").read_text())
    pinned = {s.path.rsplit("/", 1)[-1]: s.sha256 for s in load_sources()
              if s.group == "osm-central-hanoi"}
    assert {f["name"]: f["sha256"] for f in manifest["source"]["files"]} == pinned
    assert manifest["attribution"] == OSM_ATTRIBUTION
    for mode in ROAD_MODES:
        net = real["nets"][mode]
        assert manifest["modes"][mode]["nodes"] == net.n_nodes == len(real["graphs"][mode])
        assert manifest["modes"][mode]["edges"] == net.n_edges == real["graphs"][mode].number_of_edges()
    assert not [p for p in os.listdir(real["dir"]) if p.endswith(".tmp")]
    # Walkers ignore one-way tags; cars and motorbikes do not; motorbikes reach more than cars.
    assert manifest["modes"]["walk"]["one_way_segments"] == 0
    assert manifest["modes"]["car"]["one_way_segments"] > 100
    assert manifest["modes"]["motorbike"]["length_km"] > manifest["modes"]["car"]["length_km"]
    assert "motorway" not in manifest["modes"]["motorbike"]["highway_classes"]
    assert "footway" not in manifest["modes"]["car"]["highway_classes"]


@pytest.mark.parametrize("mode", ROAD_MODES)
def test_node_to_node_equals_networkx(real: dict[str, Any], mode: str) -> None:
    net, G = real["nets"][mode], real["graphs"][mode]
    rng = np.random.default_rng(7)
    # A node's position may also lie on a segment passing over it (a bridge): only test real nodes.
    origins = [int(a) for a in rng.choice(net.n_nodes, 12, replace=False) if on_node(net, int(a), entries=False)][:4]
    targets = [int(b) for b in rng.choice(net.n_nodes, 20, replace=False) if on_node(net, int(b), entries=True)][:6]
    assert len(origins) >= 3 and len(targets) >= 4
    for a in origins:
        want = nx.single_source_dijkstra_path_length(G, int(net.node_osmid[a]), weight="travel_time")
        for b in targets:
            answer = net.nearest(*net.nodes_lonlat[a], [Candidate("b", *net.nodes_lonlat[b])])
            assert answer is not None
            assert answer[0].travel_time_s == pytest.approx(want[int(net.node_osmid[b])], rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("mode", ["car", "walk"])
def test_costs_from_sources_equal_networkx_multi_source(real: dict[str, Any], mode: str) -> None:
    net, G = real["nets"][mode], real["graphs"][mode]
    rng = np.random.default_rng(3)
    nodes = [int(i) for i in rng.choice(net.n_nodes, 30, replace=False)]
    nodes = [i for i in nodes if on_node(net, i, entries=True)][:6]
    assert len(nodes) >= 4
    cands = [Candidate(f"n{i}", *net.nodes_lonlat[i]) for i in nodes]
    cost, source = net.costs_from_sources(cands)
    want = nx.multi_source_dijkstra_path_length(G.reverse(copy=False), {int(net.node_osmid[i]) for i in nodes},
                                                weight="travel_time")
    expected = np.array([want.get(int(o), np.inf) for o in net.node_osmid])
    np.testing.assert_allclose(cost, expected, rtol=1e-9, atol=1e-6)
    # node_source indexes the caller's list: a candidate's own node is its own source.
    for j, i in enumerate(nodes):
        assert cost[i] == 0 and source[i] == j


@pytest.mark.parametrize("mode", ROAD_MODES)
def test_nearest_and_k_match_brute_force(real: dict[str, Any], mode: str) -> None:
    net, G = real["nets"][mode], real["graphs"][mode]
    rng = np.random.default_rng({"walk": 11, "motorbike": 12, "car": 13}[mode])
    cands = [Candidate(f"c{i:02d}", *p) for i, p in enumerate(random_points(net, rng, 10))]
    brute = Brute(net, G, cands)
    for lon, lat in random_points(net, rng, 25):
        if net.snap(lon, lat) is None:
            continue
        want = brute.costs(lon, lat)
        one = net.nearest(lon, lat, cands)
        assert one is not None
        assert one[0].travel_time_s == pytest.approx(want.min(), rel=1e-9, abs=1e-6)
        assert want[int(one[0].id[1:])] == pytest.approx(want.min(), rel=1e-9, abs=1e-6)
        several = net.nearest(lon, lat, cands, k=4)
        assert several is not None
        np.testing.assert_allclose([r.travel_time_s for r in several], np.sort(want)[:4], rtol=1e-9, atol=1e-6)
        for r in several:
            assert want[int(r.id[1:])] == pytest.approx(r.travel_time_s, rel=1e-9, abs=1e-6)
        assert several[0].travel_time_s == pytest.approx(one[0].travel_time_s, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("mode", ["car", "walk"])
def test_routes_follow_the_graph(real: dict[str, Any], mode: str) -> None:
    net = real["nets"][mode]
    rng = np.random.default_rng(5)
    cands = [Candidate(f"c{i}", *p) for i, p in enumerate(random_points(net, rng, 8))]
    by_id = {c.id: c for c in cands}
    for lon, lat in random_points(net, rng, 10):
        answer = net.nearest(lon, lat, cands, k=3, route=True)
        assert answer is not None
        best = net.nearest(lon, lat, cands, route=True)
        assert best is not None
        for r in [*answer, *best]:
            assert r.route is not None
            assert r.route[0] == (pytest.approx(lon), pytest.approx(lat))
            assert r.route[1] == (pytest.approx(answer.origin.lon), pytest.approx(answer.origin.lat))
            office = by_id[r.id]
            assert r.route[-1] == (pytest.approx(office.lon), pytest.approx(office.lat))
            ox_, oy = TO_METRIC.transform(*r.route[-2])
            cx, cy = TO_METRIC.transform(office.lon, office.lat)
            assert np.hypot(ox_ - cx, oy - cy) == pytest.approx(r.snap_m, abs=0.01)
            assert route_length_m(r.route) == pytest.approx(r.distance_m, rel=5e-3, abs=0.05)


@pytest.mark.parametrize("mode", ROAD_MODES)
def test_snap_is_the_nearest_usable_segment(real: dict[str, Any], mode: str) -> None:
    net = real["nets"][mode]
    rng = np.random.default_rng(9)
    lines = shapely.linestrings(
        np.concatenate([net.segment_xy(s) for s in range(net.n_segments)]),
        indices=np.repeat(np.arange(net.n_segments), [len(net.segment_xy(s)) for s in range(net.n_segments)]),
    )
    for lon, lat in random_points(net, rng, 30, jitter_deg=0.001):
        snap = net.snap(lon, lat)
        x, y = TO_METRIC.transform(lon, lat)
        nearest = float(shapely.distance(lines, shapely.Point(x, y)).min())
        if nearest > net.max_snap_m:
            assert snap is None
            continue
        assert snap is not None
        assert snap.distance_m == pytest.approx(nearest, abs=1e-6)


def test_circuity_is_plausible(real: dict[str, Any]) -> None:
    for mode in ROAD_MODES:
        value = real["nets"][mode].circuity()
        assert 1.05 < value < 2.5, (mode, value)
    assert real["nets"]["walk"].circuity() < real["nets"]["car"].circuity()  # cars obey one-way streets


def test_off_graph_origin_in_real_graph(real: dict[str, Any]) -> None:
    net = real["nets"]["car"]
    cands = [Candidate("x", *net.nodes_lonlat[0])]
    assert net.snap(105.95, 21.20) is None  # Sóc Sơn side: no road data here
    assert net.nearest(105.95, 21.20, cands) is None


# ---------------------------------------------------------------------------------------------- fixtures
def great_circle_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    import osmnx as ox

    return float(ox.distance.great_circle(a[1], a[0], b[1], b[0]))


def test_one_way_respected_by_car_not_by_walk_or_motorbike() -> None:
    nets = fixture_networks("oneway.osm")
    speeds = load_speeds()
    ab, bc = great_circle_m(A, B), great_circle_m(B, C)
    loop = bc + great_circle_m(C, D) + great_circle_m(D, A)
    for mode, net in nets.items():
        kmh = speeds[mode].highway_kmh["residential"]
        forward = net.nearest(*A, [Candidate("B", *B)])
        backward = net.nearest(*B, [Candidate("A", *A)])
        assert forward is not None and backward is not None
        assert forward[0].travel_time_s == pytest.approx(ab / (kmh / 3.6), rel=1e-9)
        if mode == "car":
            assert backward[0].travel_time_s == pytest.approx(loop / (kmh / 3.6), rel=1e-9)
            assert backward[0].distance_m == pytest.approx(loop, rel=1e-9)
        else:  # walkers ignore one-way; the way is tagged oneway:motorcycle=no
            assert backward[0].travel_time_s == pytest.approx(ab / (kmh / 3.6), rel=1e-9)


def test_same_segment_offsets_and_direction() -> None:
    car = fixture_networks("oneway.osm")["car"]
    t_ab = great_circle_m(A, B) / (12 / 3.6)
    quarter, three = (105.8005, 21.030), (105.8015, 21.030)
    ahead = car.nearest(*quarter, [Candidate("o", *three)], route=True)
    assert ahead is not None
    assert ahead[0].travel_time_s == pytest.approx(0.5 * t_ab, rel=1e-6)
    assert ahead[0].route is not None and len(ahead[0].route) == 4  # origin, snap, office snap, office
    behind = car.nearest(*three, [Candidate("o", *quarter)])
    assert behind is not None
    loop = sum(great_circle_m(p, q) for p, q in ((B, C), (C, D), (D, A))) / (12 / 3.6)
    assert behind[0].travel_time_s == pytest.approx(0.25 * t_ab + loop + 0.25 * t_ab, rel=1e-6)
    walk = fixture_networks("oneway.osm")["walk"]
    back = walk.nearest(*three, [Candidate("o", *quarter)])
    assert back is not None
    assert back[0].travel_time_s == pytest.approx(0.5 * great_circle_m(A, B) / (4.5 / 3.6), rel=1e-6)


def test_snap_never_uses_a_way_the_mode_cannot_use() -> None:
    nets = fixture_networks("snap.osm")
    near_footway, near_alley = (105.802, 21.0303), (105.802, 21.0298)
    expected = {
        ("walk", near_footway): "footway", ("motorbike", near_footway): "residential",
        ("car", near_footway): "residential", ("walk", near_alley): "service",
        ("motorbike", near_alley): "service", ("car", near_alley): "residential",
    }
    for (mode, point), highway in expected.items():
        snap = nets[mode].snap(*point)
        assert snap is not None
        assert nets[mode].segment_highway(snap.segment) == highway, (mode, point)
    car_snap = nets["car"].snap(*near_footway)
    assert car_snap is not None and car_snap.distance_m == pytest.approx(33.4, abs=1.0)


def test_off_graph_points_are_flagged() -> None:
    net = fixture_networks("snap.osm")["car"]
    far = (105.85, 21.05)  # about 5 km away
    assert net.snap(*far) is None
    assert net.nearest(*far, [Candidate("a", 105.801, 21.030)]) is None
    answer = net.nearest(105.801, 21.030, [Candidate("far", *far), Candidate("near", 105.803, 21.0301)], k=2)
    assert answer is not None
    assert [r.id for r in answer] == ["near"]
    assert answer.off_graph_ids == ("far",)
    wide = fixture_networks("snap.osm", max_snap_m=10_000)["car"]
    assert wide.snap(*far) is not None


def test_speeds_override_and_validation(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "data" / "network_speeds.toml").read_text()
    faster = tmp_path / "faster.toml"
    faster.write_text(text.replace("[car.highway_kmh]", "[car.highway_kmh]\nresidential = 24.0", 1)
                      .replace("residential = 12.0\n", "", 1))
    base = fixture_networks("oneway.osm")["car"].nearest(*A, [Candidate("B", *B)])
    fast = fixture_networks("oneway.osm", speeds_path=faster)["car"].nearest(*A, [Candidate("B", *B)])
    assert base is not None and fast is not None
    assert fast[0].travel_time_s == pytest.approx(base[0].travel_time_s / 2, rel=1e-9)
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("residential = 12.0", "residential = -3", 1).replace("[walk]", "[walking]", 1))
    with pytest.raises(DataValidationError) as info:
        load_speeds(bad)
    messages = " ".join(str(p) for p in info.value.problems)
    assert "out of range" in messages and "walking" in messages


@pytest.mark.parametrize(
    ("tags", "mode", "expected"),
    [
        ({"highway": "motorway"}, "motorbike", None),
        ({"highway": "motorway"}, "walk", None),
        ({"highway": "motorway"}, "car", (60.0, True, True)),
        ({"highway": "footway"}, "motorbike", None),
        ({"highway": "footway", "motorcycle": "yes"}, "motorbike", (10.0, True, True)),
        ({"highway": "steps"}, "car", None),
        ({"highway": "steps", "access": "yes"}, "car", None),  # plain access cannot open a class
        ({"highway": "service", "service": "alley"}, "car", None),
        ({"highway": "service", "service": "alley", "motorcar": "destination"}, "car", (8.0, True, True)),
        ({"highway": "service", "service": "alley"}, "motorbike", (10.0, True, True)),
        ({"highway": "service", "service": "alley", "motorcycle": "yes", "motor_vehicle": "no"}, "motorbike",
         (10.0, True, True)),
        ({"highway": "service", "service": "alley", "motor_vehicle": "no"}, "motorbike", None),
        ({"highway": "residential", "access": "private"}, "walk", None),
        ({"highway": "trunk", "sidewalk": "no"}, "walk", None),
        ({"highway": "trunk"}, "walk", (4.5, True, True)),
        ({"highway": "trunk", "motorcycle": "no"}, "motorbike", None),
        ({"highway": "primary", "oneway": "yes"}, "car", (20.0, True, False)),
        ({"highway": "primary", "oneway": "yes"}, "walk", (4.5, True, True)),
        ({"highway": "primary", "oneway": "yes", "oneway:motorcycle": "no"}, "motorbike", (25.0, True, True)),
        ({"highway": "primary", "oneway": "-1"}, "car", (20.0, False, True)),
        ({"highway": "primary", "junction": "roundabout"}, "car", (20.0, True, False)),
        ({"highway": "primary", "maxspeed": "10"}, "car", (10.0, True, True)),
        ({"highway": "pedestrian", "area": "yes"}, "walk", None),
        ({"highway": "construction"}, "walk", None),
    ],
)
def test_edge_rules(tags: dict[str, str], mode: str, expected: tuple[float, bool, bool] | None) -> None:
    assert edge_rule(tags, load_speeds()[mode]) == expected


def test_oneway_reverse_is_stored_against_the_way() -> None:
    # osmnx stores a oneway=-1 way reversed, so along the stored edge is the allowed direction.
    assert edge_rule({"highway": "primary", "oneway": "-1"}, load_speeds()["car"], stored_reversed=True) == (
        20.0, True, False)


# A 5 x 5 grid with one-way streets: random origins and candidate sets against brute force.
GRID = {mode: (net, G) for mode, net, G in (
    (m, RoadNetwork.from_graph(g), g)
    for m, g in build_mode_graphs(raw_graph_from_xml([FIXTURES / "grid.osm"])).items()
)}
GRID_LON, GRID_LAT = (105.8095, 105.8143), (21.0395, 21.0440)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mode=st.sampled_from(ROAD_MODES),
    origin=st.tuples(st.floats(*GRID_LON), st.floats(*GRID_LAT)),
    places=st.lists(st.tuples(st.floats(*GRID_LON), st.floats(*GRID_LAT)), min_size=1, max_size=6),
    k=st.integers(1, 4),
)
def test_grid_nearest_matches_brute_force(
    mode: str, origin: tuple[float, float], places: list[tuple[float, float]], k: int
) -> None:
    net, G = GRID[mode]
    cands = [Candidate(f"c{i}", lon, lat) for i, (lon, lat) in enumerate(places)]
    want = Brute(net, G, cands).costs(*origin)
    answer = net.nearest(*origin, cands, k=k, route=True)
    assert answer is not None
    n = min(k, int(np.isfinite(want).sum()))
    np.testing.assert_allclose([r.travel_time_s for r in answer], np.sort(want)[:n], rtol=1e-9, atol=1e-6)
    for r in answer:
        assert r.route is not None
        assert route_length_m(r.route) == pytest.approx(r.distance_m, rel=5e-3, abs=0.05)


# ---------------------------------------------------------------------------------------------- API
def test_cache_and_candidate_order() -> None:
    net, _ = GRID["car"]
    cands = [Candidate(f"c{i}", 105.8100 + 0.001 * i, 21.0405 + 0.0007 * i) for i in range(4)]
    cost1, source1 = net.costs_from_sources(cands)
    hits = net.cache_hits
    cost2, source2 = net.costs_from_sources(cands[::-1])
    assert net.cache_hits == hits + 1
    np.testing.assert_array_equal(cost1, cost2)
    reached = source1 >= 0
    np.testing.assert_array_equal(source2[reached], 3 - source1[reached])
    with pytest.raises(ValueError, match="read-only"):
        cost1[0] = 1.0


def test_invalid_parameters(tmp_path: Path) -> None:
    net, _ = GRID["walk"]
    with pytest.raises(InvalidParameter):
        net.nearest(105.81, 21.04, [Candidate("a", 105.81, 21.04), Candidate("a", 105.811, 21.04)])
    with pytest.raises(InvalidParameter):
        net.nearest(105.81, 21.04, [Candidate("a", 105.81, 21.04)], k=0)
    with pytest.raises(InvalidParameter):
        load_network("bicycle", tmp_path)
    with pytest.raises(IndexNotBuilt):
        load_network("walk", tmp_path)
    empty = net.nearest(105.811, 21.0405, [])
    assert empty is not None and list(empty) == []


def test_build_graphs_writes_loadable_artifacts(tmp_path: Path) -> None:
    manifest = build_graphs([FIXTURES / "grid.osm"], tmp_path, modes=["car", "walk"])
    assert sorted(manifest["modes"]) == ["car", "walk"]
    assert manifest["source"]["files"][0]["sha256"] == sha256_of(FIXTURES / "grid.osm")
    net = load_network("car", tmp_path)
    fresh, _ = GRID["car"]
    assert (net.n_nodes, net.n_edges) == (fresh.n_nodes, fresh.n_edges)
    a = net.nearest(105.8105, 21.0404, [Candidate("x", 105.8135, 21.0433)])
    b = fresh.nearest(105.8105, 21.0404, [Candidate("x", 105.8135, 21.0433)])
    assert a is not None and b is not None and a[0].travel_time_s == b[0].travel_time_s
    assert sorted(os.listdir(tmp_path)) == ["car.npz", "manifest.json", "walk.npz"]
    assert all((tmp_path / name).stat().st_mode & 0o044 for name in os.listdir(tmp_path))  # readable by others


def test_build_from_place_is_wired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import osmnx as ox

    seen: dict[str, Any] = {}

    def fake(query: Any, **kwargs: Any) -> nx.MultiDiGraph:
        seen.update(query=query, **kwargs)
        return ox.graph_from_xml(FIXTURES / "grid.osm", simplify=False, retain_all=True)

    monkeypatch.setattr(ox, "graph_from_place", fake)
    manifest = build_from_place("Hà Nội, Việt Nam", tmp_path, modes=["motorbike"])
    assert seen["query"] == "Hà Nội, Việt Nam" and seen["custom_filter"] == '["highway"]'
    assert seen["simplify"] is False and seen["retain_all"] is True
    assert manifest["source"]["kind"] == "overpass"
    assert load_network("motorbike", tmp_path).n_nodes == GRID["motorbike"][0].n_nodes
    assert ox.settings.all_oneway is False  # osmnx settings restored
