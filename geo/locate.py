"""Deprecated: moved to `geo.geocode` (the build-time geocoder) and `geo.streets` (OSM street names).

A thin facade kept while callers move over; it will be removed. "locate" also names the opposite,
query-time direction (point → commune: ``Service.locate``, ``/v1/locate``), hence the new names.
Import `load_osm_streets` and `street_key` from `geo.streets`, everything else from `geo.geocode`.
"""

from geo.geocode import (
    BOUNDARY_TOLERANCE_M,
    COORD_DECIMALS,
    FUZZY_MIN_RATIO,
    INSET_M,
    LOCATION_COLUMNS,
    MAX_MOVE_M,
    METHODS,
    MIN_STRETCH_M,
    Location,
    Method,
    ParsedAddress,
    UnitMention,
    locate_point,
    locate_points,
    method_counts,
    parse_address,
    run_locate,
    write_locations,
)
from geo.streets import NAME_TAGS, load_osm_streets, street_key

__all__ = [
    "BOUNDARY_TOLERANCE_M",
    "COORD_DECIMALS",
    "FUZZY_MIN_RATIO",
    "INSET_M",
    "LOCATION_COLUMNS",
    "MAX_MOVE_M",
    "METHODS",
    "MIN_STRETCH_M",
    "NAME_TAGS",
    "Location",
    "Method",
    "ParsedAddress",
    "UnitMention",
    "load_osm_streets",
    "locate_point",
    "locate_points",
    "method_counts",
    "parse_address",
    "run_locate",
    "street_key",
    "write_locations",
]
