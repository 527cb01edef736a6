"""Staff changes to the live network: what they are, when they are valid, and how they alter the places.

The reviewed CSV files say how the network normally is; the staff who run it correct it between releases:
a place closed for a day or an afternoon, special hours, a corrected location, a procedure temporarily not
taken at a place, a notice for citizens. A change never edits the index: it is laid over it
(`overlay_points`), so the next rebuild and the next change see the same reviewed base.

Closures and special hours become date-bound rules appended to the place's OSM ``opening_hours`` string
(``2026 Dec 01 13:00-17:00 off "reason"``), so every question the hours engine already answers (open now?
when does it reopen? what are today's hours?) takes them into account, for any time asked about, with the
staff's reason as the rule's comment. Whole days become normal rules (``;``: they replace the day), parts of
a day additional rules (``,``: they close only those hours).

Undo is a change too (kind ``undo``): nothing is ever edited or deleted (see `geo.store.staff`).

Examples
--------
>>> from datetime import datetime
>>> from geo.hours import TZ
>>> closure = Change(
...     id="chg-1", kind="closure", place_id="p1", reason="Họp giao ban",
...     starts=datetime(2026, 12, 1, 13, 0, tzinfo=TZ), ends=datetime(2026, 12, 1, 17, 0, tzinfo=TZ),
... )
>>> hours_with_changes("Mo-Fr 08:00-12:00,13:00-17:00; PH off", [closure])
'Mo-Fr 08:00-12:00,13:00-17:00; PH off, 2026 Dec 01 13:00-17:00 off "Họp giao ban"'
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, get_args

import geopandas as gpd
import pandas as pd
import shapely

from geo.errors import DataProblem, DataValidationError
from geo.geodesy import in_hanoi_bbox
from geo.hours import TZ, parse_hours
from geo.messages import change_kind_label, message

__all__ = [
    "CHANGE_KINDS",
    "MAX_CHANGE_DAYS",
    "Change",
    "ChangeKind",
    "ExportReport",
    "Overlay",
    "active_changes",
    "export_changes",
    "hours_with_changes",
    "overlay_points",
    "validate_change",
    "with_id",
]

ChangeKind = Literal["closure", "special_hours", "location", "procedure_unavailable", "notice", "undo"]
CHANGE_KINDS: tuple[ChangeKind, ...] = get_args(ChangeKind)
LocationMethod = Literal["surveyed", "staff_map"]
# A closure or special hours spans at most a year: each day becomes a rule in the place's hours string.
MAX_CHANGE_DAYS = 366
MAX_REASON_CHARS = 1_000
MAX_NOTICE_CHARS = 2_000
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Change:
    """One change a staff member made, as stored (immutable; undo is another change).

    Attributes
    ----------
    id
        Assigned by the store (``chg-000001``); the source of every record it alters.
    kind
        What it changes (`CHANGE_KINDS`).
    place_id
        The service point it applies to (for ``undo``: the place of the change it undoes).
    reason
        Why, in the staff member's words; shown to citizens with closures and notices.
    starts, ends
        When it applies (aware datetimes; ``ends`` exclusive). None: from the start / with no end.
        Required for closures and special hours.
    hours
        ``special_hours``: the ``opening_hours`` time part for those days (``08:00-11:00``, ``off``).
    lon, lat, precision, method, measured
        ``location``: the corrected point, its precision (``exact`` only when surveyed on site), how it was
        placed (``surveyed``, ``staff_map``) and how it was measured, in words.
    procedure
        ``procedure_unavailable``: the national code no longer taken at the place during the range.
    notice
        ``notice``: the text shown to citizens with the place.
    undoes
        ``undo``: the id of the change it cancels.
    author, created_at
        Who made it (the token's name) and when (set by the store).
    """

    id: str
    kind: ChangeKind
    place_id: str
    reason: str
    starts: datetime | None = None
    ends: datetime | None = None
    hours: str | None = None
    lon: float | None = None
    lat: float | None = None
    precision: Literal["exact", "approximate"] | None = None
    method: LocationMethod | None = None
    measured: str | None = None
    procedure: str | None = None
    notice: str | None = None
    undoes: str | None = None
    confirm_outside_commune: bool = False
    author: str = ""
    created_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The change as JSON-ready fields (times ISO 8601 with offset)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Change:
        """A change from `to_json`'s fields."""
        values = dict(data)
        for name in ("starts", "ends", "created_at"):
            if values.get(name):
                values[name] = datetime.fromisoformat(values[name])
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})

    def applies_during(self, start: datetime, end: datetime) -> bool:
        """Tell whether the change's range overlaps ``[start, end)``."""
        return (self.starts is None or self.starts < end) and (self.ends is None or self.ends > start)


