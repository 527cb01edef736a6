"""Fixtures of the coverage tests: the hand-computed lattice fixture and an engine on the real index.

The fixture (tests/fixtures/coverage/README.md) lies on the 250 m demand lattice, so every share, mean
and percentile in these tests is computed by hand from distances on that lattice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyproj
import pytest
from shapely.geometry import Point

from geo.coverage import CoverageEngine, facilities_frame

FIXTURES = Path(__file__).parent.parent / "fixtures" / "coverage"
X0, Y0 = 585_000, 2_325_000
_TO_LL = pyproj.Transformer.from_crs("EPSG:32648", "EPSG:4326", always_xy=True)


def _lonlat(x: float, y: float) -> tuple[float, float]:
    """Fixture lattice metres → lon/lat."""
    lon, lat = _TO_LL.transform(X0 + x, Y0 + y)
    return float(lon), float(lat)


def _places_csv(name: str) -> gpd.GeoDataFrame:
    table = pd.read_csv(FIXTURES / name, dtype={"id": str})
    return facilities_frame(
        {"id": r.id, "name": r.name, "kind": r.kind, "source": "fixture", "geometry": Point(r.lon, r.lat)}
        for r in table.itertuples()
    )


@pytest.fixture(scope="session")
def lonlat() -> Callable[[float, float], tuple[float, float]]:
    """Fixture lattice metres (east, north of the lattice origin) → lon/lat."""
    return _lonlat


@pytest.fixture(scope="session")
def fixture_procedure() -> dict[str, Any]:
    """A commune-level procedure row for reports on the fixture."""
    return {"code": "9.999999", "name": "Fixture procedure", "level": "Cấp xã", "handled_at": "commune_center"}


@pytest.fixture(scope="module")
def communes() -> gpd.GeoDataFrame:
    """Alpha, Beta and Gamma: three communes on the lattice (see the fixture README)."""
    return gpd.read_file(FIXTURES / "communes.geojson")


@pytest.fixture(scope="module")
def engine(communes: gpd.GeoDataFrame) -> CoverageEngine:
    """A coverage engine on the fixture communes (no index, no road network)."""
    return CoverageEngine(communes)


@pytest.fixture(scope="module")
def places() -> gpd.GeoDataFrame:
    """Today's places of the fixture (P1 in Alpha)."""
    return _places_csv("places.csv")


@pytest.fixture(scope="module")
def candidates() -> gpd.GeoDataFrame:
    """Candidate sites of the fixture (C-beta, C-gamma, C-far)."""
    return _places_csv("candidates.csv")


@pytest.fixture(scope="module")
def real(index) -> CoverageEngine:  # type: ignore[no-untyped-def]
    """A coverage engine on the real index."""
    return CoverageEngine.from_index(index)


@pytest.fixture(scope="session")
def lattice_origin() -> tuple[int, int]:
    """EPSG:32648 easting and northing of the fixture lattice's origin."""
    return X0, Y0


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """tests/fixtures/coverage."""
    return FIXTURES
