"""The citizen map page (/map), its data layers, and the self-hosted front-end assets (TestClient)."""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import time
import tomllib
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import folium
import pytest
import shapely
from branca.colormap import LinearColormap
from folium.plugins import Fullscreen
from shapely.geometry import shape

from app.assets import (
    REDOC_JS,
    STAMP_NAME,
    VENDOR_DIR,
    VENDOR_URL,
    Copy,
    WebAssetsError,
    _replaced,
    install_web_assets,
    require_web_assets,
    web_assets_installed,
)
from app.routes.pages import STRINGS, STRINGS_FILE, load_strings
from geo.errors import DataValidationError, InvalidParameter
from geo.offline import FOLIUM_ASSETS, MissingWebAsset, external_asset_urls, use_local_assets
from geo.simplify import light_geojson, simplify_coverage


@pytest.fixture(scope="module", autouse=True)
def web_assets() -> None:
    """The vendored libraries (a no-op when `make build` has installed them)."""
    install_web_assets()


def _asset_urls(page: str) -> list[str]:
    scripts = re.findall(r"<script[^>]*\ssrc=\"([^\"]+)\"", page)
    styles = re.findall(r"<link[^>]*rel=\"stylesheet\"[^>]*href=\"([^\"]+)\"", page)
    return scripts + styles


