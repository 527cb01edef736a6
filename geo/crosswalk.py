"""Crosswalk between Hanoi's 526 pre-merger units and the 126 units in force since 2025-07-01.

The only machine-readable statement of which old units formed each new one is the official
``beforeMerger`` text carried by lamngockhuong/vietnam-3d-map ``data/wards-metadata/1.json``, e.g.::

    Xã Đông La, Phường Dương Nội (phần còn lại sau khi sáp nhập vào phường Tây Mỗ, phường Đại Mỗ,
    phường Dương Nội), Xã An Khánh (phần còn lại ...), ...

This module parses that text into `FormerUnit` mentions, resolves each mention to one legacy unit of
`geo.legacy.load_legacy_units` and returns a `Crosswalk` of (legacy unit, new unit) pairs.

Matching, in order:

1. kind (phường / xã / thị trấn) and name, compared with a key that ignores case, punctuation ("Văn
   Miếu - Quốc Tử Giám" = "Văn Miếu Quốc Tử Giám") and tone-mark placement ("Thuỵ" = "Thụy") but keeps
   the diacritics themselves, because folding to ASCII merges distinct names ("Phú Đông" in Ba Vì and
   "Phù Đổng" in Gia Lâm both fold to "phu dong");
2. only if that finds nothing: the ASCII-folded name (a spelling variant), then the same name with
   another kind (the text and the registry disagree on phường/xã); each such match is reported in
   `Crosswalk.notes`;
3. homonyms (14 names are each shared by two legacy units of one kind, e.g. "Xã Tiền Phong" in Mê
   Linh and Thường Tín; 7 more pairs, such as Tiên Phong in Ba Vì, only collide once folded): the
   district qualifier of the text ("Xã Tiền Phong (huyện Mê Linh)") decides when present; otherwise
   the candidate whose point is nearest to the new unit (its polygon when ``communes`` has geometry,
   else the metadata centroid) wins: namesakes lie in different districts, many km apart, while a
   unit's point lies in or next to the unit it merged into.

The text names a unit that gave only a share of its area the same way as one that joined whole (the
resolution's "một phần diện tích" wording is not carried); only the new unit that received the
remainder says "phần còn lại". The relation is therefore derived from the pairs, not from the
wording: a legacy unit found in exactly one new unit is ``"whole"``, one found in several is
``"part"`` in each. The wording is kept in the ``stated_partial`` column. A rest clause also names
the new units that took the other shares; when such a unit's own list omits the legacy unit, the pair
is added from the clause (``match == "rest_clause"``) and reported.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from geo.errors import DataProblem, DataValidationError
from geo.geodesy import METRIC_CRS
from geo.settings import Settings
from geo.sources import paths_of_group
from geo.text import fold, nfc, slug, tone_key

__all__ = [
    "METADATA_GROUP",
    "PAIR_COLUMNS",
    "Crosswalk",
    "FormerUnit",
    "UnitName",
    "build_crosswalk",
    "load_metadata",
    "parse_before_merger",
    "parse_former_unit",
]

METADATA_GROUP = "hanoi-2025-metadata"
METADATA_FILE = "wards-metadata/1.json"
LEGACY_FILE = "vietnamadminunits admin_units_legacy"
PAIR_COLUMNS = [
    "legacy_code",
    "legacy_name",
    "legacy_full_name",
    "legacy_district",
    "new_code",
    "new_name",
    "new_full_name",
    "relation",
    "stated_partial",
    "match",
    "distance_km",
]

_UNIT_PREFIXES = {"phường": "phuong", "xã": "xa", "thị trấn": "thi_tran"}
_KIND_LABEL = {"phuong": "Phường", "xa": "Xã", "thi_tran": "Thị trấn"}
_NEW_KIND_TO_UNIT = {"ward": "phuong", "commune": "xa"}
_DISTRICT_PREFIXES = ("quận", "huyện", "thị xã", "thành phố")
_REST_PREFIX = "phần còn lại sau khi sáp nhập vào"
# Vietnamese tone marks as NFD combining characters. Vowel-quality marks (circumflex, breve, horn) are
# not tones and stay in the key.


class UnitName(NamedTuple):
    """A commune-level unit as named in text: ``kind`` (phuong / xa / thi_tran) and bare ``name``."""

    kind: str
    name: str

    @property
    def full_name(self) -> str:
        """The name with its type prefix, e.g. ``"Phường Ba Đình"``."""
        return f"{_KIND_LABEL[self.kind]} {self.name}"


@dataclass(frozen=True)
class FormerUnit:
    """One former unit named in a ``beforeMerger`` text.

    Attributes
    ----------
    kind, name
        Type (``"phuong"``, ``"xa"``, ``"thi_tran"``) and bare name as written (NFC).
    district
        District qualifier written after the name to tell homonyms apart, e.g. ``"huyện Phú Xuyên"``.
    partial
        Whether the text says only the remainder ("phần còn lại") of the unit joined.
    rest_went_to
        New units that took the other parts, from "(phần còn lại sau khi sáp nhập vào ...)".
    text
        The item as written.
    """

    kind: str
    name: str
    district: str | None = None
    partial: bool = False
    rest_went_to: tuple[UnitName, ...] = ()
    text: str = ""

    @property
    def full_name(self) -> str:
        """The name with its type prefix, e.g. ``"Xã Tân Dân"``."""
        return UnitName(self.kind, self.name).full_name


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses (the rest-clause lists its own commas)."""
    items: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(depth - 1, 0)
        if ch == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(ch)
    items.append("".join(current))
    return [nfc(item) for item in items if nfc(item)]


