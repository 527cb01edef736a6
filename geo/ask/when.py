"""Time phrases in a Vietnamese question: "sáng mai", "thứ bảy này", "7 giờ tối", "30/4", "mùng 2 Tết".

`understand_time` finds the phrases that say *when* the person means to go (`geo.ask.time_phrases`: text
with or without diacritics, in any case; where a folded word is ambiguous the original diacritics decide),
and turns them into one aware Asia/Ho_Chi_Minh moment (this module; Tết days from `geo.ask.lunar`).

Decisions (documented here because the answer sentence depends on them):

- a part of the day without a clock time takes a sensible hour: sáng 08:00, trưa 12:00 (the lunch break
  the person wants to know about), chiều 14:00, tối 19:00, đêm 22:00; ``assumed_hour`` is then True.
  When that part of today is already running ("chiều nay" at 15:00) the moment is now;
- a day without a clock time or part of the day is today's now, or 08:00 of a later day (assumed);
- a bare clock time ("lúc 3h") reads 1-6 as the afternoon (13:00-18:00, nobody visits an office at
  3 a.m.) and 7-12 as written; without a day it is today, or tomorrow once that time has passed;
- "cuối tuần" is Saturday 08:00 of this week (on Sunday: next Saturday);
- a weekday alone or with "này" is its next occurrence, today included; "tuần sau/tới" the one of next week;
- a day-month without a year that has passed this year is next year's; a Tết phrase is the coming Tết;
- the past ("hôm qua", "tuần trước", "8h sáng nay" at 10:15, "17/2/2025") is *not understood*: the
  answer is about where to go, so a past moment is refused with a reason rather than silently answered;
- a phrase that looks like a time but is not one ("lúc 25 giờ", "thứ tám", "ngày 31/2", "tuần sau"
  without a day) is *not understood* with a Vietnamese reason, never a silent now.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from geo.ask.lunar import TET_EVE, NoSuchLunarDay, OutsideLunarCalendar, next_tet_day
from geo.ask.time_phrases import TimeSpan, TimeToken, find_time_phrases
from geo.hours import TZ, ensure_aware

__all__ = [
    "DAY_PART_HOURS",
    "ReadingKind",
    "TimeReading",
    "TimeSpan",
    "remove_time_phrase",
    "understand_time",
]

ReadingKind = Literal["none", "understood", "not_understood"]

DAY_PART_HOURS: dict[str, int] = {"sang": 8, "trua": 12, "chieu": 14, "toi": 19, "dem": 22}
"""Hour taken for a part of the day said without a clock time (folded name → hour)."""
# [start, end) hours during which "<part> nay" means "now".
_PART_WINDOWS = {"sang": (5, 12), "trua": (11, 14), "chieu": (13, 18), "toi": (18, 24), "dem": (21, 29)}
_PART_VI = {"sang": "sáng", "trua": "trưa", "chieu": "chiều", "toi": "tối", "dem": "đêm"}
_PART_EN = {"sang": "morning", "trua": "noon", "chieu": "afternoon", "toi": "evening", "dem": "night"}
_WEEKDAYS_VI = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
_WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_RELATIVE_VI = ("Hôm nay", "Ngày mai", "Ngày kia")
_RELATIVE_EN = ("Today", "Tomorrow", "The day after tomorrow")
_TODAY_PART_EN = {"sang": "This morning", "trua": "Today at noon", "chieu": "This afternoon",
                  "toi": "This evening", "dem": "Tonight"}
_WORKDAY_START = 8
# How a clock hour said with a part of the day reads: (hours said, hours to add, days to add).
_CLOCK_IN_PART = {
    "sang": [(range(0, 12), 0, 0)],
    "trua": [(range(10, 13), 0, 0), (range(1, 3), 12, 0), (range(13, 15), 0, 0)],
    "chieu": [(range(1, 12), 12, 0), (range(12, 20), 0, 0)],
    "toi": [(range(5, 12), 12, 0), (range(17, 24), 0, 0)],
    "dem": [(range(8, 12), 12, 0), (range(20, 24), 0, 0), (range(0, 1), 0, 1), (range(12, 13), -12, 1),
            (range(1, 5), 0, 1)],
}


# ---------------------------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True)
class TimeReading:
    """What a question says about the time of the visit.

    Attributes
    ----------
    kind
        ``none`` (no time phrase: the caller uses its own now), ``understood`` (``at`` is set) or
        ``not_understood`` (a time phrase is present but could not be read; ``reason`` says why).
    at
        The aware moment in Asia/Ho_Chi_Minh, or None.
    phrase
        The matched spans, in text order, so the caller can remove them before matching other words.
    assumed_hour
        True when a part of the day or a day without a clock time picked the hour (``reason`` says which).
    reason, reason_en
        Vietnamese and English explanation of an assumption or of why the phrase was not understood.
    head_vi, head_en
        The sentence head for the answer (see `describe_vi`).
    """

    kind: ReadingKind
    at: datetime | None = None
    phrase: tuple[TimeSpan, ...] = ()
    assumed_hour: bool = False
    reason: str = ""
    reason_en: str = ""
    head_vi: str = ""
    head_en: str = ""

    @property
    def text(self) -> str:
        """The matched phrases joined by spaces (empty when none)."""
        return " ".join(span.text for span in self.phrase)

    def describe_vi(self) -> str:
        """Vietnamese sentence head, e.g. ``"Sáng mai, thứ Năm 05/03, lúc 08:00"`` (empty for ``none``)."""
        return self.head_vi

    def describe_en(self) -> str:
        """English sentence head, e.g. ``"Tomorrow morning, Thursday 05/03, at 08:00"``."""
        return self.head_en


_NONE = TimeReading(kind="none")


class _Refusal(Exception):
    """A time phrase that cannot be read; ``args`` are the Vietnamese and the English reason."""


# ---------------------------------------------------------------------------------------------- reading
def understand_time(text: str, now: datetime) -> TimeReading:
    """Read the time phrases of ``text`` relative to ``now``.

    Parameters
    ----------
    text
        The question as typed (any case, with or without diacritics).
    now
        The current moment, aware in any zone (naive is refused with `InvalidTime`, as `ensure_aware` does).

    Returns
    -------
    TimeReading
        ``kind="none"`` when the text has no time phrase; otherwise the moment or the reason it was refused.

    Examples
    --------
    >>> now = datetime(2026, 3, 4, 10, 15, tzinfo=TZ)
    >>> understand_time("công chứng ở Hà Đông sáng mai", now).describe_vi()
    'Sáng mai, thứ Năm 05/03, lúc 08:00'
    """
    now = ensure_aware(now)
    tokens, spans = find_time_phrases(text)
    if not tokens:
        return _NONE
    try:
        return _resolve(tokens, now, spans)
    except _Refusal as refusal:
        return TimeReading(kind="not_understood", phrase=spans, reason=refusal.args[0], reason_en=refusal.args[1])


def remove_time_phrase(text: str, reading: TimeReading) -> str:
    """``text`` without the spans of ``reading`` (white space tidied), for matching procedures and places."""
    if not reading.phrase:
        return text
    cuts = [0, *(i for span in reading.phrase for i in (span.start, span.end)), len(text)]
    return re.sub(r"\s+", " ", " ".join(text[a:b] for a, b in zip(cuts[::2], cuts[1::2], strict=True))).strip()


# ---------------------------------------------------------------------------------------------- resolving
def _one(values: list[tuple[object, str]], what_vi: str, what_en: str) -> object | None:
    """The single distinct value of ``values`` (None when empty); two different ones are refused."""
    distinct = {value for value, _ in values}
    if len(distinct) > 1:
        said = " và ".join(f"“{phrase}”" for _, phrase in values)
        raise _Refusal(f"câu hỏi nói hai {what_vi} khác nhau: {said}", f"the question names two different {what_en}")
    return next(iter(distinct)) if distinct else None


def _valid_date(year: int, month: int, day: int, said: str) -> date:
    found = _maybe_date(year, month, day)
    if found is None:
        raise _Refusal(f"“{said}” không có trong lịch", f"'{said}' is not a calendar date")
    return found


def _weekday_date(token: TimeToken, today: date, said: str) -> date:
    weekday = token.value[0]
    monday = today - timedelta(days=today.weekday())
    mod = token.word
    if mod in {"", "nay"}:
        return today + timedelta(days=(weekday - today.weekday()) % 7)
    weeks = 2 if mod.endswith("nua") else 0 if mod == "tuan nay" else 1
    day = monday + timedelta(days=7 * weeks + weekday)
    if day < today:
        raise _Refusal(f"“{said}” đã qua", f"'{said}' is in the past")
    return day


def _weekend_date(token: TimeToken, today: date) -> date:
    """Saturday of this week (on Sunday: of the coming week), or of the week(s) after."""
    weeks = {"sau": 1, "toi": 1, "sau nua": 2}.get(token.word, 0) + (today.weekday() == 6)
    return today + timedelta(days=5 - today.weekday() + 7 * weeks)


def _calendar_date(token: TimeToken, today: date, said: str) -> date:
    day, month, year = token.value
    if month == 0:  # "ngày 15": this month's, or next month's once past
        month, year = today.month, today.year
        if token.word.endswith(("sau", "toi")) or (not token.word and day < today.day):
            month, year = (1, year + 1) if month == 12 else (month + 1, year)
        found = _valid_date(year, month, day, said)
    elif year:
        found = _valid_date(year, month, day, said)
    else:  # the next such day: this year, next year, or (29/2) the next leap year
        _valid_date(2000, month, day, said)
        found = next(d for y in range(today.year, today.year + 9) if (d := _maybe_date(y, month, day)) and d >= today)
    if found < today:
        raise _Refusal(f"“{said}” đã qua", f"'{said}' is in the past")
    return found


def _maybe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _tet_date(token: TimeToken, today: date, said: str) -> tuple[date, str, str]:
    number, how = token.value[0], token.word
    if how == "eve":
        label_vi, label_en = "Giao thừa", "New Year's Eve (Tết)"
    elif how == "mung" or number <= 10:
        if not 1 <= number <= 10:
            raise _Refusal(f"“{said}”: Tết chỉ tính từ mùng 1 đến mùng 10", f"'{said}': Tết days run 1 to 10")
        label_vi, label_en = f"Mùng {number} Tết", f"Tết day {number}"
    elif 20 <= number <= 30:
        label_vi, label_en = f"{number} Tết", f"{number} Tết (last lunar month)"
    else:
        raise _Refusal(f"chưa hiểu “{said}”", f"'{said}' is not a Tết day")
    try:
        return next_tet_day(TET_EVE if how == "eve" else number, today), label_vi, label_en
    except NoSuchLunarDay as missing:
        year, length = missing.tet.new_year.year, missing.tet.last_month_days
        raise _Refusal(f"trước Tết {year} không có ngày {number} (tháng Chạp có {length} ngày)",
                       f"the lunar month before Tết {year} has {length} days") from None
    except OutsideLunarCalendar:
        raise _Refusal(f"lịch âm chưa có năm của “{said}”", f"the lunar calendar does not cover '{said}'") from None


def _with_part(hour: int, part: str | None, said: str) -> tuple[int, int]:
    """Hour on the 24-hour clock and days to add, from a clock hour and the part of the day it was said with."""
    if part is None:
        return (hour + 12 if 1 <= hour <= 6 else hour), 0
    for hours, add, days in _CLOCK_IN_PART[part]:
        if hour in hours:
            return hour + add, days
    raise _Refusal(f"“{said}”: {hour} giờ không thuộc buổi {_PART_VI[part]}",
                   f"'{said}': {hour} o'clock is not in the {_PART_EN[part]}")


def _in_window(part: str, hour: int) -> bool:
    start, end = _PART_WINDOWS[part]
    return start <= hour < end or start <= hour + 24 < end


def _resolve(tokens: list[TimeToken], now: datetime, spans: tuple[TimeSpan, ...]) -> TimeReading:
    """The moment the tokens of one question name, relative to ``now`` (a refusal raises `_Refusal`)."""
    said = {id(token): span.text for token, span in zip(tokens, spans, strict=True)}
    _refuse_errors_and_past(tokens, said)
    if later := [t for t in tokens if t.kind == "later"]:
        if len(tokens) > 1:
            raise _Refusal(f"“{' '.join(s.text for s in spans)}”: không rõ là lúc nào", "a delay and another time")
        heads = _heads(moment := now + timedelta(minutes=later[0].value[0]), now, None, None, False)
        return TimeReading(kind="understood", at=moment, phrase=spans, head_vi=heads[0], head_en=heads[1])
    day, tet_label = _the_day(tokens, said, now.date())
    part = _one([(t.word, said[id(t)]) for t in tokens if t.kind == "part"], "buổi", "parts of the day")
    clock = _one([(t.value, said[id(t)]) for t in tokens if t.kind == "clock"], "giờ", "clock times")
    vague = [t.error for t in tokens if t.kind == "vague" and t.error]
    if vague and day is None:
        raise _Refusal(*vague[0])
    if part is None and clock is None and any(t.kind == "weekend" for t in tokens):
        part = "sang"
    assert clock is None or isinstance(clock, tuple)
    assert part is None or isinstance(part, str)
    moment, assumed, is_now, notes = _moment(day, part, clock, now, " ".join(span.text for span in spans))
    head_vi, head_en = _heads(moment, now, part, tet_label, is_now)
    return TimeReading(kind="understood", at=moment, phrase=spans, assumed_hour=assumed,
                       reason="; ".join(vi for vi, _ in notes), reason_en="; ".join(en for _, en in notes),
                       head_vi=head_vi, head_en=head_en)


def _refuse_errors_and_past(tokens: list[TimeToken], said: dict[int, str]) -> None:
    """Refuse the first token that is not a time (a vague one waits for a day) or that lies in the past."""
    for token in tokens:
        if token.error and token.kind != "vague":
            raise _Refusal(*token.error)
        if token.past:
            raise _Refusal(f"“{said[id(token)]}” đã qua: chỉ tìm được nơi mở cửa từ bây giờ trở đi",
                           f"'{said[id(token)]}' is in the past: only now or later can be answered")


def _the_day(tokens: list[TimeToken], said: dict[int, str], today: date) -> tuple[date | None, tuple[str, str] | None]:
    """The one day the tokens name (None when none does) and, for a Tết day, its Vietnamese and English label."""
    days: list[tuple[object, str]] = []
    tet_label: tuple[str, str] | None = None
    for token in tokens:
        phrase = said[id(token)]
        if token.kind == "relative" or (token.kind == "part" and token.value[0] != 99):
            days.append((today + timedelta(days=token.value[0]), phrase))
        elif token.kind == "weekday":
            days.append((_weekday_date(token, today, phrase), phrase))
        elif token.kind == "weekend":
            days.append((_weekend_date(token, today), phrase))
        elif token.kind == "date":
            days.append((_calendar_date(token, today, phrase), phrase))
        elif token.kind == "tet":
            found, label_vi, label_en = _tet_date(token, today, phrase)
            days.append((found, phrase))
            tet_label = (label_vi, label_en)
    day = _one(days, "ngày", "days")
    assert day is None or isinstance(day, date)
    return day, tet_label


_Notes = list[tuple[str, str]]  # Vietnamese and English notes on how the moment was read


def _moment(day: date | None, part: str | None, clock: tuple[int, ...] | None, now: datetime,
            whole: str) -> tuple[datetime, bool, bool, _Notes]:
    """The moment, whether its hour was assumed, whether it is "now", and the notes, from the day, part and clock."""
    if clock is not None:
        return _clock_moment(clock, part, day, now, whole)
    if part is not None:
        return _part_moment(part, day, now, whole)
    if day is not None and day != now.date():
        return datetime.combine(day, time(_WORKDAY_START), TZ), True, False, [(
            f"không nói giờ: lấy {_WORKDAY_START:02d}:00, đầu giờ làm việc",
            f"no clock time: {_WORKDAY_START:02d}:00, the start of office hours, assumed")]
    return now, False, day is None, []


def _clock_moment(clock: tuple[int, ...], part: str | None, day: date | None, now: datetime,
                  whole: str) -> tuple[datetime, bool, bool, _Notes]:
    """A said clock time on the said day; without a day, tomorrow once today's has passed."""
    notes: _Notes = []
    hour, days_after = _with_part(clock[0], part, whole)
    base = day or now.date()
    moment = datetime.combine(base + timedelta(days=days_after), time(hour), TZ) + timedelta(minutes=clock[1])
    if part is None and hour != clock[0]:
        notes.append((f"{clock[0]} giờ hiểu là {hour} giờ (buổi chiều)", f"{clock[0]} o'clock read as {hour}:00"))
    if moment + timedelta(seconds=59) < now:
        if day is not None:
            raise _past(whole)
        moment += timedelta(days=1)
        notes.append(("giờ đó hôm nay đã qua, lấy ngày mai", "that time has passed today, taken tomorrow"))
    return moment, False, False, notes


