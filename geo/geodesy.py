"""The project's spatial vocabulary: CRSs, the geodesic, transformers, one distance bound, one bounding box.

Every module that measures or projects takes these from here, so that there is one metric CRS and one
idea of where Hanoi is.

- Distances people are told are WGS 84 geodesic distances (`GEOD`).
- Spatial indexes, buffers and areas work on UTM zone 48N (`METRIC_CRS`): Hanoi lies at 105-106 E, near the
  zone's central meridian (105 E), so the projection's scale factor there is between 0.9996 and 0.99973.
- Because that scale factor is below 1, a geodesic distance in Hanoi is never shorter than the projected one
  times `GEODESIC_OVER_PROJECTED_MIN`; the exact early stop of the nearest search relies on that bound.
- The transformers are pyproj's, which are thread-safe since pyproj 3.1 (each thread gets its own PROJ
  object behind the same `Transformer`), so one module-level pair serves every thread.

Examples
--------
>>> x, y = TO_METRIC.transform(105.8542, 21.0285)
>>> round(x), round(y)
(588762, 2325539)
>>> in_hanoi_bbox(105.8542, 21.0285), in_hanoi_bbox(21.0285, 105.8542)
(True, False)
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pyproj

__all__ = [
    "GEOD",
    "GEODESIC_OVER_PROJECTED_MIN",
    "HANOI_BBOX",
    "METRIC_CRS",
    "TO_METRIC",
    "TO_WGS84",
    "WGS84",
    "geodesic_m",
    "in_hanoi_bbox",
    "to_metric",
    "to_wgs84",
]

WGS84: Final = "EPSG:4326"
METRIC_CRS: Final = "EPSG:32648"
GEOD: Final = pyproj.Geod(ellps="WGS84")
TO_METRIC: Final = pyproj.Transformer.from_crs(WGS84, METRIC_CRS, always_xy=True)
TO_WGS84: Final = pyproj.Transformer.from_crs(METRIC_CRS, WGS84, always_xy=True)

# Geodesic distance / UTM-48N distance is >= 1/0.99973 > 1 inside Hanoi; 0.999 leaves ample margin.
GEODESIC_OVER_PROJECTED_MIN: Final = 0.999

# (min lon, min lat, max lon, max lat). Hanoi spans about 105.28-106.02 E and 20.56-21.39 N; the margin only
# has to catch swapped lat/lon or a point placed in another province, not trace the border (polygons do that).
HANOI_BBOX: Final = (105.25, 20.50, 106.05, 21.42)


def in_hanoi_bbox(lon: float, lat: float) -> bool:
    """Tell whether (lon, lat) falls in `HANOI_BBOX`."""
    min_lon, min_lat, max_lon, max_lat = HANOI_BBOX
    return min_lon <= lon <= max_lon and min_lat <= lat <= max_lat


def geodesic_m(
    lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Return the WGS 84 geodesic distances in metres, element-wise (scalars give a one-element array).

    Examples
    --------
    >>> [round(d) for d in geodesic_m(105.8542, 21.0285, 105.8542, [21.0385, 21.0485])]
    [1107, 2214]
    """
    lon1, lat1, lon2, lat2 = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (lon1, lat1, lon2, lat2)))
    _, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
    return np.atleast_1d(np.asarray(dist, dtype=float))


def to_metric(lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """(n, 2) `METRIC_CRS` coordinates of lon/lat points."""
    x, y = TO_METRIC.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.column_stack([np.atleast_1d(x), np.atleast_1d(y)])


def to_wgs84(x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """(n, 2) lon/lat coordinates of `METRIC_CRS` points."""
    lon, lat = TO_WGS84.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.column_stack([np.atleast_1d(lon), np.atleast_1d(lat)])
