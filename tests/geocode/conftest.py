"""Fixtures of the geocoder tests: the two hand-made communes, their OSM streets and former units."""

from __future__ import annotations

import geopandas as gpd
import pytest
from geocode_fixtures import OSM_FILES, A, B
from shapely.geometry import Point

from geo.streets import load_osm_streets


@pytest.fixture(scope="module")
def communes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": ["90001", "90002"], "name": ["Alpha", "Beta"]}, geometry=[A, B], crs=4326)


@pytest.fixture(scope="module")
def streets() -> gpd.GeoDataFrame:
    return load_osm_streets(OSM_FILES)


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
