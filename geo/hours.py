"""Opening hours of service points: OSM ``opening_hours`` evaluated on Vietnam's working calendar.

An office's hours are an OpenStreetMap ``opening_hours`` string (for example the default
``Mo-Fr 08:00-12:00,13:00-17:00; PH off``), parsed with opening-hours-py. That library has no Tết, so it
is never asked about public holidays; a `Calendar` supplies them instead: Vietnam's lunar and solar holidays
from the ``holidays`` package plus ``data/calendar_overrides.csv`` (Tết blocks, swapped days off, make-up
working Saturdays, each row with its source).

How a local date is evaluated (all times are Asia/Ho_Chi_Minh, which has no daylight saving):

- a make-up working day (override ``closed=no``) follows the rule of a regular working weekday: the date
  itself when it is Monday to Friday, otherwise the Friday before it; it is never a public holiday;
- a public holiday (``holidays`` package or override ``closed=yes``) is closed all day, because every
  point is a state office, unless the hours string has a ``PH`` selector: then its rules are evaluated
  as on a public holiday of the same weekday (so ``PH off`` closes, ``PH 08:00-11:00`` opens);
- any other date follows the string as written, with ``PH`` never matching.

No hours at all (``None`` or blank) is the state ``unknown``, never ``closed``. `hours_of_day` gives a
date's hours as data (`DayHours`: open spans, holiday, make-up day) with Vietnamese and English texts.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import opening_hours as _oh
from opening_hours import OpeningHours, State

from geo.errors import DataProblem, DataValidationError, InvalidTime
from geo.settings import get_settings
from geo.workcalendar import (
    CALENDAR_FILE,
    PACKAGE_KIND,
    CalendarDay,
    days_from_frame,
    days_to_frame,
    package_holidays,
    read_overrides,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CALENDAR_FILE",
    "DEFAULT_HOURS",
    "LOOKAHEAD_DAYS",
    "TZ",
    "Calendar",
    "CalendarDay",
    "DayHours",
    "OpeningState",
    "StateName",
    "default_calendar",
    "ensure_aware",
    "hours_of_day",
    "opening_state",
    "parse_hours",
    "parse_time",
    "week_summary",
]

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DEFAULT_HOURS = "Mo-Fr 08:00-12:00,13:00-17:00; PH off"
"""Assumed hours of an office: 08:00-17:00 on weekdays is sourced, the 12:00-13:00 lunch break is not."""
LOOKAHEAD_DAYS = 60
"""How far ahead the next opening (or closing) is searched; beyond it the answer is None."""

StateName = Literal["open", "closed", "unknown"]

_DAY_S = 86_400
_CACHE_LIMIT = 200_000
_PH_SELECTOR = re.compile(r"\bPH\b")
_COMMENT = re.compile(r'"[^"]*"')
_STATE_NAMES: dict[State, StateName] = {State.OPEN: "open", State.CLOSED: "closed", State.UNKNOWN: "unknown"}
_PARSER_ERRORS: tuple[type[BaseException], ...] = (
    getattr(_oh, "ParserError", SyntaxError),
    SyntaxError,
    ValueError,
)
_EXAMPLE_TIME = "2026-03-02T09:30+07:00"


# --------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True)
class OpeningState:
    """Whether a place is open at a given time, and when that changes.

    Attributes
    ----------
    state
        ``open``, ``closed`` or ``unknown`` (no hours known, or the rule itself says unknown).
    opens_at
        When ``state`` is ``closed``: the next opening within `LOOKAHEAD_DAYS` (aware, Asia/Ho_Chi_Minh),
        or None if there is none. Always None otherwise.
    closes_at
        When ``state`` is ``open``: the next closing within `LOOKAHEAD_DAYS`, or None if it stays open.
        Always None otherwise.
    reason
        Why, when there is something to say: the holiday's name on a public holiday, the make-up day's name
        on a make-up working day, or the comment of the matching rule.
    """

    state: StateName
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    reason: str | None = None

    @property
    def is_open(self) -> bool:
        """True when ``state`` is ``open``."""
        return self.state == "open"


_UNKNOWN = OpeningState("unknown")


@dataclass(frozen=True, slots=True)
class DayHours:
    """One local date's hours as data, with a display text in Vietnamese and in English.

    Attributes
    ----------
    date
        The Hanoi date described.
    spans
        Open spans in time order, each ``(opens, closes)`` as ``HH:MM`` (``24:00`` for midnight at the end).
    unsure_spans
        Spans the hours rule itself marks ``unknown`` (usually none).
    holiday, holiday_en
        The public holiday's name in Vietnamese, and in English when the ``holidays`` package or the
        overrides give one; None on other days.
    make_up_reason, make_up_reason_en
        On a make-up working day, the reason from the overrides (``Làm bù cho 2/1``); None otherwise.
    unknown
        True when there are no hours at all (never evaluated as closed).
    text, text_en
        For display: ``08:00–12:00, 13:00–17:00``, ``Nghỉ lễ: …`` / ``Public holiday: …``,
        ``Không làm việc`` / ``Closed all day``, ``Chưa rõ giờ làm việc`` / ``Hours unknown``.
    """

    date: date
    spans: tuple[tuple[str, str], ...]
    unsure_spans: tuple[tuple[str, str], ...]
    holiday: str | None
    holiday_en: str | None
    make_up_reason: str | None
    make_up_reason_en: str | None
    unknown: bool = False
    text: str = ""
    text_en: str = ""

    @property
    def closed_all_day(self) -> bool:
        """True when the hours are known and nothing is open (or unsure) all day."""
        return not self.unknown and not self.spans and not self.unsure_spans

    @property
    def make_up_working_day(self) -> bool:
        """True on a make-up working day (override ``closed=no``)."""
        return self.make_up_reason is not None

    def to_json(self) -> dict[str, Any]:
        """The day as JSON: the fields, ``date`` in ISO form, spans as ``{"opens", "closes"}`` objects."""
        return {
            "date": self.date.isoformat(),
            "spans": [{"opens": a, "closes": b} for a, b in self.spans],
            "unsure_spans": [{"opens": a, "closes": b} for a, b in self.unsure_spans],
            "closed_all_day": self.closed_all_day,
            "holiday": self.holiday,
            "holiday_en": self.holiday_en,
            "make_up_working_day": self.make_up_working_day,
            "make_up_reason": self.make_up_reason,
            "make_up_reason_en": self.make_up_reason_en,
            "unknown": self.unknown,
            "text": self.text,
            "text_en": self.text_en,
        }


# A day's timeline: (start second, end second, state, comment), contiguous over [0, 86400).
_Segment = tuple[int, int, StateName, str]


@dataclass(frozen=True, slots=True)
class _Day:
    """One local date evaluated for one hours string."""

    segments: tuple[_Segment, ...]
    starts: tuple[int, ...]
    holiday: str | None
    makeup: str | None
    holiday_en: str | None = None
    makeup_en: str | None = None


@dataclass(frozen=True, slots=True)
class _Rules:
    """A parsed hours string: the plain rules, and rules that know holidays when the string uses ``PH``."""

    plain: OpeningHours
    on_holiday: OpeningHours | None


# --------------------------------------------------------------------------- times
def ensure_aware(at: datetime) -> datetime:
    """Return ``at`` in Asia/Ho_Chi_Minh, refusing a naive datetime.

    Parameters
    ----------
    at
        A timezone-aware datetime, in any zone.

    Returns
    -------
    datetime
        The same instant with ``tzinfo`` = `TZ`.

    Raises
    ------
    InvalidTime
        ``at`` is not a datetime, has no UTC offset, or cannot be expressed in Hanoi time.
    """
    if not isinstance(at, datetime):
        raise InvalidTime(f"expected a datetime, got {type(at).__name__}")
    tz = at.tzinfo
    if tz is TZ:
        return at
    if tz is None or tz.utcoffset(at) is None:
        raise InvalidTime(
            f"time {at.isoformat()} has no UTC offset (naive datetime); give a timezone-aware time, "
            f"e.g. {_EXAMPLE_TIME} for Hanoi (Asia/Ho_Chi_Minh)"
        )
    try:
        return at.astimezone(TZ)
    except (OverflowError, ValueError) as exc:
        raise InvalidTime(f"time {at.isoformat()} is out of range: {exc}") from None


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 date-time with a UTC offset into Asia/Ho_Chi_Minh.

    Parameters
    ----------
    text
        For example ``2026-03-02T09:30+07:00`` or ``2026-03-02T02:30Z``.

    Returns
    -------
    datetime
        Aware, in `TZ`.

    Raises
    ------
    InvalidTime
        The text is empty, not ISO 8601, has an impossible value, or has no offset.
    """
    if not isinstance(text, str):
        raise InvalidTime(f"expected an ISO 8601 string, got {type(text).__name__}")
    value = text.strip()
    if not value:
        raise InvalidTime(f"time is empty; give ISO 8601 with a UTC offset, e.g. {_EXAMPLE_TIME}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        why = str(exc)
        if why.startswith("Invalid isoformat string"):
            why = "not an ISO 8601 date-time"
        raise InvalidTime(f"time {text!r} is invalid: {why}; expected e.g. {_EXAMPLE_TIME}") from None
    if parsed.tzinfo is None and len(value) <= 10:
        raise InvalidTime(f"time {text!r} is a date without time of day and UTC offset; expected e.g. {_EXAMPLE_TIME}")
    if parsed.tzinfo is None:
        raise InvalidTime(
            f"time {text!r} has no UTC offset; add one, e.g. {value}+07:00 for Hanoi time "
            f"(example: {_EXAMPLE_TIME})"
        )
    return ensure_aware(parsed)


# --------------------------------------------------------------------------- rules
@lru_cache(maxsize=4096)
def _compile(text: str) -> _Rules:
    """Parse ``text`` once (cached on the string); raises the library's parser error."""
    plain = OpeningHours(text)
    uses_ph = _PH_SELECTOR.search(_COMMENT.sub("", text)) is not None
    return _Rules(plain=plain, on_holiday=OpeningHours(text, country="VN") if uses_ph else None)


def _explain(exc: BaseException, text: str) -> str:
    """A one-line account of a parser error: position, what was expected, the text around it."""
    message = str(exc)
    where = re.search(r"-->\s*\d+:(\d+)", message)
    expected = re.search(r"=\s*(.+?)\s*$", message)
    if where is None:
        return message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    column = int(where.group(1))
    what = expected.group(1).replace("EOI", "end of text") if expected else "syntax error"
    near = text[column - 1 : column + 11]
    return f"{what} at character {column}" + (f" (near {near!r})" if near else " (at the end)")


def parse_hours(text: str, where: str) -> OpeningHours:
    """Parse an OSM ``opening_hours`` string, naming ``where`` it came from when it is broken.

    Parameters
    ----------
    text
        The hours string, e.g. ``Mo-Fr 08:00-12:00,13:00-17:00; PH off``.
    where
        Where the string comes from, used in the error: ``service_points.csv:12 [br-01]``.

    Returns
    -------
    OpeningHours
        The parsed rules (cached: parsing the same string again is free).

    Raises
    ------
    DataValidationError
        The string is blank or not valid ``opening_hours`` syntax; the problem names ``where`` and what
        is wrong (position and expected token).
    """
    value = text.strip() if isinstance(text, str) else ""
    if not value:
        raise DataValidationError(
            [DataProblem(where, "opening_hours is blank; leave the field empty when the hours are unknown")]
        )
    return _rules(value, where).plain


def _rules(text: str, where: str) -> _Rules:
    try:
        return _compile(text)
    except _PARSER_ERRORS as exc:
        problem = DataProblem(where, f"invalid opening_hours {text!r}: {_explain(exc, text)}")
        raise DataValidationError([problem]) from None


def _segments(rules: OpeningHours, day: date) -> tuple[_Segment, ...]:
    """The day's contiguous timeline from the library, adjacent equal states merged."""
    start = datetime.combine(day, time())
    end = start + timedelta(days=1)
    out: list[_Segment] = []
    cursor = 0
    for a, b, state, comment in rules.intervals(start, end):
        lo = max(0, min(_DAY_S, int((a - start).total_seconds())))
        hi = max(0, min(_DAY_S, int((b - start).total_seconds())))
        if hi <= lo:
            continue
        if lo > cursor:  # never seen; fill defensively rather than invent an opening
            out.append((cursor, lo, "unknown", ""))
        name = _STATE_NAMES[state]
        if out and out[-1][2] == name and out[-1][1] == lo:
            prev = out[-1]
            out[-1] = (prev[0], hi, name, prev[3] or comment)
        else:
            out.append((lo, hi, name, comment))
        cursor = hi
    if cursor < _DAY_S:
        if out and out[-1][2] == "unknown":
            out[-1] = (out[-1][0], _DAY_S, "unknown", out[-1][3])
        else:
            out.append((cursor, _DAY_S, "unknown", ""))
    return tuple(out)


_CLOSED_ALL_DAY: tuple[_Segment, ...] = ((0, _DAY_S, "closed", ""),)


@lru_cache(maxsize=1)
def _holiday_dates_by_weekday() -> dict[int, tuple[date, ...]]:
    """Dates that opening-hours-py itself treats as Vietnamese public holidays, by weekday.

    Used to evaluate ``PH`` rules on a date our calendar calls a holiday (the library's own VN calendar
    has fixed-date holidays only). Checked against the library once, not assumed.
    """
    probe = OpeningHours("PH", country="VN")
    found: dict[int, list[date]] = {w: [] for w in range(7)}
    for year in range(2000, 2077):
        for month, day in ((1, 1), (4, 30), (5, 1), (9, 2)):
            d = date(year, month, day)
            if probe.is_open(datetime.combine(d, time(12))):
                found[d.weekday()].append(d)
    return {w: tuple(ds) for w, ds in found.items()}


def _holiday_stand_in(d: date) -> date | None:
    """A library public holiday on the same weekday as ``d``, as close to it as possible."""
    candidates = _holiday_dates_by_weekday().get(d.weekday(), ())
    return min(candidates, key=lambda c: abs((c - d).days)) if candidates else None


# --------------------------------------------------------------------------- calendar
class Calendar:
    """Public holidays (with names) and make-up working days, and the cache of evaluated days.

    Parameters
    ----------
    days
        Entries; when a date appears twice the later entry wins (so overrides go last).
    country_holidays
        Also take Vietnam's public holidays from the ``holidays`` package, beneath ``days``, for every
        year a question is about (added on first use of the year, so no year is ever left without its
        lunar holidays). Without it, only ``days`` are special.
    """

    def __init__(self, days: Iterable[CalendarDay] = (), *, country_holidays: bool = False) -> None:
        self._country_holidays = country_holidays
        self._years: set[int] = set()  # years whose package holidays are in
        self._lock = threading.Lock()
        self._day_cache: dict[tuple[str, date], _Day] = {}
        self._state_cache: dict[tuple[str, date, int], OpeningState] = {}
        self._set_entries({day.date: day for day in days})  # the later entry of a date wins

    def _set_entries(self, by_date: dict[date, CalendarDay]) -> None:
        # New dictionaries, assigned whole: a reader in another thread sees the old or the new, never half.
        self._entries: tuple[CalendarDay, ...] = tuple(by_date[d] for d in sorted(by_date))
        self._by_date: dict[date, CalendarDay] = {d.date: d for d in self._entries}
        self._days_off: dict[date, str] = {d.date: d.name for d in self._entries if d.closed}
        self._workdays: dict[date, str] = {d.date: d.name for d in self._entries if not d.closed}

    def _cover(self, year: int) -> None:
        """Add the package's holidays of ``year`` beneath the given entries (once per year)."""
        if not self._country_holidays or year in self._years:
            return
        with self._lock:
            if year in self._years:
                return
            merged = {d.date: d for d in package_holidays([year])}
            merged.update(self._by_date)  # given entries (and years covered before) win
            self._set_entries(merged)
            self._years.add(year)

    # ---------------------------------------------------------------- building
    @classmethod
    def load(cls, path: Path | None = None, years: Iterable[int] | None = None) -> Calendar:
        """Vietnam's public holidays plus the overrides file.

        Parameters
        ----------
        path
            The overrides CSV (``date,closed,kind,name,source``, optional ``name_en``);
            default ``<data_dir>/calendar_overrides.csv``.
        years
            Years whose package holidays are listed at once (in `days` and `to_frame`); default the
            years of the overrides. Any other year gets its holidays when a question is about it.

        Returns
        -------
        Calendar
            Package holidays, then the overrides on top (an override ``closed=no`` cancels a holiday).

        Raises
        ------
        DataValidationError
            The file is missing or a row is invalid (bad date, closed not yes/no, duplicate date, no name or
            no source URL); every problem names the file and row.
        """
        path = path if path is not None else get_settings().data_dir / CALENDAR_FILE
        overrides = read_overrides(path)
        listed = sorted({d.date.year for d in overrides} if years is None else set(years))
        calendar = cls([*package_holidays(listed), *overrides], country_holidays=True)
        calendar._years.update(listed)
        return calendar

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, country_holidays: bool = True) -> Calendar:
        """Rebuild a calendar from `to_frame` output (as stored in the index).

        Years the frame does not list get the package's holidays when asked about (``country_holidays``).
        """
        days = days_from_frame(frame)
        calendar = cls(days, country_holidays=country_holidays)
        calendar._years.update(d.date.year for d in days if d.kind == PACKAGE_KIND)  # listed: no package call
        return calendar

    def to_frame(self) -> pd.DataFrame:
        """Every entry as a table: ``date``, ``closed`` (bool), ``kind``, ``name``, ``source``, ``name_en``.

        Returns
        -------
        pandas.DataFrame
            One row per entry, in date order; `from_frame` reads it back.
        """
        return days_to_frame(self._entries)

    # ---------------------------------------------------------------- queries
    @property
    def days(self) -> tuple[CalendarDay, ...]:
        """All entries in date order (package holidays of the years asked about so far included)."""
        return self._entries

    def entry(self, d: date) -> CalendarDay | None:
        """The entry of ``d`` (a day off or a make-up working day), or None on an ordinary day."""
        self._cover(d.year)
        return self._by_date.get(d)

    def is_holiday(self, d: date) -> bool:
        """True when ``d`` is a public holiday or extra day off (not cancelled by a make-up day)."""
        self._cover(d.year)
        return d in self._days_off

    def holiday_name(self, d: date) -> str | None:
        """The name of the holiday on ``d``, or None."""
        self._cover(d.year)
        return self._days_off.get(d)

    def is_makeup_workday(self, d: date) -> bool:
        """True when ``d`` is a make-up working day (override ``closed=no``)."""
        self._cover(d.year)
        return d in self._workdays

    def makeup_name(self, d: date) -> str | None:
        """The name of the make-up working day on ``d``, or None."""
        self._cover(d.year)
        return self._workdays.get(d)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Calendar({len(self._days_off)} days off, {len(self._workdays)} make-up working days)"

    # ---------------------------------------------------------------- evaluation (cached)
    def _day(self, hours: str, d: date) -> _Day:
        key = (hours, d)
        day = self._day_cache.get(key)
        if day is not None:
            return day
        rules = _rules(hours.strip(), "opening_hours")
        entry = self.entry(d)
        makeup = entry.name if entry is not None and not entry.closed else None
        holiday = entry.name if entry is not None and entry.closed else None
        if makeup is not None:
            regular = d - timedelta(days=max(0, d.weekday() - 4))  # Saturday/Sunday -> the Friday before
            segments = _segments(rules.plain, regular)
        elif holiday is not None:
            stand_in = _holiday_stand_in(d) if rules.on_holiday is not None else None
            if rules.on_holiday is not None and stand_in is not None:
                segments = _segments(rules.on_holiday, stand_in)
            else:
                segments = _CLOSED_ALL_DAY
        else:
            segments = _segments(rules.plain, d)
        english = (entry.name_en or None) if entry is not None else None
        day = _Day(
            segments,
            tuple(s[0] for s in segments),
            holiday,
            makeup,
            holiday_en=english if holiday is not None else None,
            makeup_en=english if makeup is not None else None,
        )
        if len(self._day_cache) >= _CACHE_LIMIT:
            self._day_cache.clear()
        self._day_cache[key] = day
        return day

    def _state(self, hours: str, d: date, day: _Day, index: int) -> OpeningState:
        key = (hours, d, index)
        found = self._state_cache.get(key)
        if found is not None:
            return found
        state, comment = day.segments[index][2:]
        if state == "open":
            closes_at = self._next_close(hours, d, day, index)
            reason = day.makeup or day.holiday or comment or None
            result = OpeningState("open", closes_at=closes_at, reason=reason)
        elif state == "closed":
            opens_at = self._next_open(hours, d, day, index)
            result = OpeningState("closed", opens_at=opens_at, reason=day.holiday or comment or None)
        else:
            result = OpeningState("unknown", reason=comment or day.holiday or None)
        if len(self._state_cache) >= _CACHE_LIMIT:
            self._state_cache.clear()
        self._state_cache[key] = result
        return result

    def _next_close(self, hours: str, d: date, day: _Day, index: int) -> datetime | None:
        for _ in range(LOOKAHEAD_DAYS + 1):
            end = day.segments[index][1]
            if end < _DAY_S:
                return _local(d, end)
            d += timedelta(days=1)
            day, index = self._day(hours, d), 0
            if day.segments[0][2] != "open":
                return _local(d, 0)
        return None

    def _next_open(self, hours: str, d: date, day: _Day, index: int) -> datetime | None:
        for segment in day.segments[index + 1 :]:
            if segment[2] == "open":
                return _local(d, segment[0])
        for offset in range(1, LOOKAHEAD_DAYS + 1):
            later = d + timedelta(days=offset)
            for segment in self._day(hours, later).segments:
                if segment[2] == "open":
                    return _local(later, segment[0])
        return None


