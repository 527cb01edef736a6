"""Deprecated: moved to `geo.geocode` (the build-time geocoder) and `geo.streets` (OSM street names).

A thin facade kept while callers move over; it will be removed. "locate" also names the opposite,
query-time direction (point → commune: ``Service.locate``, ``/v1/locate``), hence the new names.
"""

from geo.geocode.locator import *  # noqa: F403
from geo.geocode.locator import __all__ as __all__
