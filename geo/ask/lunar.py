"""The Vietnamese lunar calendar, as far as time phrases need it: the date of Tết and the month before it.

"mùng 2 Tết" counts from the Lunar New Year, "29 Tết" and "30 Tết" count back through the last lunar month
(tháng Chạp), which has 29 or 30 days depending on the year. The New Year date comes from the ``holidays``
package (its Vietnamese calendar, 1901-2100); the start of tháng Chạp comes from the new-moon formula of
Meeus as used in Hồ Ngọc Đức's Vietnamese calendar, on Hanoi time (UTC+7), which is why Vietnam and China
sometimes keep Tết on different days (2030: 2 February in Hanoi, 3 February in Beijing).
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from functools import lru_cache
from typing import NamedTuple

from holidays.calendars.chinese import VIETNAMESE_CALENDAR, _ChineseLunisolar

__all__ = ["TET_EVE", "NoSuchLunarDay", "OutsideLunarCalendar", "TetYear", "new_moon", "next_tet_day", "tet_year"]

_JULIAN_DAY_OF_ORDINAL_ZERO = 1721425  # Julian day number of date.fromordinal(1) is 1721426
_NEW_MOON_1900 = 2415021.076998695  # Julian day of the new moon k = 0 (1900-01-01)
_SYNODIC_MONTH = 29.530588853  # mean length of a lunation, in days
_HANOI_OFFSET_DAYS = 7 / 24

TET_EVE = 0
"""The ``number`` `next_tet_day` takes for giao thừa, the last day of tháng Chạp (its 29th or its 30th)."""


class TetYear(NamedTuple):
    """The Lunar New Year of one year and the length of the lunar month that ends the day before it.

    Attributes
    ----------
    new_year
        Mùng 1 Tết, the first day of the lunar year.
    last_month_days
        Days in tháng Chạp, the lunar month before it: 29 or 30 (so "30 Tết" exists only in some years).
    """

    new_year: date
    last_month_days: int

    @property
    def eve(self) -> date:
        """Giao thừa: the last day of tháng Chạp, the day before `new_year`."""
        return self.new_year - timedelta(days=1)

    def last_month_day(self, number: int) -> date:
        """The date of day ``number`` (1 to `last_month_days`) of tháng Chạp, e.g. 29 for "29 Tết"."""
        return self.new_year - timedelta(days=self.last_month_days - number + 1)


class NoSuchLunarDay(ValueError):
    """Day ``number`` of tháng Chạp does not exist before the coming Tết: that month has only 29 days.

    Attributes
    ----------
    number
        The day asked for (30).
    tet
        The Tết whose tháng Chạp is too short.
    """

    def __init__(self, number: int, tet: TetYear) -> None:
        super().__init__(f"the lunar month before Tết {tet.new_year.year} has {tet.last_month_days} days")
        self.number = number
        self.tet = tet


class OutsideLunarCalendar(ValueError):
    """The day asked about falls outside the years the lunar calendar covers (1901-2100)."""


def new_moon(k: int) -> date:
    """The Hanoi (UTC+7) date of the ``k``-th new moon since the one of 1900-01-01.

    Parameters
    ----------
    k
        Lunations counted from 1900-01-01 (``k = 0``); negative values count backwards.

    Returns
    -------
    date
        The day in Hanoi on which that new moon falls, the first day of a lunar month.

    Examples
    --------
    >>> new_moon(1559)  # 2026-01-18 19:52 UTC, already the 19th in Hanoi
    datetime.date(2026, 1, 19)
    """
    return date.fromordinal(_new_moon_ordinal(k))


def _new_moon_ordinal(k: int) -> int:
    """Ordinal date (UTC+7) of the ``k``-th new moon since 1900-01-01 (Meeus, as in Hồ Ngọc Đức's calendar)."""
    t = k / 1236.85
    t2, t3 = t * t, t * t * t
    dr = math.pi / 180
    jd = 2415020.75933 + 29.53058868 * k + 0.0001178 * t2 - 0.000000155 * t3
    jd += 0.00033 * math.sin((166.56 + 132.87 * t - 0.009173 * t2) * dr)
    m = 359.2242 + 29.10535608 * k - 0.0000333 * t2 - 0.00000347 * t3
    mpr = 306.0253 + 385.81691806 * k + 0.0107306 * t2 + 0.00001236 * t3
    f = 21.2964 + 390.67050646 * k - 0.0016528 * t2 - 0.00000239 * t3
    c = (0.1734 - 0.000393 * t) * math.sin(m * dr) + 0.0021 * math.sin(2 * dr * m)
    c -= 0.4068 * math.sin(mpr * dr) - 0.0161 * math.sin(dr * 2 * mpr)
    c -= 0.0004 * math.sin(dr * 3 * mpr)
    c += 0.0104 * math.sin(dr * 2 * f) - 0.0051 * math.sin(dr * (m + mpr))
    c -= 0.0074 * math.sin(dr * (m - mpr)) + 0.0004 * math.sin(dr * (2 * f + m))
    c -= 0.0004 * math.sin(dr * (2 * f - m)) - 0.0006 * math.sin(dr * (2 * f + mpr))
    c += 0.0010 * math.sin(dr * (2 * f - mpr)) + 0.0005 * math.sin(dr * (2 * mpr + m))
    delta_t = -0.000278 + 0.000265 * t + 0.000262 * t2
    return int(jd + c - delta_t + 0.5 + _HANOI_OFFSET_DAYS) - _JULIAN_DAY_OF_ORDINAL_ZERO


@lru_cache(maxsize=64)
def tet_year(year: int) -> TetYear | None:
    """The Tết of ``year`` and the length of tháng Chạp before it.

    Parameters
    ----------
    year
        The Gregorian year in which the Lunar New Year falls.

    Returns
    -------
    TetYear or None
        None outside the years the ``holidays`` lunar calendar covers (1901-2100).

    Examples
    --------
    >>> tet_year(2026)
    TetYear(new_year=datetime.date(2026, 2, 17), last_month_days=29)
    """
    new_year, _estimated = _ChineseLunisolar(VIETNAMESE_CALENDAR).lunar_new_year_date(year)
    if new_year is None:
        return None
    # The lunation whose new moon is the New Year; the one before it starts tháng Chạp.
    k = round((new_year.toordinal() + _JULIAN_DAY_OF_ORDINAL_ZERO - _NEW_MOON_1900) / _SYNODIC_MONTH)
    last_month_start = date.fromordinal(_new_moon_ordinal(k - 1))
    return TetYear(new_year, (new_year - last_month_start).days)


def next_tet_day(number: int, today: date) -> date:
    """The first date on or after ``today`` of a day around Tết: this winter's, or next winter's once past.

    Parameters
    ----------
    number
        1 to 10 for mùng 1 to mùng 10 Tết, 20 to 30 for that day of tháng Chạp ("29 Tết"), or `TET_EVE`.
    today
        The day counting starts from.

    Returns
    -------
    date
        The Gregorian date of that day.

    Raises
    ------
    NoSuchLunarDay
        ``number`` is 30 and the coming tháng Chạp has 29 days (a past short month is skipped).
    OutsideLunarCalendar
        Neither this year's Tết nor next year's is in the calendar.
    ValueError
        ``number`` is none of the above.

    Examples
    --------
    >>> next_tet_day(2, date(2026, 2, 10))  # mùng 2 Tết Bính Ngọ
    datetime.date(2026, 2, 18)
    """
    if not (number == TET_EVE or 1 <= number <= 10 or 20 <= number <= 30):
        raise ValueError(f"{number} is no day around Tết: 1-10, 20-30 or TET_EVE")
    for year in (today.year, today.year + 1):
        tet = tet_year(year)
        if tet is None:
            break
        if number == TET_EVE:
            found = tet.eve
        elif number <= 10:
            found = tet.new_year + timedelta(days=number - 1)
        elif number <= tet.last_month_days:
            found = tet.last_month_day(number)
        elif tet.eve < today:
            continue  # this winter's short month is over: next winter's may have the day
        else:
            raise NoSuchLunarDay(number, tet)
        if found >= today:
            return found
    raise OutsideLunarCalendar(f"no Tết day {number} on or after {today} in the lunar calendar (1901-2100)")
