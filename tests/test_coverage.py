"""Coverage for planners: hand-computed fixtures, invariants, MCLP, outputs, CLI and HTTP on the real index.

The fixture (tests/fixtures/coverage/README.md) lies on the 250 m demand lattice, so every share, mean
and percentile below is computed by hand from distances on that lattice.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from shapely.geometry import Point
from typer.testing import CliRunner

from geo.coverage import (
    BASIS_MIXED,
    BASIS_NETWORK,
    BASIS_STRAIGHT,
    BASIS_STRAIGHT_CIRCUITY,
    Change,
    CoverageEngine,
    apply_changes,
    before_facilities,
    facilities_frame,
    nearest_geodesic,
    parse_changes,
    read_scenario,
    to_metric,
    today_facilities,
)
from geo.coverage_maps import write_outputs
from geo.errors import DataValidationError, InvalidParameter, OutsideServiceArea, UnknownProcedure
from geo.siting import candidate_sites, suggest_sites

FIXTURES = Path(__file__).parent / "fixtures" / "coverage"
X0, Y0 = 585_000, 2_325_000
TO_LL = pyproj.Transformer.from_crs("EPSG:32648", "EPSG:4326", always_xy=True)
PROCEDURE = {"code": "9.999999", "name": "Fixture procedure", "level": "Cấp xã", "handled_at": "commune_center"}


def lonlat(x: float, y: float) -> tuple[float, float]:
    """Fixture lattice metres → lon/lat."""
    lon, lat = TO_LL.transform(X0 + x, Y0 + y)
    return float(lon), float(lat)


def one_place(pid: str, x: float, y: float) -> gpd.GeoDataFrame:
    """A places layer with one place at lattice (x, y)."""
    return facilities_frame([{"id": pid, "name": pid, "kind": "x", "source": "test", "geometry": Point(*lonlat(x, y))}])


def places_csv(name: str) -> gpd.GeoDataFrame:
    table = pd.read_csv(FIXTURES / name, dtype={"id": str})
    return facilities_frame(
        {"id": r.id, "name": r.name, "kind": r.kind, "source": "fixture", "geometry": Point(r.lon, r.lat)}
        for r in table.itertuples()
    )


@pytest.fixture(scope="module")
def communes() -> gpd.GeoDataFrame:
    return gpd.read_file(FIXTURES / "communes.geojson")


@pytest.fixture(scope="module")
def engine(communes: gpd.GeoDataFrame) -> CoverageEngine:
    return CoverageEngine(communes)


@pytest.fixture(scope="module")
def places() -> gpd.GeoDataFrame:
    return places_csv("places.csv")


# ============================================================================ the hand-computed fixture
def test_grid_spreads_population_evenly_on_the_lattice(engine: CoverageEngine) -> None:
    demand = engine.demand
    assert len(demand) == 48
    for row, (people, count) in enumerate([(1600, 16), (3200, 16), (800, 16)]):
        mine = demand.commune == row
        assert mine.sum() == count
        np.testing.assert_allclose(demand.weight[mine], people / count)
    # Centres at (i + 0.5) * 250 m on the lattice.
    np.testing.assert_allclose(np.sort(np.unique(demand.x - X0)), [125, 375, 625, 875, 1125, 1375, 1625, 1875])


def test_straight_line_shares_means_and_p90_match_hand_calculation(engine: CoverageEngine, places) -> None:
    result = engine.measure(places, "straight", 400.0)
    t = result.communes.set_index("name")
    # Alpha: 4 points at 176.78 m, 8 at 395.28 m (covered), 4 corners at 530.33 m (not).
    inner, edge, corner = math.hypot(125, 125), math.hypot(375, 125), math.hypot(375, 375)
    assert t.loc["Alpha", "share"] == 0.75
    assert t.loc["Alpha", "covered_population"] == 1200
    assert t.loc["Alpha", "mean_cost"] == pytest.approx((4 * inner + 8 * edge + 4 * corner) / 16, rel=1e-3)
    assert t.loc["Alpha", "p90_cost"] == pytest.approx(corner, rel=1e-3)  # the 15th of 16 equal weights
    assert t.loc["Alpha", "served_by"] == "P1"
    assert t.loc["Alpha", "served_share"] == 1.0
    # Beta and Gamma: nearest point 637.4 m away.
    assert t.loc["Beta", "share"] == 0.0 and t.loc["Gamma", "share"] == 0.0
    assert t.loc["Beta", "mean_cost"] > 637
    assert set(t["cost_basis"]) == {BASIS_STRAIGHT}
    assert result.totals["covered_population"] == 1200
    assert result.totals["population"] == 5600
    assert result.totals["share"] == pytest.approx(1200 / 5600, abs=1e-4)


def test_a_scenario_changes_only_what_it_touches(engine: CoverageEngine, places) -> None:
    changes = read_scenario(FIXTURES / "scenario.csv")
    assert [c.action for c in changes] == ["add", "move"]
    after = engine.measure(apply_changes(places, changes), "straight", 400.0, "scenario")
    before = engine.measure(places, "straight", 400.0)
    report = engine.report(PROCEDURE, after, before, changes)
    table = report.table().set_index("name")
    assert table.loc["Beta", "share"] == 0.75 and table.loc["Beta", "delta_share"] == 0.75
    assert table.loc["Beta", "served_by"] == "N1"
    assert table.loc["Alpha", "delta_share"] == 0.0 and table.loc["Gamma", "delta_share"] == 0.0
    assert report.totals()["delta_covered_population"] == 2400
    assert report.compare == "scenario"


def test_closing_every_place_gives_zero(engine: CoverageEngine, places) -> None:
    closed = apply_changes(places, [Change("close", pid) for pid in places["id"]])
    result = engine.measure(closed, "straight", 400.0)
    assert len(closed) == 0
    assert (result.communes["share"] == 0).all()
    assert result.communes["mean_cost"].isna().all() and result.communes["served_by"].isna().all()
    assert result.totals["share"] == 0 and result.totals["mean_cost"] is None
    # JSON has no NaN or infinity in it.
    body = json.dumps(engine.report(PROCEDURE, result).to_json(), allow_nan=False)
    assert '"share": 0.0' in body


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.lists(st.tuples(st.floats(-200, 2200), st.floats(-200, 1700)), min_size=1, max_size=4))
def test_adding_places_never_lowers_coverage(engine: CoverageEngine, places, sites) -> None:  # type: ignore[no-untyped-def]
    before = engine.measure(places, "straight", 400.0)
    changes = [Change("add", f"H{i}", *lonlat(x, y)) for i, (x, y) in enumerate(sites)]
    after = engine.measure(apply_changes(places, changes), "straight", 400.0)
    assert (after.communes["covered_population"] >= before.communes["covered_population"]).all()
    assert (after.points.cost <= before.points.cost + 1e-9).all()
    assert after.totals["share"] >= before.totals["share"]


def test_scenario_validation_names_every_bad_row(places) -> None:
    with pytest.raises(DataValidationError) as info:
        read_scenario(FIXTURES / "scenario_bad.csv")
    rows = sorted(p.row for p in info.value.problems)
    assert rows == [1, 2, 3]
    with pytest.raises(DataValidationError, match="already exists"):
        apply_changes(places, parse_changes([{"action": "add", "id": "P1", "lon": 105.8, "lat": 21.0}]))
    with pytest.raises(DataValidationError, match="no place with id"):
        apply_changes(places, [Change("close", "nope")])
    with pytest.raises(OutsideServiceArea):
        apply_changes(places, [Change("add", "X", 0.0, 0.0)], inside=lambda lon, lat: False)


def test_thresholds_and_modes_are_checked(engine: CoverageEngine, places) -> None:
    with pytest.raises(InvalidParameter, match="out of range"):
        engine.measure(places, "straight", 5.0)
    with pytest.raises(InvalidParameter, match="out of range"):
        engine.measure(places, "walk", 2000.0)
    with pytest.raises(InvalidParameter, match="not one of"):
        engine.measure(places, "bicycle", 10.0)
    with pytest.raises(InvalidParameter, match="needs a road network"):
        engine.measure(places, "walk", 10.0)


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
def road() -> object:
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


def test_network_mode_mixes_graph_and_circuity_fallback_by_hand(communes, places, road) -> None:  # type: ignore[no-untyped-def]
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
    report = engine.report(PROCEDURE, result)
    assert "OpenStreetMap" in report.model["attribution"]


def test_a_place_off_the_graph_is_reached_by_the_fallback(communes, road) -> None:  # type: ignore[no-untyped-def]
    engine = CoverageEngine(communes, networks=lambda mode: road, speed_kmh={"walk": 4.5})
    beta = one_place("B", 1500, 500)
    result = engine.measure(beta, "walk", 30.0)
    assert set(result.communes["cost_basis"]) == {BASIS_STRAIGHT_CIRCUITY}  # Beta's centre is 500 m off the road
    assert result.communes.set_index("name").loc["Beta", "share"] == 1.0
    on_graph = one_place("A", 500, 500)
    both = engine.measure(pd.concat([beta, on_graph]), "walk", 30.0)
    assert BASIS_NETWORK not in set(both.communes["cost_basis"])  # Alpha: half on the road
    assert both.communes.set_index("name").loc["Alpha", "cost_basis"] == BASIS_MIXED


# ============================================================================ MCLP
def test_mclp_picks_the_sites_a_hand_calculation_picks(engine: CoverageEngine, places) -> None:
    candidates = places_csv("candidates.csv")
    # Uncovered by P1 at 400 m: Alpha's 4 corners (100 each), all of Beta (200 each), all of Gamma (50 each).
    # C-beta covers Beta's 12 inner points: 2,400. C-gamma: 8 Gamma points (400) + Alpha's and Beta's
    # corner next to it (100 + 200): 700. C-far: 4 Gamma points: 200. Disjoint, so k=2 is C-beta + C-gamma.
    one = suggest_sites(engine, "fixture", "straight", 400.0, 1, existing=places, candidates=candidates)
    assert [s.id for s in one.sites] == ["C-beta"]
    assert one.sites[0].gain_population == 2400 and one.covered_after == 3600
    two = suggest_sites(engine, "fixture", "straight", 400.0, 2, existing=places, candidates=candidates)
    assert [(s.id, s.gain_population) for s in two.sites] == [("C-beta", 2400), ("C-gamma", 700)]
    assert two.sites[1].commune_name == "Gamma"
    assert two.covered_before == 1200 and two.covered_after == 4300 and two.greedy_covered == 4300
    assert two.model["status"] == "Optimal" and two.model["existing_locked"] == 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pulp 3.3 announces its 4.0 API on every variable
def test_mclp_matches_spopt_from_cost_matrix(engine: CoverageEngine, places) -> None:
    """The sparse model equals spopt's own dense MCLP.from_cost_matrix on the same data."""
    import pulp
    from spopt.locate import MCLP

    candidates = places_csv("candidates.csv")
    sites = pd.concat([places, candidates], ignore_index=True)
    d = engine.demand
    geod = pyproj.Geod(ellps="WGS84")
    cost = np.array(
        [[geod.inv(lon, lat, p.x, p.y)[2] for p in sites.geometry] for lon, lat in zip(d.lon, d.lat, strict=True)]
    )
    for k in (1, 2):
        dense = MCLP.from_cost_matrix(
            cost, d.weight, service_radius=400.0, p_facilities=1 + k,
            predefined_facilities_arr=np.r_[1, np.zeros(len(candidates), dtype=int)],
        ).solve(pulp.PULP_CBC_CMD(msg=False))
        covered = float(d.weight[np.asarray(dense.aij @ np.array([v.value() for v in dense.fac_vars])) > 0].sum())
        ours = suggest_sites(engine, "fixture", "straight", 400.0, k, existing=places, candidates=candidates)
        assert ours.covered_after == pytest.approx(covered)