def _trailing_groups(item: str) -> tuple[str, list[str]]:
    """Cut the trailing ``(...)`` groups off an item: ``("Xã Tam Hiệp", ["huyện Thanh Trì", ...])``."""
    groups: list[str] = []
    head = item.strip()
    while head.endswith(")"):
        depth = 0
        for i in range(len(head) - 1, -1, -1):
            if head[i] == ")":
                depth += 1
            elif head[i] == "(":
                depth -= 1
                if depth == 0:
                    groups.insert(0, nfc(head[i + 1 : -1]))
                    head = head[:i].strip()
                    break
        else:
            raise ValueError(f"unbalanced parentheses in {item!r}")
    return head, groups


def _unit_name(text: str) -> UnitName:
    """Parse ``"phường Tây Mỗ"`` / ``"Thị trấn Văn Điển"`` into a `UnitName`."""
    text = nfc(text)
    lowered = text.lower()
    # Longest prefix first so "thị trấn" is not mistaken for something shorter.
    for prefix in sorted(_UNIT_PREFIXES, key=len, reverse=True):
        if lowered.startswith(prefix + " "):
            name = text[len(prefix) :].strip()
            if name:
                return UnitName(_UNIT_PREFIXES[prefix], name)
    raise ValueError(f"{text!r} does not start with Phường, Xã or Thị trấn")


def parse_former_unit(item: str) -> FormerUnit:
    """Parse one item of a ``beforeMerger`` list into a `FormerUnit`.

    Parameters
    ----------
    item
        E.g. ``"Xã Tam Hiệp (huyện Thanh Trì) (phần còn lại sau khi sáp nhập vào phường Hoàng Liệt)"``.

    Returns
    -------
    FormerUnit
        With the district qualifier and the rest clause split out.

    Raises
    ------
    ValueError
        If the item has no unit prefix, unbalanced parentheses or a parenthesis of unknown meaning.
    """
    head, groups = _trailing_groups(nfc(item))
    if "(" in head or ")" in head:
        raise ValueError(f"unbalanced parentheses in {item!r}")
    unit = _unit_name(head)
    district: str | None = None
    partial = False
    rest: list[UnitName] = []
    for group in groups:
        lowered = group.lower()
        if lowered.startswith(_DISTRICT_PREFIXES):
            district = group
        elif lowered.startswith(_REST_PREFIX):
            partial = True
            rest.extend(_unit_name(t) for t in _split_top_level(group[len(_REST_PREFIX) :]))
        elif lowered.startswith(("phần", "một phần")):
            # A remainder or share without a destination list: still partial.
            partial = True
        else:
            raise ValueError(f"unknown parenthesis ({group}) in {item!r}")
    return FormerUnit(unit.kind, unit.name, district, partial, tuple(rest), nfc(item))


