"""OSM street names: read them from OSM XML, key them for matching, find the middle of a stretch.

Shared by the build-time geocoder (`geo.geocode`: an address's street → a point on it inside the
commune) and the chatbot's gazetteer (`geo.gazetteer`: a street named in a question → a point on it).

Decisions
---------
* A street is matched by `street_key`: folded (`geo.text.fold`), with one "phố"/"đường" prefix dropped
  before folding, so "Dương Đức Hiền" is not mistaken for "đường Đức Hiền"; a numbered name keeps its
  prefix ("đường 17/8"), since the number alone names nothing.
* Which point stands for a street in an area: the point of the street nearest to the length-weighted
  centroid of its stretch in the area (`middle_of_stretch`). For one straight piece this is its
  midpoint; for several pieces or a bent street it is still on the street, near the middle. With a
  position along the street unknown (the road data has no house numbers), the middle minimises the
  largest possible error.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import shapely
from shapely.geometry import LineString, MultiLineString, Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from geo.errors import DataProblem, DataValidationError
from geo.geodesy import WGS84
from geo.text import fold, nfc

__all__ = [
    "COVERAGE_ATTR",
    "NAME_TAGS",
    "STREET_COLUMNS",
    "line_parts",
    "load_osm_streets",
    "middle_of_stretch",
    "split_names",
    "street_key",
    "street_keys",
    "stretch_within",
]

NAME_TAGS = ("name", "name:vi", "alt_name", "old_name")
"""OSM tags a street's names are read from, in order of preference."""
COVERAGE_ATTR = "osm_bounds"
"""Key of ``GeoDataFrame.attrs`` under which `load_osm_streets` lists each file's node extent."""
STREET_COLUMNS = ["name", "name_ascii", "alt_names", "highway", "osm_id", "geometry"]
"""Columns of `load_osm_streets`, in order."""

Extent = tuple[float, float, float, float]
_Ways = dict[int, tuple[list[int], dict[str, str]]]


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


def street_keys(name: str) -> list[str]:
    """Return the keys to look a street name up by: `street_key`, and the whole name folded.

    The second catches names the prefix rule cuts wrongly in plain ASCII ("Duong Duc Hien").

    Examples
    --------
    >>> street_keys("Duong Duc Hien")
    ['duc hien', 'duong duc hien']
    """
    return list(dict.fromkeys([street_key(name), fold(name)]))


def split_names(value: str) -> list[str]:
    """Split an OSM multi-value tag (``"Phố A;Phố B"``) into its NFC names, dropping empty ones."""
    return [nfc(part) for part in value.split(";") if nfc(part)]


# --------------------------------------------------------------------------------------------------
# Reading OSM XML


def _keep_way(elem: ET.Element, ways: _Ways) -> None:
    """Record a named highway way (node refs, name and highway tags) unless an earlier file had it."""
    way_id = int(elem.attrib["id"])
    tags = {t.attrib["k"]: t.attrib["v"] for t in elem.iter("tag")}
    if way_id not in ways and "highway" in tags and any(k in tags for k in NAME_TAGS):
        refs = [int(nd.attrib["ref"]) for nd in elem.iter("nd")]
        ways[way_id] = (refs, {k: v for k, v in tags.items() if k in (*NAME_TAGS, "highway")})


def _read_osm_file(path: Path, nodes: dict[int, tuple[float, float]], ways: _Ways) -> Extent | None:
    """Add the nodes and named highway ways of one OSM XML file; return its node extent (None if no node).

    Elements are cleared as they are read, so a large extract is never held as a tree.
    """
    lons: list[float] = []
    lats: list[float] = []
    for _event, elem in ET.iterparse(path, events=("end",)):
        if elem.tag == "node":
            lon, lat = float(elem.attrib["lon"]), float(elem.attrib["lat"])
            nodes[int(elem.attrib["id"])] = (lon, lat)
            lons.append(lon)
            lats.append(lat)
        elif elem.tag == "way":
            _keep_way(elem, ways)
        if elem.tag in ("node", "way", "relation"):
            elem.clear()
    return (min(lons), min(lats), max(lons), max(lats)) if lons else None


