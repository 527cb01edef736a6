"""Persistent stores of the built index: the PostGIS backend (`geo.store.postgis`) and its migrations.

Importing this package is cheap; `geo.store.postgis` pulls in SQLAlchemy, GeoAlchemy2 and psycopg.
"""

from __future__ import annotations

__all__: list[str] = []