def _local(d: date, second: int) -> datetime:
    """Aware Hanoi time ``second`` seconds after midnight of ``d`` (Hanoi has no DST)."""
    return datetime.combine(d, time(), tzinfo=TZ) + timedelta(seconds=second)


@lru_cache(maxsize=1)
def default_calendar() -> Calendar:
    """The process-wide calendar: `Calendar.load` of the configured data folder, read once."""
    return Calendar.load()


# --------------------------------------------------------------------------- evaluation
def opening_state(hours: str | None, at: datetime, calendar: Calendar | None = None) -> OpeningState:
    """Whether a place with ``hours`` is open at ``at``, and when that changes next.

    Parameters
    ----------
    hours
        OSM ``opening_hours``; None or blank means the hours are not known.
    at
        Timezone-aware time (any zone; evaluated in Asia/Ho_Chi_Minh). Naive times are refused.
    calendar
        Holidays and make-up working days; default `default_calendar`.

    Returns
    -------
    OpeningState
        ``unknown`` without hours; ``open`` with ``closes_at``; ``closed`` with ``opens_at`` (the next
        opening within `LOOKAHEAD_DAYS`, honouring holidays and make-up days, or None).

    Raises
    ------
    InvalidTime
        ``at`` is naive.
    DataValidationError
        ``hours`` is not valid ``opening_hours`` syntax.

    Notes
    -----
    Days and states are cached per calendar, keyed on the hours string and the local date, so repeated
    calls cost a dictionary lookup and a bisection.
    """
    local = ensure_aware(at)
    if not hours or hours.isspace():
        return _UNKNOWN
    cal = calendar if calendar is not None else default_calendar()
    d = local.date()
    day = cal._day_cache.get((hours, d)) or cal._day(hours, d)
    index = bisect_right(day.starts, local.hour * 3600 + local.minute * 60 + local.second) - 1
    return cal._state_cache.get((hours, d, index)) or cal._state(hours, d, day, index)


