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

Decisions
---------
* Which point on a matched street: the point of the street nearest to the length-weighted centroid of
  its stretch in the commune (the matched ways clipped to the commune widened by
  `BOUNDARY_TOLERANCE_M`), taken from the part of the street lying inside the polygon when there is
  one. For one straight piece this is its midpoint; for several pieces or a bent street it is still
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
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from rapidfuzz import fuzz, process
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from geo.boundaries import METRIC_CRS
from geo.errors import DataProblem, DataValidationError, NotFound
from geo.settings import Settings, get_settings
from geo.text import fold, nfc

__all__ = [
    "BOUNDARY_TOLERANCE_M",
    "COORD_DECIMALS",
    "FUZZY_MIN_RATIO",
    "INSET_M",
    "LOCATION_COLUMNS",
    "MAX_MOVE_M",
    "METHODS",
    "MIN_STRETCH_M",
    "NAME_TAGS",
    "Location",
    "Method",
    "ParsedAddress",
    "UnitMention",
    "load_osm_streets",
    "locate_point",
    "locate_points",
    "method_counts",
    "parse_address",
    "run_locate",
    "street_key",
    "write_locations",
]

WGS84 = "EPSG:4326"

Method = Literal["street", "legacy_point", "commune_interior"]
METHODS: tuple[Method, ...] = ("street", "legacy_point", "commune_interior")
SURVEYED = "surveyed"
LOCATION_COLUMNS = ["lon", "lat", "location_precision", "location_method", "location_detail"]

NAME_TAGS = ("name", "name:vi", "alt_name", "old_name")
FUZZY_MIN_RATIO = 95.0  # rapidfuzz ratio (0-100) on folded keys; numbers must still match exactly
BOUNDARY_TOLERANCE_M = 25.0  # how far outside the commune polygon a street may run and still count
MIN_STRETCH_M = 30.0  # shorter stretches only touch the commune (a junction with a boundary street)
INSET_M = 3.0  # how far inside the polygon a point moved off the boundary is put
MAX_MOVE_M = BOUNDARY_TOLERANCE_M + INSET_M
COORD_DECIMALS = 5  # about 1.1 m of latitude, 1.0 m of longitude at Hanoi
COVERAGE_ATTR = "osm_bounds"


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


@dataclass(frozen=True)
class UnitMention:
    """A commune-level unit named in an address: kind ("phường", "xã", "thị trấn"), name, old district."""

    kind: str
    name: str
    district: str | None = None


@dataclass(frozen=True)
class ParsedAddress:
    """The parts of a Vietnamese address that locating uses; text is NFC, ``*_ascii`` is folded.

    ``street`` is the street name without its "phố"/"đường" prefix (``"Trúc Bạch"``); the prefix is
    kept only when the name is a number (``"đường 17/8"``). ``lane`` is the numbered lane in front of
    the street (``"ngõ 25"``, ``"ngách 2 ngõ 4B"``), ``units`` the communes named (with the old district
    when given), ``localities`` named villages, residential groups and the like (``"Hồng Kỳ"`` from
    ``"Thôn 4 - Hồng Kỳ"``), with numbers stripped.
    """

    address: str
    house_number: str | None = None
    lane: str | None = None
    street: str | None = None
    street_ascii: str | None = None
    units: tuple[UnitMention, ...] = ()
    district: str | None = None
    localities: tuple[str, ...] = ()

    @property
    def commune(self) -> str | None:
        """Name of the first commune-level unit named in the address, if any."""
        return self.units[0].name if self.units else None

    @property
    def lane_street(self) -> str | None:
        """Full lane name, e.g. ``"ngõ 25 Vũ Ngọc Phan"``, when both a lane and a street are given."""
        if self.lane and self.street:
            return f"{self.lane} {self.street}"
        return None


# --------------------------------------------------------------------------------------------------
# Street names


_LANE_HEAD = re.compile(r"^((?:(?:hẻm|ngách|ngõ|kiệt|hem|ngach|ngo|kiet) [0-9][0-9a-z/]* )+)")
_STREET_PREFIXES = ("phố ", "đường ", "đ. ")
_STREET_PREFIXES_ASCII = ("pho ", "duong ")