def parse_before_merger(text: str) -> list[FormerUnit]:
    """Parse a whole ``beforeMerger`` text into its former units, in order.

    Parameters
    ----------
    text
        Comma-separated items, e.g. ``"Phường Quán Thánh, Phường Cửa Đông (phần còn lại sau khi sáp
        nhập vào phường Hoàn Kiếm)"``.

    Returns
    -------
    list of FormerUnit
        One per item; empty for an empty text.

    Raises
    ------
    ValueError
        Naming every item that could not be parsed (see `parse_former_unit`).
    """
    units: list[FormerUnit] = []
    errors: list[str] = []
    for item in _split_top_level(text or ""):
        try:
            units.append(parse_former_unit(item))
        except ValueError as exc:
            errors.append(str(exc))
    if errors:
        raise ValueError("; ".join(errors))
    return units


@dataclass
class Crosswalk:
    """Which legacy units formed which new units.

    Attributes
    ----------
    pairs
        One row per (legacy unit, new unit), columns `PAIR_COLUMNS`: ``legacy_code``, ``legacy_name``
        (bare), ``legacy_full_name``, ``legacy_district``, ``new_code``, ``new_name`` (bare),
        ``new_full_name``, ``relation`` (``"whole"`` if the legacy unit is in exactly one new unit,
        ``"part"`` if in several), ``stated_partial`` (the text says "phần còn lại"), ``match`` (how the
        legacy unit was chosen: ``"name"``, ``"district"``, ``"nearest"``, ``"folded"``,
        ``"other_kind"``, ``"rest_clause"``, joined by ``+``) and ``distance_km`` (legacy point to the new
        unit's polygon, 0 inside; to its centroid when there is no polygon). Sorted by legacy then new code.
    unplaced
        Every legacy unit that no new unit names, and every mention that matches no legacy unit.
    notes
        Matches that needed a fallback and inconsistencies in the text that did not stop a match.
    """

    pairs: pd.DataFrame
    unplaced: list[DataProblem] = field(default_factory=list)
    notes: list[DataProblem] = field(default_factory=list)

    def new_units_of(self, legacy_code: str) -> pd.DataFrame:
        """Rows of `pairs` for one legacy unit (empty if it is unplaced or unknown)."""
        return self.pairs[self.pairs["legacy_code"] == str(legacy_code)].reset_index(drop=True)

    def legacy_units_of(self, new_code: str) -> pd.DataFrame:
        """Rows of `pairs` for one new unit (empty if the code is unknown)."""
        return self.pairs[self.pairs["new_code"] == str(new_code)].reset_index(drop=True)

    def counts(self) -> dict[str, int]:
        """Summary numbers: pairs, distinct legacy units placed, whole/part pairs, unplaced problems."""
        relation = self.pairs["relation"].value_counts()
        return {
            "pairs": len(self.pairs),
            "legacy_placed": int(self.pairs["legacy_code"].nunique()),
            "whole": int(relation.get("whole", 0)),
            "part": int(relation.get("part", 0)),
            "legacy_split": int(self.pairs.loc[self.pairs["relation"] == "part", "legacy_code"].nunique()),
            "unplaced": len(self.unplaced),
        }


def load_metadata(settings: Settings | None = None) -> list[dict[str, Any]]:
    """Read the pinned ``wards-metadata/1.json`` and return its ``wards`` list (126 dicts).

    Raises
    ------
    DataValidationError
        If the file has no ``wards`` list or an entry lacks ``name``, ``type`` or ``beforeMerger``.
    SourceUnavailable, ChecksumMismatch
        From `geo.sources.paths_of_group` when the file cannot be obtained.
    """
    (path,) = paths_of_group(METADATA_GROUP, settings)
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    wards = raw.get("wards") if isinstance(raw, dict) else None
    if not isinstance(wards, list):
        raise DataValidationError([DataProblem(str(path), "no 'wards' list")])
    problems = [
        DataProblem(str(path), f"entry lacks {', '.join(missing)}", row=i, id=str(entry.get("name")))
        for i, entry in enumerate(wards, start=1)
        if (missing := [k for k in ("name", "type", "beforeMerger") if not isinstance(entry.get(k), str)])
    ]
    if problems:
        raise DataValidationError(problems)
    return wards


@dataclass(frozen=True)
class _NewUnit:
    code: str
    name: str
    full_name: str
    kind: str  # phuong | xa
    row: int  # 1-based position in the metadata list, for problem reports
    shape: BaseGeometry  # polygon or centroid, metric CRS


@dataclass(frozen=True)
class _Legacy:
    code: str
    name: str
    full_name: str
    kind: str
    district: str
    point: BaseGeometry  # metric CRS