def active_changes(changes: Iterable[Change], now: datetime | None = None) -> list[Change]:
    """The changes still in force: not undone, and (when ``now`` is given) not ended before ``now``."""
    changes = list(changes)
    undone = {c.undoes for c in changes if c.kind == "undo"}
    kept = [c for c in changes if c.kind != "undo" and c.id not in undone]
    if now is not None:
        kept = [c for c in kept if c.ends is None or c.ends > now]
    return kept


# --------------------------------------------------------------------------- validation
@dataclass(frozen=True)
class _Places:
    """What validation needs to know of the network: places, their communes, procedures."""

    points: gpd.GeoDataFrame
    communes: gpd.GeoDataFrame
    procedure_codes: frozenset[str]


def validate_change(
    change: Change,
    points: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    procedure_codes: Iterable[str],
    existing: Sequence[Change] = (),
) -> None:
    """Check a change before it is stored; raise with every problem, each naming its field.

    Parameters
    ----------
    change
        The change as submitted (id, author and time not yet assigned).
    points, communes
        The index's service points (``id``, ``commune_code``, geometry) and commune polygons (``code``).
    procedure_codes
        The codes of every known procedure.
    existing
        The changes stored so far (an ``undo`` must name one of them, not yet undone).

    Raises
    ------
    DataValidationError
        One `DataProblem` per problem, ``column`` naming the field (``starts``, ``lat``, ``hours`` …), what
        is wrong said in Vietnamese (``message``) with the English beside it (``message_en``) and the
        catalogue's ``code`` (`geo.messages`, codes ``change_…``).
    """
    places = _Places(points, communes, frozenset(procedure_codes))
    problems: list[DataProblem] = []

    def add(column: str, what: str, /, **params: Any) -> None:
        said = message(what, **params)
        problems.append(DataProblem.from_message("change", said, id=change.place_id or None, column=column))

    place = _check_place(change, places, add)
    _check_text(change, add)
    _check_range(change, add)
    checks = {
        "closure": lambda: None,
        "special_hours": lambda: _check_special_hours(change, add),
        "location": lambda: _check_location(change, place, places, add),
        "procedure_unavailable": lambda: _check_procedure(change, places, add),
        "notice": lambda: _check_notice(change, add),
        "undo": lambda: _check_undo(change, existing, add),
    }
    if change.kind in checks:
        checks[change.kind]()
    if problems:
        raise DataValidationError(problems)


def _check_place(change: Change, places: _Places, add: Any) -> pd.Series | None:
    if change.kind not in CHANGE_KINDS:
        add("kind", "change_unknown_kind", kind=change.kind, kinds=", ".join(CHANGE_KINDS))
    if change.kind == "undo":
        return None
    found = places.points[places.points["id"] == change.place_id]
    if found.empty:
        add("place_id", "change_no_place", id=change.place_id)
        return None
    return found.iloc[0]


def _check_text(change: Change, add: Any) -> None:
    reason = change.reason.strip()
    if not reason:
        add("reason", "change_reason_missing")
    elif len(reason) > MAX_REASON_CHARS:
        add("reason", "change_text_too_long", limit=MAX_REASON_CHARS, count=len(reason))


def _check_range(change: Change, add: Any) -> None:
    for name in ("starts", "ends"):
        value = getattr(change, name)
        if value is not None and value.utcoffset() is None:
            add(name, "change_time_no_offset")
            return
    if change.kind in ("closure", "special_hours") and (change.starts is None or change.ends is None):
        field_name = "starts" if change.starts is None else "ends"
        add(field_name, "change_needs_range", kind=change.kind, kind_vi=change_kind_label(change.kind))
        return
    if change.starts is not None and change.ends is not None:
        if change.ends <= change.starts:
            add("ends", "change_ends_before_starts", ends=change.ends, starts=change.starts)
        elif change.ends - change.starts > timedelta(days=MAX_CHANGE_DAYS):
            add("ends", "change_span_too_long", days=MAX_CHANGE_DAYS)


def _check_special_hours(change: Change, add: Any) -> None:
    text = (change.hours or "").strip()
    if not text:
        add("hours", "change_hours_missing")
        return
    if '"' in text or ";" in text:
        add("hours", "change_hours_only_times")
        return
    try:
        parse_hours(f"2026 Jan 05 {text}", "change.hours")
    except DataValidationError as exc:
        add("hours", "change_hours_invalid", hours=text, detail=exc.problems[0].message)