def street_key(name: str) -> str:
    """Return the matching key of a street name: folded, one "phố"/"đường" prefix dropped.

    The prefix is dropped before folding, so "Dương" and "Phó" at the start of a name stay (folding
    would make "Dương Đức Hiền" look like "đường Đức Hiền"); text without any diacritics drops
    "pho"/"duong". The prefix is also dropped after a lane head (``"Ngõ 575 Phố Kim Mã"`` →
    ``"ngo 575 kim ma"``) and kept when the rest is a number (``"Đường 17/8"`` → ``"duong 17/8"``).

    Examples
    --------
    >>> street_key("Phố Trúc Bạch")
    'truc bach'
    >>> street_key("Đường Dương Đức Hiền")
    'duong duc hien'
    """
    text = nfc(name).lower()
    head_match = _LANE_HEAD.match(text)
    head, rest = (head_match.group(1), text[head_match.end() :]) if head_match else ("", text)
    for prefix in _STREET_PREFIXES_ASCII if text.isascii() else _STREET_PREFIXES:
        remainder = rest[len(prefix) :].lstrip()
        if rest.startswith(prefix) and remainder and not remainder[0].isdigit():
            rest = remainder
            break
    return fold(head + rest)


def _street_keys(name: str) -> list[str]:
    """Keys to look an address's street up by: `street_key`, and the whole name folded.

    The second catches names the prefix rule cuts wrongly in plain ASCII ("Duong Duc Hien").
    """
    return list(dict.fromkeys([street_key(name), fold(name)]))


def _numbers(key: str) -> list[str]:
    return re.findall(r"\d+", key)


# --------------------------------------------------------------------------------------------------
# OSM streets


def _split_names(value: str) -> list[str]:
    return [nfc(part) for part in value.split(";") if nfc(part)]


def load_osm_streets(osm_paths: Sequence[Path]) -> gpd.GeoDataFrame:
    """Read the named highway ways of OSM XML files as LineStrings, one row per way.

    Files may overlap: a way present in several is kept once (first file wins; the extracts are
    snapshots of the same day). A way whose nodes are partly missing from the files (clipped by an
    extract's bounding box) keeps the nodes present, if at least two.

    Parameters
    ----------
    osm_paths
        OSM XML files (``<node>`` before ``<way>``, as Overpass and osmium write them).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, sorted by ``osm_id``; ``attrs["osm_bounds"]`` lists each file's node extent
        (lon/lat min/max: what the extract covers, used to tell "not in the data" from "not
        there"). Columns ``name`` (the ``name`` tag, else ``name:vi``,
        ``alt_name``, ``old_name``; NFC), ``name_ascii`` (`geo.text.fold` of it), ``alt_names`` (the
        other distinct names of those tags, ``";"``-joined, ``""`` if none), ``highway``, ``osm_id``
        (int) and ``geometry``.

    Raises
    ------
    DataValidationError
        If a file cannot be parsed as XML.
    """
    nodes: dict[int, tuple[float, float]] = {}
    ways: dict[int, tuple[list[int], dict[str, str]]] = {}
    problems: list[DataProblem] = []
    bounds: list[tuple[float, float, float, float]] = []
    for path in osm_paths:
        lons: list[float] = []
        lats: list[float] = []
        try:
            for _event, elem in ET.iterparse(path, events=("end",)):
                if elem.tag == "node":
                    lon, lat = float(elem.attrib["lon"]), float(elem.attrib["lat"])
                    nodes[int(elem.attrib["id"])] = (lon, lat)
                    lons.append(lon)
                    lats.append(lat)
                    elem.clear()
                elif elem.tag == "way":
                    way_id = int(elem.attrib["id"])
                    tags = {t.attrib["k"]: t.attrib["v"] for t in elem.iter("tag")}
                    if way_id not in ways and "highway" in tags and any(k in tags for k in NAME_TAGS):
                        refs = [int(nd.attrib["ref"]) for nd in elem.iter("nd")]
                        ways[way_id] = (refs, {k: v for k, v in tags.items() if k in (*NAME_TAGS, "highway")})
                    elem.clear()
                elif elem.tag == "relation":
                    elem.clear()
        except (ET.ParseError, KeyError, ValueError) as exc:
            problems.append(DataProblem(str(path), f"not readable as OSM XML: {exc}"))
            continue
        if lons:
            bounds.append((min(lons), min(lats), max(lons), max(lats)))
    if problems:
        raise DataValidationError(problems)

    records: list[dict[str, Any]] = []
    for way_id in sorted(ways):
        refs, tags = ways[way_id]
        coords = [nodes[r] for r in refs if r in nodes]
        if len(coords) < 2:
            continue
        names: list[str] = []
        for key in NAME_TAGS:
            for name in _split_names(tags.get(key, "")):
                if name not in names:
                    names.append(name)
        if not names:
            continue
        records.append(
            {
                "name": names[0],
                "name_ascii": fold(names[0]),
                "alt_names": ";".join(names[1:]),
                "highway": tags["highway"],
                "osm_id": way_id,
                "geometry": LineString(coords),
            }
        )
    columns = ["name", "name_ascii", "alt_names", "highway", "osm_id", "geometry"]
    frame = gpd.GeoDataFrame(records, columns=columns, geometry="geometry", crs=WGS84)
    frame["osm_id"] = frame["osm_id"].astype("int64")
    frame.attrs[COVERAGE_ATTR] = bounds
    return frame


