"""Alembic migrations of the PostGIS schema (``script_location = geo.store:migrations``; no alembic.ini needed).

Run them with ``gandan db migrate --database-url URL`` (or `geo.store.load.migrate`); ``gandan db load``
runs them first, in its own transaction. A new revision::

    alembic -x url=postgresql+psycopg://... -c /dev/null revision -m "..."   # or write one by hand

with ``script_location`` pointing here; revisions are plain modules in ``versions/``.
"""