def _check_location(change: Change, place: pd.Series | None, places: _Places, add: Any) -> None:
    lon, lat = change.lon, change.lat
    if lon is None or lat is None or not (math.isfinite(lon) and math.isfinite(lat)):
        add("lat" if lat is None else "lon", "change_point_missing")
        return
    if not in_hanoi_bbox(lon, lat):
        swapped = in_hanoi_bbox(lat, lon)
        add("lon", "change_outside_hanoi_swapped" if swapped else "change_outside_hanoi", lon=lon, lat=lat)
        return
    if change.precision not in ("exact", "approximate"):
        add("precision", "change_precision_invalid")
    elif change.precision == "exact" and change.method != "surveyed":
        add("precision", "change_exact_needs_survey")
    if change.method not in get_args(LocationMethod):
        add("method", "change_method_invalid", methods=", ".join(get_args(LocationMethod)))
    if not (change.measured or "").strip():
        add("measured", "change_measured_missing")
    if place is None or change.confirm_outside_commune:
        return
    commune = places.communes[places.communes["code"] == place.get("commune_code")]
    if not commune.empty and not shapely.covers(commune.geometry.iloc[0], shapely.Point(lon, lat)):
        add("lon", "change_outside_commune", commune=place.get("commune_name"))


def _check_procedure(change: Change, places: _Places, add: Any) -> None:
    if not change.procedure:
        add("procedure", "change_procedure_missing")
    elif change.procedure not in places.procedure_codes:
        add("procedure", "change_unknown_procedure", code=change.procedure)


def _check_notice(change: Change, add: Any) -> None:
    text = (change.notice or "").strip()
    if not text:
        add("notice", "change_notice_missing")
    elif len(text) > MAX_NOTICE_CHARS:
        add("notice", "change_text_too_long", limit=MAX_NOTICE_CHARS, count=len(text))


def _check_undo(change: Change, existing: Sequence[Change], add: Any) -> None:
    target = next((c for c in existing if c.id == change.undoes), None)
    if target is None:
        add("undoes", "change_undo_unknown", id=change.undoes or "")
    elif target.kind == "undo":
        add("undoes", "change_undo_of_undo")
    elif any(c.kind == "undo" and c.undoes == target.id for c in existing):
        add("undoes", "change_already_undone", id=target.id)


# --------------------------------------------------------------------------- hours
def hours_with_changes(hours: str | None, changes: Sequence[Change]) -> str | None:
    """The place's ``opening_hours`` with its closures and special hours appended as date-bound rules.

    Special hours replace their days (normal rules, ``;``); a closure of whole days does too; a closure of
    part of a day closes only those hours (an additional rule, ``,``), so it must come last. A place with
    no known hours keeps unknown hours outside its changes (``open "unknown"`` would be a guess).
    """
    timed = [c for c in changes if c.kind in ("closure", "special_hours") and c.starts and c.ends]
    if not timed:
        return hours
    normal: list[str] = []
    additional: list[str] = []
    for change in sorted(timed, key=lambda c: (c.starts, c.id)):
        assert change.starts is not None and change.ends is not None
        for day, start, end in _days(change.starts, change.ends):
            whole = start == time(0) and end is None
            comment = f' "{_comment(change.reason)}"'
            if change.kind == "special_hours":
                normal.append(f"{_osm_date(day)} {change.hours}{comment}")
            elif whole:
                normal.append(f"{_osm_date(day)} off{comment}")
            else:
                span = f"{start:%H:%M}-{'24:00' if end is None else f'{end:%H:%M}'}"
                additional.append(f"{_osm_date(day)} {span} off{comment}")
    base = (hours or "").strip() or "unknown"
    text = "; ".join([base, *normal])
    return ", ".join([text, *additional])


def _days(starts: datetime, ends: datetime) -> Iterable[tuple[date, time, time | None]]:
    """Split ``[starts, ends)`` (local time) into (day, start, end) with end None for midnight."""
    start, end = starts.astimezone(TZ), ends.astimezone(TZ)
    day = start.date()
    while datetime.combine(day, time(0), TZ) < end:
        day_start = datetime.combine(day, time(0), TZ)
        lo = max(start, day_start)
        hi = min(end, day_start + _DAY)
        if hi > lo:
            yield day, lo.time(), None if hi == day_start + _DAY else hi.time()
        day += _DAY


def _osm_date(day: date) -> str:
    return f"{day.year} {_MONTHS[day.month - 1]} {day.day:02d}"


def _comment(text: str) -> str:
    """A reason made safe inside an ``opening_hours`` comment (no quotes, one line)."""
    return " ".join(text.replace('"', "'").split())[:200]


# --------------------------------------------------------------------------- overlay
@dataclass(frozen=True)
class Overlay:
    """The points table with the changes laid over it, and what each change did."""

    points: gpd.GeoDataFrame
    unavailable: dict[tuple[str, str], list[Change]] = field(default_factory=dict)
    orphans: list[Change] = field(default_factory=list)


