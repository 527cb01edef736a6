"""Persistent stores of the built index: PostGIS (schema, loader, query backend) and its migrations.

`geo.store.models` holds the schema, `geo.store.load` the loader, `geo.store.backend` the query backend;
`geo.store.postgis` re-exports all three. Importing this package is cheap; those modules pull in
SQLAlchemy, GeoAlchemy2 and psycopg.
"""

from __future__ import annotations

__all__: list[str] = []
