"""Boundary sets: load a versioned commune map, validate it, and find the commune at a point.

A boundary set is data, not code: ``data/boundaries/sets.toml`` lists the sets with the loader that
reads each. The enacted 126-unit map (``hanoi-2025``) is the default; the 526-unit map before it
(``hanoi-2024``, one point per unit) and any polygon file in EPSG:4326 load the same way.

Everything else the project needs to know about a set is declared beside it and read by
`boundary_set_spec` (`BoundarySetSpec`): the caption outputs drawn on it carry (Vietnamese and English),
its sources with their licences and the ``data/sources.toml`` groups that pin their files, and whether
the build derives a crosswalk to a previous set (``crosswalk = "<previous set id>"``).
"""

from __future__ import annotations

import json
import tomllib
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import ndimage
from shapely.geometry.base import BaseGeometry

from geo.errors import DataProblem, DataValidationError, NotFound
from geo.geodesy import METRIC_CRS, WGS84
from geo.settings import PROJECT_ROOT, Settings, get_settings
from geo.sources import paths_of_group
from geo.text import fold

__all__ = [
    "COMMUNE_COLUMNS",
    "METRIC_CRS",
    "SETS_FILE",
    "WGS84",
    "BoundarySet",
    "BoundarySetSpec",
    "CommuneLocator",
    "SetSource",
    "boundary_set_ids",
    "boundary_set_spec",
    "load_boundary_set",
    "validate_communes",
]

SETS_FILE = "boundaries/sets.toml"
OVERLAP_TOLERANCE_M2 = 5_000.0  # slivers from digitising; a real overlap is far larger
AREA_MISMATCH_SHARE = 0.05
COMMUNE_COLUMNS = [
    "code",
    "name",
    "full_name",
    "name_ascii",
    "kind",
    "area_km2",
    "population",
    "former_units",
    "seat_address",
    "geometry",
]
_KIND_PREFIX = {"phường": "ward", "xã": "commune", "thị trấn": "commune"}


@dataclass(frozen=True)
class SetSource:
    """Where part of a set's data comes from: a named source, its licence, and its pinned file groups."""

    name: str
    licence: str
    provides: str = ""
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class BoundarySetSpec:
    """A set as declared in ``data/boundaries/sets.toml``, before anything is loaded.

    ``caption`` maps ``"vi"`` and ``"en"`` to the line every output drawn on the set carries (its data
    and their licences); a set that declares none gets ``"ranh giới: <title>"`` / ``"boundaries: <title>"``.
    ``crosswalk`` is the id of the previous set the build derives an old -> new crosswalk to, or None.
    ``raw`` is the whole declaration (loader options such as ``path`` and ``fields``).
    """

    id: str
    title: str
    loader: str
    caption: dict[str, str]
    sources: tuple[SetSource, ...] = ()
    crosswalk: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def attribution(self) -> str:
        """``name (licence)`` of every source, joined by ``; ``."""
        return "; ".join(f"{s.name} ({s.licence})" for s in self.sources)


@dataclass
class BoundarySet:
    """A validated commune map: its id, the units, and the notes its validation produced."""

    id: str
    title: str
    communes: gpd.GeoDataFrame
    notes: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    spec: BoundarySetSpec | None = None

    @property
    def has_polygons(self) -> bool:
        """Whether the units are polygons (True) or only one point each (False)."""
        return bool(self.communes.geom_type.isin(["Polygon", "MultiPolygon"]).all())


def _read_sets(settings: Settings) -> list[dict[str, Any]]:
    with (settings.data_dir / SETS_FILE).open("rb") as fh:
        return list(tomllib.load(fh).get("set", []))


def boundary_set_ids(settings: Settings | None = None) -> list[str]:
    """Ids of the boundary sets declared in ``data/boundaries/sets.toml``."""
    return [s["id"] for s in _read_sets(settings or get_settings())]


