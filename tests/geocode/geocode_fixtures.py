"""The hand-made places of the geocoder tests (one home for the conftest and the test modules).

Two 0.01° squares side by side, communes Alpha (90001) and Beta (90002); the OSM files in
tests/fixtures/streets/ are drawn on them and tests/fixtures/geocode/registry.csv is located on them.
"""

from __future__ import annotations

from pathlib import Path

from shapely.geometry import box

__all__ = ["OSM_FILES", "REGISTRY_CSV", "A", "B"]

_FIXTURES = Path(__file__).parent.parent / "fixtures"
REGISTRY_CSV = _FIXTURES / "geocode" / "registry.csv"
OSM_FILES = [_FIXTURES / "streets" / "a.osm", _FIXTURES / "streets" / "b.osm"]

# Two 0.01° squares side by side (the fixture OSM files are drawn on them).
A = box(105.80, 21.00, 105.81, 21.01)
B = box(105.81, 21.00, 105.82, 21.01)