def _way_record(
    way_id: int, refs: list[int], tags: dict[str, str], nodes: dict[int, tuple[float, float]]
) -> dict[str, Any] | None:
    """One row of `load_osm_streets`; None when fewer than two nodes are present or no name is left."""
    coords = [nodes[r] for r in refs if r in nodes]
    if len(coords) < 2:
        return None
    names: list[str] = []
    for key in NAME_TAGS:
        for name in split_names(tags.get(key, "")):
            if name not in names:
                names.append(name)
    if not names:
        return None
    return {
        "name": names[0],
        "name_ascii": fold(names[0]),
        "alt_names": ";".join(names[1:]),
        "highway": tags["highway"],
        "osm_id": way_id,
        "geometry": LineString(coords),
    }


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
        EPSG:4326, sorted by ``osm_id``; ``attrs["osm_bounds"]`` (`COVERAGE_ATTR`) lists each file's
        node extent (lon/lat min/max: what the extract covers, used to tell "not in the data" from "not
        there"). Columns `STREET_COLUMNS`: ``name`` (the ``name`` tag, else ``name:vi``,
        ``alt_name``, ``old_name``; NFC), ``name_ascii`` (`geo.text.fold` of it), ``alt_names`` (the
        other distinct names of those tags, ``";"``-joined, ``""`` if none), ``highway``, ``osm_id``
        (int) and ``geometry``.

    Raises
    ------
    DataValidationError
        If a file cannot be parsed as XML.
    """
    nodes: dict[int, tuple[float, float]] = {}
    ways: _Ways = {}
    problems: list[DataProblem] = []
    bounds: list[Extent] = []
    for path in osm_paths:
        try:
            extent = _read_osm_file(path, nodes, ways)
        except (ET.ParseError, KeyError, ValueError) as exc:
            problems.append(DataProblem(str(path), f"not readable as OSM XML: {exc}"))
            continue
        if extent is not None:
            bounds.append(extent)
    if problems:
        raise DataValidationError(problems)

    records = [rec for way_id in sorted(ways) if (rec := _way_record(way_id, *ways[way_id], nodes)) is not None]
    frame = gpd.GeoDataFrame(records, columns=STREET_COLUMNS, geometry="geometry", crs=WGS84)
    frame["osm_id"] = frame["osm_id"].astype("int64")
    frame.attrs[COVERAGE_ATTR] = bounds
    return frame


# --------------------------------------------------------------------------------------------------
# Stretches


def line_parts(geometry: BaseGeometry) -> list[LineString]:
    """Return the non-empty LineStrings of a geometry (an intersection may also yield points)."""
    return [
        cast(LineString, part)
        for part in shapely.get_parts(geometry)
        if part.geom_type == "LineString" and not part.is_empty and part.length > 0
    ]


def stretch_within(lines: Sequence[BaseGeometry], zone: BaseGeometry) -> tuple[BaseGeometry | None, list[int]]:
    """Return the parts of ``lines`` inside ``zone``, merged, and the positions of the lines that gave some.

    Parameters
    ----------
    lines
        The ways of one street (any one CRS, shared with ``zone``).
    zone
        The area, e.g. a commune widened by a tolerance for streets on its boundary.

    Returns
    -------
    tuple
        The merged stretch (`shapely.line_merge`; None when no line runs through the zone) and the
        positions in ``lines`` of the lines contributing to it, in order.
    """
    pieces: list[LineString] = []
    used: list[int] = []
    for position, line in enumerate(lines):
        if line.intersects(zone):
            parts = line_parts(line.intersection(zone))
            if parts:
                pieces.extend(parts)
                used.append(position)
    return (shapely.line_merge(MultiLineString(pieces)) if pieces else None), used


def middle_of_stretch(stretch: BaseGeometry, inside: BaseGeometry | None = None) -> Point:
    """Return the point of ``stretch`` nearest to its length-weighted centroid.

    Parameters
    ----------
    stretch
        A street's stretch in an area (lines; see `stretch_within`).
    inside
        When given, the point is taken from the part of the stretch inside it, if there is one (a
        street along a commune boundary may lie partly outside the polygon).

    Returns
    -------
    shapely.Point
        On the stretch, in its CRS.
    """
    middle = stretch.centroid
    on_street_inside = line_parts(stretch.intersection(inside)) if inside is not None else []
    candidates = MultiLineString(on_street_inside) if on_street_inside else stretch
    return cast(Point, nearest_points(candidates, middle)[0])
