"""gandan's geospatial domain: boundaries, service points, procedures, hours, indexes and engines.

Nothing in this package knows about HTTP or names the delivery surfaces that sit on top of it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gandan")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"
