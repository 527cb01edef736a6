"""Maps and files (geo.coverage.maps): the four outputs read back, ``gandan coverage``, the planner page."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from geo.coverage import CoverageEngine
from geo.coverage.maps import caption, write_outputs
from geo.coverage.siting import candidate_sites, suggest_sites
from geo.settings import Settings


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


def test_planner_page_and_map(client) -> None:  # type: ignore[no-untyped-def]
    from app.assets import web_assets_installed
    from geo.offline import external_asset_urls

    r = client.get("/planner", params={"procedure": "1.001193", "mode": "straight", "threshold": 2000})
    if web_assets_installed():
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]
        assert '<html lang="vi">' in r.text and "/static/vendor/leaflet/leaflet.js" in r.text
        assert "built-in method" not in r.text and "{{" not in r.text
        assert external_asset_urls(r.text) == []
        script = client.get(r.text.split('<script src="')[-1].split('"')[0])
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    r = client.get("/planner/map", params={"procedure": "1.001193", "threshold": 2000, "compare": "before_after"})
    if web_assets_installed():
        assert r.status_code == 200 and "/static/vendor/leaflet/leaflet.js" in r.text
        assert external_asset_urls(r.text) == []
    else:
        assert r.status_code == 503 and r.json()["type"] == "/problems/web-assets"


def test_caption_is_the_boundary_sets_own(  # type: ignore[no-untyped-def]
    engine: CoverageEngine, places, fixture_procedure, tmp_path: Path
) -> None:
    report = engine.report(fixture_procedure, engine.measure(places, "straight", 400.0))
    # The default set's caption (data/boundaries/sets.toml), word for word what outputs have always carried.
    assert caption(report) == (
        "Population spread evenly over a 250 m grid in each commune; "
        "population 2025 per commune: lamngockhuong/vietnam-3d-map (MIT); "
        "boundaries: Hà Nội, 126 communes from 2025-07-01 (thanglequoc/vietnamese-provinces-database, MIT); "
        "places: gandan registry."
    )
    data = tmp_path / "data"
    (data / "boundaries").mkdir(parents=True)
    (data / "boundaries" / "sets.toml").write_text(
        '[[set]]\nid = "plan"\nloader = "geojson"\n'
        'caption = { vi = "ranh giới: một phương án (CC0)", en = "boundaries: a plan (CC0)" }\n',
        "utf-8",
    )
    report.boundary_set = "plan"
    text = caption(report, Settings(data_dir=data))
    assert "; boundaries: a plan (CC0); " in text and "vietnam-3d-map" not in text
