"""Locating offices from addresses: street matching, legacy points, fallbacks, locating a registry.

Hand-made fixtures (tests/geocode/geocode_fixtures.py and conftest.py) pin each rule; the real pinned
OSM extracts and 2025 commune polygons check that it works on the data the project ships (skipped when
neither the mirror nor a fetched copy is available).
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from geocode_fixtures import REGISTRY_CSV, A, B
from shapely.geometry import Point

from geo.errors import DataValidationError, NotFound
from geo.geocode.csv_patch import LOCATION_COLUMNS
from geo.geocode.locator import COORD_DECIMALS, METHODS, locate_point, locate_points, method_counts
from geo.settings import Settings

METRIC = "EPSG:32648"


def _metres(a: shapely.Geometry, b: shapely.Geometry) -> float:
    pair = gpd.GeoSeries([a, b], crs=4326).to_crs(METRIC)
    return float(pair.iloc[0].distance(pair.iloc[1]))


def _decimals_ok(value: float) -> bool:
    return round(value, COORD_DECIMALS) == value


# --------------------------------------------------------------------------------------------------
# Locating on the fixture


def _assert_sound(loc_lon: float, loc_lat: float, polygon: shapely.Geometry) -> None:
    assert polygon.contains(Point(loc_lon, loc_lat))
    assert _decimals_ok(loc_lon) and _decimals_ok(loc_lat)


def test_street_match_lies_on_the_street_inside_the_commune(
    communes: gpd.GeoDataFrame, streets: gpd.GeoDataFrame
) -> None:
    loc = locate_point("Số 7 phố Hàng Mã, phường Beta", "90002", communes, streets)
    assert (loc.method, loc.precision) == ("street", "approximate")
    _assert_sound(loc.lon, loc.lat, B)
    way = streets.set_index("osm_id").loc[100, "geometry"]
    assert _metres(Point(loc.lon, loc.lat), way) < 2
    assert _metres(Point(loc.lon, loc.lat), Point(105.815, 21.005)) < 2  # the middle of the stretch
    assert "Phố Hàng Mã" in loc.detail and "house number 7 not used" in loc.detail


def test_same_street_name_in_another_commune_is_not_used(communes: gpd.GeoDataFrame, streets: gpd.GeoDataFrame) -> None:
    loc = locate_point("Số 3 phố Hàng Mã, phường Alpha", "90001", communes, streets)
    assert loc.method == "commune_interior"
    _assert_sound(loc.lon, loc.lat, A)
    assert "only outside this commune" in loc.detail


def test_alt_name_and_name_vi_and_fuzzy_names_match(communes: gpd.GeoDataFrame, streets: gpd.GeoDataFrame) -> None:
    assert locate_point("Số 2 phố Mã Cũ", "90002", communes, streets).method == "street"
    assert locate_point("Số 2 Tràng Thi", "90001", communes, streets).method == "street"
    typo = locate_point("Số 1 đường Nguyen Van Huyen Keo Daii, phường Alpha", "90001", communes, streets)
    assert typo.method == "street" and "Nguyễn Văn Huyên Kéo Dài" in typo.detail


def test_lane_is_preferred_and_numbers_must_match(communes: gpd.GeoDataFrame, streets: gpd.GeoDataFrame) -> None:
    lane = locate_point("Số 3 ngõ 5 Lê Lợi, phường Alpha", "90001", communes, streets)
    assert lane.method == "street" and "lane 'ngõ 5 Lê Lợi'" in lane.detail
    assert _metres(Point(lane.lon, lane.lat), streets.set_index("osm_id").loc[106, "geometry"]) < 2
    # "ngách 27" is one character away from the mapped "Ngách 22 Ngõ 5 Lê Lợi": still not that lane.
    other = locate_point("Số 4 ngách 27 ngõ 5 Lê Lợi, phường Alpha", "90001", communes, streets)
    assert other.method == "street" and "street 'Lê Lợi'" in other.detail
    assert _metres(Point(other.lon, other.lat), streets.set_index("osm_id").loc[101, "geometry"]) < 2


def test_boundary_street_is_moved_into_the_commune(communes: gpd.GeoDataFrame, streets: gpd.GeoDataFrame) -> None:
    # Phố Biên Giới runs 10 m inside Beta, along Alpha's edge.
    loc = locate_point("Số 9 phố Biên Giới, phường Alpha", "90001", communes, streets)
    assert loc.method == "street" and "moved" in loc.detail
    _assert_sound(loc.lon, loc.lat, A)
    assert _metres(Point(loc.lon, loc.lat), streets.set_index("osm_id").loc[104, "geometry"]) < 20
    inside = locate_point("Số 9 phố Biên Giới, phường Beta", "90002", communes, streets)
    assert inside.method == "street" and "moved" not in inside.detail
    _assert_sound(inside.lon, inside.lat, B)


def test_legacy_point_named_with_its_old_district(
    communes: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, legacy: gpd.GeoDataFrame
) -> None:
    loc = locate_point("Tổ 3, P. Cũ Một, Q. Xưa", "90001", communes, streets, legacy)
    assert (loc.method, loc.precision) == ("legacy_point", "approximate")
    assert (loc.lon, loc.lat) == (105.8031, 21.0071) and "00001" in loc.detail
    # In Beta only 00003 is inside: "Cũ Một" there resolves to it although no district is given.
    assert "00003" in locate_point("Tổ 3, phường Cũ Một", "90002", communes, streets, legacy).detail


def test_legacy_point_outside_the_commune_is_not_used(
    communes: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, legacy: gpd.GeoDataFrame
) -> None:
    loc = locate_point("Thôn Cũ Hai, xã Alpha", "90001", communes, streets, legacy)
    assert loc.method == "commune_interior"
    _assert_sound(loc.lon, loc.lat, A)


def test_the_new_communes_own_name_is_not_a_legacy_unit(
    communes: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, legacy: gpd.GeoDataFrame
) -> None:
    assert locate_point("Tổ 5, phường Alpha", "90001", communes, streets, legacy).method == "commune_interior"
    old = locate_point("Tổ 5, P. Alpha, Q. Xưa", "90001", communes, streets, legacy)  # old-map notation
    assert old.method == "legacy_point" and "00004" in old.detail


def test_street_wins_over_legacy_and_interior_is_last(
    communes: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, legacy: gpd.GeoDataFrame
) -> None:
    both = locate_point("Số 3 đường Lê Lợi, P. Cũ Một, Q. Xưa", "90001", communes, streets, legacy)
    assert both.method == "street"
    nothing = locate_point("", "90001", communes, streets, legacy)
    assert nothing.method == "commune_interior"
    _assert_sound(nothing.lon, nothing.lat, A)


def test_unknown_commune_is_not_found(communes: gpd.GeoDataFrame, streets: gpd.GeoDataFrame) -> None:
    with pytest.raises(NotFound, match="99999"):
        locate_point("Số 1 Lê Lợi", "99999", communes, streets)


# --------------------------------------------------------------------------------------------------
# locate_points


def _registry() -> pd.DataFrame:
    return pd.read_csv(REGISTRY_CSV, dtype=str, keep_default_na=False)


def test_locate_points_fills_keeps_surveyed_and_never_claims_exact(
    communes: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, legacy: gpd.GeoDataFrame
) -> None:
    points = _registry()
    out = locate_points(points, communes, streets, legacy)
    assert out["id"].tolist() == points["id"].tolist()
    assert list(out.columns) == list(points.columns)
    untouched = [c for c in points.columns if c not in LOCATION_COLUMNS]
    pd.testing.assert_frame_equal(out[untouched], points[untouched])
    by_id = out.set_index("id")
    assert by_id.loc["SP-A1", "location_method"] == "street"
    assert by_id.loc["SP-A2", "location_method"] == "commune_interior"  # stale values recomputed
    assert by_id.loc["SP-B2", "location_method"] == "legacy_point"
    surveyed = by_id.loc["SP-B1"]
    assert (surveyed["lon"], surveyed["lat"], surveyed["location_precision"]) == (105.815, 21.005, "exact")
    assert surveyed["location_detail"] == "measured on site 2025-09-01"
    derived = out[out["location_method"] != "surveyed"]
    assert set(derived["location_precision"]) == {"approximate"}
    assert set(derived["location_method"]) <= set(METHODS)
    assert out.attrs["location_counts"] == method_counts(out)
    assert method_counts(out) == {"surveyed": 1, "street": 1, "legacy_point": 1, "commune_interior": 1}


def test_locate_points_is_deterministic(
    communes: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, legacy: gpd.GeoDataFrame
) -> None:
    points = _registry()
    first = locate_points(points, communes, streets, legacy)
    again = locate_points(points.copy(), communes, streets, legacy)
    pd.testing.assert_frame_equal(first, again)
    shuffled = locate_points(points.iloc[::-1].reset_index(drop=True), communes, streets, legacy)
    pd.testing.assert_frame_equal(
        shuffled.set_index("id").sort_index(), first.set_index("id").sort_index(), check_like=True
    )


def test_locate_points_reports_bad_rows(communes: gpd.GeoDataFrame, streets: gpd.GeoDataFrame) -> None:
    points = _registry()
    points.loc[0, "commune_code"] = "4"  # a code that lost its leading zeros
    points.loc[2, "lon"] = ""  # surveyed without coordinates
    with pytest.raises(DataValidationError) as info:
        locate_points(points, communes, streets, source="service_points.csv")
    problems = {(p.row, p.id) for p in info.value.problems}
    assert problems == {(2, "SP-A1"), (4, "SP-B1")}
    with pytest.raises(DataValidationError, match="missing columns"):
        locate_points(points.drop(columns="address"), communes, streets)


# --------------------------------------------------------------------------------------------------
# Real data: the pinned OSM extracts of central Hanoi and the 126 communes of 2025


@pytest.fixture(scope="module")
def real_communes(real_settings: Settings) -> gpd.GeoDataFrame:
    from geo.sources import paths_of_group

    frames = [gpd.read_file(p) for p in sorted(paths_of_group("hanoi-2025-wards", real_settings))]
    units = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=frames[0].crs)
    units["code"] = units["code"].astype(str).str.zfill(5)
    return units[["code", "name", "geometry"]]


def _polygon(communes: gpd.GeoDataFrame, code: str) -> shapely.Geometry:
    return communes.set_index("code").loc[code, "geometry"]


@pytest.mark.parametrize(
    ("address", "code", "osm_name"),
    [
        ("Số 525, phố Kim Mã, phường Giảng Võ", "00025", "Phố Kim Mã"),
        ("Số 126 Hàng Trống, phường Hoàn Kiếm", "00070", "Phố Hàng Trống"),
        ("Số 29 Quang Trung, phường Cửa Nam", "00082", "Phố Quang Trung"),
    ],
)
def test_real_street_match_inside_the_right_commune(
    real_communes: gpd.GeoDataFrame, real_streets: gpd.GeoDataFrame, address: str, code: str, osm_name: str
) -> None:
    loc = locate_point(address, code, real_communes, real_streets)
    assert (loc.method, loc.precision) == ("street", "approximate")
    point = Point(loc.lon, loc.lat)
    assert _polygon(real_communes, code).contains(point)
    ways = real_streets[real_streets["name"] == osm_name].to_crs(METRIC)
    metric_point = gpd.GeoSeries([point], crs=4326).to_crs(METRIC).iloc[0]
    assert ways.distance(metric_point).min() < 5


def test_real_street_of_another_commune_is_not_used(
    real_communes: gpd.GeoDataFrame, real_streets: gpd.GeoDataFrame
) -> None:
    # Kim Mã exists in the data, but not in Hoàn Kiếm.
    loc = locate_point("Số 525, phố Kim Mã", "00070", real_communes, real_streets)
    assert loc.method == "commune_interior"
    assert _polygon(real_communes, "00070").contains(Point(loc.lon, loc.lat))


def test_real_street_missing_from_osm_falls_back(
    real_communes: gpd.GeoDataFrame, real_streets: gpd.GeoDataFrame
) -> None:
    # Phố Trúc Bạch lies in a gap between the five extracts: no way carries that name.
    assert not real_streets["name_ascii"].str.contains("truc bach").any()
    loc = locate_point("Số 2, phố Trúc Bạch, phường Ba Đình", "00004", real_communes, real_streets)
    assert loc.method == "commune_interior" and "not in the OSM road data" in loc.detail
    assert _polygon(real_communes, "00004").contains(Point(loc.lon, loc.lat))


def test_real_commune_outside_osm_coverage_uses_its_interior(
    real_communes: gpd.GeoDataFrame, real_streets: gpd.GeoDataFrame
) -> None:
    loc = locate_point("Số 2, phố Hà Cầu, phường Hà Đông", "09556", real_communes, real_streets)
    assert (loc.method, loc.precision) == ("commune_interior", "approximate")
    assert _polygon(real_communes, "09556").contains(Point(loc.lon, loc.lat))
    assert "does not reach this commune" in loc.detail


def test_real_locality_resolves_to_a_legacy_point(
    real_communes: gpd.GeoDataFrame, real_streets: gpd.GeoDataFrame
) -> None:
    # Former xã Hồng Kỳ (Sóc Sơn), point as in vietnamadminunits, merged into Trung Giã (00385).
    legacy = gpd.GeoDataFrame(
        {"code": ["00385"], "name": ["Hồng Kỳ"], "kind": ["xa"], "district": ["Huyện Sóc Sơn"]},
        geometry=[Point(105.855083, 21.321567)],
        crs=4326,
    )
    loc = locate_point("Thôn 4 - Hồng Kỳ, xã Trung Giã", "00385", real_communes, real_streets, legacy)
    assert loc.method == "legacy_point" and (loc.lon, loc.lat) == (105.85508, 21.32157)


def test_real_locate_points_is_deterministic(real_communes: gpd.GeoDataFrame, real_streets: gpd.GeoDataFrame) -> None:
    points = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "address": [
                "Số 657 Lạc Long Quân, phường Tây Hồ",
                "Số 2, phố Trúc Bạch, phường Ba Đình",
                "Thôn Lũng Vân, xã An Khánh",
            ],
            "commune_code": ["00103", "00004", "09877"],
        }
    )
    first = locate_points(points, real_communes, real_streets)
    pd.testing.assert_frame_equal(first, locate_points(points, real_communes, real_streets))
    assert first["location_method"].tolist() == ["street", "commune_interior", "commune_interior"]
    assert (first["location_precision"] == "approximate").all()


def test_real_all_126_seat_addresses_locate_inside_their_commune(
    real_settings: Settings, real_communes: gpd.GeoDataFrame, real_streets: gpd.GeoDataFrame
) -> None:
    import json

    from geo.sources import paths_of_group
    from geo.text import fold

    (meta_path,) = paths_of_group("hanoi-2025-metadata", real_settings)
    seats = {
        fold(w["name"]): w["adminCenter"] for w in json.loads(meta_path.read_text("utf-8"))["wards"]
    }  # names are unique within Hanoi (data README)
    points = pd.DataFrame(
        {
            "id": real_communes["code"],
            "address": [seats[fold(n)] for n in real_communes["name"]],
            "commune_code": real_communes["code"],
        }
    )
    out = locate_points(points, real_communes, real_streets)
    assert len(out) == 126
    assert (out["location_precision"] == "approximate").all()
    polygons = real_communes.set_index("code").geometry
    for row in out.itertuples():
        assert polygons[row.commune_code].contains(Point(row.lon, row.lat)), row.id
        assert _decimals_ok(row.lon) and _decimals_ok(row.lat)
    counts = method_counts(out)
    assert counts["street"] >= 8 and counts["street"] + counts["commune_interior"] == 126