def test_candidate_sites_come_from_seats_offices_and_grid(index) -> None:  # type: ignore[no-untyped-def]
    engine = CoverageEngine.from_index(index)
    existing = today_facilities(index, "1.001193")
    cands = candidate_sites(engine, existing, grid_m=4000)
    assert set(cands["source"]) == {"former_office", "grid"}  # every commune seat already handles 1.001193
    assert cands["id"].is_unique
    xy = to_metric(cands.geometry.x, cands.geometry.y)
    ex = to_metric(existing.geometry.x, existing.geometry.y)
    nearest = np.min(np.hypot(*(xy[:, None, :] - ex[None, :, :]).transpose(2, 0, 1)), axis=1)
    assert (nearest > 50).all()
    with pytest.raises(InvalidParameter, match="unknown candidate source"):
        candidate_sites(engine, existing, sources=["airports"])


# ============================================================================ real data
@pytest.fixture(scope="module")
def real(index) -> CoverageEngine:  # type: ignore[no-untyped-def]
    return CoverageEngine.from_index(index)


def test_real_grid_conserves_each_communes_population(real: CoverageEngine) -> None:
    pop = np.bincount(real.demand.commune, real.demand.weight, minlength=len(real.communes))
    np.testing.assert_allclose(pop, real.communes["population"].to_numpy(dtype=float), rtol=1e-9)


