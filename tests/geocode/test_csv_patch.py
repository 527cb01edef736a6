"""Writing located coordinates back into a registry CSV: only location fields change, byte for byte."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from geocode_fixtures import REGISTRY_CSV

from geo.errors import DataValidationError
from geo.geocode.csv_patch import LOCATION_COLUMNS, write_locations
from geo.geocode.locator import locate_points


def test_write_locations_rewrites_only_location_fields(
    tmp_path: Path, communes: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, legacy: gpd.GeoDataFrame
) -> None:
    path = tmp_path / "service_points.csv"
    shutil.copyfile(REGISTRY_CSV, path)
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
