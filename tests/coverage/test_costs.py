"""The cost model per mode (geo.coverage.costs): exact geodesic nearest, and network time on a hand-built road."""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import pytest
from shapely.geometry import Point

from geo.coverage import (
    BASIS_MIXED,
    BASIS_NETWORK,
    BASIS_STRAIGHT_CIRCUITY,
    CoverageEngine,
    facilities_frame,
    nearest_geodesic,
    to_metric,
    today_facilities,
)


def test_nearest_geodesic_is_exact_against_brute_force() -> None:
    rng = np.random.default_rng(7)
    origins = np.column_stack([rng.uniform(105.3, 106.0, 3000), rng.uniform(20.6, 21.3, 3000)])
    targets = np.column_stack([rng.uniform(105.3, 106.0, 60), rng.uniform(20.6, 21.3, 60)])
    dist, idx = nearest_geodesic(
        to_metric(origins[:, 0], origins[:, 1]), origins, to_metric(targets[:, 0], targets[:, 1]), targets
    )
    geod = pyproj.Geod(ellps="WGS84")
    _, _, full = geod.inv(
        np.repeat(origins[:, 0], 60), np.repeat(origins[:, 1], 60),
        np.tile(targets[:, 0], 3000), np.tile(targets[:, 1], 3000),
    )
    full = np.asarray(full).reshape(3000, 60)
    np.testing.assert_allclose(dist, full.min(axis=1), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(idx, full.argmin(axis=1))


# ============================================================================ network mode on a hand-built road
@pytest.fixture(scope="module")
def road(lonlat) -> object:  # type: ignore[no-untyped-def]
    """A straight two-way footway through the middle of Alpha: nodes at E 0, 500, 1000 m, N 500 m."""
    from geo.network import RoadNetwork

    G = nx.MultiDiGraph(crs="epsg:4326", mode="walk")
    for node, x in enumerate((0, 500, 1000)):
        lon, lat = lonlat(x, 500)
        G.add_node(node, x=lon, y=lat)
    for way, (u, v) in enumerate([(0, 1), (1, 2)], start=1):
        for a, b in ((u, v), (v, u)):
            G.add_edge(a, b, osmid=way, highway="footway", length=500.0, travel_time=400.0)
    return RoadNetwork.from_graph(G, max_snap_m=150.0)


def test_network_mode_mixes_graph_and_circuity_fallback_by_hand(communes, places, road, fixture_procedure) -> None:  # type: ignore[no-untyped-def]
    engine = CoverageEngine(communes, networks=lambda mode: road, speed_kmh={"walk": 4.5})  # 1.25 m/s
    result = engine.measure(places, "walk", 6.0)  # 360 s
    model = engine.network_model("walk")
    assert model.circuity == pytest.approx(1.0, abs=1e-6)
    assert len(model.snapped) == 8  # Alpha's points 125 m from the road; the others are beyond 150 m
    t = result.communes.set_index("name")
    # On the road (access 125 m + along the road to P1): 4 x (125 + 125) / 1.25 = 200 s, 4 x 400 s.
    # Off the road (straight x 1.0 / 1.25): 4 x 395.28 / 1.25 = 316.2 s, 4 x 530.33 / 1.25 = 424.3 s.
    expected_mean_s = (4 * 200 + 4 * 400 + 4 * math.hypot(375, 125) / 1.25 + 4 * math.hypot(375, 375) / 1.25) / 16
    assert t.loc["Alpha", "share"] == 0.5
    assert t.loc["Alpha", "mean_cost"] == pytest.approx(expected_mean_s / 60, abs=0.06)
    assert t.loc["Alpha", "cost_basis"] == BASIS_MIXED and t.loc["Alpha", "network_share"] == 0.5
    assert t.loc["Beta", "cost_basis"] == BASIS_STRAIGHT_CIRCUITY and t.loc["Beta", "network_share"] == 0.0
    on_road = result.points.on_network
    np.testing.assert_allclose(np.sort(result.points.cost[on_road]), [200] * 4 + [400] * 4, atol=0.5)
    report = engine.report(fixture_procedure, result)
    assert "OpenStreetMap" in report.model["attribution"]


def test_a_place_off_the_graph_is_reached_by_the_fallback(communes, road, lonlat) -> None:  # type: ignore[no-untyped-def]
    engine = CoverageEngine(communes, networks=lambda mode: road, speed_kmh={"walk": 4.5})
    def one_place(pid: str, x: float, y: float) -> gpd.GeoDataFrame:
        geometry = Point(*lonlat(x, y))
        return facilities_frame([{"id": pid, "name": pid, "kind": "x", "source": "test", "geometry": geometry}])

    beta = one_place("B", 1500, 500)
    result = engine.measure(beta, "walk", 30.0)
    assert set(result.communes["cost_basis"]) == {BASIS_STRAIGHT_CIRCUITY}  # Beta's centre is 500 m off the road
    assert result.communes.set_index("name").loc["Beta", "share"] == 1.0
    on_graph = one_place("A", 500, 500)
    both = engine.measure(pd.concat([beta, on_graph]), "walk", 30.0)
    assert BASIS_NETWORK not in set(both.communes["cost_basis"])  # Alpha: half on the road
    assert both.communes.set_index("name").loc["Alpha", "cost_basis"] == BASIS_MIXED


def test_straight_line_agrees_with_the_finder_when_all_places_are_open(finder, real: CoverageEngine, index) -> None:  # type: ignore[no-untyped-def]
    from datetime import datetime

    from geo.hours import TZ

    at = datetime(2026, 3, 2, 9, 30, tzinfo=TZ)  # an ordinary Monday morning
    _, ranks = finder.states_at(at)
    capable = finder.capable_rows("1.001193")
    assert (ranks[capable] == 0).all(), "every place handling 1.001193 is open on a Monday at 9:30"
    d = real.demand
    pick = np.random.default_rng(3).choice(len(d), 2000, replace=False)
    _, dist = finder.nearest_many(d.lon[pick], d.lat[pick], "1.001193", at, k=1)
    costs = real.costs(today_facilities(index, "1.001193"), "straight")
    np.testing.assert_allclose(costs.cost[pick], dist[:, 0], atol=0.01)