def test_before_after_on_real_data_has_126_rows(real: CoverageEngine, index) -> None:  # type: ignore[no-untyped-def]
    report = real.run("1.001193", "straight", 2000.0, compare="before_after")
    table = report.table()
    assert len(table) == 126 and table["code"].is_unique
    assert len(report.before.facilities) == 526 + int((index.service_points["kind"] == "branch").sum())
    assert len(report.after.facilities) == len(today_facilities(index, "1.001193"))
    totals = report.totals()
    # 526 offices were denser than 126 commune centres (+ city centre, branches): coverage fell.
    assert totals["before"]["share"] > totals["share"] > 0
    assert totals["delta_share"] == pytest.approx(totals["share"] - totals["before"]["share"], abs=1e-3)
    assert table["served_by_before"].str.startswith("legacy-").mean() > 0.9
    assert set(table["cost_basis"]) == {BASIS_STRAIGHT}
    assert ((table["share"] >= 0) & (table["share"] <= 1)).all()


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


def test_procedure_not_handled_at_communes_has_branches_only_before(index) -> None:  # type: ignore[no-untyped-def]
    procs = index.procedures
    city = procs[(procs["handled_at"] != "") & ~procs["handled_at"].str.contains("commune_center")]
    assert len(city)
    before = before_facilities(index, str(city["code"].iat[0]))
    assert set(before["kind"]) <= {"branch", "intake_point"}


