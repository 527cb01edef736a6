"""Address → coordinates with a precision label, at build time (``gandan data locate-points``).

The opposite direction, point → commune at query time, is `geo.boundaries` (``CommuneLocator``).
"""

from geo.geocode.locator import *  # noqa: F403
from geo.geocode.locator import __all__ as __all__