# ------------------------------------------------------------------------------------------ page
def test_map_is_vietnamese_by_default(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/map")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<html lang="vi">' in page
    assert "<title>Gần dân — nơi làm thủ tục hành chính gần nhất ở Hà Nội</title>" in page
    for text in ("Thủ tục hành chính", "Dùng vị trí của tôi", "Đi bộ", "Xe máy", "Ô tô", "Đang mở cửa"):
        assert text in page
    assert "Use my location" not in page.split("<script>")[0]  # the English texts are not shown
    assert 'href="/map?lang=en"' in page  # the switch to English
    assert 'name="viewport" content="width=device-width' in page  # phone layout


def test_map_in_english(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/map", params={"lang": "en"}).text
    assert '<html lang="en">' in page
    for text in ("Administrative procedure", "Use my location", "Walk", "Motorbike", "Open now"):
        assert text in page
    assert "Dùng vị trí của tôi" not in page.split("<script>")[0]
    assert 'href="/map"' in page and ">Tiếng Việt<" in page
    assert set(STRINGS["vi"]) == set(STRINGS["en"])  # every text exists in both languages


def _page_config(page: str) -> dict:  # type: ignore[type-arg]
    found = re.search(r"config: (\{.*?\})\s*\}\);", page, re.S)
    assert found is not None, "the page passes no config to its script"
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def test_page_texts_come_from_the_strings_file(client) -> None:  # type: ignore[no-untyped-def]
    table = tomllib.loads(STRINGS_FILE.read_text(encoding="utf-8"))
    assert all(set(texts) == {"vi", "en"} for texts in table.values())
    assert {lang: {key: texts[lang] for key, texts in table.items()} for lang in ("vi", "en")} == STRINGS
    for lang in ("vi", "en"):
        page = client.get("/map", params={"lang": lang}).text
        strings = _page_config(page)["strings"]
        # The script gets the map's texts of its language, the templates for today's hours included.
        assert strings == {k: v for k, v in STRINGS[lang].items() if not k.startswith("planner_")}
        assert strings["hours_holiday"] == table["hours_holiday"][lang] and "{name}" in strings["hours_holiday"]
        assert f"<title>{table['title'][lang]}</title>" in page


def test_strings_file_without_a_language_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "strings.toml"
    path.write_text('ok.vi = "Có"\nok.en = "Yes"\nhalf.vi = "Chỉ tiếng Việt"\nempty.vi = ""\nempty.en = "x"\n')
    with pytest.raises(DataValidationError) as info:
        load_strings(path)
    assert [p.id for p in info.value.problems] == ["half", "empty"]
    assert "strings.toml" in info.value.detail


def test_map_script_formats_hours_from_data_not_text() -> None:
    script = (STRINGS_FILE.parent / "map.js").read_text(encoding="utf-8")
    assert "formatDay" in script and ".replace(\"Nghỉ lễ\"" not in script
    # No Vietnamese or English wording of its own: every text comes from strings.toml.
    for phrase in ("Nghỉ lễ", "Không làm việc", "Chưa rõ", "Public holiday", "Closed all day"):
        assert phrase not in script, phrase


def test_every_text_the_script_shows_is_in_the_strings_file(client) -> None:  # type: ignore[no-untyped-def]
    """map.js shows only texts of strings.toml (a missing key would show the key itself)."""
    script = (STRINGS_FILE.parent / "map.js").read_text(encoding="utf-8")
    keys = set(re.findall(r"\bt\(\"([a-z_]+)\"[,)]", script))
    keys |= set(re.findall(r"label\(\"[^\"]+\", \"([a-z_]+)\"\)", script))  # Leaflet's controls
    reasons = re.search(r"LOCATE_REASONS = \{([^}]*)\}", script)
    assert reasons is not None
    keys |= set(re.findall(r"\"([a-z_]+)\"", reasons.group(1)))  # the browser's geolocation errors
    assert {"locate_denied", "zoom_in", "close_popup", "error_status", "error_network"} <= keys
    # Keys built from data: every value they take has its text.
    keys |= {f"state_{state}" for state in ("open", "closed", "unknown")}
    keys |= {f"mode_word_{mode}" for mode in ("walk", "motorbike", "car")}
    points = client.get("/map/points.geojson").json()["features"]
    keys |= {f"method_{p['properties']['location_method']}" for p in points if p["properties"].get("location_method")}
    assert sorted(keys - set(STRINGS["vi"])) == []


@pytest.mark.parametrize("params", [{"lang": "fr"}, {"at": "2026-03-02T09:30"}, {"mode": "plane"}, {"lat": "north"}])
def test_map_refuses_bad_parameters(client, params) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/map", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_map_loads_only_local_assets(client, settings) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/map").text
    assert external_asset_urls(page) == []
    urls = _asset_urls(page)
    assert len(urls) >= 10  # Leaflet, jQuery, Bootstrap, Font Awesome, awesome-markers, the page's own
    assert all(u.startswith(("/static/vendor/", "/static/pages/")) for u in urls), urls
    for name in ("leaflet", "jquery", "bootstrap", "fontawesome-free", "leaflet.awesome-markers"):
        assert any(u.startswith(f"{VENDOR_URL}/{name}/") for u in urls), name
    # The only addresses on the internet: the tile template, and links in the attribution.
    tiles_host = urlsplit(settings.tile_url).netloc
    attribution_links = set(re.findall(r"https?://[^\s\"'<>]+", settings.tile_attribution))
    for url in re.findall(r"https?://[^\s\"'<>\\)]+", page):
        assert urlsplit(url).netloc == tiles_host or url in attribution_links or "leafletjs.com" in url, url
    assert settings.tile_url in page
    assert "openstreetmap.org/copyright" in page  # tile attribution shown


def test_every_asset_and_what_it_references_is_served(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/map").text
    fetched: set[str] = set()
    css_refs = 0
    for url in _asset_urls(page):
        response = client.get(url)
        assert response.status_code == 200, url
        assert len(response.content) > 100, url
        kind = response.headers["content-type"]
        path = urlsplit(url).path
        assert ("javascript" in kind) if path.endswith(".js") else ("text/css" in kind), (url, kind)
        fetched.add(path)
        if path.endswith(".css"):
            # Fonts and images the stylesheet points at (relative to it) are served too.
            for ref in re.findall(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", response.text):
                if ref.startswith(("data:", "#")):
                    continue
                assert not ref.startswith(("http:", "https:", "//")), (url, ref)
                target = urlsplit(urljoin(path, ref)).path
                if target in fetched:
                    continue
                fetched.add(target)
                css_refs += 1
                got = client.get(target)
                assert got.status_code == 200, (url, ref, target)
    assert css_refs >= 10  # web fonts, marker sprites, layer icons


def test_unknown_static_files_are_404(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/static/pages/package.json").status_code == 404
    assert client.get("/static/pages/map.html").status_code == 404
    assert client.get(f"{VENDOR_URL}/nothing-here.js").status_code == 404
    assert client.get(f"{VENDOR_URL}/../../pyproject.toml").status_code == 404


def test_page_files_are_versioned(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/map").text
    script = re.search(r"/static/pages/map\.js\?v=([0-9a-f]{12})", page)
    assert script is not None
    response = client.get(script.group(0))
    assert response.status_code == 200
    assert "gandanMap" in response.text
    assert "max-age" in response.headers["cache-control"]


# --------------------------------------------------------------------------------- data layers
def test_communes_layer_is_light_and_complete(client, index) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/map/communes.geojson")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    body = response.json()
    assert len(response.content) < 600_000  # full polygons are about 3.4 MB
    features = body["features"]
    assert len(features) == len(index.communes) == 126
    assert {f["id"] for f in features} == set(index.communes["code"])
    assert set(features[0]["properties"]) == {"code", "name", "kind"}
    geoms = [shape(f["geometry"]) for f in features]
    assert all(g.is_valid and not g.is_empty for g in geoms)
    # Gzip on the wire (the phone's real cost).
    gz = client.get("/map/communes.geojson", headers={"Accept-Encoding": "gzip"})
    assert gz.headers.get("content-encoding") == "gzip"


def test_points_layer_has_states_and_today(client, finder) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/map/points.geojson", params={"at": "2026-03-02T09:30+07:00"}).json()
    assert len(body["features"]) == len(finder.points)
    props = [f["properties"] for f in body["features"]]
    assert {p["state"] for p in props} <= {"open", "closed", "unknown"}
    assert "open" in {p["state"] for p in props}  # Monday morning
    assert all(p["today"]["date"] == "2026-03-02" for p in props)
    assert body["at"] == "2026-03-02T09:30+07:00"
    weekday = [p["today"] for p in props if p["hours"] == "Mo-Fr 08:00-12:00,13:00-17:00; PH off"]
    assert weekday and all(
        day["spans"] == [{"opens": "08:00", "closes": "12:00"}, {"opens": "13:00", "closes": "17:00"}]
        and not day["closed_all_day"]
        for day in weekday
    )

    only = client.get("/map/points.geojson", params={"procedure": "1.001193"}).json()
    assert only["procedure"] == "1.001193"
    ids = {f["id"] for f in only["features"]}
    expected = {str(finder.points["id"].iat[r]) for r in finder.capable_rows("1.001193")}
    assert ids == expected and 0 < len(ids) < len(finder.points)


def test_points_layer_today_on_tet_names_the_holiday(client) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/map/points.geojson", params={"at": "2026-02-17T09:30+07:00"}).json()
    days = [f["properties"]["today"] for f in body["features"] if f["properties"]["hours"]]
    assert days and all(d["closed_all_day"] and d["spans"] == [] for d in days)
    tet = ("Mùng 1 Tết Bính Ngọ", "Lunar New Year (Year of the Horse)")
    assert {(d["holiday"], d["holiday_en"]) for d in days} == {tet}
    assert {d["text_en"] for d in days} == {"Public holiday: Lunar New Year (Year of the Horse)"}
    makeup = client.get("/map/points.geojson", params={"at": "2026-01-10T09:30+07:00"}).json()
    day = makeup["features"][0]["properties"]["today"]
    assert day["make_up_working_day"] and day["make_up_reason"] == "Làm bù cho 2/1"


def test_planner_page_texts_come_from_the_strings_file(client) -> None:  # type: ignore[no-untyped-def]
    for lang, params in (("vi", {}), ("en", {"lang": "en"})):
        page = client.get("/planner", params={"procedure": "1.001193", **params}).text
        s = STRINGS[lang]
        assert f'<html lang="{lang}">' in page
        assert f"<title>{s['planner_title']}</title>" in page and f"<h1>{s['planner_heading']}</h1>" in page
        assert s["planner_preset_30"] in page and s["planner_preset_5km"] in page and s["planner_tool_add"] in page
        # The script gets the planner's texts (without their prefix) to format the figures with.
        config = json.loads(page.split("window.PLANNER_CONFIG = ")[1].split(";</script>")[0])
        assert config["lang"] == lang and config["strings"]["col_share_before"] == s["planner_col_share_before"]
        assert config["targets"] == {"straight": 5000.0, "walk": 30.0, "motorbike": 30.0, "car": 30.0}


def test_points_layer_refuses_unknown_procedure(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/map/points.geojson", params={"procedure": "không có thủ tục này zzz"})
    assert response.status_code == 404
    assert response.json()["type"].endswith("unknown-procedure")


# ------------------------------------------------------------------------------ simplification
def test_simplified_communes_still_tile_the_city(index) -> None:  # type: ignore[no-untyped-def]
    original = index.communes.to_crs(32648)
    light = simplify_coverage(index.communes, 30).to_crs(32648)
    assert list(light["code"]) == list(original["code"])
    assert (
        shapely.get_num_coordinates(light.geometry.values).sum()
        < 0.25 * shapely.get_num_coordinates(original.geometry.values).sum()
    )
    union = shapely.union_all(light.geometry.values)
    # Shared edges stay shared: no overlap, no gap opens between neighbours.
    assert light.area.sum() == pytest.approx(union.area, rel=1e-6)
    assert union.area == pytest.approx(shapely.union_all(original.geometry.values).area, rel=5e-3)
    # No commune moves by much more than the tolerance.
    moved = original.geometry.hausdorff_distance(light.geometry, align=False)
    assert float(moved.max()) < 100


def test_simplification_tolerance_is_bounded(index) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidParameter):
        simplify_coverage(index.communes, 0)
    with pytest.raises(InvalidParameter):
        light_geojson(index.communes, ["code"], tolerance_m=5000)


# ------------------------------------------------------------------------ assets for any folium map
def _local_file(url: str) -> Path:
    return VENDOR_DIR / posixpath.relpath(urlsplit(url).path, VENDOR_URL)


def test_use_local_assets_covers_a_choropleth(index) -> None:  # type: ignore[no-untyped-def]
    """What the planner page does: choropleth + colour scale + default markers, rendered offline."""
    layer = light_geojson(index.communes, ["code", "name"], id_column="code", tolerance_m=100)
    values = {code: i for i, code in enumerate(index.communes["code"])}
    m = folium.Map(location=[21.03, 105.85], zoom_start=10, tiles=None)
    use_local_assets(m, VENDOR_URL)  # early: links added later (choropleth, colormap) are rewritten too
    folium.Choropleth(geo_data=layer, data=values, key_on="feature.id", fill_color="YlGn").add_to(m)
    LinearColormap(["white", "green"], vmin=0, vmax=126, caption="coverage").add_to(m)
    folium.Marker([21.03, 105.85], icon=folium.Icon(icon="home", angle=45)).add_to(m)
    page = m.get_root().render()
    assert external_asset_urls(page) == []
    urls = _asset_urls(page)
    assert any(u.endswith("/d3/d3.min.js") for u in urls)  # branca's colour scale
    for url in urls:
        assert url.startswith(VENDOR_URL + "/"), url
        assert _local_file(url).is_file(), url


def test_use_local_assets_refuses_what_it_cannot_serve() -> None:
    m = use_local_assets(folium.Map(location=[21.03, 105.85], tiles=None), VENDOR_URL)
    Fullscreen().add_to(m)
    with pytest.raises(MissingWebAsset, match="fullscreen"):
        m.get_root().render()
    lenient = use_local_assets(folium.Map(location=[21.03, 105.85], tiles=None), VENDOR_URL, strict=False)
    Fullscreen().add_to(lenient)
    page = lenient.get_root().render()
    assert len(external_asset_urls(page)) == 2  # the plugin's own script and stylesheet only
    # The class-level defaults of folium are untouched.
    assert all(url.startswith("https://") for _, url in folium.Map.default_js)


def test_folium_names_are_all_mapped() -> None:
    folium_names = {name for name, _ in folium.Map.default_js + folium.Map.default_css}
    assert folium_names <= set(FOLIUM_ASSETS)


# ----------------------------------------------------------------------------------- installer
def test_install_is_idempotent_and_repairs(tmp_path: Path) -> None:
    again = install_web_assets()
    assert not again.installed and not again.npm_ran
    assert web_assets_installed()

    # A copy elsewhere comes from the kept npm install, not from the registry.
    target = tmp_path / "vendor"
    started = time.perf_counter()
    first = install_web_assets(target)
    print(f"vendor copy without npm: {time.perf_counter() - started:.2f} s, {first.files} files")
    assert first.installed and first.files == again.files
    assert web_assets_installed(target)
    assert (target / STAMP_NAME).is_file()
    # A missing file is noticed and put back.
    shutil.rmtree(target / "leaflet" / "images")
    assert not web_assets_installed(target)
    repaired = install_web_assets(target)
    assert repaired.installed and (target / "leaflet" / "images" / "layers.png").is_file()
    assert not list(tmp_path.glob(".vendor.*"))  # no half-built folder left behind


def test_missing_assets_are_reported(tmp_path: Path) -> None:
    with pytest.raises(WebAssetsError, match="make web-assets"):
        require_web_assets(tmp_path / "vendor")
    assert WebAssetsError.status == 503  # /map answers "not installed yet", not a crash


def test_vendored_redoc_asks_nothing_from_its_cdn() -> None:
    # ReDoc's bundle names a logo on Redocly's CDN; the installer points it at nothing.
    assert "cdn.redoc.ly" not in (VENDOR_DIR / REDOC_JS).read_text(encoding="utf-8")


def test_an_edit_that_no_longer_applies_fails_the_install() -> None:
    item = Copy("redoc", "bundles/x.js", "redoc/x.js", replace=(("https://cdn.example/logo.svg", "data:,"),))
    assert _replaced("a https://cdn.example/logo.svg b", item) == "a data:, b"
    with pytest.raises(WebAssetsError, match="no longer contains"):
        _replaced("an upgraded bundle", item)