def test_unknown_procedure_is_a_domain_error(real: CoverageEngine) -> None:
    with pytest.raises(UnknownProcedure):
        real.run("no such procedure at all", "straight", 2000.0)
    with pytest.raises(InvalidParameter, match="cannot be combined"):
        real.run("1.001193", "straight", 2000.0, compare="before_after", changes=[Change("close", "cs-00004")])


# ============================================================================ outputs
def test_outputs_are_written_and_read_back(real: CoverageEngine, index, tmp_path: Path, output_dir: Path) -> None:  # type: ignore[no-untyped-def]
    report = real.run("1.001193", "straight", 2000.0, compare="before_after")
    existing = report.after.facilities
    candidates = candidate_sites(real, existing, sources=["legacy"])
    report.sites = suggest_sites(real, "1.001193", "straight", 2000.0, 2, existing=existing, candidates=candidates)
    paths = write_outputs(report, tmp_path, demand=real.demand)
    assert set(paths) == {"html", "png", "csv", "gpkg", "sites_csv"}

    table = pd.read_csv(paths["csv"], dtype={"code": str})
    assert len(table) == 126 and {"share", "share_before", "delta_share", "served_by", "cost_basis"} <= set(table)

    import pyogrio

    layers = {name for name, _ in pyogrio.list_layers(paths["gpkg"])}
    assert layers == {"communes", "places", "places_before", "new_sites"}
    gpkg = gpd.read_file(paths["gpkg"], layer="communes")
    assert len(gpkg) == 126 and gpkg.crs.to_epsg() == 4326
    assert gpkg.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    places_layer = gpd.read_file(paths["gpkg"], layer="places")
    assert places_layer["served_population"].sum() == pytest.approx(report.totals()["population"], abs=200)
    assert len(gpd.read_file(paths["gpkg"], layer="new_sites")) == 2

    with Image.open(paths["png"]) as png:
        assert png.size[0] >= 1500 and png.size[1] >= 900
        colours = len(np.unique(np.asarray(png.convert("RGB")).reshape(-1, 3), axis=0))
    assert colours > 50  # a map, not a blank canvas

    html = paths["html"].read_text(encoding="utf-8")
    assert "leaflet" in html.lower() and "1.001193" in html
    assert "Phường Ba Đình" in html or json.dumps("Phường Ba Đình")[1:-1] in html  # GeoJSON escapes non-ASCII
    (output_dir / paths["png"].name).write_bytes(paths["png"].read_bytes())  # kept to look at


