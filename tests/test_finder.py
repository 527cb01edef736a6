"""The embedded nearest engine: exact against brute force, open first, ties by id, clear errors."""

from __future__ import annotations

from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from geo.errors import InvalidParameter, InvalidTime, OutsideServiceArea, UnknownProcedure
from geo.finder import Finder
from geo.hours import TZ, Calendar, opening_state
from geo.index import Index
from geo.ranking import STATE_RANK

GEOD = pyproj.Geod(ellps="WGS84")
HOURS = "Mo-Fr 08:00-12:00,13:00-17:00; PH off"


def brute_force(finder: Finder, lon: float, lat: float, code: str, at: datetime, k: int, open_only: bool):
    """Scan every capable point: geodesic distance, opening state, sort by (state, cm, id)."""
    rows = finder.capable_rows(code)
    keyed = []
    for r in rows:
        point = finder.points.iloc[r]
        hours = point["opening_hours"]
        state = opening_state(hours if isinstance(hours, str) and hours else None, at, finder.calendar).state
        if open_only and state != "open":
            continue
        _, _, d = GEOD.inv(lon, lat, point.geometry.x, point.geometry.y)
        keyed.append((STATE_RANK[state], float(np.round(d, 2)), str(point["id"])))
    keyed.sort()
    return [key[2] for key in keyed[:k]]


# ----------------------------------------------------------------------------------- real data
SPECIAL_DAYS = [
    datetime(2026, 2, 17, 9, 0, tzinfo=TZ),  # Tết
    datetime(2026, 1, 10, 9, 0, tzinfo=TZ),  # make-up working Saturday
    datetime(2026, 1, 2, 10, 0, tzinfo=TZ),  # swapped day off
    datetime(2025, 9, 2, 9, 0, tzinfo=TZ),  # National Day
    datetime(2026, 3, 2, 12, 30, tzinfo=TZ),  # lunch break
    datetime(2026, 3, 2, 9, 30, tzinfo=TZ),  # ordinary morning
]
times = st.one_of(
    st.sampled_from(SPECIAL_DAYS),
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(TZ)),
)


@pytest.fixture(scope="module")
def origins(finder: Finder) -> np.ndarray:
    rng = np.random.default_rng(42)
    minx, miny, maxx, maxy = finder.bbox
    lon = rng.uniform(minx, maxx, 20_000)
    lat = rng.uniform(miny, maxy, 20_000)
    inside = finder.locator.communes_at(lon, lat) >= 0
    return np.column_stack([lon[inside], lat[inside]])


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), at=times, k=st.integers(1, 8), open_only=st.booleans())
def test_nearest_equals_brute_force(finder: Finder, origins: np.ndarray, data, at, k, open_only) -> None:
    lon, lat = origins[data.draw(st.integers(0, len(origins) - 1))]
    code = data.draw(st.sampled_from(sorted(finder.procedures["code"])))
    result = finder.nearest(float(lon), float(lat), code, at, k=k, open_only=open_only)
    assert [m.id for m in result.matches] == brute_force(finder, lon, lat, code, at, k, open_only)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), at=times, k=st.integers(1, 8), open_only=st.booleans())
def test_kd_tree_path_equals_brute_force(
    finder: Finder, origins: np.ndarray, monkeypatch: pytest.MonkeyPatch, data, at, k, open_only
) -> None:
    # Hanoi's capable sets are small enough for the numpy scan; larger sets go through the KD-tree.
    monkeypatch.setattr("geo.finder.SCAN_MAX_POINTS", 0)
    lon, lat = origins[data.draw(st.integers(0, len(origins) - 1))]
    code = data.draw(st.sampled_from(sorted(finder.procedures["code"])))
    result = finder.nearest(float(lon), float(lat), code, at, k=k, open_only=open_only)
    assert [m.id for m in result.matches] == brute_force(finder, lon, lat, code, at, k, open_only)