def _new_units(
    communes: pd.DataFrame, metadata: Sequence[Mapping[str, Any]], source: str
) -> tuple[list[tuple[_NewUnit, str]], list[DataProblem]]:
    """Join the new units with their metadata entry by kind + name; return (unit, beforeMerger) pairs."""
    problems: list[DataProblem] = []
    by_key: dict[tuple[str, str], tuple[int, Mapping[str, Any]]] = {}
    for i, entry in enumerate(metadata, start=1):
        kind = _UNIT_PREFIXES.get(nfc(str(entry.get("type", ""))).lower())
        key = (kind or "?", tone_key(str(entry.get("name", ""))))
        if kind is None or key in by_key:
            why = "unknown type" if kind is None else "duplicate name + type"
            problems.append(DataProblem(source, f"{why}: {entry.get('type')} {entry.get('name')}", row=i))
            continue
        by_key[key] = (i, entry)

    has_polygons = isinstance(communes, gpd.GeoDataFrame) and communes.geometry.notna().all()
    if has_polygons:
        shapes = list(gpd.GeoSeries(communes.geometry, crs=communes.crs).to_crs(METRIC_CRS))
    units: list[tuple[_NewUnit, str]] = []
    used: set[tuple[str, str]] = set()
    for pos, row in enumerate(communes.itertuples(index=False)):
        kind = _NEW_KIND_TO_UNIT.get(str(row.kind), str(row.kind))
        key = (kind, tone_key(str(row.name)))
        found = by_key.get(key)
        if found is None:
            problems.append(DataProblem(source, f"no metadata entry for {row.full_name}", id=str(row.code)))
            continue
        used.add(key)
        i, entry = found
        if has_polygons:
            shape = shapes[pos]
        else:
            lonlat = gpd.GeoSeries(
                [Point(float(entry["longitude"]), float(entry["latitude"]))], crs="EPSG:4326"
            )
            shape = lonlat.to_crs(METRIC_CRS).iloc[0]
        unit = _NewUnit(str(row.code), nfc(str(row.name)), nfc(str(row.full_name)), kind, i, shape)
        units.append((unit, str(entry.get("beforeMerger") or "")))
    for key, (i, entry) in by_key.items():
        if key not in used:
            problems.append(
                DataProblem(
                    source, f"metadata entry {entry.get('type')} {entry.get('name')} is no new unit", row=i
                )
            )
    return units, problems


def _legacy_units(legacy: gpd.GeoDataFrame) -> list[_Legacy]:
    points = gpd.GeoSeries(legacy.geometry, crs=legacy.crs or "EPSG:4326").to_crs(METRIC_CRS)
    return [
        _Legacy(str(r.code), str(r.name), str(r.full_name), str(r.kind), str(r.district), pt)
        for r, pt in zip(legacy.itertuples(index=False), points, strict=True)
    ]


class _Matcher:
    """Resolve a `FormerUnit` mention to one legacy unit (see the module docstring for the rules)."""

    def __init__(self, legacy: Iterable[_Legacy]) -> None:
        self.strict: dict[str, list[_Legacy]] = defaultdict(list)
        self.loose: dict[str, list[_Legacy]] = defaultdict(list)
        for unit in legacy:
            self.strict[tone_key(unit.name)].append(unit)
            self.loose[slug(unit.name)].append(unit)

    def match(self, mention: FormerUnit, near: BaseGeometry) -> tuple[_Legacy | None, list[str], str]:
        """Return (legacy unit or None, how it was chosen, a note if a fallback was needed)."""
        how: list[str] = []
        note = ""
        same_kind = [u for u in self.strict.get(tone_key(mention.name), []) if u.kind == mention.kind]
        if same_kind:
            candidates, how = same_kind, ["name"]
        else:
            candidates = [u for u in self.loose.get(slug(mention.name), []) if u.kind == mention.kind]
            how = ["folded"]
            if not candidates:
                candidates = self.strict.get(tone_key(mention.name), []) or self.loose.get(
                    slug(mention.name), []
                )
                how = ["other_kind"]
            if candidates:
                names = ", ".join(f"{u.full_name} ({u.district})" for u in candidates)
                note = f"{mention.full_name}: no exact kind + name match; candidates {names}"
        if not candidates:
            return None, [], ""
        if mention.district:
            in_district = [u for u in candidates if fold(u.district) == fold(mention.district)]
            if in_district:
                if len(in_district) < len(candidates):
                    how.append("district")
                candidates = in_district
            else:
                note = (note + "; " if note else "") + (
                    f"{mention.full_name}: qualifier ({mention.district}) matches no candidate, ignored"
                )
        if len(candidates) > 1:
            candidates = sorted(candidates, key=lambda u: (u.point.distance(near), u.code))
            how.append("nearest")
        return candidates[0], how, note


