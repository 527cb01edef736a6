"""OSM street names: reading the extracts, matching keys, the middle of a stretch in an area.

Hand-made fixtures (tests/fixtures/streets/) pin each rule; the real pinned OSM extracts check that the
reader works on the data the project ships (skipped when neither the mirror nor a fetched copy is there).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Point, box

from geo.errors import DataValidationError
from geo.streets import (
    load_osm_streets,
    middle_of_stretch,
    split_names,
    street_key,
    street_keys,
    stretch_within,
)

FIXTURES = Path(__file__).parent / "fixtures" / "streets"


@pytest.fixture(scope="module")
def streets() -> gpd.GeoDataFrame:
    return load_osm_streets([FIXTURES / "a.osm", FIXTURES / "b.osm"])


# --------------------------------------------------------------------------------------------------
# Street names


def test_street_key_drops_one_prefix_but_keeps_numbers() -> None:
    assert street_key("Phố Trúc Bạch") == street_key("Trúc Bạch") == "truc bach"
    assert street_key("Đường Linh Đường") == "linh duong"
    assert street_key("Ngõ 575 Phố Kim Mã") == street_key("ngõ 575 Kim Mã") == "ngo 575 kim ma"
    assert street_key("Đường 17/8") == "duong 17/8"


def test_street_keys_add_the_whole_name_folded_for_plain_ascii() -> None:
    assert street_keys("Duong Duc Hien") == ["duc hien", "duong duc hien"]
    assert street_keys("Phố Trúc Bạch") == ["truc bach", "pho truc bach"]
    assert street_keys("Trúc Bạch") == ["truc bach"]  # one key when both agree
    assert split_names(" Phố A ;; Phố B;") == ["Phố A", "Phố B"]


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
# Stretches (metric-like coordinates: units are metres)


def test_stretch_within_clips_merges_and_says_which_lines() -> None:
    zone = box(0, -10, 100, 10)
    lines = [LineString([(-50, 0), (50, 0)]), LineString([(500, 0), (600, 0)]), LineString([(50, 0), (150, 0)])]
    stretch, used = stretch_within(lines, zone)
    assert used == [0, 2]
    assert stretch is not None and stretch.geom_type == "LineString"  # the two touching pieces merged
    assert stretch.length == pytest.approx(100.0)
    touching = stretch_within([LineString([(100, 20), (100, 10)])], zone)  # meets the zone in a point only
    assert touching == (None, [])


def test_middle_of_stretch_is_on_the_street_near_its_middle() -> None:
    straight = LineString([(0, 0), (100, 0)])
    assert middle_of_stretch(straight).equals(Point(50, 0))
    bent = LineString([(0, 0), (100, 0), (100, 50)])  # centroid (66.7, 8.3) lies off the street
    point = middle_of_stretch(bent)
    assert bent.distance(point) < 1e-9
    assert (point.x, point.y) == (pytest.approx(200 / 3), pytest.approx(0.0))
    # Only the part inside the area is a candidate when some of the stretch lies in it.
    inside = middle_of_stretch(straight, inside=box(70, -5, 100, 5))
    assert inside.equals(Point(70, 0))
    assert middle_of_stretch(straight, inside=box(500, 500, 600, 600)).equals(Point(50, 0))


# --------------------------------------------------------------------------------------------------
# Real data: the pinned OSM extracts of central Hanoi


def test_real_osm_streets_load(real_streets: gpd.GeoDataFrame) -> None:
    assert real_streets["osm_id"].is_unique and len(real_streets) > 3000
    assert real_streets.crs.to_epsg() == 4326
    assert (real_streets["name"] == "Phố Kim Mã").sum() > 10
