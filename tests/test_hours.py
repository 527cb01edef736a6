"""Opening hours on Vietnam's working calendar: Tết, swapped days, make-up Saturdays, errors, a property."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opening_hours import OpeningHours, State

from geo import hours as hours_module
from geo.errors import DataValidationError, InvalidTime
from geo.hours import (
    DEFAULT_HOURS,
    TZ,
    Calendar,
    CalendarDay,
    DayHours,
    OpeningState,
    ensure_aware,
    hours_of_day,
    opening_state,
    parse_hours,
    parse_time,
    week_summary,
)
from geo.settings import PROJECT_ROOT

OVERRIDES = PROJECT_ROOT / "data" / "calendar_overrides.csv"
HEADER = "date,closed,kind,name,source\n"
URL = "https://example.org/decision"


@pytest.fixture(scope="module")
def cal() -> Calendar:
    return Calendar.load(OVERRIDES)


def hanoi(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=TZ)


def write_csv(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "calendar_overrides.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the cases
def test_tet_day_is_closed_and_reopens_after_the_block(cal: Calendar) -> None:
    s = opening_state(DEFAULT_HOURS, hanoi(2026, 2, 17, 9), cal)
    assert s.state == "closed"
    assert s.opens_at == hanoi(2026, 2, 23, 8)
    assert s.closes_at is None
    assert s.reason is not None and "Tết" in s.reason


def test_makeup_saturday_is_open_like_a_weekday(cal: Calendar) -> None:
    s = opening_state(DEFAULT_HOURS, hanoi(2026, 1, 10, 9), cal)
    assert s.state == "open"
    assert s.closes_at == hanoi(2026, 1, 10, 12)
    assert opening_state(DEFAULT_HOURS, hanoi(2026, 1, 10, 14), cal).closes_at == hanoi(2026, 1, 10, 17)
    assert opening_state(DEFAULT_HOURS, hanoi(2025, 4, 26, 9), cal).state == "open"
    assert opening_state(DEFAULT_HOURS, hanoi(2026, 8, 22, 9), cal).state == "open"


def test_normal_saturday_is_closed_until_monday(cal: Calendar) -> None:
    s = opening_state(DEFAULT_HOURS, hanoi(2026, 1, 17, 9), cal)
    assert s.state == "closed"
    assert s.opens_at == hanoi(2026, 1, 19, 8)


def test_lunch_break_is_closed(cal: Calendar) -> None:
    s = opening_state(DEFAULT_HOURS, hanoi(2026, 3, 3, 12, 30), cal)
    assert s.state == "closed"
    assert s.opens_at == hanoi(2026, 3, 3, 13)


def test_weekday_morning_is_open_until_noon(cal: Calendar) -> None:
    s = opening_state(DEFAULT_HOURS, hanoi(2026, 3, 3, 9), cal)
    assert s == OpeningState("open", opens_at=None, closes_at=hanoi(2026, 3, 3, 12))
    assert s.closes_at is not None and s.closes_at.tzinfo is TZ


@pytest.mark.parametrize("hours", [None, "", "   "])
def test_no_hours_is_unknown_not_closed(cal: Calendar, hours: str | None) -> None:
    s = opening_state(hours, hanoi(2026, 3, 3, 9), cal)
    assert (s.state, s.opens_at, s.closes_at) == ("unknown", None, None)


def test_swapped_day_off_is_closed(cal: Calendar) -> None:
    s = opening_state(DEFAULT_HOURS, hanoi(2026, 1, 2, 9), cal)
    assert s.state == "closed"
    assert s.opens_at == hanoi(2026, 1, 5, 8)  # over the weekend of 3-4 January
    assert s.reason is not None and "hoán đổi" in s.reason


def test_naive_datetime_is_refused(cal: Calendar) -> None:
    with pytest.raises(InvalidTime, match="no UTC offset"):
        opening_state(DEFAULT_HOURS, datetime(2026, 3, 3, 9), cal)
    with pytest.raises(InvalidTime, match="no UTC offset"):
        opening_state(None, datetime(2026, 3, 3, 9), cal)
    with pytest.raises(InvalidTime, match="no UTC offset"):
        ensure_aware(datetime(2026, 3, 3, 9))


def test_broken_hours_error_names_where_and_what(cal: Calendar) -> None:
    with pytest.raises(DataValidationError) as info:
        parse_hours("Mo-Fx 08:00-17:00", where="service_points.csv:7 [br-02]")
    detail = info.value.detail
    assert "service_points.csv:7 [br-02]" in detail
    assert "'Mo-Fx 08:00-17:00'" in detail and "character 4" in detail
    assert info.value.problems[0].file == "service_points.csv:7 [br-02]"
    with pytest.raises(DataValidationError, match="invalid opening_hours 'Mo-Fr 08:00-17:00;'"):
        opening_state("Mo-Fr 08:00-17:00;", hanoi(2026, 3, 3, 9), cal)
    with pytest.raises(DataValidationError, match="blank"):
        parse_hours("  ", where="service_points.csv:8")


def test_duplicate_override_date_names_its_rows(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        f"2026-01-02,yes,swap_dayoff,Nghỉ hoán đổi,{URL}\n"
        f"2026-01-10,no,swap_workday,Làm bù,{URL}\n"
        f"2026-01-02,yes,swap_dayoff,again,{URL}\n",
    )
    with pytest.raises(DataValidationError) as info:
        Calendar.load(path)
    (problem,) = info.value.problems
    assert (problem.file, problem.row) == ("calendar_overrides.csv", 4)
    assert "duplicate date 2026-01-02 (first on row 2)" in problem.message
    assert "calendar_overrides.csv:4" in info.value.detail


@pytest.mark.parametrize(
    ("at", "opens"),
    [
        ((2026, 2, 13, 17, 30), (2026, 2, 23, 8)),  # Friday before Tết 2026 -> Monday after the 9-day block
        ((2025, 1, 24, 18, 0), (2025, 2, 3, 8)),  # Tết 2025 block 25/1-2/2
        ((2026, 4, 24, 17, 0), (2026, 4, 28, 8)),  # weekend + Hùng Kings observed on Monday 27/4
        ((2026, 4, 29, 17, 0), (2026, 5, 4, 8)),  # 30/4 + 1/5 + weekend
        ((2026, 8, 28, 17, 30), (2026, 9, 3, 8)),  # weekend + swapped 31/8 + National Day 1-2/9
        ((2025, 8, 29, 12, 15), (2025, 8, 29, 13)),  # lunch break before the National Day weekend
        ((2025, 8, 29, 17, 0), (2025, 9, 3, 8)),
    ],
)
def test_next_opening_across_weekends_and_holiday_blocks(
    cal: Calendar, at: tuple[int, ...], opens: tuple[int, ...]
) -> None:
    s = opening_state(DEFAULT_HOURS, hanoi(*at), cal)
    assert s.state == "closed"
    assert s.opens_at == hanoi(*opens)


# --------------------------------------------------------------------------- calendar
def test_calendar_honours_package_and_overrides(cal: Calendar) -> None:
    assert cal.is_holiday(date(2026, 2, 17))  # both
    assert cal.is_holiday(date(2026, 1, 2))  # override only (not in holidays 0.109)
    assert cal.is_holiday(date(2026, 2, 14))  # Tết block weekend, override only
    assert cal.is_holiday(date(2027, 2, 8))  # package only (no 2027 overrides)
    assert not cal.is_holiday(date(2026, 3, 3))
    assert cal.is_makeup_workday(date(2026, 1, 10)) and not cal.is_holiday(date(2026, 1, 10))
    assert not cal.is_makeup_workday(date(2026, 1, 17))
    assert cal.holiday_name(date(2026, 1, 1)) == "Tết Dương lịch"
    assert cal.holiday_name(date(2026, 3, 3)) is None
    assert opening_state(DEFAULT_HOURS, hanoi(2027, 2, 8, 9), cal).state == "closed"


def test_override_no_cancels_a_package_holiday(tmp_path: Path) -> None:
    path = write_csv(tmp_path, f"2026-11-24,no,not_a_holiday,Ngày Văn hóa Việt Nam (chưa nghỉ),{URL}\n")
    calendar = Calendar.load(path, years=[2026])
    assert not calendar.is_holiday(date(2026, 11, 24))
    assert opening_state(DEFAULT_HOURS, hanoi(2026, 11, 24, 9), calendar).state == "open"


@pytest.mark.parametrize(
    ("body", "row", "message"),
    [
        (f"2026-1-02,yes,swap_dayoff,x,{URL}\n", 2, "is not YYYY-MM-DD"),
        (f"2026-02-30,yes,swap_dayoff,x,{URL}\n", 2, "is not a real date"),
        (f"2026-01-02,maybe,swap_dayoff,x,{URL}\n", 2, "closed must be 'yes' or 'no'"),
        (f"2026-01-02,yes,swap_dayoff,x,{URL}\n2026-01-03,yes,swap_dayoff,,{URL}\n", 3, "name is empty"),
        ("2026-01-02,yes,swap_dayoff,x,a newspaper\n", 2, "http(s) URL"),
    ],
)
def test_invalid_override_rows_are_refused_with_row(tmp_path: Path, body: str, row: int, message: str) -> None:
    with pytest.raises(DataValidationError) as info:
        Calendar.load(write_csv(tmp_path, body))
    assert info.value.problems[0].row == row
    assert message in info.value.problems[0].message


def test_missing_column_and_missing_file_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "calendar_overrides.csv"
    bad.write_text("date,closed,name\n2026-01-02,yes,x\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"missing column.*kind, source"):
        Calendar.load(bad)
    with pytest.raises(DataValidationError, match="not found"):
        Calendar.load(tmp_path / "nope.csv")


def test_real_overrides_file_is_sourced_and_leaves_out_the_uncertain_day() -> None:
    text = OVERRIDES.read_text(encoding="utf-8")
    assert "2026-11-24" not in text
    for line in text.splitlines()[1:]:
        assert "https://" in line


def test_calendar_round_trips_through_a_frame(cal: Calendar) -> None:
    again = Calendar.from_frame(cal.to_frame())
    assert again.days == cal.days
    assert opening_state(DEFAULT_HOURS, hanoi(2026, 1, 10, 9), again).state == "open"
    assert again.entry(date(2026, 2, 17)) == cal.entry(date(2026, 2, 17))  # English names kept
    # A frame stored without English names (an older index) still reads.
    older = Calendar.from_frame(cal.to_frame().drop(columns=["name_en"]))
    entry = older.entry(date(2026, 2, 17))
    assert entry is not None and entry.name == "Mùng 1 Tết Bính Ngọ" and entry.name_en == ""


# --------------------------------------------------------------------------- lunar holidays in any year
def test_lunar_holidays_do_not_stop_after_a_fixed_year(cal: Calendar) -> None:
    # Tết 2031 (mùng 1 = 23 January 2031): no override lists it, the package gives it when asked.
    s = opening_state(DEFAULT_HOURS, hanoi(2031, 1, 23, 9), cal)
    assert s.state == "closed" and s.reason == "Tết Nguyên Đán"
    assert s.opens_at == hanoi(2031, 1, 28, 8)  # after the five days of Tết (Thursday 23 to Monday 27)
    assert cal.is_holiday(date(2031, 1, 27)) and not cal.is_holiday(date(2031, 1, 28))
    assert opening_state(DEFAULT_HOURS, hanoi(2031, 3, 4, 9), cal).state == "open"  # an ordinary Tuesday
    day = hours_of_day(DEFAULT_HOURS, hanoi(2031, 1, 23, 9), cal)
    assert day.closed_all_day and (day.holiday, day.holiday_en) == ("Tết Nguyên Đán", "Lunar New Year")


def test_index_calendar_adds_the_years_it_was_not_built_with(monkeypatch: pytest.MonkeyPatch) -> None:
    stored = Calendar.load(OVERRIDES).to_frame()
    assert {d.year for d in stored["date"]} == {2025, 2026}  # the years of the overrides
    served = Calendar.from_frame(stored)
    assert opening_state(DEFAULT_HOURS, hanoi(2040, 2, 13, 10), served).state == "closed"  # mùng 2 Tết 2040
    assert opening_state(DEFAULT_HOURS, hanoi(2024, 2, 12, 10), served).state == "closed"  # mùng 3 Tết 2024
    # Overrides still win over the package in the years the index lists.
    assert opening_state(DEFAULT_HOURS, hanoi(2026, 1, 10, 9), served).state == "open"
    # The years the index lists are not asked of the package again (it costs about a second to load).
    asked: list[list[int]] = []
    real = hours_module.package_holidays
    monkeypatch.setattr(hours_module, "package_holidays", lambda years: asked.append(list(years)) or real(years))
    fresh = Calendar.from_frame(stored)
    assert fresh.is_holiday(date(2026, 2, 17)) and asked == []
    assert fresh.is_holiday(date(2033, 1, 31)) and asked == [[2033]]  # mùng 1 Tết 2033
    # A calendar built from entries alone stays as given.
    bare = Calendar([CalendarDay(date(2026, 3, 3), True, "extra", "Ngày nghỉ thử", URL)])
    assert not bare.is_holiday(date(2031, 1, 23)) and len(bare) == 1


# --------------------------------------------------------------------------- holiday semantics
def test_rule_without_ph_is_closed_on_holidays_for_state_offices(cal: Calendar) -> None:
    s = opening_state("Mo-Fr 08:00-17:00", hanoi(2026, 2, 17, 9), cal)
    assert s.state == "closed" and s.opens_at == hanoi(2026, 2, 23, 8)


def test_explicit_ph_hours_open_on_a_holiday(cal: Calendar) -> None:
    s = opening_state("Mo-Fr 08:00-17:00; PH 09:00-11:00", hanoi(2026, 2, 17, 9, 30), cal)
    assert s.state == "open" and s.closes_at == hanoi(2026, 2, 17, 11)
    assert opening_state("Mo-Fr 08:00-17:00; PH 09:00-11:00", hanoi(2026, 3, 3, 15), cal).state == "open"


def test_makeup_day_uses_weekday_rule_not_saturday_rule(cal: Calendar) -> None:
    hours = "Mo-Fr 08:00-17:00; Sa 08:00-10:00; PH off"
    assert opening_state(hours, hanoi(2026, 1, 10, 11), cal).state == "open"  # make-up Saturday
    assert opening_state(hours, hanoi(2026, 1, 17, 11), cal).state == "closed"  # ordinary Saturday
    assert opening_state(hours, hanoi(2026, 1, 17, 9), cal).closes_at == hanoi(2026, 1, 17, 10)


def test_other_timezones_are_converted(cal: Calendar) -> None:
    s = opening_state(DEFAULT_HOURS, datetime(2026, 3, 3, 2, 0, tzinfo=UTC), cal)  # 09:00 in Hanoi
    assert s.state == "open" and s.closes_at == hanoi(2026, 3, 3, 12)
    assert ensure_aware(datetime(2026, 3, 3, 2, 0, tzinfo=UTC)) == hanoi(2026, 3, 3, 9)


# --------------------------------------------------------------------------- times and summaries
def test_parse_time_accepts_offsets_and_refuses_the_rest() -> None:
    assert parse_time("2026-03-02T09:30+07:00") == hanoi(2026, 3, 2, 9, 30)
    assert parse_time("2026-03-02T02:30Z").tzinfo is TZ
    assert parse_time("2026-03-02T02:30Z") == hanoi(2026, 3, 2, 9, 30)
    with pytest.raises(InvalidTime, match="no UTC offset"):
        parse_time("2026-03-02T09:30")
    with pytest.raises(InvalidTime, match="not an ISO 8601"):
        parse_time("next tuesday")
    with pytest.raises(InvalidTime, match="day is out of range"):
        parse_time("2026-02-30T09:00+07:00")
    with pytest.raises(InvalidTime, match="empty"):
        parse_time(" ")


def test_today_hours_texts(cal: Calendar) -> None:
    def text(hours: str | None, at: datetime) -> str:
        return hours_of_day(hours, at, cal).text

    assert text(DEFAULT_HOURS, hanoi(2026, 3, 3, 20)) == "08:00–12:00, 13:00–17:00"
    assert text(DEFAULT_HOURS, hanoi(2026, 2, 17, 9)).startswith("Nghỉ lễ: ")
    assert "Tết" in text(DEFAULT_HOURS, hanoi(2026, 2, 17, 9))
    assert text(DEFAULT_HOURS, hanoi(2026, 1, 17, 9)) == "Không làm việc"
    assert text(DEFAULT_HOURS, hanoi(2026, 1, 10, 9)).startswith("08:00–12:00, 13:00–17:00 (")
    assert text(None, hanoi(2026, 3, 3, 9)) == "Chưa rõ giờ làm việc"
    week = week_summary(DEFAULT_HOURS, hanoi(2026, 2, 12, 9), cal)
    assert [day.date for day in week] == [date(2026, 2, 12) + timedelta(days=i) for i in range(7)]
    assert week[1].text == "08:00–12:00, 13:00–17:00" and all("Nghỉ lễ" in day.text for day in week[2:])


WEEKDAY_SPANS = [{"opens": "08:00", "closes": "12:00"}, {"opens": "13:00", "closes": "17:00"}]


def test_hours_of_a_normal_weekday_as_data(cal: Calendar) -> None:
    day = hours_of_day(DEFAULT_HOURS, hanoi(2026, 3, 3, 20), cal)
    assert isinstance(day, DayHours)
    assert day.to_json() == {
        "date": "2026-03-03",
        "spans": WEEKDAY_SPANS,
        "unsure_spans": [],
        "closed_all_day": False,
        "holiday": None,
        "holiday_en": None,
        "make_up_working_day": False,
        "make_up_reason": None,
        "make_up_reason_en": None,
        "unknown": False,
        "text": "08:00–12:00, 13:00–17:00",
        "text_en": "08:00–12:00, 13:00–17:00",
    }
    # The day is the Hanoi date of `at`: 20:00 UTC on the 2nd is already the 3rd in Hanoi.
    assert hours_of_day(DEFAULT_HOURS, datetime(2026, 3, 2, 20, tzinfo=UTC), cal).date == date(2026, 3, 3)


def test_lunch_break_is_a_gap_between_spans(cal: Calendar) -> None:
    day = hours_of_day("Mo-Fr 07:30-11:30,13:30-17:00", hanoi(2026, 3, 3, 12), cal)
    assert day.spans == (("07:30", "11:30"), ("13:30", "17:00"))
    assert not day.closed_all_day and not day.unknown
    one_span = hours_of_day("Mo-Fr 08:00-17:00", hanoi(2026, 3, 3, 12), cal)
    assert one_span.spans == (("08:00", "17:00"),) and one_span.text_en == "08:00–17:00"


def test_tet_as_data_names_the_holiday_in_both_languages(cal: Calendar) -> None:
    day = hours_of_day(DEFAULT_HOURS, hanoi(2026, 2, 17, 9), cal).to_json()
    assert day["date"] == "2026-02-17" and day["spans"] == [] and day["closed_all_day"]
    assert day["holiday"] == "Mùng 1 Tết Bính Ngọ"
    assert day["holiday_en"] == "Lunar New Year (Year of the Horse)"  # from the overrides' name_en
    assert not day["make_up_working_day"] and not day["unknown"]
    assert day["text"] == "Nghỉ lễ: Mùng 1 Tết Bính Ngọ"
    assert day["text_en"] == "Public holiday: Lunar New Year (Year of the Horse)"
    # A holiday the overrides do not list is named by the package, in English too.
    assert hours_of_day(DEFAULT_HOURS, hanoi(2027, 2, 8, 9), cal).holiday_en == "Third Day of Lunar New Year"
    # Hours that open on public holidays: the spans, and the holiday beside them.
    open_on_ph = hours_of_day("Mo-Fr 08:00-17:00; PH 09:00-11:00", hanoi(2026, 2, 17, 9), cal)
    assert open_on_ph.spans == (("09:00", "11:00"),) and not open_on_ph.closed_all_day
    assert open_on_ph.text == "09:00–11:00 (ngày lễ: Mùng 1 Tết Bính Ngọ)"
    assert open_on_ph.text_en == "09:00–11:00 (public holiday: Lunar New Year (Year of the Horse))"


def test_makeup_saturday_as_data_gives_the_reason(cal: Calendar) -> None:
    day = hours_of_day(DEFAULT_HOURS, hanoi(2026, 1, 10, 9), cal).to_json()
    assert day["date"] == "2026-01-10" and day["spans"] == WEEKDAY_SPANS
    assert day["make_up_working_day"] is True
    assert day["make_up_reason"] == "Làm bù cho 2/1"
    assert day["make_up_reason_en"] == "Make-up working day for 2 January"
    assert day["holiday"] is None and not day["closed_all_day"]
    assert day["text"] == "08:00–12:00, 13:00–17:00 (Làm bù cho 2/1)"
    assert day["text_en"] == "08:00–12:00, 13:00–17:00 (Make-up working day for 2 January)"
    saturday = hours_of_day(DEFAULT_HOURS, hanoi(2026, 1, 17, 9), cal)
    assert saturday.closed_all_day and not saturday.make_up_working_day and saturday.holiday is None
    assert (saturday.text, saturday.text_en) == ("Không làm việc", "Closed all day")


@pytest.mark.parametrize("hours", [None, "", "  "])
def test_no_hours_as_data_is_unknown(cal: Calendar, hours: str | None) -> None:
    day = hours_of_day(hours, hanoi(2026, 2, 17, 9), cal)
    assert day.unknown and not day.closed_all_day  # unknown is never "closed", not even on Tết
    assert day.spans == () and day.holiday is None and not day.make_up_working_day
    assert (day.text, day.text_en) == ("Chưa rõ giờ làm việc", "Hours unknown")
    assert day.to_json()["date"] == "2026-02-17"


def test_spans_the_rule_leaves_unknown_are_marked(cal: Calendar) -> None:
    day = hours_of_day('Mo-Fr 08:00-12:00 unknown "hỏi trước", Mo-Fr 13:00-17:00', hanoi(2026, 3, 3, 9), cal)
    assert day.spans == (("13:00", "17:00"),) and day.unsure_spans == (("08:00", "12:00"),)
    assert day.text == "08:00–12:00 (chưa rõ), 13:00–17:00"
    assert day.text_en == "08:00–12:00 (unconfirmed), 13:00–17:00"
    assert not day.closed_all_day


# --------------------------------------------------------------------------- property
HOURS = [
    DEFAULT_HOURS,
    "Mo-Fr 08:00-17:00",
    "Mo-Fr 07:30-11:30,13:30-17:00; Sa 07:30-11:30; PH off",
    "Mo-Fr 08:00-17:00; PH 09:00-11:00",
    "24/7",
    "Tu,Th 22:00-02:00",
    "off",
]
LIBRARY_STATE = {State.OPEN: "open", State.CLOSED: "closed", State.UNKNOWN: "unknown"}
ZONES = [TZ, UTC, ZoneInfo("Europe/Paris"), timezone(timedelta(hours=-5, minutes=-30))]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    hours=st.sampled_from(HOURS),
    at=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31, 23, 59, 59), timezones=st.sampled_from(ZONES)
    ),
)
def test_state_agrees_with_its_next_change(cal: Calendar, hours: str, at: datetime) -> None:
    s = opening_state(hours, at, cal)
    second = timedelta(seconds=1)
    if s.state == "open":
        assert s.opens_at is None
        if s.closes_at is not None:
            assert s.closes_at > at and s.closes_at.tzinfo is TZ
            assert opening_state(hours, max(at, s.closes_at - second), cal).state == "open"
            assert opening_state(hours, s.closes_at, cal).state != "open"
    elif s.state == "closed":
        assert s.closes_at is None
        if s.opens_at is not None:
            assert s.opens_at > at and s.opens_at.tzinfo is TZ
            assert opening_state(hours, s.opens_at, cal).state == "open"
            assert opening_state(hours, max(at, s.opens_at - second), cal).state != "open"
    else:
        assert (s.opens_at, s.closes_at) == (None, None)
    local = ensure_aware(at)
    d = local.date()
    if not cal.is_holiday(d) and not cal.is_makeup_workday(d) and not cal.is_holiday(d - timedelta(days=1)):
        library = OpeningHours(hours).state(local.replace(tzinfo=None))[0]
        assert s.state == LIBRARY_STATE[library]  # ordinary days follow the library exactly


def test_calendar_built_in_code_matches_override_semantics() -> None:
    calendar = Calendar(
        [
            CalendarDay(date(2026, 3, 3), True, "extra", "Ngày nghỉ thử", URL),
            CalendarDay(date(2026, 3, 7), False, "swap_workday", "Làm bù thử", URL),
        ]
    )
    assert opening_state(DEFAULT_HOURS, hanoi(2026, 3, 3, 9), calendar).opens_at == hanoi(2026, 3, 4, 8)
    assert opening_state(DEFAULT_HOURS, hanoi(2026, 3, 7, 9), calendar).state == "open"
    assert opening_state(DEFAULT_HOURS, hanoi(2026, 3, 6, 17), calendar).opens_at == hanoi(2026, 3, 7, 8)