def test_cli_writes_the_four_outputs(tmp_path: Path) -> None:
    from app.cli import app

    result = CliRunner().invoke(
        app,
        ["coverage", "--procedure", "1.001193", "--mode", "straight", "--threshold", "2000", "--out", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    stem = "coverage_1.001193_straight_2000m"
    for ext in ("html", "png", "csv", "gpkg"):
        assert (tmp_path / f"{stem}.{ext}").stat().st_size > 1000
    assert "of 8,807,523 people" in result.output or "people" in result.output
    bad = CliRunner().invoke(app, ["coverage", "--procedure", "1.001193", "--threshold", "1", "--out", str(tmp_path)])
    assert bad.exit_code != 0 and "out of range" in bad.output


# ============================================================================ HTTP
def test_get_coverage_json(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/v1/coverage", params={"procedure": "1.001193", "threshold": 2000, "compare": "before_after"})
    assert r.status_code == 200
    body = r.json()
    assert len(body["communes"]) == 126 and body["unit"] == "m" and body["compare"] == "before_after"
    assert body["labels"] == {"after": "today", "before": "pre-merger"}
    assert {"share", "before", "delta_share"} <= set(body["totals"])
    ba_dinh = next(c for c in body["communes"] if c["code"] == "00004")
    assert ba_dinh["share"] == 1.0 and ba_dinh["served_by"].startswith("cs-")


def test_coverage_errors_are_problem_json(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/v1/coverage", params={"procedure": "no such procedure at all"})
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "/problems/unknown-procedure"
    r = client.get("/v1/coverage", params={"procedure": "1.001193", "mode": "walk", "threshold": 2000})
    assert r.status_code == 422 and r.json()["type"] == "/problems/invalid-parameter"
    r = client.post("/v1/coverage", json={"procedure": "1.001193", "changes": [{"action": "close", "id": "nope"}]})
    assert r.status_code == 422 and r.json()["type"] == "/problems/data-validation"
    r = client.post(
        "/v1/coverage", json={"procedure": "1.001193", "changes": [{"action": "add", "id": "x", "lon": 0, "lat": 0}]}
    )
    assert r.status_code == 422 and r.json()["type"] == "/problems/outside-service-area"


def test_post_scenario_shows_the_change_per_commune(client, index) -> None:  # type: ignore[no-untyped-def]
    today = today_facilities(index, "1.001193")
    closed = [{"action": "close", "id": pid} for pid in today["id"]]
    r = client.post("/v1/coverage", json={"procedure": "1.001193", "threshold": 2000, "changes": closed})
    assert r.status_code == 200
    body = r.json()
    assert body["compare"] == "scenario" and body["totals"]["share"] == 0.0 and body["facilities"]["after"] == 0
    assert all(c["share"] == 0 and c["delta_share"] <= 0 for c in body["communes"])
    lon, lat = 105.52, 21.06  # a rural spot far from any commune centre
    add = [{"action": "add", "id": "new", "lon": lon, "lat": lat}]
    r = client.post("/v1/coverage", json={"procedure": "1.001193", "threshold": 2000, "changes": add})
    body = r.json()
    gained = [c for c in body["communes"] if c["delta_share"] > 0]
    assert gained and all(c["delta_share"] >= 0 for c in body["communes"])
    assert body["totals"]["delta_covered_population"] > 0


def test_planner_page_and_map(client) -> None:  # type: ignore[no-untyped-def]
    from app.assets import web_assets_installed
    from geo.offline import external_asset_urls

    r = client.get("/planner", params={"procedure": "1.001193", "mode": "straight", "threshold": 2000})
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert r.text.count("<tr>") == 127  # header + 126 communes
    assert "/planner/map?" in r.text and "Pre-merger %" in r.text
    r = client.get("/planner/map", params={"procedure": "1.001193", "threshold": 2000, "compare": "before_after"})
    if web_assets_installed():
        assert r.status_code == 200 and "/static/vendor/leaflet/leaflet.js" in r.text
        assert external_asset_urls(r.text) == []
    else:
        assert r.status_code == 503 and r.json()["type"] == "/problems/web-assets"


def test_network_mode_on_the_real_graph(client) -> None:  # type: ignore[no-untyped-def]
    """`make build` builds the road graphs; the centre is on the graph, the rest uses the circuity fallback."""
    params = {"procedure": "1.001193", "mode": "motorbike", "threshold": 15, "compare": "before_after"}
    r = client.get("/v1/coverage", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["unit"] == "min" and "OpenStreetMap" in body["model"]["attribution"]
    assert 1.0 < body["model"]["circuity"] < 3.0 and body["model"]["demand_points_on_network"] > 100
    basis = {c["cost_basis"] for c in body["communes"]}
    assert {"straight_line×circuity", "network"} <= basis or {"straight_line×circuity", "mixed"} <= basis
    ba_dinh = next(c for c in body["communes"] if c["code"] == "00004")
    assert ba_dinh["cost_basis"] in ("network", "mixed") and ba_dinh["network_share"] > 0.5
    assert 0 < body["totals"]["network_share"] < 0.5
