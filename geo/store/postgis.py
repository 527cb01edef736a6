"""The PostGIS backend, as one import: the schema, the loader and the query backend.

The code lives in three modules (this facade keeps the older import path working):

* `geo.store.models`: the GeoAlchemy2 schema of a built index, one table per layer;
* `geo.store.load`: connect, `migrate`, `load_index` (one transaction), `read_stored_index`;
* `geo.store.backend`: `PostgisBackend`, the query backend (KNN statement, the shared stop rule of
  `geo.ranking`, the point table of `geo.catalog`, fault handling).
"""

from __future__ import annotations

from geo.store.backend import PostgisBackend
from geo.store.load import LoadReport, alembic_config, engine_url, load_index, migrate, read_stored_index
from geo.store.models import (
    WGS84_SRID,
    Base,
    BoundarySet,
    CalendarDay,
    Capability,
    Commune,
    Crosswalk,
    LegacyUnit,
    Procedure,
    ServiceAreaPart,
    ServicePoint,
)

__all__ = [
    "WGS84_SRID",
    "Base",
    "BoundarySet",
    "CalendarDay",
    "Capability",
    "Commune",
    "Crosswalk",
    "LegacyUnit",
    "LoadReport",
    "PostgisBackend",
    "Procedure",
    "ServiceAreaPart",
    "ServicePoint",
    "alembic_config",
    "engine_url",
    "load_index",
    "migrate",
    "read_stored_index",
]
