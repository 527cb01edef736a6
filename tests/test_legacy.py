"""Tests of `geo.legacy`: Hanoi's 526 pre-merger units and 30 districts from ``vietnamadminunits``."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pytest

import geo.legacy as legacy_module
from geo.errors import DataValidationError
from geo.geodesy import HANOI_BBOX
from geo.legacy import (
    EXPECTED_UNITS,
    load_legacy_districts,
    load_legacy_units,
)
from geo.text import fold


@pytest.fixture(scope="module")
def units() -> gpd.GeoDataFrame:
    return load_legacy_units()


@pytest.fixture(scope="module")
def districts() -> gpd.GeoDataFrame:
    return load_legacy_districts()


def test_count_columns_and_crs(units: gpd.GeoDataFrame) -> None:
    assert len(units) == EXPECTED_UNITS == 526
    assert list(units.columns) == [
        "code",
        "name",
        "full_name",
        "name_ascii",
        "kind",
        "district",
        "district_ascii",
        "district_code",
        "geometry",
    ]
    assert units.crs is not None and units.crs.to_epsg() == 4326
    assert (units.geom_type == "Point").all()


def test_codes_are_unique_five_digit_strings(units: gpd.GeoDataFrame) -> None:
    assert units["code"].is_unique
    assert units["code"].str.fullmatch(r"\d{5}").all()
    assert units.loc[units["full_name"] == "Phường Phúc Xá", "code"].tolist() == ["00001"]


def test_kinds(units: gpd.GeoDataFrame) -> None:
    assert units["kind"].value_counts().to_dict() == {"xa": 345, "phuong": 160, "thi_tran": 21}
    label = {"phuong": "Phường", "xa": "Xã", "thi_tran": "Thị trấn"}
    assert (units["kind"].map(label) + " " + units["name"] == units["full_name"]).all()


def test_names_have_no_prefix_or_suffix(units: gpd.GeoDataFrame) -> None:
    # The package's short names carry "(Thị trấn)"/"(Xã)" suffixes for Yên Viên; ours must not.
    yen_vien = units[units["name"] == "Yên Viên"].set_index("code")
    assert yen_vien.loc["00526", "full_name"] == "Thị trấn Yên Viên"
    assert yen_vien.loc["00532", "full_name"] == "Xã Yên Viên"
    assert not units["name"].str.contains(r"[()]").any()
    assert not units["name"].str.match(r"(Phường|Xã|Thị trấn) ").any()
    assert (units["name"].map(fold) == units["name_ascii"]).all()
    assert (units["district"].map(fold) == units["district_ascii"]).all()


def test_points_inside_hanoi_bbox(units: gpd.GeoDataFrame) -> None:
    min_lon, min_lat, max_lon, max_lat = HANOI_BBOX
    assert units.geometry.x.between(min_lon, max_lon).all()
    assert units.geometry.y.between(min_lat, max_lat).all()


def test_quan_thanh_is_in_ba_dinh(units: gpd.GeoDataFrame) -> None:
    row = units[units["full_name"] == "Phường Quán Thánh"].iloc[0]
    assert row["district"] == "Quận Ba Đình"
    assert row["district_ascii"] == "quan ba dinh"
    assert row["district_code"] == "001"


def test_districts(districts: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> None:
    assert len(districts) == 30
    assert districts["code"].is_unique
    assert districts["kind"].value_counts().to_dict() == {"huyen": 17, "quan": 12, "thi_xa": 1}
    assert districts["unit_count"].sum() == 526
    assert set(units["district_code"]) == set(districts["code"])
    # Free text "quận Đống Đa" resolves by the folded full name.
    dong_da = districts[districts["full_name"].map(fold) == fold("quận Đống Đa")]
    assert dong_da[["code", "full_name", "kind"]].values.tolist() == [["006", "Quận Đống Đa", "quan"]]
    assert districts.loc[districts["kind"] == "thi_xa", "full_name"].tolist() == ["Thị xã Sơn Tây"]


def _fake_row(code: str, ward: str, lon: float = 105.85, lat: float = 21.03) -> dict[str, Any]:
    return {
        "wardCode": code,
        "ward": ward,
        "wardType": ward.split(" ")[0],
        "district": "Quận Ba Đình",
        "districtType": "Quận",
        "districtCode": "001",
        "districtLat": 21.03,
        "districtLon": 105.82,
        "wardLat": lat,
        "wardLon": lon,
    }


def test_validation_reports_every_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = (
        _fake_row("00001", "Phường Phúc Xá"),
        _fake_row("00001", "Phường Trúc Bạch"),  # duplicate code
        _fake_row("123", "Phường Kim Mã"),  # malformed code
        _fake_row("00009", "Phường Ngọc Hà", lon=21.03, lat=105.85),  # lat/lon swapped
    )
    monkeypatch.setattr(legacy_module, "_hanoi_rows", lambda: rows)
    with pytest.raises(DataValidationError) as info:
        load_legacy_units()
    messages = [p.message for p in info.value.problems]
    assert any("4 Hanoi units, expected 526" in m for m in messages)
    assert any("00001 appears more than once" in m for m in messages)
    assert any("'123' is not 5 digits" in m for m in messages)
    assert any("Ngọc Hà" in m and "outside Hanoi" in m for m in messages)
