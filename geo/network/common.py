"""Constants shared by the build and the query side of geo.network (kept free of heavy imports)."""

from __future__ import annotations

__all__ = ["FORMAT_VERSION", "METRIC_CRS", "OSM_ATTRIBUTION"]

FORMAT_VERSION = 1  # of <mode>.npz; load_network refuses any other
METRIC_CRS = "EPSG:32648"  # UTM 48N, the project's metric CRS (geo.boundaries.METRIC_CRS)
OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL 1.0)"  # show wherever a route or map is shown