def _spec_of(raw: dict[str, Any], known: set[str]) -> tuple[BoundarySetSpec | None, list[DataProblem]]:
    """One declaration → `BoundarySetSpec`, or the problems that stop it (named by set id)."""
    set_id = str(raw.get("id") or "")
    where = f"set {set_id!r}"
    problems: list[DataProblem] = []
    title = str(raw.get("title") or set_id)
    caption = raw.get("caption", {"vi": f"ranh giới: {title}", "en": f"boundaries: {title}"})
    lines = caption if isinstance(caption, dict) else {}
    if any(not isinstance(lines.get(k), str) or not lines[k] for k in ("vi", "en")):
        problems.append(DataProblem(SETS_FILE, f"{where}: caption needs a Vietnamese (vi) and an English (en) line"))
    sources: list[SetSource] = []
    for i, entry in enumerate(raw.get("source", []), start=1):
        missing = [k for k in ("name", "licence") if not isinstance(entry.get(k), str) or not entry[k]]
        groups = entry.get("groups", [])
        if missing or not isinstance(groups, list):
            lacks = f"lacks {', '.join(missing)}" if missing else "groups must be a list"
            problems.append(DataProblem(SETS_FILE, f"{where}: source {i} {lacks}", row=i, id=set_id))
            continue
        sources.append(SetSource(entry["name"], entry["licence"], str(entry.get("provides", "")), tuple(groups)))
    crosswalk = raw.get("crosswalk")
    if crosswalk is not None and (crosswalk not in known or crosswalk == set_id):
        problems.append(
            DataProblem(SETS_FILE, f"{where}: crosswalk names {crosswalk!r}, which is not another declared set")
        )
    if problems:
        return None, problems
    spec = BoundarySetSpec(
        id=set_id,
        title=title,
        loader=str(raw.get("loader", "")),
        caption={"vi": caption["vi"], "en": caption["en"]},
        sources=tuple(sources),
        crosswalk=crosswalk,
        raw=dict(raw),
    )
    return spec, []


def boundary_set_spec(set_id: str | None = None, settings: Settings | None = None) -> BoundarySetSpec:
    """The declaration of a set in ``data/boundaries/sets.toml`` (caption, sources, crosswalk), validated.

    Parameters
    ----------
    set_id
        The set's id; defaults to ``GANDAN_BOUNDARY_SET`` (``hanoi-2025``).
    settings
        Settings to read paths from; the process settings by default.

    Raises
    ------
    NotFound
        No set has that id.
    DataValidationError
        The declaration lacks a caption line, a source its name or licence, or names an unknown crosswalk set.
    """
    settings = settings or get_settings()
    set_id = set_id or settings.boundary_set
    declared = _read_sets(settings)
    specs = {s.get("id"): s for s in declared}
    if set_id not in specs:
        raise NotFound(f"boundary set {set_id!r} is not declared in {SETS_FILE} (known: {', '.join(map(str, specs))})")
    spec, problems = _spec_of(specs[set_id], {str(s) for s in specs})
    if spec is None:
        raise DataValidationError(problems)
    return spec


def _kind_of(full_name: str) -> str:
    lowered = full_name.lower()
    for prefix, kind in _KIND_PREFIX.items():
        if lowered.startswith(prefix):
            return kind
    return "commune"


def _load_hanoi_2025(spec: dict[str, Any], settings: Settings) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Join the 126 pinned unit polygons with population and the official former-units text."""
    frames = [gpd.read_file(path) for path in sorted(paths_of_group("hanoi-2025-wards", settings))]
    units = pd.concat(frames, ignore_index=True)
    units = gpd.GeoDataFrame(units, geometry="geometry", crs=frames[0].crs)
    units["code"] = units["code"].astype(str).str.zfill(5)
    units["full_name"] = units["fullName"]
    units["kind"] = units["full_name"].map(_kind_of)
    units["area_km2"] = units["areaKm2"].astype(float)

    notes: list[str] = []
    (pop_path,) = paths_of_group("hanoi-2025-population", settings)
    population = {w["id"]: int(w["population"]) for w in json.loads(pop_path.read_text("utf-8"))["wards"]}
    (meta_path,) = paths_of_group("hanoi-2025-metadata", settings)
    metadata = {
        (m["type"].lower(), fold(m["name"])): m for m in json.loads(meta_path.read_text("utf-8"))["wards"]
    }
    units["population"] = units["code"].map(population)
    former: list[str | None] = []
    seats: list[str | None] = []
    for row in units.itertuples():
        kind_vi = "phường" if row.kind == "ward" else "xã"
        meta = metadata.get((kind_vi, fold(str(row.name))))
        if meta is None:
            notes.append(f"{row.code} {row.full_name}: no entry in wards-metadata (joined by name + type)")
            former.append(None)
            seats.append(None)
            continue
        former.append(meta.get("beforeMerger"))
        seats.append(meta.get("adminCenter"))
        if meta.get("population") is not None and int(meta["population"]) != population.get(row.code):
            notes.append(
                f"{row.code} {row.full_name}: population {population.get(row.code)} (01.json, used) "
                f"!= {meta['population']} (wards-metadata)"
            )
    units["former_units"] = former
    units["seat_address"] = seats
    return units, notes


def _load_geojson(spec: dict[str, Any], settings: Settings) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Read a polygon file whose fields are mapped in the set's ``fields`` table."""
    path = Path(spec["path"])
    path = path if path.is_absolute() else PROJECT_ROOT / path
    raw = gpd.read_file(path)
    fields = {"code": "code", "name": "name", "kind": "kind", "population": "population"}
    fields.update(spec.get("fields", {}))
    missing = [src for src in fields.values() if src not in raw.columns]
    if missing:
        raise DataValidationError([DataProblem(str(path), f"missing fields {', '.join(missing)}")])
    units = gpd.GeoDataFrame(
        {
            "code": raw[fields["code"]].astype(str).str.zfill(5),
            "name": raw[fields["name"]].astype(str),
            "kind": raw[fields["kind"]].astype(str).map(lambda k: _KIND_PREFIX.get(k.lower(), k)),
            "population": raw[fields["population"]],
        },
        geometry=raw.geometry,
        crs=raw.crs,
    )
    units["full_name"] = units["name"]
    units["area_km2"] = np.nan
    units["former_units"] = None
    units["seat_address"] = None
    return units, []