def _hhmm(second: int) -> str:
    return f"{second // 3600:02d}:{second % 3600 // 60:02d}"


def _spans_text(day: DayHours, unsure: str) -> str:
    spans = [(a, f"{a}–{b}") for a, b in day.spans] + [(a, f"{a}–{b} ({unsure})") for a, b in day.unsure_spans]
    return ", ".join(text for _, text in sorted(spans))


def _texts(day: DayHours) -> tuple[str, str]:
    """The Vietnamese and English display texts of ``day``."""
    if day.unknown:
        return "Chưa rõ giờ làm việc", "Hours unknown"
    holiday_en = day.holiday_en or day.holiday
    if day.closed_all_day:
        if day.holiday:
            return f"Nghỉ lễ: {day.holiday}", f"Public holiday: {holiday_en}"
        return "Không làm việc", "Closed all day"
    vi, en = _spans_text(day, "chưa rõ"), _spans_text(day, "unconfirmed")
    if day.make_up_reason:
        return f"{vi} ({day.make_up_reason})", f"{en} ({day.make_up_reason_en or 'make-up working day'})"
    if day.holiday:
        return f"{vi} (ngày lễ: {day.holiday})", f"{en} (public holiday: {holiday_en})"
    return vi, en


@lru_cache(maxsize=4096)
def _day_hours(day: _Day | None, d: date) -> DayHours:
    if day is None:
        found = DayHours(d, (), (), None, None, None, None, unknown=True)
    else:
        spans = tuple((_hhmm(lo), _hhmm(hi)) for lo, hi, state, _ in day.segments if state == "open")
        unsure = tuple((_hhmm(lo), _hhmm(hi)) for lo, hi, state, _ in day.segments if state == "unknown")
        found = DayHours(d, spans, unsure, day.holiday, day.holiday_en, day.makeup, day.makeup_en)
    text, text_en = _texts(found)
    return replace(found, text=text, text_en=text_en)