# --------------------------------------------------------------------------------------------------
# Address parsing

_FLAGS = re.IGNORECASE
_UNIT_PREFIXES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(?:thị trấn|tt\.)\s*", _FLAGS), "thị trấn"),
    (re.compile(r"^(?:phường|p\.)\s*", _FLAGS), "phường"),
    (re.compile(r"^(?:xã|x\.)\s*", _FLAGS), "xã"),
)
_DISTRICT_PREFIX = re.compile(r"^(?:thị xã|tx\.|quận|q\.|huyện|h\.)\s*", _FLAGS)
_CITY = re.compile(r"^(?:(?:thành phố|tp\.?)\s*)?(?:hà nội|ha noi|hanoi|việt nam|viet nam|vietnam)$", _FLAGS)
_EMBEDDED_ADMIN = re.compile(r"(?<=\s)(?:thị trấn|thị xã|phường|quận|huyện|xã)(?=\s)", _FLAGS)
_HOUSE = re.compile(r"^(?:số nhà|nhà số|số)?\s*(\d+[a-z]?(?:/\d+[a-z]?)*)(?![\w/])\s*", _FLAGS)
_LANE = re.compile(r"^(ngõ|ngách|hẻm|kiệt)\s+(\d[\w/]*)\s*", _FLAGS)
_STREET_PREFIX = re.compile(r"^(?:phố|đường|đ\.)\s*", _FLAGS)
_ROAD_PREFIX = re.compile(r"^(?:đại lộ|quốc lộ|tỉnh lộ|đường tỉnh|ql\.?|đt\.?|tl\.?)\s*\d", _FLAGS)
_LOCALITY = re.compile(
    r"(?:^|(?<=\s))(?:tổ dân phố|tdp|khu đô thị mới|khu đô thị|kđt|khu phố|khu dân cư|khu trung tâm|"
    r"tiểu khu|khu|thôn|xóm|làng|ấp|cụm|tổ|lô|tòa nhà|toà nhà|tòa|toà)(?=\s|$)",
    _FLAGS,
)
_BUILDING = re.compile(r"^(?:tòa nhà|toà nhà|tòa|toà|nhà)\s", _FLAGS)
_BUILDING_TAIL = re.compile(r"(?<=\s)\d+[a-z]?\s+(?!tầng)[^\d\s]", _FLAGS)
_LABEL = re.compile(r"^[^\d:]{1,30}:\s*|^\d{4}[^:]{0,25}:\s*")


def _segments(text: str) -> list[str]:
    """Split an address into comma/semicolon parts; parenthesised parts come last, labels removed."""
    inner = re.findall(r"\(([^()]*)\)", text)
    outer = re.sub(r"\([^()]*\)", ",", text)
    parts: list[str] = []
    for chunk in [outer, *inner]:
        for raw in re.split(r"[,;]", chunk):
            piece = _LABEL.sub("", raw.strip()) if chunk is not outer else raw
            piece = piece.strip(" .-–")
            # "tổ dân phố số 2 phường Đông Ngạc": split before an admin word that is not at the start.
            while piece:
                cut = next(
                    (
                        m.start()
                        for m in _EMBEDDED_ADMIN.finditer(piece)
                        if not (m.group(0).lower() == "xã" and piece[: m.start()].lower().endswith("thị "))
                    ),
                    None,
                )
                if cut is None:
                    parts.append(piece)
                    break
                head = piece[:cut].strip(" .-–")
                if head:
                    parts.append(head)
                piece = piece[cut:].strip()
    expanded: list[str] = []
    for part in parts:
        # "Tòa nhà Liên cơ 258 Võ Chí Công": a building name, then the house number and street.
        tail = _BUILDING_TAIL.search(part) if _BUILDING.match(part) else None
        expanded.extend([part[: tail.start()].strip(), part[tail.start() :].strip()] if tail else [part])
    return [p for p in expanded if p]