def _part_moment(part: str, day: date | None, now: datetime, whole: str) -> tuple[datetime, bool, bool, _Notes]:
    """A part of the day without a clock time: its usual hour, now while it runs, or tomorrow's once over."""
    today = now.date()
    base = day or today
    moment = datetime.combine(base, time(DAY_PART_HOURS[part]), TZ)
    notes = [(f"buổi {_PART_VI[part]} không nói giờ: lấy {DAY_PART_HOURS[part]:02d}:00",
              f"{_PART_EN[part]} without a clock time: {DAY_PART_HOURS[part]:02d}:00 assumed")]
    if base == today and moment <= now:
        if _in_window(part, now.hour):
            return now, False, False, [(f"đang là buổi {_PART_VI[part]}: lấy giờ hiện tại",
                                        f"it is {_PART_EN[part]}: now is used")]
        if day is not None:
            raise _past(whole)
        moment += timedelta(days=1)
    return moment, True, False, notes


def _past(whole: str) -> _Refusal:
    return _Refusal(f"“{whole}” đã qua", f"'{whole}' is in the past")


def _heads(moment: datetime, now: datetime, part: str | None, tet_label: tuple[str, str] | None,
           is_now: bool) -> tuple[str, str]:
    """Vietnamese and English sentence heads ("Sáng mai, thứ Năm 05/03, lúc 08:00")."""
    label_day = moment.date() - timedelta(days=1 if part == "dem" and moment.hour < 5 else 0)
    delta = (label_day - now.date()).days
    day_text = f"{moment.day:02d}/{moment.month:02d}" + (f"/{moment.year}" if moment.year != now.year else "")
    hhmm = f"{moment.hour:02d}:{moment.minute:02d}"
    weekday_vi, weekday_en = _WEEKDAYS_VI[moment.weekday()], _WEEKDAYS_EN[moment.weekday()]
    tail_vi, tail_en = f"{weekday_vi} {day_text}, lúc {hhmm}", f"{weekday_en} {day_text}, at {hhmm}"
    if is_now:
        return f"Bây giờ, {tail_vi}", f"Now, {tail_en}"
    part_vi = _PART_VI[part] if part else ""
    if tet_label is not None:
        label_vi = f"{part_vi.capitalize()} {tet_label[0][0].lower()}{tet_label[0][1:]}" if part else tet_label[0]
        label_en = f"{tet_label[1]}, {_PART_EN[part]}" if part else tet_label[1]
        return f"{label_vi}, {tail_vi}", f"{label_en}, {tail_en}"
    if 0 <= delta <= 2:
        if part is None:
            return f"{_RELATIVE_VI[delta]}, {tail_vi}", f"{_RELATIVE_EN[delta]}, {tail_en}"
        rel_vi = ("nay", "mai", "ngày kia")[delta]
        rel_en = (_TODAY_PART_EN[part], f"Tomorrow {'at noon' if part == 'trua' else _PART_EN[part]}",
                  f"The day after tomorrow, {'at noon' if part == 'trua' else 'in the ' + _PART_EN[part]}")[delta]
        return f"{part_vi.capitalize()} {rel_vi}, {tail_vi}", f"{rel_en}, {tail_en}"
    lead_vi = f"{part_vi.capitalize()} {weekday_vi}" if part else weekday_vi[0].upper() + weekday_vi[1:]
    lead_en = f"{weekday_en} {_PART_EN[part]}" if part else weekday_en
    return f"{lead_vi} {day_text}, lúc {hhmm}", f"{lead_en} {day_text}, at {hhmm}"