def hours_of_day(hours: str | None, at: datetime, calendar: Calendar | None = None) -> DayHours:
    """The hours of ``at``'s Hanoi date as data: open spans, holiday, make-up day, and display texts.

    Parameters
    ----------
    hours
        OSM ``opening_hours``, or None when unknown.
    at
        Timezone-aware time; its Hanoi date is the day described.
    calendar
        Holidays and make-up days; default `default_calendar`.

    Returns
    -------
    DayHours
        For the default hours on a weekday: spans 08:00–12:00 and 13:00–17:00; on Tết ``closed_all_day``
        with the holiday's names; on a make-up Saturday the weekday's spans and the make-up reason;
        without hours ``unknown``.

    Raises
    ------
    InvalidTime
        ``at`` is naive.
    DataValidationError
        ``hours`` is not valid ``opening_hours`` syntax.
    """
    d = ensure_aware(at).date()
    if not hours or hours.isspace():
        return _day_hours(None, d)
    cal = calendar if calendar is not None else default_calendar()
    return _day_hours(cal._day_cache.get((hours, d)) or cal._day(hours, d), d)


def week_summary(hours: str | None, at: datetime, calendar: Calendar | None = None, days: int = 7) -> list[DayHours]:
    """`hours_of_day` of ``days`` consecutive Hanoi dates, the first being ``at``'s, in date order.

    Parameters
    ----------
    hours, at, calendar
        As in `hours_of_day`.
    days
        How many days.
    """
    first = ensure_aware(at).date()
    return [hours_of_day(hours, _local(first + timedelta(days=i), 12 * 3600), calendar) for i in range(days)]