def _locality_name(segment: str) -> str | None:
    """Name after the last locality word, without leading numbers and a trailing number."""
    matches = list(_LOCALITY.finditer(segment))
    rest = segment[matches[-1].end() :] if matches else segment
    rest = re.sub(r"^\s*(?:số\s*)?\d+\w*\s*", "", rest, flags=_FLAGS)
    rest = re.sub(r"^[\s\-–.]+", "", rest)
    rest = re.sub(r"\s+\d+\w?$", "", rest).strip(" .-–")
    return rest if rest and not re.search(r"\d", rest) else None


def parse_address(address: str) -> ParsedAddress:
    """Split a Vietnamese address into house number, lane, street, communes, old district, localities.

    Parameters
    ----------
    address
        Free text such as ``"Số 2, phố Trúc Bạch, phường Ba Đình"``, ``"Số 126 Hàng Trống, phường Hoàn
        Kiếm"``, ``"Số 2 ngõ 4B phố Đặng Văn Ngữ, phường Kim Liên"``, ``"197 Nghi Tàm, P. Yên Phụ, Q. Tây
        Hồ"`` or ``"Thôn 4 - Hồng Kỳ, xã Trung Giã"``.

    Returns
    -------
    ParsedAddress
        Missing parts are None (or empty); ``street`` is None when the address names no street, e.g.
        ``"Thôn Lũng Vân, xã An Khánh"``.
    """
    text = nfc(address)
    house: str | None = None
    lanes: list[str] = []
    street: str | None = None
    units: list[UnitMention] = []
    district: str | None = None
    localities: list[str] = []
    previous_was_number = False

    for segment in _segments(text):
        unit = next(((kind, pat) for pat, kind in _UNIT_PREFIXES if pat.match(segment)), None)
        if unit is not None:
            kind, pat = unit
            name = pat.sub("", segment, count=1).strip()
            if name:
                units.append(UnitMention(kind, name))
            previous_was_number = False
            continue
        if _DISTRICT_PREFIX.match(segment):
            name = _DISTRICT_PREFIX.sub("", segment, count=1).strip()
            if units and units[-1].district is None:
                units[-1] = UnitMention(units[-1].kind, units[-1].name, name)
            district = district or name
            previous_was_number = False
            continue
        if _CITY.match(segment):
            continue

        rest = segment
        number_here = False
        house_match = _HOUSE.match(rest) if not _STREET_PREFIX.match(rest) else None
        if house_match and house is None:
            house = house_match.group(1)
            rest = rest[house_match.end() :]
            number_here = True
            if "/" in house and not lanes:
                # "2/224 đường Hoàng Mai": house 2 of lane 224.
                lanes.append(f"ngõ {house.split('/')[1]}")
        lane_here = False
        while lane_match := _LANE.match(rest):
            lanes.append(f"{lane_match.group(1).lower()} {lane_match.group(2)}")
            rest = rest[lane_match.end() :]
            lane_here = True
        rest = rest.strip(" .-–")
        if not rest:
            previous_was_number = number_here and not lane_here
            continue
        if _STREET_PREFIX.match(rest):
            name = _STREET_PREFIX.sub("", rest, count=1).strip()
            if name[:1].isdigit():
                name = rest  # "đường 17/8", "Đường 419": the number alone is no name
            street = street or name
        elif _ROAD_PREFIX.match(rest):
            street = street or rest
        elif _LOCALITY.search(rest) and (_LOCALITY.match(rest) or not (number_here or lane_here)):
            locality = _locality_name(rest)
            if locality:
                localities.append(locality)
        elif (number_here or lane_here or previous_was_number) and street is None:
            street = rest  # "126 Hàng Trống", "Số 2, Hàng Trống"
        else:
            locality = _locality_name(rest)
            if locality:
                localities.append(locality)
        previous_was_number = False

    lane = " ".join(lanes) if lanes else None  # written order, as OSM names them: "ngách 22 ngõ 575"
    return ParsedAddress(
        address=text,
        house_number=house,
        lane=lane,
        street=street,
        street_ascii=fold(street) if street else None,
        units=tuple(units),
        district=district,
        localities=tuple(localities),
    )


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


def _text(value: Any) -> str:
    """Cell value as NFC text; missing values (None, NaN, NA) as ""."""
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return ""
    return nfc(str(value))