@pytest.mark.parametrize("at", SPECIAL_DAYS)
def test_batch_equals_single(finder: Finder, origins: np.ndarray, at: datetime) -> None:
    sample = origins[:400]
    ids, dist = finder.nearest_many(sample[:, 0], sample[:, 1], "1.001193", at, k=4)
    for i, (lon, lat) in enumerate(sample):
        single = finder.nearest(float(lon), float(lat), "1.001193", at, k=4)
        assert list(ids[i]) == [m.id for m in single.matches]
        assert np.allclose(dist[i], [m.distance_m for m in single.matches], atol=0.06)


def test_open_places_come_first_and_night_gives_next_opening(finder: Finder) -> None:
    night = datetime(2026, 3, 3, 22, 0, tzinfo=TZ)
    result = finder.nearest(105.8542, 21.0285, "1.001193", night, k=3)
    assert len(result.matches) == 3
    assert all(m.state.state == "closed" for m in result.matches)
    assert all(m.state.opens_at == datetime(2026, 3, 4, 8, 0, tzinfo=TZ) for m in result.matches)
    assert [m.distance_m for m in result.matches] == sorted(m.distance_m for m in result.matches)
    assert finder.nearest(105.8542, 21.0285, "1.001193", night, k=3, open_only=True).matches == []


def test_tet_sends_people_to_the_first_working_day(finder: Finder) -> None:
    tet = datetime(2026, 2, 17, 9, 0, tzinfo=TZ)
    result = finder.nearest(105.8542, 21.0285, "1.001193", tet, k=1)
    assert result.matches[0].state.state == "closed"
    assert result.matches[0].state.opens_at == datetime(2026, 2, 23, 8, 0, tzinfo=TZ)


def test_only_capable_points_are_returned(finder: Finder) -> None:
    at = datetime(2026, 3, 2, 9, 30, tzinfo=TZ)
    city_only = finder.index.procedures[finder.index.procedures["handled_at"] == "city_center|branch|intake_point"]
    code = city_only["code"].iloc[0]
    result = finder.nearest(105.8542, 21.0285, code, at, k=10)
    kinds = {finder.points.iloc[m.row]["kind"] for m in result.matches}
    assert kinds <= {"city_center", "branch", "intake_point"} and result.matches


def test_procedure_not_handled_in_person_says_so(finder: Finder) -> None:
    police = finder.index.procedures[finder.index.procedures["handled_at"] == ""]
    result = finder.nearest(105.8542, 21.0285, police["code"].iloc[0], datetime.now(TZ), k=3)
    assert result.matches == [] and "in person" in result.notes[0].text_en


# ----------------------------------------------------------------------------------- errors
def test_outside_hanoi_is_refused(finder: Finder) -> None:
    with pytest.raises(OutsideServiceArea, match="outside Hanoi"):
        finder.nearest(106.68, 20.86, "1.001193", datetime.now(TZ))  # Hải Phòng


def test_swapped_lat_lon_is_detected(finder: Finder) -> None:
    with pytest.raises(OutsideServiceArea, match="swapped") as caught:
        finder.nearest(21.0285, 105.8542, "1.001193", datetime.now(TZ))
    assert caught.value.extra["swapped"] is True


def test_unknown_procedure_suggests(finder: Finder) -> None:
    with pytest.raises(UnknownProcedure):
        finder.nearest(105.8542, 21.0285, "9.999999", datetime.now(TZ))


def test_naive_time_is_refused(finder: Finder) -> None:
    with pytest.raises(InvalidTime):
        finder.nearest(105.8542, 21.0285, "1.001193", datetime(2026, 3, 2, 9, 30))


def test_k_out_of_range(finder: Finder) -> None:
    with pytest.raises(InvalidParameter):
        finder.nearest(105.8542, 21.0285, "1.001193", datetime.now(TZ), k=0)


