"""Hanoi's 526 commune-level units and 30 districts in force before the 2025-07-01 merger.

The data comes from the PyPI package ``vietnamadminunits`` (MIT): its SQLite dataset holds the
63-province map (table ``admin_units_legacy``) with official codes, names, districts and one point per
unit (a geocoded point, not a polygon centroid and not an office). It is installed as a dependency and
read in place, never copied into the project.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point

from geo.errors import DataProblem, DataValidationError
from geo.geodesy import HANOI_BBOX
from geo.text import fold, nfc

__all__ = [
    "EXPECTED_DISTRICTS",
    "EXPECTED_UNITS",
    "HANOI_PROVINCE_CODE",
    "LEGACY_SOURCE",
    "load_legacy_districts",
    "load_legacy_units",
]

HANOI_PROVINCE_CODE = "01"
EXPECTED_UNITS = 526  # after the 2025-01-01 arrangement; the 2025-07-01 merger replaced these with 126
EXPECTED_DISTRICTS = 30  # 12 quận, 17 huyện, 1 thị xã
LEGACY_SOURCE = "vietnamadminunits:data/dataset.db#admin_units_legacy"

_UNIT_KINDS = {"Phường": "phuong", "Xã": "xa", "Thị trấn": "thi_tran"}
_DISTRICT_KINDS = {"Quận": "quan", "Huyện": "huyen", "Thị xã": "thi_xa"}
_UNIT_COLUMNS = [
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
_DISTRICT_COLUMNS = ["code", "name", "full_name", "name_ascii", "kind", "unit_count", "geometry"]


@lru_cache(maxsize=1)
def _hanoi_rows() -> tuple[dict[str, Any], ...]:
    """Read Hanoi's rows of the legacy table once per process (a tuple, so callers cannot mutate it)."""
    # Imported here: the package's __init__ loads its parser dictionaries (~0.3 s), which only
    # the legacy loaders need.
    from vietnamadminunits.database import query

    # A constant statement: `query` takes no parameters, and nothing here comes from a caller.
    rows = query(
        "SELECT wardCode, ward, wardType, district, districtType, districtCode, "
        "districtLat, districtLon, wardLat, wardLon "
        f"FROM admin_units_legacy WHERE provinceCode = '{HANOI_PROVINCE_CODE}' ORDER BY wardCode"
    )
    return tuple(rows)


def _strip_prefix(full_name: str, prefixes: Sequence[str]) -> tuple[str | None, str]:
    """Split ``"Thị trấn Yên Viên"`` into its type prefix and the bare name (prefix None if unknown)."""
    # Longest first, so "Thị trấn"/"Thị xã" are not cut as a shorter prefix would be.
    for prefix in sorted(prefixes, key=len, reverse=True):
        if full_name.startswith(prefix + " "):
            return prefix, full_name[len(prefix) + 1 :].strip()
    return None, full_name


def _in_bbox(lon: float, lat: float) -> bool:
    min_lon, min_lat, max_lon, max_lat = HANOI_BBOX
    return min_lon <= lon <= max_lon and min_lat <= lat <= max_lat