def build_crosswalk(
    communes: pd.DataFrame,
    metadata: Sequence[Mapping[str, Any]],
    legacy: gpd.GeoDataFrame,
    *,
    source: str = METADATA_FILE,
    use_rest_clauses: bool = True,
) -> Crosswalk:
    """Build the legacy → new crosswalk from the official ``beforeMerger`` texts.

    Parameters
    ----------
    communes
        The new units: columns ``code``, ``name`` (bare), ``full_name``, ``kind`` (``"ward"`` or
        ``"commune"``). If it is a GeoDataFrame with polygons, they are used for homonyms and distances;
        otherwise the metadata centroids are.
    metadata
        The ``wards`` list of ``wards-metadata/1.json`` (see `load_metadata`), joined by kind + name.
    legacy
        The pre-merger units from `geo.legacy.load_legacy_units`.
    source
        File name used in the `DataProblem` reports.
    use_rest_clauses
        Also add the pairs that only a rest clause states ("phần còn lại sau khi sáp nhập vào X" where X's
        own list omits the unit); each is reported in `Crosswalk.notes` either way.

    Returns
    -------
    Crosswalk
        Pairs with their relation, the unplaced units and mentions, and notes.
    """
    new_units, join_problems = _new_units(communes, metadata, source)
    legacy_units = _legacy_units(legacy)
    read = _read_mentions(new_units, legacy_units, source)
    notes: list[DataProblem] = [*join_problems, *read.notes]
    notes += _apply_rest_clauses(read, source, use_rest_clauses)
    new_by_code = {u.code: u for u, _ in new_units}
    legacy_by_code = {u.code: u for u in legacy_units}
    notes += _overlisted(read, new_by_code, legacy_by_code, source)
    pairs = _pairs_frame(read.found, legacy_by_code, new_by_code)
    unplaced = read.unplaced + _never_named(set(pairs["legacy_code"]), legacy_units, new_units)
    return Crosswalk(pairs=pairs, unplaced=unplaced, notes=notes)


@dataclass
class _Mentions:
    """What the ``beforeMerger`` texts state, before rest clauses are weighed."""

    # (legacy code, new code) -> [stated_partial, match]
    found: dict[tuple[str, str], list[Any]]
    # rest clauses: (legacy unit, new unit whose text has the clause, the mention, the target new units)
    rests: list[tuple[_Legacy, _NewUnit, FormerUnit, list[_NewUnit]]]
    unplaced: list[DataProblem]
    notes: list[DataProblem]


def _read_mentions(new_units: list[tuple[_NewUnit, str]], legacy_units: list[_Legacy], source: str) -> _Mentions:
    """Parse every new unit's list of former units and match each mention to a legacy unit."""
    matcher = _Matcher(legacy_units)
    new_by_key = {(u.kind, tone_key(u.name)): u for u, _ in new_units}
    read = _Mentions(found={}, rests=[], unplaced=[], notes=[])

    def problem(unit: _NewUnit, message: str, item: str | None = None) -> DataProblem:
        context = {"item": item} if item is not None else {}
        return DataProblem(source, f"{unit.full_name}: {message}", row=unit.row, id=unit.code, context=context)

    for unit, text in new_units:
        for item in _split_top_level(text):
            try:
                mention = parse_former_unit(item)
            except ValueError as exc:
                read.unplaced.append(problem(unit, f"cannot parse {exc}", item))
                continue
            match, how, note = matcher.match(mention, unit.shape)
            if note:
                read.notes.append(problem(unit, note, item))
            if match is None:
                read.unplaced.append(problem(unit, f"former unit {mention.full_name!r} matches no legacy unit", item))
                continue
            key = (match.code, unit.code)
            if key in read.found:
                read.found[key][0] = read.found[key][0] or mention.partial
            else:
                read.found[key] = [mention.partial, "+".join(how)]
            targets: list[_NewUnit] = []
            for named in mention.rest_went_to:
                resolved = new_by_key.get((named.kind, tone_key(named.name)))
                if resolved is None:
                    message = f"{mention.full_name}: rest went to {named.full_name!r}, no new unit"
                    read.notes.append(problem(unit, message, item))
                else:
                    targets.append(resolved)
            if targets:
                read.rests.append((match, unit, mention, targets))
    return read


