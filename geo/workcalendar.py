"""Vietnam's working calendar as data: its entries, the ``holidays`` package's days, the overrides file.

An entry (`CalendarDay`) is a day off (a public holiday, a Tết block day, a swapped day off) or a make-up
working day. Public holidays come from the ``holidays`` package (lunar ones included, for any year),
with Vietnamese and English names; ``data/calendar_overrides.csv`` adds what the government decides each
year (``date,closed,kind,name,source`` and an optional ``name_en``), every row with its source.
`geo.hours.Calendar` evaluates opening hours on these entries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geo.tables import Problems, Row, read_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CALENDAR_FILE",
    "PACKAGE_KIND",
    "CalendarDay",
    "days_from_frame",
    "days_to_frame",
    "package_holidays",
    "read_overrides",
]

CALENDAR_FILE = "calendar_overrides.csv"
PACKAGE_KIND = "public_holiday"
"""The ``kind`` of the entries taken from the ``holidays`` package (the overrides use other kinds)."""
_OVERRIDE_COLUMNS = ("date", "closed", "kind", "name", "source")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class CalendarDay:
    """One calendar entry: a day off (``closed``) or a make-up working day (not ``closed``).

    ``name`` is Vietnamese; ``name_en`` is its English name, empty when no source gives one.
    """

    date: date
    closed: bool
    kind: str
    name: str
    source: str
    name_en: str = ""


def package_holidays(years: Iterable[int]) -> list[CalendarDay]:
    """Vietnam's public holidays of ``years`` from the ``holidays`` package, named in Vietnamese and English."""
    import holidays

    wanted = sorted(set(years))
    if not wanted:
        return []
    vi = holidays.country_holidays("VN", years=wanted, language="vi")
    en = holidays.country_holidays("VN", years=wanted, language="en_US")
    source = f"python holidays {holidays.__version__} (VN)"
    return [CalendarDay(d, True, PACKAGE_KIND, str(n), source, str(en.get(d) or "")) for d, n in sorted(vi.items())]


def days_from_frame(frame: pd.DataFrame) -> list[CalendarDay]:
    """The entries of a `days_to_frame` table (as stored in the index; ``name_en`` may be missing)."""
    return [
        CalendarDay(
            date=_as_date(record["date"]),
            closed=_as_bool(record["closed"]),
            kind=_as_text(record.get("kind")),
            name=_as_text(record.get("name")),
            source=_as_text(record.get("source")),
            name_en=_as_text(record.get("name_en")),
        )
        for record in frame.to_dict("records")
    ]


def days_to_frame(days: Iterable[CalendarDay]) -> pd.DataFrame:
    """Entries as a table: ``date``, ``closed`` (bool), ``kind``, ``name``, ``source``, ``name_en``.

    Parameters
    ----------
    days
        The entries, in the order wanted.

    Returns
    -------
    pandas.DataFrame
        One row per entry; `days_from_frame` reads it back.
    """
    import pandas as pd

    rows = list(days)
    return pd.DataFrame(
        {
            "date": [d.date for d in rows],
            "closed": pd.Series([d.closed for d in rows], dtype=bool),
            "kind": [d.kind for d in rows],
            "name": [d.name for d in rows],
            "source": [d.source for d in rows],
            "name_en": [d.name_en for d in rows],
        }
    )


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()
    return date.fromisoformat(str(value)[:10])


def _as_text(value: Any) -> str:
    """A text cell, "" for missing (None, NaN)."""
    return value if isinstance(value, str) else ""


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "true", "1")
    return bool(value)


def read_overrides(path: Path) -> list[CalendarDay]:
    """Read and validate the overrides CSV (through `geo.tables`); all problems are reported together."""
    rows = read_table(path, (*_OVERRIDE_COLUMNS, "name_en"), optional=("name_en",))
    problems = Problems(path.name)
    days: list[CalendarDay] = []
    first_row: dict[date, int] = {}
    for row in rows:
        day = _override_day(row, problems)
        closed = row["closed"].lower()
        if closed not in ("yes", "no"):
            problems.add(row, "closed", f"closed must be 'yes' or 'no', got {row['closed']!r}", id=row["date"])
        for column in ("kind", "name"):
            if not row[column]:
                problems.add(row, column, f"{column} is empty", id=row["date"])
        if not re.search(r"https?://", row["source"]):
            problems.add(row, "source", "source must give at least one http(s) URL", id=row["date"])
        if day is not None and day in first_row:
            message = f"duplicate date {day.isoformat()} (first on row {first_row[day]})"
            problems.add(row, "date", message, id=row["date"])
        elif day is not None:
            first_row[day] = row.number
        if day is not None and not any(p.row == row.number for p in problems.items):
            days.append(CalendarDay(day, closed == "yes", row["kind"], row["name"], row["source"], row["name_en"]))
    problems.raise_if_any()
    return days


def _override_day(row: Row, problems: Problems) -> date | None:
    """The row's date, or None (reported) when it is not a real YYYY-MM-DD date."""
    text = row["date"]
    if not _ISO_DATE.match(text):
        problems.add(row, "date", f"date {text!r} is not YYYY-MM-DD", id=text)
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        problems.add(row, "date", f"date {text!r} is not a real date ({exc})", id=text)
        return None
