"""The point table both backends build from: rows, capable rows, opening states, procedures, communes."""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from geo.catalog import COMMUNE_FIELDS, Catalog, PointStates, check_location
from geo.errors import OutsideServiceArea, UnknownProcedure
from geo.finder import Finder
from geo.hours import TZ, Calendar, opening_state
from geo.index import Index

OFFICE = "Mo-Fr 08:00-12:00,13:00-17:00; PH off"
AFTERNOON = "Mo-Fr 13:00-17:00"
MORNING = datetime(2026, 3, 2, 9, 30, tzinfo=TZ)  # a Monday
NIGHT = datetime(2026, 3, 2, 22, 0, tzinfo=TZ)


@pytest.fixture(scope="module")
def index() -> Index:
    """Two communes; four points (two share their hours, one has none); two procedures."""
    communes = gpd.GeoDataFrame(
        {"code": ["00002", "00001"], "name": ["B", "A"], "full_name": ["Phường B", "Phường A"],
         "name_ascii": ["b", "a"], "kind": ["ward", "commune"], "population": [10, 20]},
        geometry=[box(105.81, 21.00, 105.82, 21.01), box(105.80, 21.00, 105.81, 21.01)], crs="EPSG:4326",
        index=[7, 3],  # not 0..n-1: rows are positions all the same
    )
    points = gpd.GeoDataFrame(
        {"id": ["p3", "p1", "p2", "p4"], "opening_hours": [OFFICE, AFTERNOON, OFFICE, None],
         "kind": "commune_center", "name": ["3", "1", "2", "4"], "address": "", "commune_code": "00001",
         "location_precision": "approximate", "location_method": "commune_interior"},
        geometry=gpd.points_from_xy([105.801, 105.802, 105.803, 105.811], [21.001, 21.002, 21.003, 21.004]),
        crs="EPSG:4326", index=[10, 11, 12, 13],
    )
    procedures = pd.DataFrame({"code": ["1.000001", "1.000002"], "name": ["Đăng ký khai sinh", "Thủ tục khác"],
                               "name_ascii": ["dang ky khai sinh", "thu tuc khac"],
                               "handled_at": ["commune_center", "commune_center"]})
    capabilities = pd.DataFrame({"point_id": ["p4", "p3", "p2", "gone", "p1"],
                                 "procedure_code": ["1.000001", "1.000001", "1.000001", "1.000001", "1.000002"]})
    return Index(manifest={}, communes=communes, legacy_units=communes.iloc[:0], crosswalk=pd.DataFrame(),
                 service_points=points, procedures=procedures, capabilities=capabilities,
                 calendar=Calendar().to_frame())


@pytest.fixture(scope="module")
def catalog(index: Index) -> Catalog:
    return Catalog.from_index(index)


def test_rows_are_positions_of_the_points(catalog: Catalog) -> None:
    assert list(catalog.points.index) == [0, 1, 2, 3]
    assert catalog.ids.tolist() == ["p3", "p1", "p2", "p4"]
    assert catalog.row_of == {"p3": 0, "p1": 1, "p2": 2, "p4": 3}
    assert catalog.lon.tolist() == [105.801, 105.802, 105.803, 105.811]
    assert catalog.lat.tolist() == [21.001, 21.002, 21.003, 21.004]


def test_capable_rows_are_sorted_and_skip_unknown_points(catalog: Catalog) -> None:
    assert catalog.capable_rows("1.000001").tolist() == [0, 2, 3]  # "gone" is no point of the index
    assert catalog.capable_rows("1.000002").tolist() == [1]
    none = catalog.capable_rows("9.999999")
    assert len(none) == 0 and none.dtype == np.int64 and not none.flags.writeable


def test_states_are_evaluated_once_per_distinct_hours(catalog: Catalog) -> None:
    states = catalog.states
    assert sorted(states.values.tolist()) == sorted(["", AFTERNOON, OFFICE])  # four points, three strings
    distinct, ranks = states.states_at(MORNING)
    assert ranks.tolist() == [0, 2, 0, 1]  # open, closed (afternoon only), open, unknown
    assert [distinct[states.key_list[row]].state for row in range(4)] == ["open", "closed", "open", "unknown"]
    assert not ranks.flags.writeable
    again = states.states_at(datetime(2026, 3, 3, 9, 0, tzinfo=TZ))[1]
    assert again is ranks  # the same classes on another morning: the same array
    assert states.states_at(NIGHT)[1].tolist() == [2, 2, 2, 1]


def test_state_of_and_states_of_agree_with_opening_state(catalog: Catalog) -> None:
    hours = [OFFICE, AFTERNOON, OFFICE, None]
    for at in (MORNING, NIGHT):
        expected = [opening_state(h, at, catalog.calendar) for h in hours]
        assert [catalog.states.state_of(row, at) for row in range(4)] == expected
        assert catalog.states.states_of([3, 0, 2], at) == [expected[3], expected[0], expected[2]]


def test_point_states_accept_a_plain_list() -> None:
    states = PointStates([OFFICE, None, ""], Calendar())
    assert states.states_at(MORNING)[1].tolist() == [0, 1, 1]


def test_procedures_by_code_or_name_are_remembered(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    assert catalog.procedure(" 1.000002 ")["name"] == "Thủ tục khác"
    found = catalog.procedure("dang ky khai sinh")
    assert found["code"] == "1.000001" and catalog.procedure_memo["dang ky khai sinh"] is found
    with pytest.raises(UnknownProcedure):
        catalog.procedure("9.999999")
    monkeypatch.setattr("geo.catalog.PROCEDURE_MEMO_MAX", len(catalog.procedure_memo))
    assert catalog.procedure("Đăng ký khai sinh")["code"] == "1.000001"
    assert "Đăng ký khai sinh" not in catalog.procedure_memo  # full: answered, not remembered


def test_commune_records_follow_the_index_order(catalog: Catalog) -> None:
    assert [r["code"] for r in catalog.commune_records] == ["00002", "00001"]
    assert set(catalog.commune_records[0]) == set(COMMUNE_FIELDS)
    assert catalog.commune_by_code["00001"] == {"code": "00001", "name": "A", "full_name": "Phường A",
                                                "kind": "commune"}


def test_the_embedded_engine_builds_from_the_catalog(index: Index) -> None:
    finder = Finder(index)
    assert isinstance(finder.catalog, Catalog)
    assert finder.points is finder.catalog.points and finder.ids is finder.catalog.ids
    assert finder.capable_rows("1.000001").tolist() == [0, 2, 3]
    assert finder.commune_at(105.805, 21.005) == finder.catalog.commune_by_code["00001"]
    assert finder.procedure("1.000001") is finder.catalog.procedure_memo["1.000001"]


def test_check_location_explains_what_is_wrong() -> None:
    def inside(lon: float, lat: float) -> bool:
        return 105.0 < lon < 106.5 and 20.5 < lat < 21.5

    check_location(105.85, 21.03, inside)
    with pytest.raises(OutsideServiceArea, match="swapped") as swapped:
        check_location(21.03, 105.85, inside)
    assert swapped.value.extra["swapped"] is True
    with pytest.raises(OutsideServiceArea, match="not finite"):
        check_location(float("nan"), 21.0, inside)
    with pytest.raises(OutsideServiceArea, match="not valid WGS 84"):
        check_location(105.85, 210.0, inside)
    with pytest.raises(OutsideServiceArea, match="outside Hanoi"):
        check_location(106.68, 20.86 - 1, inside)