def _load_vietnamadminunits(spec: dict[str, Any], settings: Settings) -> tuple[gpd.GeoDataFrame, list[str]]:
    """The 526 pre-merger units, one point each (see `geo.legacy`)."""
    from geo.legacy import load_legacy_units

    legacy = load_legacy_units()
    units = legacy.copy()
    units["kind"] = legacy["kind"].map({"phuong": "ward", "xa": "commune", "thi_tran": "township"})
    units["area_km2"] = np.nan
    units["population"] = pd.NA
    units["former_units"] = None
    units["seat_address"] = None
    return gpd.GeoDataFrame(units, geometry="geometry", crs=legacy.crs), []


_LOADERS: dict[str, Callable[[dict[str, Any], Settings], tuple[gpd.GeoDataFrame, list[str]]]] = {
    "hanoi-2025": _load_hanoi_2025,
    "geojson": _load_geojson,
    "vietnamadminunits": _load_vietnamadminunits,
}


def validate_communes(
    units: gpd.GeoDataFrame,
    source: str,
    expected: dict[str, int] | None = None,
    require_population: bool = True,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Validate and repair a commune layer; return it in EPSG:4326 with the notes of what was repaired.

    Rules: the CRS is EPSG:4326 with plausible lon/lat; codes are unique 5-digit strings; geometries are
    valid (invalid ones are repaired with ``make_valid`` and reported); polygons do not overlap beyond
    `OVERLAP_TOLERANCE_M2`; counts per kind match ``expected``; population is present and positive.

    Raises
    ------
    DataValidationError
        With one `DataProblem` per broken rule, naming the unit (row = position in the layer, from 1).
    """
    problems: list[DataProblem] = []
    notes: list[str] = []
    units = units.reset_index(drop=True).copy()

    if units.crs is None or units.crs.to_epsg() != 4326:
        problems.append(DataProblem(source, f"CRS must be EPSG:4326 (lon/lat), got {units.crs}"))
    bounds = units.total_bounds if len(units) else np.zeros(4)
    if not (-180 <= bounds[0] <= bounds[2] <= 180 and -90 <= bounds[1] <= bounds[3] <= 90):
        problems.append(
            DataProblem(source, f"coordinates are not lon/lat degrees (bounds {bounds.round(1)})")
        )

    codes = units["code"].astype(str)
    for i, code in codes.items():
        if not (len(code) == 5 and code.isdigit()):
            problems.append(DataProblem(source, f"code {code!r} is not a 5-digit string", row=int(i) + 1))
    for code in codes[codes.duplicated()].unique():
        rows = [int(i) + 1 for i in codes.index[codes == code]]
        problems.append(DataProblem(source, f"duplicate code {code} (rows {rows})", id=code))

    empty = units.geometry.is_empty | units.geometry.isna()
    for i in units.index[empty]:
        problems.append(DataProblem(source, "empty geometry", row=int(i) + 1, id=codes[i]))
    invalid = ~units.geometry.is_valid & ~empty
    for i in units.index[invalid]:
        reason = shapely.is_valid_reason(units.geometry[i])
        units.loc[i, "geometry"] = shapely.make_valid(units.geometry[i])
        notes.append(f"{source}:{int(i) + 1} [{codes[i]}]: invalid geometry repaired ({reason})")

    if require_population:
        pop = pd.to_numeric(units["population"], errors="coerce")
        for i in units.index[pop.isna() | (pop <= 0)]:
            problems.append(
                DataProblem(source, "population missing or not positive", row=int(i) + 1, id=codes[i])
            )

    if expected:
        counts = units["kind"].value_counts().to_dict()
        for kind, want in expected.items():
            got = len(units) if kind == "total" else counts.get(kind, 0)
            if got != want:
                problems.append(DataProblem(source, f"expected {want} units of kind {kind!r}, found {got}"))

    if not problems and units.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        problems += _overlaps(units, source)
    if problems:
        raise DataValidationError(problems)
    return units, notes


def _overlaps(units: gpd.GeoDataFrame, source: str) -> list[DataProblem]:
    metric = units.to_crs(METRIC_CRS).geometry.to_numpy()
    tree = shapely.STRtree(metric)
    left, right = tree.query(metric, predicate="intersects")
    problems = []
    for a, b in zip(left, right, strict=True):
        if a >= b:
            continue
        area = shapely.intersection(metric[a], metric[b]).area
        if area > OVERLAP_TOLERANCE_M2:
            problems.append(
                DataProblem(
                    source,
                    f"units {units['code'][a]} and {units['code'][b]} overlap by {area:,.0f} m²",
                    row=int(a) + 1,
                    id=str(units["code"][a]),
                )
            )
    return problems


def load_boundary_set(set_id: str | None = None, settings: Settings | None = None) -> BoundarySet:
    """Load, validate and normalise a boundary set declared in ``data/boundaries/sets.toml``.

    Parameters
    ----------
    set_id
        The set's id; defaults to ``GANDAN_BOUNDARY_SET`` (``hanoi-2025``).
    settings
        Settings to read paths from; the process settings by default.

    Returns
    -------
    BoundarySet
        Units with the columns in `COMMUNE_COLUMNS` (plus ``area_km2_polygon`` for polygon sets),
        sorted by code.
    """
    settings = settings or get_settings()
    declared = boundary_set_spec(set_id, settings)
    set_id, spec = declared.id, declared.raw
    loader = _LOADERS.get(declared.loader)
    if loader is None:
        raise DataValidationError(
            [DataProblem(SETS_FILE, f"set {set_id!r}: unknown loader {spec.get('loader')!r}")]
        )
    units, notes = loader(spec, settings)
    units["name_ascii"] = units["name"].astype(str).map(fold)
    polygons = units.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    units, repaired = validate_communes(units, f"boundary set {set_id}", spec.get("expected"), polygons)
    notes = repaired + notes
    if polygons:
        units["area_km2_polygon"] = (units.to_crs(METRIC_CRS).area / 1e6).round(3)
        stated = pd.to_numeric(units["area_km2"], errors="coerce")
        off = (units["area_km2_polygon"] - stated).abs() > AREA_MISMATCH_SHARE * stated
        for row in units[off].itertuples():
            notes.append(
                f"{row.code} {row.full_name}: stated area {row.area_km2} km² vs polygon {row.area_km2_polygon} km²"
            )
    extra = [c for c in units.columns if c not in COMMUNE_COLUMNS and c == "area_km2_polygon"]
    keep = [c for c in COMMUNE_COLUMNS if c != "geometry"] + extra + ["geometry"]
    for column in keep:
        if column not in units.columns:
            units[column] = None
    units = gpd.GeoDataFrame(units[keep], geometry="geometry", crs=WGS84).sort_values("code")
    return BoundarySet(
        id=set_id, title=declared.title, communes=units.reset_index(drop=True), notes=notes, spec=declared
    )


class CommuneLocator:
    """Answer ``commune_at(lon, lat)`` quickly: a raster of cells that one commune fills, then an STRtree.

    Parameters
    ----------
    communes
        The commune polygons (EPSG:4326).
    cell_deg
        Side of a raster cell in degrees (0.0005° is about 55 m in Hanoi: 2.4 million cells, 10 MB), or None
        for no raster (every `commune_at` takes the STRtree; `communes_at` never uses the raster).

    Notes
    -----
    A cell that no commune border crosses lies wholly in one face of the map, so the commune at its
    centre (by the same rule as `commune_at`) is the commune at every point of it; such a cell answers with
    two multiplications and a list lookup. Cells a border may cross (their box, padded by a hair so that
    float rounding at a cell edge cannot matter, meets the bounding box of a border segment) and cells
    outside every commune are -1 and take the exact STRtree path.
    """

    def __init__(self, communes: gpd.GeoDataFrame, cell_deg: float | None = 0.0005) -> None:
        self.communes = communes.reset_index(drop=True)
        self._geoms = self.communes.geometry.to_numpy()
        self._tree = shapely.STRtree(self._geoms)
        self._codes = self.communes["code"].to_numpy()
        self.outline: BaseGeometry = shapely.union_all(self._geoms)
        if cell_deg is None:  # no raster: callers that only ask `communes_at` need not pay for it
            self._x0 = self._y0 = self._inv_cell = 0.0
            self._nx = self._ny = 0
            self._cells = array("i")
        else:
            self._raster_cells(cell_deg)

    def _raster_cells(self, cell: float) -> None:
        minx, miny, maxx, maxy = (float(v) for v in self.communes.total_bounds) if len(self._geoms) else (0, 0, 0, 0)
        nx, ny = max(1, int(np.ceil((maxx - minx) / cell))), max(1, int(np.ceil((maxy - miny) / cell)))
        self._x0, self._y0, self._inv_cell, self._nx, self._ny = minx, miny, 1.0 / cell, nx, ny
        cells = np.full((ny, nx), -1, dtype=np.int64)
        crossed = np.zeros((ny + 1, nx + 1), dtype=bool)
        # Everything a point can lie on or next to: polygon borders, and any line or point part (a repaired
        # geometry may be a collection), cut into segments of at most half a cell.
        parts = self._geoms
        while len(parts) and np.isin(shapely.get_type_id(parts), (4, 5, 6, 7)).any():
            parts = shapely.get_parts(parts)
        polygonal = shapely.get_type_id(parts) == 3
        linework = shapely.get_parts(np.where(polygonal, shapely.boundary(parts), parts))
        coords, line = shapely.get_coordinates(shapely.segmentize(linework, cell / 2), return_index=True)
        same = line[1:] == line[:-1]
        # Each vertex also counts as a segment of its own, so that lone points mark their cell.
        a = np.concatenate([coords[:-1][same], coords])
        b = np.concatenate([coords[1:][same], coords])
        pad = 1e-9 * self._inv_cell
        j0 = np.floor((np.minimum(a[:, 0], b[:, 0]) - minx) * self._inv_cell - pad).astype(np.int64)
        j1 = np.floor((np.maximum(a[:, 0], b[:, 0]) - minx) * self._inv_cell + pad).astype(np.int64)
        i0 = np.floor((np.minimum(a[:, 1], b[:, 1]) - miny) * self._inv_cell - pad).astype(np.int64)
        i1 = np.floor((np.maximum(a[:, 1], b[:, 1]) - miny) * self._inv_cell + pad).astype(np.int64)
        # Segments no longer than half a cell: the box of each spans at most two cells either way.
        for di in (0, 1):
            for dj in (0, 1):
                keep = (i0 + di <= i1) & (j0 + dj <= j1)
                crossed[np.clip(i0[keep] + di, 0, ny), np.clip(j0[keep] + dj, 0, nx)] = True
        # Free cells that touch side by side lie in the same face: one centre per connected run answers for all.
        runs, n_runs = ndimage.label(~crossed[:ny, :nx])
        labels, first = np.unique(runs.ravel(), return_index=True)
        free = labels > 0
        i, j = np.divmod(first[free], nx)
        commune_of_run = np.full(n_runs + 1, -1, dtype=np.int64)
        commune_of_run[labels[free]] = self.communes_at(minx + (j + 0.5) * cell, miny + (i + 0.5) * cell)
        cells = commune_of_run[runs]
        self._cells = array("i", cells.ravel().astype(np.int32).tobytes())

    def commune_at(self, lon: float, lat: float) -> int | None:
        """Return the row position of the commune that covers the point, or None outside every commune.

        A point on a shared border belongs to the unit with the smallest code, so answers are deterministic.
        """
        j = (lon - self._x0) * self._inv_cell
        i = (lat - self._y0) * self._inv_cell
        if 0 <= j < self._nx and 0 <= i < self._ny:  # false for NaN too
            row = self._cells[int(i) * self._nx + int(j)]
            if row >= 0:
                return row
        if not (np.isfinite(lon) and np.isfinite(lat)):
            return None
        hits = self._tree.query(shapely.Point(lon, lat), predicate="covered_by")
        if len(hits) == 0:
            return None
        return int(min(hits, key=lambda i: self._codes[i]))

    def communes_at(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Vectorised `commune_at`: row positions, -1 where outside."""
        points = shapely.points(lon, lat)
        point_idx, geom_idx = self._tree.query(points, predicate="covered_by")
        out = np.full(len(points), -1, dtype=np.int64)
        order = np.lexsort((self._codes[geom_idx], point_idx))
        point_idx, geom_idx = point_idx[order], geom_idx[order]
        first = np.unique(point_idx, return_index=True)[1]
        out[point_idx[first]] = geom_idx[first]
        return out
