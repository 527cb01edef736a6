"""Derive an approximate location for a service point from its address.

No source gives office coordinates, so a location is derived from the address and labelled with how
it was found (``location_method``) and how precise it is (``location_precision``):

1. ``street`` — the address names a street (or a numbered lane of one) and OpenStreetMap has ways of
   that name crossing the commune: the point lies on that street, inside the commune.
2. ``legacy_point`` — the address names a pre-2025 unit (``"P. Xuân La, Q. Tây Hồ"``, ``"thôn 4 -
   Hồng Kỳ"``) whose point (`geo.legacy`) lies inside the commune: that point.
3. ``commune_interior`` — the commune polygon's representative point (always inside), last resort.

Every derived point is ``approximate``: house numbers are not in the road data, so even a street
match only says "somewhere along this street in this commune". ``exact`` is reserved for rows whose
``location_method`` is ``surveyed`` (coordinates measured on site), which `locate_points` keeps.

The address is read by `geo.geocode.address.parse_address`, street names come from `geo.streets`, and
`run_locate` writes the result back with `geo.geocode.csv_patch.write_locations`.

Decisions
---------
* Which point on a matched street: the point of the street nearest to the length-weighted centroid of
  its stretch in the commune (`geo.streets.middle_of_stretch` of the matched ways clipped to the commune
  widened by `BOUNDARY_TOLERANCE_M`), taken from the part of the street lying inside the polygon when
  there is one. For one straight piece this is its midpoint; for several pieces or a bent street it is still
  on the street, near the middle. With the office's position along the street unknown (no house
  numbers), the middle minimises the largest possible error, which the detail states ("within about
  N m"); the point nearest the commune's interior point would pull every office toward the commune's
  centre for no reason.
* Streets are often the commune boundary and the boundary polygons come from another source than OSM,
  so a way counts as "in" the commune when it runs within `BOUNDARY_TOLERANCE_M` of the polygon for at
  least `MIN_STRETCH_M`. When none of it lies inside the polygon, the point is moved `INSET_M` inside,
  to the commune's side of the street (at most `MAX_MOVE_M`), and the move is reported in the detail.
* Fuzzy matching (rapidfuzz ratio ≥ `FUZZY_MIN_RATIO` on folded keys) absorbs small spelling
  differences in long names only; the numbers in a name must be equal, so "ngách 27" never matches
  "ngách 22". A numbered lane (``"ngõ 25 Vũ Ngọc Phan"``) is tried before its street.
* Where the road data covers only part of the commune (the extracts' extents), a street match says the
  street may run on beyond the data; a street missing from the data is reported as such.
* Coordinates of derived points are rounded to 5 decimals (about 1 m). The rounding keeps output
  reproducible without pretending sub-metre accuracy; the real uncertainty (tens of metres to
  kilometres) is stated by ``location_method`` and in ``location_detail`` ("within about N m"), not
  by the number of decimals. Coarser rounding (4 decimals, about 11 m) would not make an interior point
  any more honest and could push a point across a boundary, so it is not used. A point that rounding
  moves out of the commune is moved inside as above.
* A commune name in the address that equals the target commune's own (2025) name denotes the new unit,
  not a legacy unit of the same name, unless an old district is given with it (``"P. Cửa Nam, Q. Hoàn
  Kiếm"``): districts were abolished on 2025-07-01, so a district marks old-map notation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rapidfuzz import fuzz, process
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from geo.errors import DataProblem, DataValidationError, NotFound
from geo.geocode.address import ParsedAddress, parse_address
from geo.geocode.csv_patch import LOCATION_COLUMNS, cell_text, write_locations
from geo.geodesy import METRIC_CRS, TO_METRIC, TO_WGS84, WGS84
from geo.settings import Settings, get_settings
from geo.streets import (
    COVERAGE_ATTR,
    load_osm_streets,
    middle_of_stretch,
    split_names,
    street_key,
    street_keys,
    stretch_within,
)
from geo.text import fold, nfc

__all__ = [
    "BOUNDARY_TOLERANCE_M",
    "COORD_DECIMALS",
    "FUZZY_MIN_RATIO",
    "INSET_M",
    "MAX_MOVE_M",
    "METHODS",
    "MIN_STRETCH_M",
    "SURVEYED",
    "Location",
    "Method",
    "locate_point",
    "locate_points",
    "method_counts",
    "run_locate",
]

Method = Literal["street", "legacy_point", "commune_interior"]
METHODS: tuple[Method, ...] = ("street", "legacy_point", "commune_interior")
SURVEYED = "surveyed"

FUZZY_MIN_RATIO = 95.0  # rapidfuzz ratio (0-100) on folded keys; numbers must still match exactly
BOUNDARY_TOLERANCE_M = 25.0  # how far outside the commune polygon a street may run and still count
MIN_STRETCH_M = 30.0  # shorter stretches only touch the commune (a junction with a boundary street)
INSET_M = 3.0  # how far inside the polygon a point moved off the boundary is put
MAX_MOVE_M = BOUNDARY_TOLERANCE_M + INSET_M
COORD_DECIMALS = 5  # about 1.1 m of latitude, 1.0 m of longitude at Hanoi


# --------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Location:
    """A derived location: lon/lat (EPSG:4326), always approximate, with how it was found."""

    lon: float
    lat: float
    precision: Literal["approximate"]
    method: Method
    detail: str


# --------------------------------------------------------------------------------------------------
# Locating

_UNIT_WORD = re.compile(r"^(?:phường|xã|thị trấn)\s+")
_DISTRICT_WORD = re.compile(r"^(?:quận|huyện|thị xã|thành phố)\s+")
_KIND_LABELS = {"phuong": "phường", "xa": "xã", "thi tran": "thị trấn"}
_KINDS = {
    "phuong": "phuong",
    "ward": "phuong",
    "xa": "xa",
    "commune": "xa",
    "thi tran": "thi tran",
    "thi_tran": "thi tran",
    "township": "thi tran",
    "town": "thi tran",
}


def _unit_key(name: str) -> str:
    """Fold a unit name, dropping a "phường/xã/thị trấn" word (matched with diacritics: "Xà" stays)."""
    return fold(_UNIT_WORD.sub("", nfc(name).lower()))


def _district_key(name: str) -> str:
    return fold(_DISTRICT_WORD.sub("", nfc(name).lower()))


def _kind_key(kind: Any) -> str | None:
    if kind is None or (isinstance(kind, float) and math.isnan(kind)):
        return None
    return _KINDS.get(fold(str(kind)))


def _numbers(key: str) -> list[str]:
    """The numbers in a street key: a fuzzy match must have the same ("ngách 27" is not "ngách 22")."""
    return re.findall(r"\d+", key)


def _distance_text(metres: float) -> str:
    return f"{metres / 1000:.1f} km" if metres >= 1000 else f"{metres:.0f} m"


def _as_wgs84(frame: gpd.GeoDataFrame, what: str, columns: Iterable[str]) -> gpd.GeoDataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataValidationError([DataProblem(what, f"missing columns {', '.join(missing)}")])
    if frame.crs is None:
        raise DataValidationError([DataProblem(what, "no CRS (expected EPSG:4326)")])
    return frame if frame.crs.to_epsg() == 4326 else frame.to_crs(WGS84)


@dataclass
class _Locator:
    """Indexes of communes, street names and legacy units, built once for many addresses."""

    communes: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    legacy_units: gpd.GeoDataFrame | None = None
    _polygons: dict[str, BaseGeometry] = field(init=False)
    _metric: dict[str, BaseGeometry] = field(init=False, default_factory=dict)
    _names: dict[str, str] = field(init=False)
    _key_rows: dict[str, list[int]] = field(init=False)
    _fuzzy_cache: dict[str, tuple[str, ...]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        communes = _as_wgs84(self.communes, "communes", ("code", "geometry"))
        codes = communes["code"].astype(str).tolist()
        self._polygons = dict(zip(codes, communes.geometry, strict=True))
        self._names = (
            {c: cell_text(n) for c, n in zip(codes, communes["name"], strict=True)}
            if "name" in communes.columns
            else {}
        )
        streets = _as_wgs84(self.streets, "streets", ("name", "geometry"))
        self._street_names = [cell_text(n) for n in streets["name"]]
        self._street_ids = (
            [str(i) for i in streets["osm_id"]] if "osm_id" in streets.columns else [str(i) for i in streets.index]
        )
        self._street_geoms = np.asarray(streets.geometry.to_crs(METRIC_CRS).values, dtype=object)
        bounds = self.streets.attrs.get(COVERAGE_ATTR)
        if bounds:
            boxes = [shapely.box(*b) for b in bounds]
            coverage = gpd.GeoSeries([shapely.union_all(boxes)], crs=WGS84).to_crs(METRIC_CRS).iloc[0]
        else:  # streets not from load_osm_streets: their convex hull is the best guess
            coverage = shapely.convex_hull(shapely.union_all(self._street_geoms))
        self._coverage: BaseGeometry = coverage
        alt = streets["alt_names"] if "alt_names" in streets.columns else pd.Series([""] * len(streets))
        self._key_rows = {}
        for row, (name, more) in enumerate(zip(self._street_names, alt, strict=True)):
            for each in {name, *split_names(cell_text(more))}:
                if each:
                    self._key_rows.setdefault(street_key(each), []).append(row)
        self._keys = sorted(self._key_rows)
        self._to_metric = TO_METRIC
        self._to_wgs84 = TO_WGS84
        self._legacy: list[dict[str, Any]] = []
        if self.legacy_units is not None:
            legacy = _as_wgs84(self.legacy_units, "legacy units", ("code", "name", "geometry"))
            for rec in legacy.to_dict("records"):
                geom = rec["geometry"]
                if geom is None or geom.is_empty:
                    continue
                point = geom if geom.geom_type == "Point" else geom.representative_point()
                self._legacy.append(
                    {
                        "code": cell_text(rec["code"]),
                        "name": cell_text(rec["name"]),
                        "key": _unit_key(cell_text(rec["name"])),
                        "kind": _kind_key(rec.get("kind")),
                        "kind_label": _KIND_LABELS.get(_kind_key(rec.get("kind")) or "", "unit"),
                        "district": cell_text(rec.get("district")),
                        "district_key": _district_key(cell_text(rec.get("district"))),
                        "point": point,
                    }
                )

    # -- helpers ------------------------------------------------------------------------------------

    def has(self, code: str) -> bool:
        return code in self._polygons

    def _polygon_metric(self, code: str) -> BaseGeometry:
        if code not in self._metric:
            self._metric[code] = shapely.transform(self._polygons[code], self._project)
        return self._metric[code]

    def _project(self, lonlat: np.ndarray) -> np.ndarray:
        x, y = self._to_metric.transform(lonlat[:, 0], lonlat[:, 1])
        return np.column_stack([x, y])

    def _wgs84(self, point: Point) -> Point:
        """Metric point → lon/lat rounded to `COORD_DECIMALS`."""
        lon, lat = self._to_wgs84.transform(point.x, point.y)
        return Point(round(lon, COORD_DECIMALS), round(lat, COORD_DECIMALS))

    def _inside(self, point_m: Point, code: str) -> tuple[Point, float] | None:
        """The rounded WGS84 point if strictly inside the commune, else moved `INSET_M` inside."""
        polygon = self._polygons[code]
        candidate = self._wgs84(point_m)
        if polygon.contains(candidate):
            return candidate, 0.0
        inner = self._polygon_metric(code).buffer(-INSET_M)
        if inner.is_empty:
            return None
        target = nearest_points(inner, point_m)[0]
        moved = float(point_m.distance(target))
        if moved > MAX_MOVE_M:
            return None
        candidate = self._wgs84(target)
        return (candidate, moved) if polygon.contains(candidate) else None

    def _matching_keys(self, key: str) -> tuple[str, ...]:
        """Street keys equal to ``key`` or within `FUZZY_MIN_RATIO` of it with the same numbers."""
        if key not in self._fuzzy_cache:
            digits = _numbers(key)
            found = process.extract(key, self._keys, scorer=fuzz.ratio, score_cutoff=FUZZY_MIN_RATIO, limit=None)
            keys = {choice for choice, _score, _i in found if _numbers(choice) == digits}
            if key in self._key_rows:
                keys.add(key)
            self._fuzzy_cache[key] = tuple(sorted(keys))
        return self._fuzzy_cache[key]

    def _coverage_note(self, code: str) -> str:
        polygon_m = self._polygon_metric(code)
        if self._coverage.is_empty or not self._coverage.intersects(polygon_m):
            return ", which does not reach this commune (it covers central Hanoi only)"
        if not self._coverage.covers(polygon_m):
            return ", which covers only part of this commune"
        return ""

    def _label(self, code: str) -> str:
        name = self._names.get(code)
        return f"{code} {name}" if name else code

    # -- methods ------------------------------------------------------------------------------------

    def _by_street(self, parsed: ParsedAddress, code: str, notes: list[str]) -> Location | None:
        attempts = [
            (f"lane '{parsed.lane_street}'", parsed.lane_street),
            (f"street '{parsed.street}'", parsed.street),
        ]
        attempts = [(label, name) for label, name in attempts if name]
        if not attempts:
            notes.append("the address names no street")
            return None
        polygon_m = self._polygon_metric(code)
        zone = polygon_m.buffer(BOUNDARY_TOLERANCE_M)
        for label, name in attempts:
            keys = sorted({k for each in street_keys(cast(str, name)) for k in self._matching_keys(each)})
            rows = sorted({r for k in keys for r in self._key_rows[k]})
            if not rows:
                notes.append(f"{label} is not in the OSM road data{self._coverage_note(code)}")
                continue
            stretch, positions = stretch_within([self._street_geoms[r] for r in rows], zone)
            used = [rows[p] for p in positions]
            if stretch is None or stretch.length < MIN_STRETCH_M:
                nearest = min(float(self._street_geoms[r].distance(polygon_m)) for r in rows)
                notes.append(
                    f"{label} is in the OSM road data only outside this commune "
                    f"(nearest {_distance_text(nearest)} away){self._coverage_note(code)}"
                )
                continue
            # The point of the street nearest the middle of its stretch, preferring street that lies
            # inside the commune (1 m in, so rounding cannot push it out) over moving a point inward.
            point_m = middle_of_stretch(stretch, inside=polygon_m.buffer(-1.0))
            placed = self._inside(point_m, code)
            if placed is None:
                notes.append(f"{label}: no point of it lies inside the commune")
                continue
            point, moved = placed
            reach = float(shapely.hausdorff_distance(point_m, stretch))
            osm_names = " / ".join(repr(n) for n in sorted({self._street_names[r] for r in used}))
            ids = ", ".join(self._street_ids[r] for r in used[:3]) + (", …" if len(used) > 3 else "")
            ways = f"{len(used)} way{'s' if len(used) > 1 else ''}: {ids}"
            parts_text = [
                f"on {label}, OSM {osm_names} ({ways}), near the middle of its stretch in commune {self._label(code)}"
            ]
            if moved:
                parts_text.append(f"moved {moved:.0f} m off the commune boundary into the commune")
            if self._coverage_note(code):
                parts_text.append(
                    f"the part in the road data lies within about {_distance_text(reach)} of this point, "
                    "but the data covers only part of this commune, so the street may run on beyond it "
                    "and the office be farther"
                )
            else:
                parts_text.append(f"the office is along that stretch, within about {_distance_text(reach)}")
            number = f"house number {parsed.house_number} not used: " if parsed.house_number else ""
            parts_text.append(f"{number}the road data has no house numbers")
            return Location(point.x, point.y, "approximate", "street", "; ".join(parts_text))
        return None

    def _mentions(self, parsed: ParsedAddress, code: str) -> list[tuple[str, str | None, str | None, str]]:
        """Names that may denote a legacy unit: (name, kind, district, how the address gives it)."""
        target = self._names.get(code)
        target_key = _unit_key(target) if target else None
        mentions: list[tuple[str, str | None, str | None, str]] = []
        for unit in parsed.units:
            if unit.district is None and target_key is not None and _unit_key(unit.name) == target_key:
                continue  # the 2025 commune itself
            how = f"{unit.kind} {unit.name}" + (f", {unit.district}" if unit.district else "")
            mentions.append((unit.name, _kind_key(fold(unit.kind)), unit.district, how))
        for locality in parsed.localities:
            mentions.append((locality, None, parsed.district, f"locality {locality}"))
        return mentions

    def _by_legacy(self, parsed: ParsedAddress, code: str, notes: list[str]) -> Location | None:
        if not self._legacy:
            return None
        polygon = self._polygons[code]
        for name, kind, district, how in self._mentions(parsed, code):
            key = _unit_key(name)
            candidates = [
                u
                for u in self._legacy
                if u["key"] == key
                and (kind is None or u["kind"] is None or u["kind"] == kind)
                and (district is None or not u["district_key"] or u["district_key"] == _district_key(district))
            ]
            inside = [u for u in candidates if polygon.contains(u["point"])]
            if len(inside) > 1:
                codes = ", ".join(u["code"] for u in inside)
                notes.append(f"'{how}' matches several former units inside the commune ({codes})")
                continue
            if not inside:
                if candidates and not how.startswith("locality"):
                    codes = ", ".join(u["code"] for u in candidates)
                    notes.append(f"former unit '{how}' ({codes}) has its point outside this commune")
                continue
            unit = inside[0]
            lon, lat = self._to_metric.transform(unit["point"].x, unit["point"].y)
            placed = self._inside(Point(lon, lat), code)
            if placed is None:
                continue
            point, moved = placed
            moved_text = f"; moved {moved:.0f} m into the commune" if moved else ""
            detail = (
                f"point of former {unit['kind_label']} {unit['name']} ({unit['district']}, code "
                f"{unit['code']}), named in the address as '{how}', inside commune {self._label(code)}"
                f"{moved_text}; it stands for the whole former unit, not the office"
            )
            if notes:
                detail += f"; no street match: {'; '.join(notes)}"
            return Location(point.x, point.y, "approximate", "legacy_point", detail)
        return None

    def _interior(self, code: str, notes: list[str]) -> Location:
        polygon = self._polygons[code]
        raw = polygon.representative_point()
        point = Point(round(raw.x, COORD_DECIMALS), round(raw.y, COORD_DECIMALS))
        if not polygon.contains(point):
            point = raw  # rounding left a very thin polygon: keep the full-precision interior point
        lon, lat = self._to_metric.transform(point.x, point.y)
        reach = float(shapely.hausdorff_distance(Point(lon, lat), self._polygon_metric(code).boundary))
        why = "; ".join(notes) if notes else "the address gives nothing more specific"
        detail = (
            f"interior point of commune {self._label(code)} ({why}); "
            f"the office can be anywhere in the commune, up to {_distance_text(reach)} from here"
        )
        return Location(point.x, point.y, "approximate", "commune_interior", detail)

    def locate(self, address: str, code: str) -> Location:
        if code not in self._polygons:
            raise NotFound(f"commune {code!r} is not in the commune layer")
        parsed = parse_address(address)
        notes: list[str] = []
        return (
            self._by_street(parsed, code, notes) or self._by_legacy(parsed, code, notes) or self._interior(code, notes)
        )


def locate_point(
    address: str,
    commune_code: str,
    communes: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    legacy_units: gpd.GeoDataFrame | None = None,
) -> Location:
    """Derive an approximate location inside ``commune_code`` for ``address`` (street, legacy, interior).

    Parameters
    ----------
    address
        The office's address (see `parse_address`).
    commune_code
        Official 5-digit code of the 2025 commune the office belongs to.
    communes
        Columns ``code``, ``geometry`` (polygons, EPSG:4326); ``name`` optional (when present, a commune
        named with its own 2025 name is not taken for a legacy unit).
    streets
        As returned by `geo.streets.load_osm_streets` (``name``, ``geometry`` required; ``alt_names``,
        ``osm_id`` used when present).
    legacy_units
        Pre-2025 units, one point each (`geo.legacy.load_legacy_units`): ``code``, ``name``, ``geometry``;
        ``kind`` and ``district`` used when present. Without them step 2 is skipped.

    Returns
    -------
    Location
        Always ``approximate``, strictly inside the commune polygon, rounded to `COORD_DECIMALS`.

    Raises
    ------
    NotFound
        If ``commune_code`` is not in ``communes``.
    """
    return _Locator(communes, streets, legacy_units).locate(address, str(commune_code))


def method_counts(located: pd.DataFrame) -> dict[str, int]:
    """Count rows per ``location_method`` (``surveyed`` first, then `METHODS`; other values after)."""
    counts = located["location_method"].map(cell_text).value_counts()
    ordered = {m: int(counts.get(m, 0)) for m in (SURVEYED, *METHODS)}
    for method in sorted(set(counts.index) - set(ordered)):
        ordered[method or "(none)"] = int(counts[method])
    return ordered


def locate_points(
    points: pd.DataFrame,
    communes: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    legacy_units: gpd.GeoDataFrame | None = None,
    *,
    source: str = "points",
) -> pd.DataFrame:
    """Fill ``lon, lat, location_precision, location_method, location_detail`` for each row.

    Rows whose ``location_method`` is ``surveyed`` and that have coordinates are kept as they are
    (precision ``exact``: the only way to get it). Every other row is located with `locate_point` from
    its ``address`` and ``commune_code``; earlier derived values are recomputed. The result depends only
    on the inputs (same input, same output). ``result.attrs["location_counts"]`` holds
    `method_counts` of the result.

    Parameters
    ----------
    points
        Columns ``id``, ``address``, ``commune_code`` (strings; codes with their leading zeros); any
        other columns are carried through unchanged, in order.
    communes, streets, legacy_units
        As for `locate_point`.
    source
        Name used in error reports (e.g. the CSV file name); rows are reported by CSV line (header = 1).

    Returns
    -------
    pandas.DataFrame
        A copy of ``points`` with the five location columns (added at the end when missing).

    Raises
    ------
    DataValidationError
        A required column is missing, a commune code is unknown, or a surveyed row lacks valid
        coordinates; one `DataProblem` per row.
    """
    missing = [c for c in ("id", "address", "commune_code") if c not in points.columns]
    if missing:
        raise DataValidationError([DataProblem(source, f"missing columns {', '.join(missing)}")])
    locator = _Locator(communes, streets, legacy_units)
    out = points.copy()
    for column in LOCATION_COLUMNS:
        if column not in out.columns:
            out[column] = None
    problems: list[DataProblem] = []
    filled: dict[str, list[Any]] = {c: [] for c in LOCATION_COLUMNS}
    for i, row in enumerate(out.to_dict("records")):
        line, pid = i + 2, cell_text(row["id"]) or None
        if cell_text(row["location_method"]) == SURVEYED:
            try:
                lon, lat = float(cell_text(row["lon"])), float(cell_text(row["lat"]))
            except ValueError:
                lon = lat = math.nan
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                problems.append(DataProblem(source, "surveyed row without valid lon/lat", row=line, id=pid))
            values: list[Any] = [lon, lat, "exact", SURVEYED, cell_text(row["location_detail"]) or "surveyed"]
        else:
            code = cell_text(row["commune_code"])
            if not locator.has(code):
                problems.append(DataProblem(source, f"unknown commune code {code!r}", row=line, id=pid))
                values = [math.nan, math.nan, None, None, None]
            else:
                loc = locator.locate(cell_text(row["address"]), code)
                values = [loc.lon, loc.lat, loc.precision, loc.method, loc.detail]
        for column, value in zip(LOCATION_COLUMNS, values, strict=True):
            filled[column].append(value)
    if problems:
        raise DataValidationError(problems)
    for column in LOCATION_COLUMNS:
        out[column] = pd.Series(filled[column], index=out.index, dtype=float if column in ("lon", "lat") else object)
    out.attrs["location_counts"] = method_counts(out)
    return out


def run_locate(settings: Settings | None = None, write: bool = True) -> str:
    """Locate every registry point from its address (``gandan data locate-points``) and report per method.

    Reads the boundary set, the pinned OSM extracts and the legacy units, fills the location columns of
    ``data/service_points.csv`` and, when ``write``, rewrites the file in place (atomically).
    """
    from geo.boundaries import load_boundary_set
    from geo.legacy import load_legacy_units
    from geo.sources import paths_of_group

    settings = settings or get_settings()
    communes = load_boundary_set(settings.boundary_set, settings).communes
    streets = load_osm_streets(paths_of_group("osm-central-hanoi", settings))
    csv_path = settings.data_dir / "service_points.csv"
    points = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    located = locate_points(points, communes, streets, load_legacy_units(), source=str(csv_path.name))
    counts = method_counts(located)
    changed = write_locations(csv_path, located) if write else 0
    summary = ", ".join(f"{method} {n}" for method, n in sorted(counts.items()))
    return f"{len(located)} points located ({summary}); {changed} rows changed in {csv_path.name}"