# ----------------------------------------------------------------------------------- fixture
def tiny_index(points: list[tuple[str, float, float, str | None]]) -> Index:
    """Two communes and the given points (id, lon, lat, hours), all handling procedure 1.000001."""
    communes = gpd.GeoDataFrame(
        {"code": ["00001", "00002"], "name": ["A", "B"], "full_name": ["Phường A", "Phường B"],
         "name_ascii": ["a", "b"], "kind": ["ward", "ward"], "population": [10, 10]},
        geometry=[box(105.80, 21.00, 105.81, 21.01), box(105.81, 21.00, 105.82, 21.01)], crs="EPSG:4326",
    )
    frame = pd.DataFrame(points, columns=["id", "lon", "lat", "opening_hours"])
    service_points = gpd.GeoDataFrame(
        frame.assign(kind="commune_center", name=frame["id"], address="", commune_code="00001",
                     location_precision="approximate", location_method="commune_interior"),
        geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326",
    )
    procedures = pd.DataFrame({"code": ["1.000001"], "name": ["Thủ tục thử"], "name_ascii": ["thu tuc thu"],
                               "handled_at": ["commune_center"]})
    capabilities = pd.DataFrame({"point_id": frame["id"], "procedure_code": "1.000001"})
    return Index(manifest={}, communes=communes, legacy_units=communes.iloc[:0], crosswalk=pd.DataFrame(),
                 service_points=service_points, procedures=procedures, capabilities=capabilities,
                 calendar=Calendar().to_frame())


def test_ties_break_by_id() -> None:
    finder = Finder(tiny_index([("b", 105.805, 21.005, HOURS), ("a", 105.805, 21.005, HOURS),
                                ("c", 105.815, 21.005, HOURS)]))
    at = datetime(2026, 3, 2, 9, 30, tzinfo=TZ)
    assert [m.id for m in finder.nearest(105.806, 21.006, "1.000001", at, k=3).matches] == ["a", "b", "c"]


def test_unknown_hours_rank_after_open_and_before_closed() -> None:
    finder = Finder(tiny_index([("near-closed", 105.8051, 21.005, "Mo-Fr 13:00-17:00"),
                                ("mid-unknown", 105.809, 21.005, None),
                                ("far-open", 105.819, 21.005, HOURS)]))
    at = datetime(2026, 3, 2, 9, 30, tzinfo=TZ)
    result = finder.nearest(105.805, 21.005, "1.000001", at, k=3)
    assert [m.id for m in result.matches] == ["far-open", "mid-unknown", "near-closed"]
    assert [m.state.state for m in result.matches] == ["open", "unknown", "closed"]
    assert result.matches[2].state.opens_at == at.replace(hour=13, minute=0)


def test_distance_is_geodesic_metres() -> None:
    finder = Finder(tiny_index([("a", 105.81, 21.005, HOURS)]))
    result = finder.nearest(105.80, 21.005, "1.000001", datetime.now(TZ) + timedelta(0), k=1)
    _, _, expected = GEOD.inv(105.80, 21.005, 105.81, 21.005)
    assert result.matches[0].distance_m == pytest.approx(expected, abs=0.05)
    assert 1030 < result.matches[0].distance_m < 1045  # 0.01° of longitude at 21° N


@pytest.mark.parametrize("scan_max", [0, 10_000])
def test_crowded_ties_and_mixed_states_equal_brute_force(monkeypatch: pytest.MonkeyPatch, scan_max: int) -> None:
    # 300 points on 40 spots (so projected distances tie and batches must grow), three kinds of hours.
    rng = np.random.default_rng(5)
    spots = np.column_stack([rng.uniform(105.80, 105.82, 40), rng.uniform(21.00, 21.01, 40)])
    hours = [HOURS, "Mo-Fr 13:00-17:00", None]
    points = [
        (f"p{i:03d}", *spots[rng.integers(40)], hours[rng.integers(3)]) for i in rng.permutation(300)
    ]
    finder = Finder(tiny_index(points))
    monkeypatch.setattr("geo.finder.SCAN_MAX_POINTS", scan_max)
    at = datetime(2026, 3, 2, 9, 30, tzinfo=TZ)
    for lon, lat in zip(rng.uniform(105.80, 105.82, 60), rng.uniform(21.00, 21.01, 60), strict=True):
        for k, open_only in ((1, False), (3, True), (40, False), (60, True)):
            got = [m.id for m in finder.nearest(lon, lat, "1.000001", at, k=k, open_only=open_only).matches]
            assert got == brute_force(finder, lon, lat, "1.000001", at, k, open_only)
