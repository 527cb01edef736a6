"""Address → coordinates with a precision label, at build time (``gandan data locate-points``).

The opposite direction, point → commune at query time, is `geo.boundaries` (``CommuneLocator``).

Modules
-------
address
    `parse_address`: house number, lane, street, communes, old district, localities of an address.
locator
    `locate_point`, `locate_points`: street, else former unit's point, else commune interior;
    `run_locate` for the CLI.
csv_patch
    `write_locations`: the location columns written back into the registry CSV, nothing else touched.
"""

from geo.geocode.address import ParsedAddress, UnitMention, parse_address
from geo.geocode.csv_patch import LOCATION_COLUMNS, write_locations
from geo.geocode.locator import (
    BOUNDARY_TOLERANCE_M,
    COORD_DECIMALS,
    FUZZY_MIN_RATIO,
    INSET_M,
    MAX_MOVE_M,
    METHODS,
    MIN_STRETCH_M,
    SURVEYED,
    Location,
    Method,
    locate_point,
    locate_points,
    method_counts,
    run_locate,
)

__all__ = [
    "BOUNDARY_TOLERANCE_M",
    "COORD_DECIMALS",
    "FUZZY_MIN_RATIO",
    "INSET_M",
    "LOCATION_COLUMNS",
    "MAX_MOVE_M",
    "METHODS",
    "MIN_STRETCH_M",
    "SURVEYED",
    "Location",
    "Method",
    "ParsedAddress",
    "UnitMention",
    "locate_point",
    "locate_points",
    "method_counts",
    "parse_address",
    "run_locate",
    "write_locations",
]