def _apply_rest_clauses(read: _Mentions, source: str, use_rest_clauses: bool) -> list[DataProblem]:
    """Add (when asked) the pairs only a rest clause states, and report each.

    A rest clause says where the other parts of a split unit went. The target's own list usually names the
    unit too; when it does not, the clause is the only statement of that pair, so it is added (match
    ``rest_clause``, unless ``use_rest_clauses`` is off) and reported.
    """
    listed = set(read.found)
    reported: set[tuple[str, str]] = set()
    notes: list[DataProblem] = []
    for match, unit, _, targets in read.rests:
        for target in targets:
            key = (match.code, target.code)
            if key in listed or key in reported:
                continue
            reported.add(key)
            if use_rest_clauses:
                read.found[key] = [True, "rest_clause"]
            outcome = "pair added from that clause" if use_rest_clauses else "pair not added"
            message = (
                f"{target.full_name} does not list {match.full_name} ({match.district}), but "
                f"{unit.full_name} says part of it went there; {outcome}"
            )
            notes.append(DataProblem(source, message, row=target.row, id=target.code))
    return notes


def _overlisted(
    read: _Mentions, new_by_code: dict[str, _NewUnit], legacy_by_code: dict[str, _Legacy], source: str
) -> list[DataProblem]:
    """Report units listed by a new unit that their own rest clauses do not name (the pair stays).

    The listing is an explicit statement, so the pair is kept; the disagreement is reported.
    """
    claimed: dict[str, set[str]] = defaultdict(set)
    for match, unit, _, targets in read.rests:
        claimed[match.code] |= {unit.code, *(t.code for t in targets)}
    notes: list[DataProblem] = []
    for legacy_code, new_code in sorted(read.found):
        if legacy_code in claimed and new_code not in claimed[legacy_code]:
            old = legacy_by_code[legacy_code]
            listed_in = new_by_code[new_code]
            stated = ", ".join(sorted(new_by_code[c].full_name for c in claimed[legacy_code]))
            message = (
                f"{listed_in.full_name} lists {old.full_name} ({old.district}), but the rest clauses "
                f"of that unit place it only in {stated}; pair kept"
            )
            notes.append(DataProblem(source, message, row=listed_in.row, id=listed_in.code))
    return notes


def _never_named(
    placed: set[str], legacy_units: list[_Legacy], new_units: list[tuple[_NewUnit, str]]
) -> list[DataProblem]:
    """A problem for each legacy unit that no new unit's text names, with the unit its point lies in."""
    problems: list[DataProblem] = []
    for u in legacy_units:
        if u.code in placed:
            continue
        inside = [n for n, _ in new_units if n.shape.contains(u.point)]
        hint = f"; its point lies in {inside[0].full_name} ({inside[0].code})" if inside else ""
        problems.append(
            DataProblem(
                LEGACY_FILE,
                f"{u.full_name} ({u.district}) is named by no new unit's beforeMerger text{hint}",
                id=u.code,
                context={"contained_in": inside[0].code} if inside else {},
            )
        )
    return problems


def _pairs_frame(
    found: Mapping[tuple[str, str], Sequence[Any]],
    legacy: Mapping[str, _Legacy],
    new: Mapping[str, _NewUnit],
) -> pd.DataFrame:
    """Assemble the pairs table; relation comes from how many new units each legacy unit is in."""
    per_legacy: dict[str, int] = defaultdict(int)
    for legacy_code, _ in found:
        per_legacy[legacy_code] += 1
    rows = []
    for (legacy_code, new_code), (stated_partial, how) in sorted(found.items()):
        old, cur = legacy[legacy_code], new[new_code]
        rows.append(
            {
                "legacy_code": legacy_code,
                "legacy_name": old.name,
                "legacy_full_name": old.full_name,
                "legacy_district": old.district,
                "new_code": new_code,
                "new_name": cur.name,
                "new_full_name": cur.full_name,
                "relation": "part" if per_legacy[legacy_code] > 1 else "whole",
                "stated_partial": bool(stated_partial),
                "match": how,
                "distance_km": round(old.point.distance(cur.shape) / 1000.0, 3),
            }
        )
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)
