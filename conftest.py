"""Core test fixtures: settings on the data mirror, the built index, the engine and the HTTP client.

PostGIS fixtures live in tests/conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from geo.settings import PROJECT_ROOT, Settings, get_settings

_DEFAULT_MIRROR = PROJECT_ROOT.parent / "shared" / "data" / "mirror"
if "GANDAN_DATA_MIRROR" not in os.environ and _DEFAULT_MIRROR.is_dir():
    os.environ["GANDAN_DATA_MIRROR"] = str(_DEFAULT_MIRROR)
get_settings.cache_clear()


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The project's settings, reading upstream files from the mirror."""
    return get_settings()


@pytest.fixture(scope="session")
def index(settings: Settings):
    """The built index (built once when `make test` has not built it)."""
    from geo.errors import IndexNotBuilt
    from geo.index import read_index

    try:
        return read_index(settings=settings)
    except IndexNotBuilt:
        from geo.build import build_index

        return build_index(settings)


@pytest.fixture(scope="session")
def finder(index):
    """The embedded engine over the real index."""
    from geo.finder import Finder

    return Finder(index)


@pytest.fixture(scope="session")
def service(finder, settings: Settings):
    """The query service on the embedded engine."""
    from geo.service import Service

    return Service(finder, settings)


@pytest.fixture(scope="session")
def client(service) -> Iterator:
    """FastAPI test client of the app on the real index."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(service)) as test_client:
        yield test_client


@pytest.fixture()
def output_dir() -> Path:
    """Where tests leave files worth looking at (screenshots, maps)."""
    path = PROJECT_ROOT / "test-output"
    path.mkdir(exist_ok=True)
    return path
