"""Tests of `geo.crosswalk`: parsing ``beforeMerger`` texts and the legacy → 2025 crosswalk."""

from __future__ import annotations

import unicodedata
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from geo.crosswalk import (
    PAIR_COLUMNS,
    Crosswalk,
    FormerUnit,
    UnitName,
    build_crosswalk,
    load_metadata,
    parse_before_merger,
    parse_former_unit,
)
from geo.legacy import load_legacy_units
from geo.sources import paths_of_group

# --- parsing -----------------------------------------------------------------------------------------


def test_parse_whole_and_rest_clause() -> None:
    units = parse_before_merger(
        "Phường Quán Thánh, Phường Cửa Đông (phần còn lại sau khi sáp nhập vào phường Hoàn Kiếm)"
    )
    assert units == [
        FormerUnit("phuong", "Quán Thánh", text="Phường Quán Thánh"),
        FormerUnit(
            "phuong",
            "Cửa Đông",
            partial=True,
            rest_went_to=(UnitName("phuong", "Hoàn Kiếm"),),
            text="Phường Cửa Đông (phần còn lại sau khi sáp nhập vào phường Hoàn Kiếm)",
        ),
    ]
    assert units[1].full_name == "Phường Cửa Đông"


def test_parse_district_qualifier_and_several_destinations() -> None:
    (unit,) = parse_before_merger(
        "Xã Tam Hiệp (huyện Thanh Trì) (phần còn lại sau khi sáp nhập vào phường Hoàng Liệt, xã Thanh Trì)"
    )
    assert (unit.kind, unit.name, unit.district, unit.partial) == ("xa", "Tam Hiệp", "huyện Thanh Trì", True)
    assert unit.rest_went_to == (UnitName("phuong", "Hoàng Liệt"), UnitName("xa", "Thanh Trì"))


def test_parse_kinds_digits_and_qualifier_without_rest() -> None:
    units = parse_before_merger(
        "Thị trấn Văn Điển, Phường Mỹ Đình 1, Phường Minh Khai (quận Hai Bà Trưng), "
        "Xã Đông Xuân (thị xã Sơn Tây)"
    )
    assert [(u.kind, u.name, u.district, u.partial) for u in units] == [
        ("thi_tran", "Văn Điển", None, False),
        ("phuong", "Mỹ Đình 1", None, False),
        ("phuong", "Minh Khai", "quận Hai Bà Trưng", False),
        ("xa", "Đông Xuân", "thị xã Sơn Tây", False),
    ]


def test_parse_normalises_unicode_and_spaces() -> None:
    text = unicodedata.normalize("NFD", "  Xã   Đông La ,Phường  Dương Nội  ")
    assert [u.full_name for u in parse_before_merger(text)] == ["Xã Đông La", "Phường Dương Nội"]
    assert parse_before_merger("") == []


