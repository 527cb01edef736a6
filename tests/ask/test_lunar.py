"""The lunar calendar of time phrases: `geo.ask.lunar` against known Tết dates and tháng Chạp lengths."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from geo.ask.lunar import TET_EVE, NoSuchLunarDay, OutsideLunarCalendar, TetYear, new_moon, next_tet_day, tet_year

# Tết in Vietnam (Hanoi time) and the days of the tháng Chạp before it: "30 Tết" existed in 2024 (Quý Mão) and
# then not again before 2033. 2030 is a year where Hanoi (2 February) and Beijing (3 February) differ.
KNOWN_TET = [
    (2024, date(2024, 2, 10), 30),
    (2025, date(2025, 1, 29), 29),
    (2026, date(2026, 2, 17), 29),
    (2027, date(2027, 2, 6), 29),
    (2028, date(2028, 1, 26), 29),
    (2029, date(2029, 2, 13), 29),
    (2030, date(2030, 2, 2), 29),
    (2031, date(2031, 1, 23), 29),
]


@pytest.mark.parametrize(("year", "new_year", "last_month_days"), KNOWN_TET)
def test_known_tet_dates_and_month_lengths(year: int, new_year: date, last_month_days: int) -> None:
    assert tet_year(year) == TetYear(new_year, last_month_days)


@pytest.mark.parametrize(
    ("k", "expected"),
    [
        (0, date(1900, 1, 1)),  # 1899-12-31 13:51 UTC
        (1534, date(2024, 1, 11)),
        (1559, date(2026, 1, 19)),  # 2026-01-18 19:52 UTC: the next day in Hanoi
        (1560, date(2026, 2, 17)),
        (1609, date(2030, 2, 2)),  # 2030-02-02 23:07 in Hanoi, 00:07 on the 3rd in Beijing
    ],
)
def test_new_moon_is_the_hanoi_date(k: int, expected: date) -> None:
    assert new_moon(k) == expected


def test_every_covered_year_has_a_29_or_30_day_last_month_starting_at_a_new_moon() -> None:
    for year in range(1901, 2101):
        tet = tet_year(year)
        assert tet is not None and tet.new_year.year == year
        assert tet.last_month_days in (29, 30), year
        month_start = tet.new_year - timedelta(days=tet.last_month_days)
        lunations = round((month_start - date(1900, 1, 1)).days / 29.530588853)
        assert month_start in {new_moon(k) for k in range(lunations - 1, lunations + 2)}, year


def test_years_outside_the_calendar_are_none() -> None:
    assert tet_year(1900) is None
    assert tet_year(2101) is None


def test_eve_is_the_last_day_of_the_month_before() -> None:
    tet_2024, tet_2026 = tet_year(2024), tet_year(2026)
    assert tet_2024 is not None and tet_2026 is not None
    assert tet_2024.eve == tet_2024.last_month_day(30) == date(2024, 2, 9)
    assert tet_2026.eve == tet_2026.last_month_day(29) == date(2026, 2, 16)
    assert tet_2026.last_month_day(20) == date(2026, 2, 7)


@pytest.mark.parametrize(
    ("number", "today", "expected"),
    [
        (1, date(2026, 2, 10), date(2026, 2, 17)),
        (2, date(2026, 2, 10), date(2026, 2, 18)),
        (10, date(2026, 2, 26), date(2026, 2, 26)),  # today counts
        (1, date(2026, 2, 18), date(2027, 2, 6)),  # this year's has passed
        (TET_EVE, date(2026, 2, 10), date(2026, 2, 16)),
        (TET_EVE, date(2024, 2, 1), date(2024, 2, 9)),  # a 30-day month: the eve is the 30th
        (29, date(2026, 2, 10), date(2026, 2, 16)),
        (29, date(2026, 3, 4), date(2027, 2, 5)),
        (30, date(2024, 2, 1), date(2024, 2, 9)),
        (28, date(2024, 2, 8), date(2025, 1, 27)),  # 2024's 28th was the 7th
    ],
)
def test_next_tet_day(number: int, today: date, expected: date) -> None:
    assert next_tet_day(number, today) == expected


@pytest.mark.parametrize(
    ("today", "tet_of"),
    [
        (date(2026, 2, 10), 2026),  # the coming tháng Chạp has 29 days
        (date(2026, 2, 17), 2027),  # this winter's short month is over; next winter's is short too
        (date(2024, 3, 1), 2025),  # after the last "30 Tết" for years
    ],
)
def test_30_tet_in_a_29_day_month_is_refused(today: date, tet_of: int) -> None:
    with pytest.raises(NoSuchLunarDay) as refused:
        next_tet_day(30, today)
    assert refused.value.number == 30
    assert refused.value.tet.new_year.year == tet_of
    assert refused.value.tet.last_month_days == 29
    assert str(tet_of) in str(refused.value)


def test_after_the_last_covered_tet_is_outside_the_calendar() -> None:
    with pytest.raises(OutsideLunarCalendar):
        next_tet_day(1, date(2100, 12, 30))


@pytest.mark.parametrize("number", [-1, 11, 15, 19, 31])
def test_a_number_that_is_no_day_around_tet_is_a_value_error(number: int) -> None:
    with pytest.raises(ValueError, match="no day around Tết"):
        next_tet_day(number, date(2026, 2, 10))