def overlay_points(points: gpd.GeoDataFrame, changes: Sequence[Change]) -> Overlay:
    """Lay the active ``changes`` over the index's service points.

    Returns a copy of ``points`` whose affected rows carry the new hours, location and notices, with
    ``source = "staff"`` and ``change_ids`` listing the changes that altered them; which procedures are
    unavailable where and when (``unavailable``: (place id, code) → changes); and the changes whose place
    the index no longer has (``orphans``), so they are reported rather than silently dropped.
    """
    live = active_changes(changes)
    out = points.copy()
    for column, default in (("change_ids", None), ("notices", None)):
        if column not in out.columns:
            out[column] = default
    out["change_ids"] = [[] for _ in range(len(out))]
    out["notices"] = [[] for _ in range(len(out))]
    row_of = {str(pid): i for i, pid in enumerate(out["id"])}
    by_place: dict[int, list[Change]] = {}
    orphans: list[Change] = []
    for change in live:
        row = row_of.get(change.place_id)
        if row is None:
            orphans.append(change)
        else:
            by_place.setdefault(row, []).append(change)
    unavailable: dict[tuple[str, str], list[Change]] = {}
    for row, own in by_place.items():
        _apply(out, row, own, unavailable)
    return Overlay(points=out, unavailable=unavailable, orphans=orphans)


def _apply(
    out: gpd.GeoDataFrame, row: int, own: list[Change], unavailable: dict[tuple[str, str], list[Change]]
) -> None:
    label = out.index[row]
    pid = str(out.at[label, "id"])
    out.at[label, "opening_hours"] = hours_with_changes(out.at[label, "opening_hours"], own)
    for change in own:
        if change.kind == "location" and change.lon is not None and change.lat is not None:
            out.at[label, "geometry"] = shapely.Point(change.lon, change.lat)
            out.at[label, "location_precision"] = change.precision
            out.at[label, "location_method"] = change.method
        elif change.kind == "procedure_unavailable" and change.procedure:
            unavailable.setdefault((pid, change.procedure), []).append(change)
        elif change.kind == "notice":
            out.at[label, "notices"] = [*out.at[label, "notices"], _notice(change)]
    out.at[label, "source"] = "staff"
    out.at[label, "change_ids"] = [c.id for c in own]


def _notice(change: Change) -> dict[str, Any]:
    return {
        "change_id": change.id,
        "text": change.notice,
        "starts": change.starts.isoformat() if change.starts else None,
        "ends": change.ends.isoformat() if change.ends else None,
    }


def with_id(change: Change, change_id: str, author: str, created_at: datetime) -> Change:
    """The submitted change as stored: its id, author and time assigned."""
    return replace(change, id=change_id, author=author, created_at=created_at)


# --------------------------------------------------------------------------- export
@dataclass(frozen=True)
class ExportReport:
    """What `export_changes` did: the patched CSV text, the changes folded in, and those it could not fold."""

    text: str
    exported: list[Change]
    kept: list[Change]


def export_changes(points_csv: str, changes: Sequence[Change], now: datetime | None = None) -> ExportReport:
    """Fold the active ``changes`` into the authored ``service_points.csv`` text (a patch to review and commit).

    Closures and special hours go into ``opening_hours`` as the same date-bound rules the overlay uses;
    a location into ``lon, lat, location_precision, location_method, location_detail``; a notice into
    ``note``. Each change's id is appended to the row's ``source`` (``staff:chg-000001``), so the file
    says where the correction came from. A procedure unavailable for a while has no place in the CSV:
    it is ``kept`` (stays in the overlay). Untouched rows are written back unchanged.
    """
    live = [c for c in active_changes(changes, now) if c.kind != "undo"]
    reader = csv.DictReader(io.StringIO(points_csv))
    fields = list(reader.fieldnames or [])
    rows = list(reader)
    by_id = {row["id"]: row for row in rows}
    exported: list[Change] = []
    kept: list[Change] = []
    for place_id in dict.fromkeys(c.place_id for c in live):
        row = by_id.get(place_id)
        own = [c for c in live if c.place_id == place_id]
        if row is None:
            kept.extend(own)
            continue
        folded = [c for c in own if c.kind != "procedure_unavailable"]
        kept.extend(c for c in own if c.kind == "procedure_unavailable")
        if not folded:
            continue
        row["opening_hours"] = hours_with_changes(row["opening_hours"], folded) or ""
        for change in folded:
            if change.kind == "location" and change.lon is not None and change.lat is not None:
                row.update(
                    lon=f"{change.lon:.7f}".rstrip("0"),
                    lat=f"{change.lat:.7f}".rstrip("0"),
                    location_precision=change.precision or "approximate",
                    location_method=change.method or "staff_map",
                    location_detail=f"{change.measured} ({change.id}, {change.author})",
                )
            elif change.kind == "notice":
                note = f"notice {change.id}: {change.notice}"
                row["note"] = f"{row['note']}; {note}" if row.get("note") else note
        row["source"] = " ; ".join([row["source"], *(f"staff:{c.id}" for c in folded)])
        exported.extend(folded)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return ExportReport(text=buffer.getvalue(), exported=exported, kept=kept)
