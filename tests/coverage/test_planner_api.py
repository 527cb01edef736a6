"""The planner's HTTP endpoints and files: siting, scenario files (JSON and CSV round trip), exports, honest
figures, the fast what-if path, and ``gandan coverage --out DIR`` maps that still open after DIR moves."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from typer.testing import CliRunner

from geo.coverage import (
    Change,
    CoverageEngine,
    point_costs,
    read_scenario,
    scenario_csv,
    scenario_json,
    today_facilities,
)
from geo.coverage.portable import asset_references
from geo.errors import DataValidationError, OutsideServiceArea
from geo.offline import external_asset_urls

PROC = "1.001193"
SCENARIO = [
    Change("add", "new-1", 105.62, 20.93, "intake_point", "Điểm mới, Quốc Oai"),
    Change("move", "P0", 105.80, 21.05),
    Change("close", "P1"),
]


def _scenario(index) -> list[Change]:  # type: ignore[no-untyped-def]
    """`SCENARIO` with real place ids of today's network."""
    ids = list(today_facilities(index, PROC)["id"])
    return [SCENARIO[0], Change("move", ids[0], 105.80, 21.05), Change("close", ids[1])]


# ------------------------------------------------------------------------------ siting
def test_siting_endpoint_orders_sites_by_marginal_gain(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/coverage/sites", json={"procedure": PROC, "mode": "straight", "threshold": 5000, "k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    sites = body["sites"]
    assert [s["rank"] for s in sites] == [1, 2, 3]
    gains = [s["gain_population"] for s in sites]
    assert gains == sorted(gains, reverse=True) and gains[-1] > 0
    assert abs(body["covered_after"] - body["covered_before"] - sum(gains)) <= len(gains)
    assert body["share_after"] > body["share_before"] and body["unit"] == "m" and body["threshold"] == 5000
    assert all(s["commune_code"] and s["commune_name"] for s in sites)
    assert body["model"]["existing_locked"] == 130
    # Accepting the first site into the scenario: it is locked in, the next best ones follow.
    first = sites[0]
    change = {"action": "add", "id": first["id"], "lon": first["lon"], "lat": first["lat"], "name": first["name"]}
    again = client.post(
        "/v1/coverage/sites",
        json={"procedure": PROC, "mode": "straight", "threshold": 5000, "k": 2, "changes": [change]},
    ).json()
    assert again["model"]["existing_locked"] == 131
    assert first["id"] not in {s["id"] for s in again["sites"]}
    assert abs(again["covered_before"] - first["covered_population"]) <= 1
    scenario = client.post(
        "/v1/coverage", json={"procedure": PROC, "mode": "straight", "threshold": 5000, "changes": [change]}
    ).json()
    assert abs(scenario["totals"]["covered_population"] - first["covered_population"]) <= 1


def test_siting_endpoint_refuses_bad_questions(client) -> None:  # type: ignore[no-untyped-def]
    for body, status, kind in (
        ({"procedure": PROC, "k": 0}, 422, "invalid-parameter"),
        ({"procedure": PROC, "k": 21}, 422, "invalid-parameter"),
        ({"procedure": PROC, "mode": "walk", "threshold": 5000}, 422, "invalid-parameter"),
        ({"procedure": "không có thủ tục này zzz"}, 404, "unknown-procedure"),
        ({"procedure": PROC, "changes": [{"action": "close", "id": "nope"}]}, 422, "data-validation"),
    ):
        r = client.post("/v1/coverage/sites", json=body)
        assert r.status_code == status and r.json()["type"].endswith(kind), (body, r.text)
    assert "/v1/coverage/sites" in client.get("/openapi.json").json()["paths"]


# ------------------------------------------------------------------------------ scenario files
def test_scenario_round_trip_json_and_csv(client, index, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    changes = _scenario(index)
    (tmp_path / "plan.csv").write_text(scenario_csv(changes), "utf-8")
    meta = {"name": "Quốc Oai", "procedure": PROC, "mode": "straight", "threshold": 5000}
    (tmp_path / "plan.json").write_text(json.dumps(scenario_json(changes, **meta), ensure_ascii=False), "utf-8")
    assert read_scenario(tmp_path / "plan.csv") == changes
    assert read_scenario(tmp_path / "plan.json") == changes
    for name in ("plan.csv", "plan.json"):
        r = client.post("/v1/coverage/scenarios/read", json={"filename": name, "text": (tmp_path / name).read_text()})
        assert r.status_code == 200, r.text
        assert [Change(**c) for c in r.json()["changes"]] == changes
    assert r.json()["name"] == "Quốc Oai"
    # The page's what-if and the CLI's scenario measure the same thing.
    posted = client.post(
        "/v1/coverage", json={"procedure": PROC, "mode": "straight", "threshold": 5000, "name": "Quốc Oai",
                              "changes": r.json()["changes"]},
    ).json()
    assert posted["name"] == "Quốc Oai" and posted["compare"] == "scenario"
    assert [c["action"] for c in posted["changes"]] == ["add", "move", "close"]
    report = CoverageEngine.from_index(index).run(PROC, "straight", 5000, changes=read_scenario(tmp_path / "plan.csv"))
    assert posted["totals"]["covered_population"] == report.totals()["covered_population"]
    places = {p["id"]: p for p in posted["places"]}
    assert places["new-1"]["source"] == "scenario:add" and changes[2].id not in places
    assert places[changes[1].id]["lon"] == 105.8


def test_a_bad_scenario_file_lists_every_problem_once(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = (
        "action,id,lon,lat,kind,name\nopen,N1,105.8,21.0,,\nadd,N2,,21.0,,\nmove,N3,abc,21.0,,\n"
        "add,N4,105.8,21.0,,\n"
    )
    r = client.post("/v1/coverage/scenarios/read", json={"filename": "plan.csv", "text": text})
    assert r.status_code == 422 and r.json()["type"] == "/problems/data-validation"
    assert r.json()["problems"] == [
        "plan.csv:2 [N1] action: 'open' is not add, move or close",
        "plan.csv:3 [N2] lon: add needs lon",
        "plan.csv:4 [N3] lon: 'abc' is not a number",
    ]
    bad_json = client.post("/v1/coverage/scenarios/read", json={"filename": "plan.json", "text": '{"changes": [{'})
    assert bad_json.status_code == 422 and bad_json.json()["problems"][0].startswith("plan.json:1: not JSON")
    rows = json.dumps({"changes": [{"action": "add", "id": "a"}, {"action": "close"}]})
    r = client.post("/v1/coverage/scenarios/read", json={"filename": "plan.json", "text": rows})
    assert r.json()["problems"] == [
        "plan.json:1 [a] lon: add needs lon", "plan.json:1 [a] lat: add needs lat", "plan.json:2 id: id is empty",
    ]
    (tmp_path / "plan.csv").write_text(text, "utf-8")
    with pytest.raises(DataValidationError) as info:
        read_scenario(tmp_path / "plan.csv")
    assert len(info.value.problems) == 3


def test_a_site_outside_hanoi_is_refused_with_the_reason(client) -> None:  # type: ignore[no-untyped-def]
    add_far = {"action": "add", "id": "x", "lon": 0, "lat": 0}
    far = client.post("/v1/coverage", json={"procedure": PROC, "changes": [add_far]})
    assert far.status_code == 422 and far.json()["type"] == "/problems/outside-service-area"
    assert far.json()["problems"] == ["changes:1 [x] lon: outside Hanoi: lon=0.0, lat=0.0 is not within "
                                      "lon 105.25..106.05, lat 20.5..21.42"]
    # Inside the bounding box but in a neighbouring province: the service area says no.
    near = client.post(
        "/v1/coverage", json={"procedure": PROC, "changes": [{"action": "add", "id": "x", "lon": 106.02, "lat": 20.55}]}
    )
    assert near.status_code == 422 and near.json()["type"] == "/problems/outside-service-area"
    assert "in none of its communes" in near.json()["detail"]
    with pytest.raises(OutsideServiceArea):
        read_scenario("plan.csv", text="action,id,lon,lat\nadd,x,0,0\n")


# ------------------------------------------------------------------------------ figures
def test_headline_figures_say_what_is_modelled(client) -> None:  # type: ignore[no-untyped-def]
    motorbike = client.get("/v1/coverage", params={"procedure": PROC, "mode": "motorbike", "threshold": 30}).json()
    totals = motorbike["totals"]
    assert 0 < totals["modelled_share"] < 1
    assert totals["modelled_share"] == pytest.approx(1 - totals["network_share"], abs=2e-4)
    sentence = motorbike["model"]["sentence"]
    assert "ước tính" in sentence["vi"] and "hệ số đường vòng" in sentence["vi"] and sentence["vi"].count(".") <= 3
    assert "estimated" in sentence["en"]
    straight = client.get("/v1/coverage", params={"procedure": PROC, "mode": "straight", "threshold": 5000}).json()
    assert straight["totals"]["modelled_share"] == 0 and "chim bay" in straight["model"]["sentence"]["vi"]
    assert len(straight["places"]) == straight["totals"]["places"] == 130
    assert sum(p["served_population"] for p in straight["places"]) == pytest.approx(totals["population"], abs=130)


@pytest.mark.parametrize("mode,threshold", [("straight", 5000.0), ("motorbike", 30.0)])
def test_a_what_if_adds_one_column_to_cached_costs(service, mode: str, threshold: float) -> None:  # type: ignore[no-untyped-def]
    engine = CoverageEngine.from_index(service.index, networks=service.network)
    today = engine.run(PROC, mode, threshold).after.facilities
    ids = list(today["id"])
    model = None if mode == "straight" else engine.network_model(mode)
    for changes in (
        [Change("add", "n1", 105.62, 20.93)],
        [Change("add", "n1", 105.62, 20.93), Change("add", "n2", 105.85, 21.03)],
        [Change("move", ids[3], 105.84, 21.02)],
        [Change("close", ids[5])],
    ):
        scenario = engine.run(PROC, mode, threshold, changes=changes).after
        full = point_costs(engine.demand, scenario.facilities, model)
        assert np.array_equal(full.cost, scenario.points.cost)
        assert np.array_equal(full.on_network, scenario.points.on_network)
        ok = full.source >= 0
        # Sources may differ only where two places are exactly as near.
        same = full.source == scenario.points.source
        fac = scenario.facilities.geometry
        differ = ok & ~same
        pairs = zip(full.source[differ], scenario.points.source[differ], strict=True)
        assert all(fac.iat[a].equals(fac.iat[b]) for a, b in pairs)
    assert len(engine._columns) >= 2  # one column per added or moved place, reused


# ------------------------------------------------------------------------------ exports
def test_export_endpoint_writes_every_format(client) -> None:  # type: ignore[no-untyped-def]
    from app.assets import web_assets_installed

    change = {"action": "add", "id": "new-1", "lon": 105.62, "lat": 20.93}
    for fmt, media, magic in (
        ("csv", "text/csv", "\ufeffcode".encode()),
        ("gpkg", "application/geopackage+sqlite3", b"SQLite format 3"),
        ("png", "image/png", b"\x89PNG"),
        ("html", "text/html", b"<!DOCTYPE html>"),
    ):
        if fmt == "html" and not web_assets_installed():
            continue
        body = {"procedure": PROC, "threshold": 5000, "changes": [change], "format": fmt}
        r = client.post("/v1/coverage/export", json=body)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith(media) and r.content.startswith(magic)
        name = f"coverage_1.001193_straight_5000m_scenario.{fmt}"
        assert r.headers["content-disposition"] == f'attachment; filename="{name}"'
    html = r.content.decode()
    # Inlined: the one file names no script or stylesheet it would have to fetch.
    assert "file://" not in html and external_asset_urls(html) == []
    assert [u for u in asset_references(html) if not u.startswith("data:")] == []
    bad = client.post("/v1/coverage/export", json={"procedure": PROC, "format": "pdf"})
    assert bad.status_code == 422


def test_cli_html_opens_after_its_folder_moves(tmp_path: Path, index) -> None:  # type: ignore[no-untyped-def]
    from app.assets import web_assets_installed
    from app.cli import app

    if not web_assets_installed():
        pytest.skip("web assets not installed")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(scenario_json(_scenario(index))), "utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["coverage", "--procedure", PROC, "--threshold", "5000", "--scenario", str(plan), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    moved = tmp_path / "elsewhere" / "maps"
    shutil.move(str(out), str(moved))
    html_path = moved / "coverage_1.001193_straight_5000m_scenario.html"
    html = html_path.read_text("utf-8")
    assert "file://" not in html and external_asset_urls(html) == []
    refs = [u for u in asset_references(html) if not u.startswith("data:")]
    assert refs and all(not urlsplit(u).scheme and not u.startswith("/") for u in refs)
    for ref in refs:
        assert (html_path.parent / urlsplit(ref).path).is_file(), ref
    # The stylesheets' fonts and images travel too.
    css = (moved / "vendor" / "fontawesome-free" / "css" / "all.min.css")
    assert css.is_file() and (moved / "vendor" / "fontawesome-free" / "webfonts" / "fa-solid-900.woff2").is_file()
