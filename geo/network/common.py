"""Constants shared by the build and the query side of geo.network (kept free of heavy imports)."""

from __future__ import annotations

from geo.geodesy import METRIC_CRS

__all__ = ["FORMAT_VERSION", "METRIC_CRS", "OSM_ATTRIBUTION"]

FORMAT_VERSION = 1  # of <mode>.npz; load_network refuses any other
OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL 1.0)"  # show wherever a route or map is shown