@pytest.mark.parametrize(
    ("item", "why"),
    [
        ("Khu phố 3", "does not start with"),
        ("Xã An Khánh (phần còn lại", "unbalanced"),
        ("Xã An Khánh (ghi chú lạ)", "unknown parenthesis"),
        ("Xã An Khánh (phần còn lại sau khi sáp nhập vào tổ 5)", "does not start with"),
    ],
)
def test_parse_rejects_malformed_items(item: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_former_unit(item)


def test_parse_reports_every_bad_item() -> None:
    with pytest.raises(ValueError) as info:
        parse_before_merger("Xã A, Khu B, Xã C, Tổ D")
    assert "Khu B" in str(info.value) and "Tổ D" in str(info.value)


# --- matching on a small hand-made map ---------------------------------------------------------------


def _legacy(rows: list[tuple[str, str, str, str, float, float]]) -> gpd.GeoDataFrame:
    label = {"phuong": "Phường", "xa": "Xã", "thi_tran": "Thị trấn"}
    return gpd.GeoDataFrame(
        [
            {
                "code": code,
                "name": name,
                "full_name": f"{label[kind]} {name}",
                "kind": kind,
                "district": district,
                "geometry": Point(lon, lat),
            }
            for code, kind, name, district, lon, lat in rows
        ],
        geometry="geometry",
        crs="EPSG:4326",
    )


def _new(rows: list[tuple[str, str, str, float, float, str]]) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Hand-made new units without polygons, and their metadata entries (centroid + text)."""
    communes = pd.DataFrame(
        [
            {
                "code": code,
                "name": name,
                "full_name": ("Phường " if kind == "ward" else "Xã ") + name,
                "kind": kind,
            }
            for code, kind, name, _, _, _ in rows
        ]
    )
    metadata = [
        {
            "name": name,
            "type": "phường" if kind == "ward" else "xã",
            "longitude": lon,
            "latitude": lat,
            "beforeMerger": text,
        }
        for _, kind, name, lon, lat, text in rows
    ]
    return communes, metadata


@pytest.fixture(scope="module")
def small() -> Crosswalk:
    legacy = _legacy(
        [
            ("00001", "phuong", "Quán Thánh", "Quận Ba Đình", 105.840, 21.040),
            ("00002", "phuong", "Cửa Đông", "Quận Hoàn Kiếm", 105.846, 21.033),
            ("00003", "xa", "Tân Lập", "Huyện Đan Phượng", 105.700, 21.080),
            ("00004", "xa", "Tân Lập", "Huyện Xa Xôi", 105.400, 20.800),  # homonym, far away
            ("00005", "xa", "Tiền Phong", "Huyện Mê Linh", 105.720, 21.170),
            ("00006", "xa", "Tiền Phong", "Huyện Thường Tín", 105.860, 20.850),
            ("00007", "xa", "Phú Đông", "Huyện Ba Vì", 105.400, 21.100),
            ("00008", "xa", "Phù Đổng", "Huyện Gia Lâm", 105.950, 21.030),  # folds like Phú Đông
            ("00009", "xa", "Thụy Hương", "Huyện Chương Mỹ", 105.690, 21.070),
            ("00010", "xa", "Bị Bỏ Quên", "Huyện Mỹ Đức", 105.700, 20.700),
        ]
    )
    communes, metadata = _new(
        [
            (
                "10001",
                "ward",
                "Ba Đình",
                105.840,
                21.040,
                "Phường Quán Thánh, Phường Cửa Đông (phần còn lại sau khi sáp nhập vào phường Hoàn Kiếm)",
            ),
            ("10002", "ward", "Hoàn Kiếm", 105.850, 21.030, "Phường Cửa Đông"),
            # Nearest Tân Lập wins; the qualifier beats proximity for Tiền Phong; "Thuỵ" = "Thụy".
            (
                "10003",
                "commune",
                "Đan Phượng",
                105.690,
                21.080,
                "Xã Tân Lập, Xã Tiền Phong (huyện Thường Tín), Xã Thuỵ Hương",
            ),
            ("10004", "commune", "Ba Vì", 105.400, 21.100, "Xã Phú Đông, Xã Không Có"),
            # Phù Đổng's rest went to Ba Vì, whose own list omits it: the pair comes from the clause.
            (
                "10005",
                "commune",
                "Gia Lâm",
                105.950,
                21.030,
                "Xã Phù Đổng (phần còn lại sau khi sáp nhập vào xã Ba Vì)",
            ),
        ]
    )
    return build_crosswalk(communes, metadata, legacy)


def _links(crosswalk: Crosswalk) -> set[tuple[str, str, str]]:
    return set(crosswalk.pairs[["legacy_code", "new_code", "relation"]].itertuples(index=False, name=None))


def test_small_pairs_and_relations(small: Crosswalk) -> None:
    assert list(small.pairs.columns) == PAIR_COLUMNS
    assert _links(small) == {
        ("00001", "10001", "whole"),
        ("00002", "10001", "part"),  # split: listed by both Ba Đình and Hoàn Kiếm
        ("00002", "10002", "part"),
        ("00003", "10003", "whole"),
        ("00006", "10003", "whole"),
        ("00009", "10003", "whole"),
        ("00007", "10004", "whole"),
        ("00008", "10004", "part"),
        ("00008", "10005", "part"),
    }


def test_small_match_methods(small: Crosswalk) -> None:
    how = {(r.legacy_code, r.new_code): r.match for r in small.pairs.itertuples()}
    assert how[("00001", "10001")] == "name"
    assert how[("00003", "10003")] == "name+nearest"
    assert how[("00006", "10003")] == "name+district"
    assert how[("00007", "10004")] == "name"  # not Phù Đổng, although both fold to "phu dong"
    assert how[("00008", "10004")] == "rest_clause"
    stated = {(r.legacy_code, r.new_code): r.stated_partial for r in small.pairs.itertuples()}
    assert stated[("00002", "10001")] and not stated[("00002", "10002")]


def test_small_unplaced_are_named(small: Crosswalk) -> None:
    ids = sorted(str(p.id) for p in small.unplaced)
    assert ids == ["00004", "00005", "00010", "10004"]
    messages = {str(p.id): p.message for p in small.unplaced}
    assert "Xã Tân Lập (Huyện Xa Xôi)" in messages["00004"]
    assert "Xã Tiền Phong (Huyện Mê Linh)" in messages["00005"]
    assert "Xã Bị Bỏ Quên" in messages["00010"]
    assert "'Xã Không Có' matches no legacy unit" in messages["10004"]
    assert any("Xã Ba Vì does not list Xã Phù Đổng" in p.message for p in small.notes)


def test_small_helpers(small: Crosswalk) -> None:
    assert small.new_units_of("00002")["new_name"].tolist() == ["Ba Đình", "Hoàn Kiếm"]
    assert small.legacy_units_of("10003")["legacy_full_name"].tolist() == [
        "Xã Tân Lập",
        "Xã Tiền Phong",
        "Xã Thụy Hương",
    ]
    assert small.new_units_of("99999").empty
    assert small.counts() == {
        "pairs": 9,
        "legacy_placed": 7,
        "whole": 5,
        "part": 4,
        "legacy_split": 2,
        "unplaced": 4,
    }


def test_rest_clause_pairs_can_be_left_out() -> None:
    legacy = _legacy(
        [
            ("00007", "xa", "Phú Đông", "Huyện Ba Vì", 105.40, 21.10),
            ("00008", "xa", "Phù Đổng", "Huyện Gia Lâm", 105.95, 21.03),
        ]
    )
    communes, metadata = _new(
        [
            ("10004", "commune", "Ba Vì", 105.40, 21.10, "Xã Phú Đông"),
            (
                "10005",
                "commune",
                "Gia Lâm",
                105.95,
                21.03,
                "Xã Phù Đổng (phần còn lại sau khi sáp nhập vào xã Ba Vì)",
            ),
        ]
    )
    crosswalk = build_crosswalk(communes, metadata, legacy, use_rest_clauses=False)
    assert _links(crosswalk) == {("00007", "10004", "whole"), ("00008", "10005", "whole")}
    assert any("pair not added" in p.message for p in crosswalk.notes)


def test_metadata_join_problems_are_reported() -> None:
    legacy = _legacy([("00001", "phuong", "Quán Thánh", "Quận Ba Đình", 105.84, 21.04)])
    communes, metadata = _new([("10001", "ward", "Ba Đình", 105.84, 21.04, "Phường Quán Thánh")])
    metadata[0]["type"] = "xã"  # same name, wrong type: must not join
    crosswalk = build_crosswalk(communes, metadata, legacy)
    assert crosswalk.pairs.empty
    assert any("no metadata entry for Phường Ba Đình" in p.message for p in crosswalk.notes)
    assert [p.id for p in crosswalk.unplaced] == ["00001"]


# --- the real data -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def communes_2025() -> gpd.GeoDataFrame:
    """The 126 units from the pinned GeoJSON files, read directly (not via geo.boundaries)."""
    frames = [gpd.read_file(path) for path in sorted(paths_of_group("hanoi-2025-wards"))]
    units = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=frames[0].crs)
    units["code"] = units["code"].astype(str).str.zfill(5)
    units["full_name"] = units["fullName"]
    units["kind"] = units["full_name"].str.startswith("Phường").map({True: "ward", False: "commune"})
    return units[["code", "name", "full_name", "kind", "geometry"]]


@pytest.fixture(scope="module")
def legacy_units() -> gpd.GeoDataFrame:
    return load_legacy_units()


@pytest.fixture(scope="module")
def metadata() -> list[dict[str, Any]]:
    return load_metadata()


@pytest.fixture(scope="module")
def hanoi(
    communes_2025: gpd.GeoDataFrame, metadata: list[dict[str, Any]], legacy_units: gpd.GeoDataFrame
) -> Crosswalk:
    return build_crosswalk(communes_2025, metadata, legacy_units)


def test_metadata_file(metadata: list[dict[str, Any]]) -> None:
    assert len(metadata) == 126
    assert {m["type"] for m in metadata} == {"phường", "xã"}


def test_hanoi_counts(hanoi: Crosswalk) -> None:
    # Pinned inputs, so exact numbers: every one of the 526 units is placed; 199 were split.
    assert hanoi.counts() == {
        "pairs": 796,
        "legacy_placed": 526,
        "whole": 327,
        "part": 469,
        "legacy_split": 199,
        "unplaced": 0,
    }
    assert hanoi.unplaced == []
    assert hanoi.pairs["new_code"].nunique() == 126
    assert not hanoi.pairs.duplicated(["legacy_code", "new_code"]).any()


def test_hanoi_notes_are_the_three_known_disagreements(hanoi: Crosswalk) -> None:
    # Two rest clauses name a destination whose list omits the unit (pairs added), and Ô Diên lists
    # Hồng Hà although Hồng Hà's rest clause does not name Ô Diên. No fallback match was needed.
    assert sorted(str(p.id) for p in hanoi.notes) == ["00602", "09817", "09817"]
    added = hanoi.pairs[hanoi.pairs["match"] == "rest_clause"]
    assert sorted(zip(added["legacy_full_name"], added["new_full_name"], strict=True)) == [
        ("Phường Tây Tựu", "Phường Đông Ngạc"),
        ("Xã Văn Khê", "Xã Ô Diên"),
    ]
    assert set(hanoi.pairs["match"]) == {"name", "name+district", "name+nearest", "rest_clause"}


def test_quan_thanh_became_ba_dinh(hanoi: Crosswalk, legacy_units: gpd.GeoDataFrame) -> None:
    code = legacy_units.loc[legacy_units["full_name"] == "Phường Quán Thánh", "code"].item()
    rows = hanoi.new_units_of(code)
    assert rows[["new_code", "new_full_name", "relation"]].values.tolist() == [
        ["00004", "Phường Ba Đình", "whole"]
    ]
    assert "Phường Quán Thánh" in hanoi.legacy_units_of("00004")["legacy_full_name"].tolist()


def test_split_unit_is_part_in_each(hanoi: Crosswalk, legacy_units: gpd.GeoDataFrame) -> None:
    # "Phường Dương Nội (phần còn lại sau khi sáp nhập vào phường Tây Mỗ, phường Đại Mỗ, phường Dương
    # Nội)" is in xã An Khánh's text: old Dương Nội (Hà Đông) went to four new units.
    code = legacy_units.loc[legacy_units["full_name"] == "Phường Dương Nội", "code"].item()
    rows = hanoi.new_units_of(code)
    assert sorted(rows["new_full_name"]) == [
        "Phường Dương Nội",
        "Phường Tây Mỗ",
        "Phường Đại Mỗ",
        "Xã An Khánh",
    ]
    assert (rows["relation"] == "part").all()
    assert rows.set_index("new_full_name").loc["Xã An Khánh", "stated_partial"]


def test_homonyms_resolve_to_their_district(hanoi: Crosswalk) -> None:
    pairs = hanoi.pairs
    tien_phong = pairs[pairs["legacy_full_name"] == "Xã Tiền Phong"]
    placed = tien_phong.groupby("legacy_district")["new_full_name"].apply(sorted).to_dict()
    assert placed == {
        "Huyện Mê Linh": ["Xã Mê Linh", "Xã Quang Minh", "Xã Thiên Lộc"],
        "Huyện Thường Tín": ["Xã Thường Tín"],
    }
    # Folding would merge these pairs; they are different units in different districts.
    assert pairs.loc[pairs["legacy_full_name"] == "Xã Tiên Phong", "new_full_name"].tolist() == [
        "Xã Quảng Oai"
    ]
    assert pairs.loc[pairs["legacy_full_name"] == "Xã Phú Đông", "new_full_name"].tolist() == ["Xã Cổ Đô"]
    assert pairs.loc[pairs["legacy_full_name"] == "Xã Phù Đổng", "new_full_name"].tolist() == ["Xã Phù Đổng"]
    hoa_phu = pairs[pairs["legacy_full_name"] == "Xã Hòa Phú"].set_index("legacy_district")["new_full_name"]
    assert hoa_phu.to_dict() == {"Huyện Chương Mỹ": "Xã Hoà Phú", "Huyện Ứng Hòa": "Xã Hoà Xá"}


def test_whole_units_lie_in_their_new_unit(hanoi: Crosswalk) -> None:
    # A geometric check the text cannot give: a unit that went whole into a new unit has its point
    # inside that unit's polygon (one sits 0.38 km outside, on the border).
    whole = hanoi.pairs[hanoi.pairs["relation"] == "whole"]
    assert (whole["distance_km"] == 0).sum() >= len(whole) - 1
    assert whole["distance_km"].max() < 0.5
    assert hanoi.pairs["distance_km"].max() < 10


def test_without_polygons_the_centroids_give_the_same_pairs(
    hanoi: Crosswalk,
    communes_2025: gpd.GeoDataFrame,
    metadata: list[dict[str, Any]],
    legacy_units: gpd.GeoDataFrame,
) -> None:
    plain = pd.DataFrame(communes_2025.drop(columns="geometry"))
    crosswalk = build_crosswalk(plain, metadata, legacy_units)
    assert _links(crosswalk) == _links(hanoi)


def _converter_links() -> dict[str, set[str]]:
    """Legacy code → new-unit keys (e.g. ``"phuongbadinh"``) per the converter of ``vietnamadminunits``."""
    from vietnamadminunits.converter.converter_2025 import (
        DICT_PROVINCE_WARD_DIVIDED,
        DICT_PROVINCE_WARD_NO_DIVIDED,
    )
    from vietnamadminunits.database import query

    keys = query(
        "SELECT wardCode, provinceKey || '_' || districtKey || '_' || wardKey AS k "
        "FROM admin_units_legacy WHERE provinceCode = '01'"
    )
    code_of = {row["k"]: row["wardCode"] for row in keys}
    links: dict[str, set[str]] = {}
    for new_key, olds in DICT_PROVINCE_WARD_NO_DIVIDED["thanhphohanoi"].items():
        for old in olds:
            links.setdefault(code_of[old], set()).add(new_key)
    for old, news in DICT_PROVINCE_WARD_DIVIDED["thanhphohanoi"].items():
        links.setdefault(code_of[old], set()).update(n["newWardKey"] for n in news)
    return links


def test_agrees_with_the_packages_converter(
    hanoi: Crosswalk,
    communes_2025: gpd.GeoDataFrame,
    metadata: list[dict[str, Any]],
    legacy_units: gpd.GeoDataFrame,
) -> None:
    # An independent source: vietnamadminunits' own old→new table (built by its author from the same
    # resolution). Without rest-clause pairs the two agree on all 526 units; with them, the only
    # differences are the two added pairs.
    from geo.text import slug

    def ours(crosswalk: Crosswalk) -> dict[str, set[str]]:
        keys = crosswalk.pairs["new_full_name"].map(lambda s: slug(s).replace("_", ""))
        return crosswalk.pairs.assign(k=keys).groupby("legacy_code")["k"].apply(set).to_dict()

    theirs = _converter_links()
    assert len(theirs) == 526
    strict = build_crosswalk(communes_2025, metadata, legacy_units, use_rest_clauses=False)
    assert ours(strict) == theirs
    differing = {code for code, keys in ours(hanoi).items() if theirs[code] != keys}
    added = set(hanoi.pairs.loc[hanoi.pairs["match"] == "rest_clause", "legacy_code"])
    assert differing == added
