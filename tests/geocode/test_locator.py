"""Locating offices from addresses: parsing, street matching, legacy points, fallbacks, CSV write-back.

Hand-made fixtures (tests/fixtures/locate/) pin each rule; the real pinned OSM extracts and 2025
commune polygons check that it works on the data the project ships (skipped when neither the mirror
nor a fetched copy is available).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, box

from geo.errors import DataValidationError, NotFound
from geo.locate import (
    COORD_DECIMALS,
    LOCATION_COLUMNS,
    METHODS,
    load_osm_streets,
    locate_point,
    locate_points,
    method_counts,
    parse_address,
    street_key,
    write_locations,
)
from geo.settings import PROJECT_ROOT, Settings

FIXTURES = Path(__file__).parent / "fixtures" / "locate"
METRIC = "EPSG:32648"

# Two 0.01° squares side by side (the fixture OSM files are drawn on them).
A = box(105.80, 21.00, 105.81, 21.01)
B = box(105.81, 21.00, 105.82, 21.01)


# --------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def communes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": ["90001", "90002"], "name": ["Alpha", "Beta"]}, geometry=[A, B], crs=4326)


@pytest.fixture(scope="module")
def streets() -> gpd.GeoDataFrame:
    return load_osm_streets([FIXTURES / "a.osm", FIXTURES / "b.osm"])


@pytest.fixture(scope="module")
def legacy() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": ["00001", "00002", "00003", "00004"],
            "name": ["Cũ Một", "Cũ Hai", "Cũ Một", "Alpha"],
            "name_ascii": ["cu mot", "cu hai", "cu mot", "alpha"],
            "kind": ["phuong", "xa", "phuong", "phuong"],
            "district": ["Quận Xưa", "Huyện Khác", "Huyện Khác", "Quận Xưa"],
        },
        geometry=[
            Point(105.8031, 21.0071),
            Point(105.8151, 21.0081),
            Point(105.8171, 21.0021),
            Point(105.8061, 21.0061),
        ],
        crs=4326,
    )


def _metres(a: shapely.Geometry, b: shapely.Geometry) -> float:
    pair = gpd.GeoSeries([a, b], crs=4326).to_crs(METRIC)
    return float(pair.iloc[0].distance(pair.iloc[1]))


def _decimals_ok(value: float) -> bool:
    return round(value, COORD_DECIMALS) == value


# --------------------------------------------------------------------------------------------------
# Address parsing (real seat addresses from facts/commune_hq_2025.csv and branches.csv)


@pytest.mark.parametrize(
    ("address", "house", "lane", "street", "commune"),
    [
        ("Số 2, phố Trúc Bạch, phường Ba Đình", "2", None, "Trúc Bạch", "Ba Đình"),
        ("Số 525, phố Kim Mã, phường Giảng Võ", "525", None, "Kim Mã", "Giảng Võ"),
        ("Số 126 Hàng Trống, phường Hoàn Kiếm", "126", None, "Hàng Trống", "Hoàn Kiếm"),
        ("Số 270, đường Ngọc Thuỵ, phường Bồ Đề", "270", None, "Ngọc Thuỵ", "Bồ Đề"),
        ("Số 79A ngõ 25 Vũ Ngọc Phan, phường Láng", "79A", "ngõ 25", "Vũ Ngọc Phan", "Láng"),
        ("Số 2 ngõ 4B phố Đặng Văn Ngữ, phường Kim Liên", "2", "ngõ 4B", "Đặng Văn Ngữ", "Kim Liên"),
        ("Số 2/224 đường Hoàng Mai, phường Tương Mai", "2/224", "ngõ 224", "Hoàng Mai", "Tương Mai"),
        ("Số 8 ngõ 6 phố Bùi Huy Bích", "8", "ngõ 6", "Bùi Huy Bích", None),
        ("Phố Văn Hội, tổ dân phố số 2 phường Đông Ngạc", None, None, "Văn Hội", "Đông Ngạc"),
        ("Đường Dương Đức Hiền, thôn Cừ Keo, xã Thuận An", None, None, "Dương Đức Hiền", "Thuận An"),
        ("Số 10, đường 17/8, xã Quốc Oai", "10", None, "đường 17/8", "Quốc Oai"),
        ("Số 125 tỉnh lộ 422, xã Hoài Đức", "125", None, "tỉnh lộ 422", "Hoài Đức"),
        ("Số 01 đường Bích Hòa - Cao Viên, thôn Mùi, xã Bình Minh", "01", None, "Bích Hòa - Cao Viên", "Bình Minh"),
        ("Thôn Lũng Vân, xã An Khánh", None, None, None, "An Khánh"),
        ("Tổ dân phố Ngọa Long 2, phường Tây Tựu", None, None, None, "Tây Tựu"),
        ("Tổ 6, phường Phúc Lợi", None, None, None, "Phúc Lợi"),
        ("Số 99 thôn Nam Võng, xã Phúc Lộc", "99", None, None, "Phúc Lộc"),
        ("Lô C3, khu đô thị Văn Phú, phường Kiến Hưng", None, None, None, "Kiến Hưng"),
        ("197 Nghi Tàm, P. Yên Phụ, Q. Tây Hồ", "197", None, "Nghi Tàm", "Yên Phụ"),
        ("85 Dịch Vọng Hậu, Q. Cầu Giấy", "85", None, "Dịch Vọng Hậu", None),
        ("Ngõ 12 phố Trúc Bạch, phường Ba Đình", None, "ngõ 12", "Trúc Bạch", "Ba Đình"),
    ],
)
def test_parse_real_addresses(
    address: str, house: str | None, lane: str | None, street: str | None, commune: str | None
) -> None:
    parsed = parse_address(address)
    assert (parsed.house_number, parsed.lane, parsed.street, parsed.commune) == (house, lane, street, commune)
    assert parsed.street_ascii == (street_key(street) if street else None)


def test_parse_folds_and_normalises() -> None:
    decomposed = "So\u0302\u0301 2, pho\u0302\u0301 Tru\u0301c Ba\u0323ch"  # NFD input
    parsed = parse_address(decomposed)
    assert parsed.street == "Trúc Bạch" and parsed.street_ascii == "truc bach"
    assert parse_address("Số 2, phố Trúc Bạch").lane_street is None
    assert parse_address("Số 1 ngõ 282 đường Kim Giang").lane_street == "ngõ 282 Kim Giang"


def test_parse_old_units_districts_and_localities() -> None:
    xuan_la = parse_address("Tòa nhà Liên cơ 258 Võ Chí Công, P. Xuân La, Q. Tây Hồ")
    assert (xuan_la.house_number, xuan_la.street) == ("258", "Võ Chí Công")
    assert [(u.kind, u.name, u.district) for u in xuan_la.units] == [("phường", "Xuân La", "Tây Hồ")]
    nested = parse_address(
        "Tòa nhà Liên cơ A, 258 Võ Chí Công (old admin: P. Xuân La, Q. Tây Hồ; 2025 admin: P. Tây Hồ)"
    )
    assert [(u.name, u.district) for u in nested.units] == [("Xuân La", "Tây Hồ"), ("Tây Hồ", None)]
    assert parse_address("Thôn 4 - Hồng Kỳ, xã Trung Giã").localities == ("Hồng Kỳ",)
    assert parse_address("Thôn 3, Yên Bình, xã Yên Xuân").localities == ("Yên Bình",)
    assert parse_address("Thôn Vật Lại 3, xã Vật Lại").localities == ("Vật Lại",)
    sontay = parse_address("Phường Sơn Lộc, thị xã Sơn Tây")
    assert [(u.kind, u.name, u.district) for u in sontay.units] == [("phường", "Sơn Lộc", "Sơn Tây")]


def test_street_key_drops_one_prefix_but_keeps_numbers() -> None:
    assert street_key("Phố Trúc Bạch") == street_key("Trúc Bạch") == "truc bach"
    assert street_key("Đường Linh Đường") == "linh duong"
    assert street_key("Ngõ 575 Phố Kim Mã") == street_key("ngõ 575 Kim Mã") == "ngo 575 kim ma"
    assert street_key("Đường 17/8") == "duong 17/8"


# --------------------------------------------------------------------------------------------------
# OSM streets


def test_load_osm_streets_dedupes_and_keeps_named_highways(streets: gpd.GeoDataFrame) -> None:
    assert streets.crs.to_epsg() == 4326
    assert streets["osm_id"].is_unique
    assert streets["osm_id"].tolist() == [100, 101, 104, 105, 106, 107, 108]  # 102 unnamed, 103 no highway
    assert list(streets.columns) == ["name", "name_ascii", "alt_names", "highway", "osm_id", "geometry"]
    hang_ma = streets.set_index("osm_id").loc[100]
    assert hang_ma["name"] == "Phố Hàng Mã" and hang_ma["name_ascii"] == "pho hang ma"
    assert hang_ma["alt_names"] == "Phố Mã Cũ"  # name:vi and the repeated alt_name collapse; name:en ignored
    assert streets.set_index("osm_id").loc[107, "name"] == "Phố Tràng Thi"  # from name:vi
    clipped = streets.set_index("osm_id").loc[108, "geometry"]
    assert len(clipped.coords) == 2  # node 999 is in no file
    assert len(streets.attrs["osm_bounds"]) == 2
    assert (streets.geom_type == "LineString").all()


def test_broken_osm_file_is_a_data_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.osm"
    bad.write_text("<osm><node id='1' lat='21' lon='105'></osm>", "utf-8")
    with pytest.raises(DataValidationError, match=r"bad\.osm"):
        load_osm_streets([bad])


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
# locate_points and write_locations


def _registry() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "registry.csv", dtype=str, keep_default_na=False)


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


def test_write_locations_rewrites_only_location_fields(
    tmp_path: Path, communes: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, legacy: gpd.GeoDataFrame
) -> None:
    path = tmp_path / "service_points.csv"
    shutil.copyfile(FIXTURES / "registry.csv", path)
    before = path.read_text("utf-8").splitlines()
    located = locate_points(pd.read_csv(path, dtype=str, keep_default_na=False), communes, streets, legacy)
    assert write_locations(path, located) == 3  # the surveyed row is unchanged
    after = path.read_text("utf-8").splitlines()
    assert after[0] == before[0] and after[3] == before[3]  # header, surveyed row: byte for byte
    assert after[1].startswith('SP-A1,"Điểm phục vụ Alpha, cơ sở 1",commune_service_point,"Số 3, đường Lê Lợi')
    assert after[1].endswith(',"Mo-Fr 08:00-12:00,13:30-17:00",')
    assert after[2].endswith(',"quoted ""note"", kept"')
    reread = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert reread["commune_code"].tolist() == ["90001", "90001", "90002", "90002"]
    assert reread["location_method"].tolist() == located["location_method"].tolist()
    assert [float(v) for v in reread["lon"]] == located["lon"].tolist()
    assert write_locations(path, located) == 0  # idempotent
    assert sorted(p.name for p in tmp_path.iterdir()) == ["service_points.csv"]  # nothing left aside


def test_write_locations_appends_missing_columns_and_keeps_crlf(
    tmp_path: Path, communes: gpd.GeoDataFrame, streets: gpd.GeoDataFrame
) -> None:
    path = tmp_path / "points.csv"
    path.write_bytes('id,address,commune_code\r\nX1,"Số 3, đường Lê Lợi",90001\r\nX2,Tổ 1,90002\r\n'.encode())
    located = locate_points(pd.read_csv(path, dtype=str), communes, streets).iloc[:1]
    write_locations(path, located)
    lines = path.read_bytes().decode().split("\r\n")
    assert lines[0] == "id,address,commune_code," + ",".join(LOCATION_COLUMNS)
    assert lines[1].startswith('X1,"Số 3, đường Lê Lợi",90001,105.') and ",approximate,street," in lines[1]
    assert lines[2] == "X2,Tổ 1,90002,,,,,"  # not in located_df: padded, values untouched
    with pytest.raises(DataValidationError, match="not in the file"):
        write_locations(path, located.assign(id="NOPE"))


# --------------------------------------------------------------------------------------------------
# Real data: the pinned OSM extracts of central Hanoi and the 126 communes of 2025


@pytest.fixture(scope="module")
def real_settings() -> Settings:
    mirror = os.environ.get("GANDAN_DATA_MIRROR")
    default_mirror = PROJECT_ROOT.parent / "shared" / "data" / "mirror"
    settings = Settings(data_mirror=Path(mirror) if mirror else default_mirror if default_mirror.exists() else None)
    if settings.data_mirror is None and not settings.upstream_dir.exists():
        pytest.skip("no data mirror and no fetched upstream files")
    return settings


@pytest.fixture(scope="module")
def real_streets(real_settings: Settings) -> gpd.GeoDataFrame:
    from geo.sources import paths_of_group

    return load_osm_streets(paths_of_group("osm-central-hanoi", real_settings))


@pytest.fixture(scope="module")
def real_communes(real_settings: Settings) -> gpd.GeoDataFrame:
    from geo.sources import paths_of_group

    frames = [gpd.read_file(p) for p in sorted(paths_of_group("hanoi-2025-wards", real_settings))]
    units = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=frames[0].crs)
    units["code"] = units["code"].astype(str).str.zfill(5)
    return units[["code", "name", "geometry"]]


def _polygon(communes: gpd.GeoDataFrame, code: str) -> shapely.Geometry:
    return communes.set_index("code").loc[code, "geometry"]


def test_real_osm_streets_load(real_streets: gpd.GeoDataFrame) -> None:
    assert real_streets["osm_id"].is_unique and len(real_streets) > 3000
    assert real_streets.crs.to_epsg() == 4326
    assert (real_streets["name"] == "Phố Kim Mã").sum() > 10


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