def _distance_text(metres: float) -> str:
    return f"{metres / 1000:.1f} km" if metres >= 1000 else f"{metres:.0f} m"


def _line_parts(geometry: BaseGeometry) -> list[LineString]:
    return [
        cast(LineString, part)
        for part in shapely.get_parts(geometry)
        if part.geom_type == "LineString" and not part.is_empty and part.length > 0
    ]


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
            {c: _text(n) for c, n in zip(codes, communes["name"], strict=True)} if "name" in communes.columns else {}
        )
        streets = _as_wgs84(self.streets, "streets", ("name", "geometry"))
        self._street_names = [_text(n) for n in streets["name"]]
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
            for each in {name, *_split_names(_text(more))}:
                if each:
                    self._key_rows.setdefault(street_key(each), []).append(row)
        self._keys = sorted(self._key_rows)
        self._to_metric = Transformer.from_crs(WGS84, METRIC_CRS, always_xy=True)
        self._to_wgs84 = Transformer.from_crs(METRIC_CRS, WGS84, always_xy=True)
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
                        "code": _text(rec["code"]),
                        "name": _text(rec["name"]),
                        "key": _unit_key(_text(rec["name"])),
                        "kind": _kind_key(rec.get("kind")),
                        "kind_label": _KIND_LABELS.get(_kind_key(rec.get("kind")) or "", "unit"),
                        "district": _text(rec.get("district")),
                        "district_key": _district_key(_text(rec.get("district"))),
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
            keys = sorted({k for each in _street_keys(cast(str, name)) for k in self._matching_keys(each)})
            rows = sorted({r for k in keys for r in self._key_rows[k]})
            if not rows:
                notes.append(f"{label} is not in the OSM road data{self._coverage_note(code)}")
                continue
            pieces: list[LineString] = []
            used: list[int] = []
            for row in rows:
                geom = self._street_geoms[row]
                if geom.intersects(zone):
                    parts = _line_parts(geom.intersection(zone))
                    if parts:
                        pieces.extend(parts)
                        used.append(row)
            stretch = shapely.line_merge(shapely.MultiLineString(pieces)) if pieces else None
            if stretch is None or stretch.length < MIN_STRETCH_M:
                nearest = min(float(self._street_geoms[r].distance(polygon_m)) for r in rows)
                notes.append(
                    f"{label} is in the OSM road data only outside this commune "
                    f"(nearest {_distance_text(nearest)} away){self._coverage_note(code)}"
                )
                continue
            # The point of the street nearest the middle of its stretch, preferring street that lies
            # inside the commune (1 m in, so rounding cannot push it out) over moving a point inward.
            middle = stretch.centroid
            on_street_inside = _line_parts(stretch.intersection(polygon_m.buffer(-1.0)))
            candidates = shapely.MultiLineString(on_street_inside) if on_street_inside else stretch
            point_m = nearest_points(candidates, middle)[0]
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
        As returned by `load_osm_streets` (``name``, ``geometry`` required; ``alt_names``, ``osm_id``
        used when present).
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
    counts = located["location_method"].map(_text).value_counts()
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
        line, pid = i + 2, _text(row["id"]) or None
        if _text(row["location_method"]) == SURVEYED:
            try:
                lon, lat = float(_text(row["lon"])), float(_text(row["lat"]))
            except ValueError:
                lon = lat = math.nan
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                problems.append(DataProblem(source, "surveyed row without valid lon/lat", row=line, id=pid))
            values: list[Any] = [lon, lat, "exact", SURVEYED, _text(row["location_detail"]) or "surveyed"]
        else:
            code = _text(row["commune_code"])
            if not locator.has(code):
                problems.append(DataProblem(source, f"unknown commune code {code!r}", row=line, id=pid))
                values = [math.nan, math.nan, None, None, None]
            else:
                loc = locator.locate(_text(row["address"]), code)
                values = [loc.lon, loc.lat, loc.precision, loc.method, loc.detail]
        for column, value in zip(LOCATION_COLUMNS, values, strict=True):
            filled[column].append(value)
    if problems:
        raise DataValidationError(problems)
    for column in LOCATION_COLUMNS:
        out[column] = pd.Series(filled[column], index=out.index, dtype=float if column in ("lon", "lat") else object)
    out.attrs["location_counts"] = method_counts(out)
    return out


# --------------------------------------------------------------------------------------------------
# Writing back


