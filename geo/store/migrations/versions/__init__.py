"""Revisions of the PostGIS schema, oldest first (``0001_initial``)."""
