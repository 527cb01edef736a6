"""gandan's geospatial domain: boundaries, service points, procedures, hours, indexes and engines.

Nothing in this package knows about HTTP; ``app`` and the CLI sit on top of it.
"""

__version__ = "0.1.0"