def _scan_csv(text: str) -> list[tuple[list[str], str]]:
    """Split CSV text into records of raw field texts (quotes kept) and each record's line ending."""
    records: list[tuple[list[str], str]] = []
    fields: list[str] = []
    start, i, n, quoted = 0, 0, len(text), False
    while i < n:
        char = text[i]
        if quoted:
            if char == '"':
                if text.startswith('""', i):
                    i += 2
                    continue
                quoted = False
            i += 1
        elif char == '"':
            quoted = True
            i += 1
        elif char == ",":
            fields.append(text[start:i])
            i += 1
            start = i
        elif char in "\r\n":
            ending = "\r\n" if text.startswith("\r\n", i) else char
            fields.append(text[start:i])
            records.append((fields, ending))
            fields = []
            i += len(ending)
            start = i
        else:
            i += 1
    if start < n or fields:
        fields.append(text[start:])
        records.append((fields, ""))
    return records


def _decode(raw: str) -> str:
    stripped = raw.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] == '"':
        return stripped[1:-1].replace('""', '"')
    return raw


def _encode(value: str, quote_all: bool) -> str:
    if quote_all or any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _cell(column: str, value: Any) -> str:
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return ""
    if column in ("lon", "lat"):
        return repr(float(value))
    return str(value)


def write_locations(csv_path: Path, located_df: pd.DataFrame) -> int:
    """Write the location columns of ``located_df`` into the CSV at ``csv_path`` in place, by ``id``.

    Every other column, the row order, line endings, a UTF-8 BOM and the quoting of untouched fields are
    kept byte for byte; a location field whose value did not change keeps its text too (so ``105.80``
    stays ``105.80``). Location columns missing from the file are appended. Rows absent from
    ``located_df`` are left alone. The file is written aside and renamed over the original, so a failure
    never leaves it half-written.

    Parameters
    ----------
    csv_path
        The registry CSV (header row, comma-separated, an ``id`` column).
    located_df
        Output of `locate_points` (columns ``id`` and `LOCATION_COLUMNS`).

    Returns
    -------
    int
        Number of rows whose text changed.

    Raises
    ------
    DataValidationError
        The CSV has no ``id`` column or repeated ids, or ``located_df`` has ids not in the CSV.
    """
    path = Path(csv_path)
    source = str(path)
    raw = path.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    records = _scan_csv(raw.decode("utf-8-sig"))
    if not records:
        raise DataValidationError([DataProblem(source, "empty file")])
    header_raw, header_ending = records[0]
    header = [_decode(h) for h in header_raw]
    quote_all = all(h.strip().startswith('"') for h in header_raw)
    if "id" not in header:
        raise DataValidationError([DataProblem(source, "no id column")])
    id_col = header.index("id")

    problems: list[DataProblem] = []
    seen: dict[str, int] = {}
    for line, (fields, _end) in enumerate(records[1:], start=2):
        if fields == [""]:
            continue
        pid = _decode(fields[id_col]) if id_col < len(fields) else ""
        if pid in seen:
            problems.append(DataProblem(source, f"id repeated (line {seen[pid]})", row=line, id=pid))
        seen[pid] = line
    updates = {_text(r["id"]): r for r in located_df.to_dict("records")}
    for pid in sorted(set(updates) - set(seen)):
        problems.append(DataProblem(source, "located row not in the file", id=pid))
    if problems:
        raise DataValidationError(problems)

    added = [c for c in LOCATION_COLUMNS if c not in header]
    if added:
        header_raw = [*header_raw, *(_encode(c, quote_all) for c in added)]
        header = [*header, *added]
    out_records: list[tuple[list[str], str]] = [(header_raw, header_ending)]
    changed = 0
    for fields, end in records[1:]:
        if fields == [""]:
            out_records.append((fields, end))
            continue
        new = list(fields) + [""] * (len(header) - len(fields))
        update = updates.get(_decode(fields[id_col]))
        if update is not None:
            for column in LOCATION_COLUMNS:
                pos = header.index(column)
                old_text = _decode(new[pos]) if pos < len(fields) else ""
                value = _cell(column, update.get(column))
                same = old_text == value
                if not same and column in ("lon", "lat") and old_text and value:
                    try:
                        same = float(old_text) == float(value)
                    except ValueError:
                        same = False
                if not same:
                    new[pos] = _encode(value, quote_all)
        if new != fields:
            changed += 1
        out_records.append((new, end))
    # Every record keeps its own line ending; only a last line without one stays without.
    text = "".join(",".join(fields) + end for fields, end in out_records)
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")

    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return changed


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
