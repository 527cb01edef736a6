"""The demand side of coverage: each commune's population as weighted points on a regular grid.

Population is spread evenly over a regular grid (`DEFAULT_GRID_M` = 250 m) in EPSG:32648: every grid
cell centre inside a commune carries ``population / cells`` of that commune (a commune too small to
hold a centre gets one point at its representative point). A grid rather than road nodes because the
road graph only covers central Hanoi (about 60 of 3,360 km²): nodes would leave 95 % of the city
without demand, and they cluster on dense street networks, over-weighting the core. The same grid
serves every mode, the pre-merger network and every scenario, so differences come from the places,
never from a change of demand model. Grid points are anchored at multiples of the spacing, so a
fixture laid out on that lattice gives hand-computable shares.

A module of its own because the grid is the one input every measure shares and the only one that
never depends on the places, the mode or the threshold (`geo.coverage.siting` reuses it for its
candidate grid). The lon/lat <-> metric helpers live here because the grid is where both are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from geo.errors import InvalidParameter
from geo.geodesy import METRIC_CRS, TO_WGS84

__all__ = ["DEFAULT_GRID_M", "F64", "I64", "Demand", "population_grid"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
DEFAULT_GRID_M = 250.0



@dataclass(frozen=True)
class Demand:
    """Population as weighted points: grid cell centres (EPSG:32648 and lon/lat) and their commune row."""

    x: F64
    y: F64
    lon: F64
    lat: F64
    weight: F64
    commune: I64
    spacing_m: float

    def __len__(self) -> int:
        return len(self.x)


def population_grid(communes: gpd.GeoDataFrame, spacing_m: float = DEFAULT_GRID_M) -> Demand:
    """Spread each commune's population evenly over the centres of a regular grid clipped to it.

    Parameters
    ----------
    communes
        Polygons with a ``population`` column (NaN counts as 0), any CRS.
    spacing_m
        Grid spacing in metres (EPSG:32648); centres lie at ``(i + 0.5) * spacing_m``.

    Returns
    -------
    Demand
        One point per cell centre inside a commune (a point on a shared border goes to the row listed
        first), plus the representative point of any commune no centre falls in.
    """
    if not 10 <= spacing_m <= 5_000:
        raise InvalidParameter(f"grid spacing {spacing_m} m is out of range (10..5000)")
    metric = communes.geometry.to_crs(METRIC_CRS).reset_index(drop=True)
    minx, miny, maxx, maxy = metric.total_bounds
    xs = (np.arange(np.floor(minx / spacing_m), np.ceil(maxx / spacing_m)) + 0.5) * spacing_m
    ys = (np.arange(np.floor(miny / spacing_m), np.ceil(maxy / spacing_m)) + 0.5) * spacing_m
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
    geoms = metric.to_numpy()
    # One prepared polygon at a time over the centres in its bounding box: ~50x faster than an STRtree
    # predicate query over every centre (0.03 s vs 1.5 s for Hanoi at 250 m).
    shapely.prepare(geoms)
    bounds = shapely.bounds(geoms)
    owner = np.full(len(gx), -1, dtype=np.int64)
    for row in range(len(geoms) - 1, -1, -1):  # backwards: a border centre ends with the first row
        b = bounds[row]
        near = np.flatnonzero((gx >= b[0]) & (gx <= b[2]) & (gy >= b[1]) & (gy <= b[3]))
        owner[near[shapely.intersects_xy(geoms[row], gx[near], gy[near])]] = row
    inside = owner >= 0
    x, y, commune = gx[inside], gy[inside], owner[inside]
    empty = np.setdiff1d(np.arange(len(metric)), commune)
    if len(empty):
        reps = shapely.get_coordinates(shapely.point_on_surface(geoms[empty]))
        x, y = np.concatenate([x, reps[:, 0]]), np.concatenate([y, reps[:, 1]])
        commune = np.concatenate([commune, empty])
    counts = np.bincount(commune, minlength=len(metric))
    population = pd.to_numeric(communes["population"], errors="coerce").fillna(0).to_numpy(dtype=float)
    weight = population[commune] / counts[commune]
    lon, lat = TO_WGS84.transform(x, y)
    return Demand(x, y, np.asarray(lon), np.asarray(lat), weight, commune, float(spacing_m))
