"""The engine (geo.coverage.engine): measures by hand on the fixture, invariants, real data and /v1/coverage."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.coverage import BASIS_STRAIGHT, Change, CoverageEngine, apply_changes, today_facilities
from geo.errors import InvalidParameter, UnknownProcedure


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


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.lists(st.tuples(st.floats(-200, 2200), st.floats(-200, 1700)), min_size=1, max_size=4))
def test_adding_places_never_lowers_coverage(engine: CoverageEngine, places, lonlat, sites) -> None:  # type: ignore[no-untyped-def]
    before = engine.measure(places, "straight", 400.0)
    changes = [Change("add", f"H{i}", *lonlat(x, y)) for i, (x, y) in enumerate(sites)]
    after = engine.measure(apply_changes(places, changes), "straight", 400.0)
    assert (after.communes["covered_population"] >= before.communes["covered_population"]).all()
    assert (after.points.cost <= before.points.cost + 1e-9).all()
    assert after.totals["share"] >= before.totals["share"]


def test_thresholds_and_modes_are_checked(engine: CoverageEngine, places) -> None:
    with pytest.raises(InvalidParameter, match="out of range"):
        engine.measure(places, "straight", 5.0)
    with pytest.raises(InvalidParameter, match="out of range"):
        engine.measure(places, "walk", 2000.0)
    with pytest.raises(InvalidParameter, match="not one of"):
        engine.measure(places, "bicycle", 10.0)
    with pytest.raises(InvalidParameter, match="needs a road network"):
        engine.measure(places, "walk", 10.0)


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


def test_unknown_procedure_is_a_domain_error(real: CoverageEngine) -> None:
    with pytest.raises(UnknownProcedure):
        real.run("no such procedure at all", "straight", 2000.0)
    with pytest.raises(InvalidParameter, match="cannot be combined"):
        real.run("1.001193", "straight", 2000.0, compare="before_after", changes=[Change("close", "cs-00004")])


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