def load_legacy_units() -> gpd.GeoDataFrame:
    """Return Hanoi's 526 commune-level units in force before 2025-07-01, one point each.

    Columns: ``code`` (official 5-digit string, leading zeros kept), ``name`` (with diacritics, without
    the "Phường/Xã/Thị trấn" prefix), ``full_name`` (with it), ``name_ascii`` (`geo.text.fold` of
    ``name``), ``kind`` (``"phuong"``, ``"xa"`` or ``"thi_tran"``), ``district`` (e.g. "Quận Ba Đình"),
    ``district_ascii``, ``district_code`` (3 digits) and ``geometry`` (Point, EPSG:4326). Sorted by code.

    The name is cut from the full name rather than taken from the package's short-name column, which
    carries disambiguation suffixes such as "Yên Viên (Thị trấn)".

    Returns
    -------
    geopandas.GeoDataFrame
        526 rows in EPSG:4326.

    Raises
    ------
    DataValidationError
        If the count is not 526, a code is missing, malformed or repeated, a type or prefix is unknown, or
        a point lies outside `HANOI_BBOX`; one `DataProblem` per issue.
    """
    problems: list[DataProblem] = []
    records: list[dict[str, Any]] = []
    for row_no, row in enumerate(_hanoi_rows(), start=1):
        code = str(row["wardCode"] or "").strip()
        full_name = nfc(str(row["ward"] or ""))
        prefix, name = _strip_prefix(full_name, list(_UNIT_KINDS))
        district = nfc(str(row["district"] or ""))
        bad: list[str] = []
        if len(code) != 5 or not code.isdigit():
            bad.append(f"code {code!r} is not 5 digits ({full_name})")
        if prefix is None or prefix != row["wardType"]:
            bad.append(f"{full_name!r}: prefix does not match type {row['wardType']!r}")
        lon, lat = row["wardLon"], row["wardLat"]
        if lon is None or lat is None or not _in_bbox(float(lon), float(lat)):
            bad.append(f"{full_name} ({district}): point {lon}, {lat} outside Hanoi")
        if bad:
            problems.extend(DataProblem(LEGACY_SOURCE, m, row=row_no, id=code or None) for m in bad)
            continue
        records.append(
            {
                "code": code,
                "name": name,
                "full_name": full_name,
                "name_ascii": fold(name),
                "kind": _UNIT_KINDS.get(prefix or "", "unknown"),
                "district": district,
                "district_ascii": fold(district),
                "district_code": str(row["districtCode"]),
                "geometry": Point(float(lon), float(lat)),
            }
        )
    if len(_hanoi_rows()) != EXPECTED_UNITS:
        problems.append(
            DataProblem(
                LEGACY_SOURCE, f"{len(_hanoi_rows())} Hanoi units, expected {EXPECTED_UNITS}", id="count"
            )
        )
    codes = pd.Series([r["code"] for r in records], dtype=object)
    for code in sorted(set(codes[codes.duplicated()])):
        problems.append(DataProblem(LEGACY_SOURCE, f"code {code} appears more than once", id=code))
    if problems:
        raise DataValidationError(problems)
    return gpd.GeoDataFrame(records, columns=_UNIT_COLUMNS, geometry="geometry", crs="EPSG:4326")


def load_legacy_districts() -> gpd.GeoDataFrame:
    """Return Hanoi's 30 district-level units in force before 2025-07-01 (quận, huyện, thị xã).

    Columns: ``code`` (official 3-digit string), ``name`` (without prefix, e.g. "Đống Đa"),
    ``full_name`` ("Quận Đống Đa"), ``name_ascii``, ``kind`` (``"quan"``, ``"huyen"`` or ``"thi_xa"``),
    ``unit_count`` (commune-level units it had) and ``geometry`` (the package's district point,
    EPSG:4326). Sorted by code. Lets free text such as "quận Đống Đa" resolve to the old district, and
    from there (``district_code`` of `load_legacy_units`) to its communes.

    Returns
    -------
    geopandas.GeoDataFrame
        30 rows in EPSG:4326.

    Raises
    ------
    DataValidationError
        If the count is not 30, a code is malformed, or a district type is unknown.
    """
    problems: list[DataProblem] = []
    by_code: dict[str, dict[str, Any]] = {}
    for row in _hanoi_rows():
        code = str(row["districtCode"] or "").strip()
        if code in by_code:
            by_code[code]["unit_count"] += 1
            continue
        full_name = nfc(str(row["district"] or ""))
        prefix, name = _strip_prefix(full_name, list(_DISTRICT_KINDS))
        if len(code) != 3 or not code.isdigit() or prefix is None or prefix != row["districtType"]:
            problems.append(
                DataProblem(LEGACY_SOURCE, f"district {code!r} {full_name!r}: bad code or prefix", id=code)
            )
            continue
        lon, lat = row["districtLon"], row["districtLat"]
        by_code[code] = {
            "code": code,
            "name": name,
            "full_name": full_name,
            "name_ascii": fold(name),
            "kind": _DISTRICT_KINDS[prefix],
            "unit_count": 1,
            "geometry": Point(float(lon), float(lat)) if lon is not None and lat is not None else None,
        }
    if len(by_code) + len(problems) != EXPECTED_DISTRICTS:
        problems.append(
            DataProblem(
                LEGACY_SOURCE, f"{len(by_code)} Hanoi districts, expected {EXPECTED_DISTRICTS}", id="count"
            )
        )
    if problems:
        raise DataValidationError(problems)
    records = [by_code[c] for c in sorted(by_code)]
    return gpd.GeoDataFrame(records, columns=_DISTRICT_COLUMNS, geometry="geometry", crs="EPSG:4326")
