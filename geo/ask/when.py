"""Time phrases in a Vietnamese question: "sáng mai", "thứ bảy này", "7 giờ tối", "30/4", "mùng 2 Tết".

`understand_time` finds the phrases that say *when* the person means to go, and turns them into one aware
Asia/Ho_Chi_Minh moment. It works on text with or without diacritics and in any case: the text is folded
character by character (so every match keeps its offsets in the original text), and where a folded word
is ambiguous the original diacritics decide ("tối" is evening, "tôi" is I; "thứ tư" is Wednesday,
"thứ tự" is order; "sáng" is morning, "sang tên" is a transfer). Without diacritics such a word counts
only next to another time word ("toi nay", "7h toi", "buoi sang").

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

Numbers only count with a time shape around them, so procedure codes (1.001193), house numbers
("số 2 Hà Cầu", "ngõ 12/3") and ordinals ("lần thứ hai") are left alone.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from geo.ask.lunar import TET_EVE, NoSuchLunarDay, OutsideLunarCalendar, next_tet_day
from geo.hours import TZ, ensure_aware
from geo.text import fold

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

# ---------------------------------------------------------------------------------------------- folding
# One folded character per original character (so offsets survive): Latin letters with diacritics → ASCII.
_FOLD_TABLE: dict[int, str] = {
    code: folded
    for code in [*range(0x41, 0x5B), *range(0xC0, 0x250), *range(0x1E00, 0x1F00)]
    if len(folded := fold(chr(code))) == 1
} | {ord(space): " " for space in "\t\n\r\f\v\u00a0\u2002\u2003\u2009\u202f\u3000"}
_COMBINING = re.compile(r"[\u0300-\u036f]")


def _fold_keep_offsets(text: str) -> tuple[str, list[int] | None]:
    """Fold ``text`` to lower ASCII; the offset map is None when folded offsets equal original ones."""
    if not _COMBINING.search(text):
        return text.translate(_FOLD_TABLE), None
    chars: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):  # decomposed input: combining marks fold to nothing
        if unicodedata.category(ch) == "Mn":
            continue
        chars.append(ch.translate(_FOLD_TABLE))
        offsets.append(i)
    offsets.append(len(text))
    return "".join(chars), offsets


# ---------------------------------------------------------------------------------------------- patterns
# Fast path: a number with a time shape around it, or a time word. A plain part of the day ("toi", "sang")
# needs a neighbour that is itself in this list; a written one ("tối") is looked for in the original text.
_ANY_DIGIT = re.compile(r"\d")
_DIGIT = re.compile(
    r"\d\s*(?:[:/-]|(?:h|g|gio|ruoi|kem|tet|sang|trua|chieu|toi|dem|buoi|ngay|tieng|phut)(?![a-z]))"
    r"|\b(?:luc|khoang|ngay|mung|mong|thu|t)\s*\d"
)
_FAST = re.compile(
    r"\b(?:hom|bua|(?<!hoang )(?<!bach )(?<!tuong )(?<!xuan )mai(?! dich| dong)|mot|kia|chu\s*nhat|cn|tet|"
    r"thu\s*(?:hai|ba|tu|nam|sau|bay|tam|chin|muoi)|cuoi\s+tuan|bay\s*(?:gio|h)|luc\s+nay|hien\s+(?:gio|tai)|"
    r"giao\s+thua|(?:tuan|thang)\s+(?:nay|sau|toi|truoc)|buoi\s+(?:sang|trua|chieu|toi|dem)|"
    r"(?:sang|trua|chieu|toi|dem)\s+(?:nay|mai|mot|kia|qua|hom))\b"
)
_WRITTEN_PART = re.compile(r"sáng|trưa|chiều|tối|đêm")
_LEAD = r"(?:(?:vao\s+)?(?:luc|khoang|tam)\s+|vao\s+)?"
_MIN_UNIT = r"(?:\s*(?:phut|p)(?![a-z]))?"
_CLOCK = re.compile(
    r"\b" + _LEAD + r"(?<![\d./:,-])(?P<h>\d{1,2})(?:"
    r"\s*:\s*(?P<m1>\d{2})"
    r"|\s*(?:h|g|gio)(?![a-z])(?:\s*(?P<m2>\d{1,2})(?![\d/])" + _MIN_UNIT + r"|\s*kem\s*(?P<kem>\d{1,2})" + _MIN_UNIT
    + r"|\s*(?P<half>ruoi)(?![a-z]))?"
    r"|\s+(?P<half2>ruoi)(?![a-z]))(?![\d./:])"
)
_BARE_CLOCK = re.compile(r"(?:(?:vao\s+)?luc|khoang)\s+(?P<h>\d{1,2})(?![\d./:-])(?!\s*(?:ngay|thang|tet)\b)")
_HOUR_BEFORE_PART = re.compile(r"(?<![\d./:,-])(?P<h>\d{1,2})(?=\s+(?:buoi\s+)?(?:sang|trua|chieu|toi|dem)(?![a-z]))")
_PART = re.compile(
    r"(?:(?:vao\s+)?buoi\s+(?P<buoi>))?(?P<part>sang|trua|chieu|toi|dem)(?![a-z])"
    r"(?:\s+(?P<rel>nay|mai|mot|kia|hom\s+nay|ngay\s+mai|qua|hom\s+qua)(?![a-z]))?"
)
_RELATIVE = re.compile(
    r"\b(?:vao\s+)?(?P<rel>(?:ngay\s+)?hom\s+nay|bua\s+nay|ngay\s+mai|mai|ngay\s+kia|ngay\s+mot|mot|"
    r"(?:ngay\s+)?hom\s+qua|hom\s+kia)(?![a-z])"
)
_WEEKDAY = re.compile(
    r"\b(?:vao\s+)?(?:ngay\s+)?(?:(?P<thu>thu)\s*(?P<wd>hai|ba|tu|nam|sau|bay|tam|chin|muoi|[0-9]{1,2})|"
    r"(?P<cn>chu\s*nhat|cn)|t(?P<wdt>[2-8]))(?![a-z0-9])"
    r"(?:\s+(?P<mod>nay|tuan\s+nay|tuan\s+sau(?:\s+nua)?|tuan\s+toi|tuan\s+truoc)(?![a-z]))?"
)
_WEEKEND = re.compile(r"\b(?:(?:vao\s+)?dip\s+)?cuoi\s+tuan(?:\s+(?P<mod>nay|sau(?:\s+nua)?|toi|truoc)(?![a-z]))?")
_VAGUE = re.compile(r"(?<![a-z])(?:tuan|thang)\s+(?:nay|sau|toi|truoc)(?![a-z])")
_LATER = re.compile(
    r"\b(?:(?:khoang|tam)\s+)?(?<![\d./:,-])(?P<n>\d{1,3})\s+(?P<unit>ngay|tieng|gio|phut)\s+(?:nua|sau)(?![a-z])"
)
_NOW = re.compile(r"(?:ngay\s+)?(?:bay\s*gio|bay\s*h|luc\s+nay|hien\s+gio|hien\s+tai)(?![a-z])")
_SLASH_DATE = re.compile(
    r"\b(?:(?:vao\s+)?(?:ngay|mung|mong)\s+)?(?<![\w./:-])(?P<d>\d{1,2})\s*(?P<sep>[/-])\s*(?P<m>\d{1,2})"
    r"(?:\s*(?P=sep)\s*(?P<y>\d{4}|\d{2}))?(?![\w.:]|\s*[/-]\s*\d)"
)
_ISO_DATE = re.compile(r"(?<![\w./:-])(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?![\w./:-])")
_WORD_DATE = re.compile(
    r"\b(?:vao\s+)?(?:ngay|mung|mong)\s+(?P<d>\d{1,2})(?:\s+thang\s+(?P<m>\d{1,2})(?:\s+nam\s+(?P<y>\d{4}))?"
    r"|\s+(?P<mod>thang\s+nay|thang\s+sau|thang\s+toi))?(?![\w./:-])(?!\s+tet\b)"
)
_TET = re.compile(
    r"\b(?:(?:vao\s+)?(?:ngay|dip)\s+)?(?:(?:(?:mung|mong)\s*(?P<n>\d{1,2})|(?P<n2>\d{1,2}))\s+)?tet(?![a-z])"
    r"(?:\s+(?P<solar>duong\s+lich|tay)(?![a-z])|\s+(?:nguyen\s+dan|am\s+lich|nay|toi)(?![a-z]))?"
    r"|\b(?:(?:vao\s+)?(?:ngay|luc)\s+)?(?P<eve>giao\s+thua)(?![a-z])"
)
_WORD_BEFORE = re.compile(r"([a-z]+)\W*$")
_WORD_AFTER = re.compile(r"^\W*([a-z]+)")
_GLUE = re.compile(r"^[\s,]*(?:(?:vao\s+)?(?:luc|ngay)\s+)?[\s,]*$")

# Accented forms a folded word must have when the text has diacritics (a plain ASCII word passes).
_ACCENTS = {
    "sang": {"sáng"}, "trua": {"trưa"}, "chieu": {"chiều"}, "toi": {"tối", "tới"}, "dem": {"đêm"},
    "thu": {"thứ"}, "hai": {"hai"}, "ba": {"ba"}, "tu": {"tư"}, "nam": {"năm"}, "sau": {"sáu", "sau"},
    "bay": {"bảy", "bẩy", "bây"}, "tam": {"tám"}, "chin": {"chín"}, "muoi": {"mười"}, "mot": {"mốt"},
    "mai": {"mai"}, "tet": {"tết"}, "cuoi": {"cuối"}, "tuan": {"tuần"}, "gio": {"giờ"}, "nay": {"này", "nay"},
    "luc": {"lúc"}, "hien": {"hiện"}, "chu": {"chủ"}, "nhat": {"nhật"}, "mung": {"mùng"}, "mong": {"mồng"},
}
# Per-word forms where one folded word has several meanings ("tối" evening, "tới" next; "sáu" six, "sau" after).
_STRICT = {"sang": {"sáng"}, "trua": {"trưa"}, "chieu": {"chiều"}, "toi": {"tối"}, "dem": {"đêm"},
           "tu": {"tư"}, "sau": {"sáu"}, "bay": {"bảy", "bẩy"}, "nam": {"năm"}}
_WEEKDAY_WORDS = {"hai": 0, "ba": 1, "tu": 2, "nam": 3, "sau": 4, "bay": 5}
_ORDINAL_BEFORE = {
    "lan", "con", "chau", "ban", "nguoi", "lo", "dot", "ky", "so", "hang", "vi", "cap", "buoc", "muc", "dieu",
    "khoan", "trang", "tap", "phan", "chuong", "lop", "vong", "giai", "theo", "dung", "xep", "la", "ngoi",
}
_TU_AFTER = {"uu", "dong", "nhien", "do"}  # thứ tự ưu tiên, tự động, ... written without diacritics
_ABBREVIATED_OK = {"co", "mo", "lam", "nghi", "duoc", "thi", "nay"}
_NO_HOUR = {"ngay", "mung", "mong", "thu", "thang", "so", "ngo", "ngach", "tang", "nha", "phong"}
_ADDRESS_BEFORE = {"so", "ngo", "ngach", "hem", "kiet", "nha", "to", "phong", "p", "km", "lo", "can", "tang", "ma"}
# Place names around "mai" in Hanoi (Hoàng Mai, Mai Dịch, Xuân Mai, ...): there "mai" is no tomorrow.
_MAI_NAME_BEFORE = {"bach", "dong", "hoang", "khuong", "phuong", "quynh", "tan", "thanh", "tuong", "xuan", "thon", "xa"}
_MAI_NAME_AFTER = {"dich", "dong", "sao", "trai", "dinh", "lam", "hac", "linh", "phuc", "trang", "thon", "xa"}
_PART_DAY_OFFSETS = {"nay": 0, "mai": 1, "mot": 2, "kia": 2, "qua": -1}  # days from today; 99 when none is said
_PRIORITY = {"tet": 0, "date": 0, "weekday": 1, "weekend": 1, "now": 1, "later": 1, "part": 2, "clock": 2,
             "relative": 3, "vague": 4}


# ---------------------------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True)
class TimeSpan:
    """One matched time phrase: ``text[start:end]`` of the original question."""

    start: int
    end: int
    text: str


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


@dataclass(slots=True)
class _Token:
    kind: str
    start: int
    end: int
    value: tuple[int, ...] = ()
    word: str = ""
    error: tuple[str, str] | None = None  # Vietnamese and English reason the phrase is not a time
    past: bool = False
    weak: bool = False  # a plain-ASCII ambiguous word: counts only next to another time word


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
    folded, offsets = _fold_keep_offsets(text)
    if offsets is None and not _FAST.search(folded) and not (_ANY_DIGIT.search(folded) and _DIGIT.search(folded)) \
            and (text.isascii() or not _WRITTEN_PART.search(text.lower())):
        return _NONE
    tokens = _select(_scan(text, folded, offsets), folded)
    if not tokens:
        return _NONE
    spans = _spans(text, tokens, offsets)
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


def _original(text: str, offsets: list[int] | None, start: int, end: int) -> str:
    if offsets is None:
        return text[start:end]
    return unicodedata.normalize("NFC", text[offsets[start] : offsets[end - 1] + 1])


def _accent_ok(text: str, offsets: list[int] | None, folded: str, start: int, end: int) -> bool:
    """True when every word of ``folded[start:end]`` is written plain or with its expected diacritics."""
    original = _original(text, offsets, start, end)
    if original.isascii():
        return True
    for word, written in zip(folded[start:end].split(), original.lower().split(), strict=False):
        allowed = _ACCENTS.get(word)
        if allowed is not None and not written.isascii() and written not in allowed:
            return False
    return True


def _word_before(folded: str, start: int) -> str:
    return found.group(1) if (found := _WORD_BEFORE.search(folded, max(0, start - 24), start)) else ""


def _word_after(folded: str, end: int) -> str:
    return found.group(1) if (found := _WORD_AFTER.search(folded[end : end + 24])) else ""


@dataclass(slots=True)
class _Question:
    """The question being scanned: as typed, folded, and the offset map between the two."""

    text: str
    folded: str
    offsets: list[int] | None

    def ok(self, match: re.Match[str]) -> bool:
        """True when the words of ``match`` are written plain or with their expected diacritics."""
        return _accent_ok(self.text, self.offsets, self.folded, match.start(), match.end())

    def original(self, start: int, end: int) -> str:
        return _original(self.text, self.offsets, start, end)

    def before(self, start: int) -> str:
        return _word_before(self.folded, start)

    def after(self, end: int) -> str:
        return _word_after(self.folded, end)


def _scan(text: str, folded: str, offsets: list[int] | None) -> list[_Token]:
    """Every candidate time token of ``folded`` (overlapping ones included)."""
    question = _Question(text, folded, offsets)
    digit = _DIGIT.search(folded) is not None
    tokens: list[_Token] = []
    for pattern, needles, on_digit, build in _SCANNERS:
        # Cheap substring checks first: most questions have no time phrase at all.
        if (digit and on_digit) or any(needle in folded for needle in needles):
            for match in pattern.finditer(folded):
                if (token := build(question, match)) is not None:
                    tokens.append(token)
    return tokens


def _now_token(question: _Question, match: re.Match[str]) -> _Token | None:
    return _Token("now", match.start(), match.end()) if question.ok(match) else None


def _later_token(question: _Question, match: re.Match[str]) -> _Token | None:
    """A delay: "2 ngày nữa" is a day, "3 tiếng nữa" a moment (in minutes from now)."""
    if not question.ok(match):
        return None
    amount, unit = int(match["n"]), match["unit"]
    kind = "relative" if unit == "ngay" else "later"
    value = amount if unit == "ngay" else amount * (1 if unit == "phut" else 60)
    return _Token(kind, match.start(), match.end(), (value,))


def _clock_token(question: _Question, match: re.Match[str]) -> _Token | None:
    if not question.ok(match):
        return None
    get = match.groupdict().get
    hour, kem = int(match["h"]), int(get("kem") or 0)  # "7 giờ kém 15" is 15 minutes before 7
    minute = 30 if get("half") or get("half2") else -kem if kem else int(get("m1") or get("m2") or 0)
    said = question.original(match.start("h"), match.end()).strip()
    error = (f"không có “{said}”: giờ từ 0 đến 23, phút từ 0 đến 59", f"'{said}': hours run 0-23, minutes 0-59")
    bad = hour > 23 or not -60 < minute < 60 or (minute < 0 and hour == 0)
    return _Token("clock", match.start(), match.end(), (hour, minute), error=error if bad else None)


def _hour_before_part_token(question: _Question, match: re.Match[str]) -> _Token | None:
    """A bare hour before a part of the day: "7 tối" is a clock time, "ngày 7 tối" or "số 7 sáng" is not."""
    return None if question.before(match.start()) in _NO_HOUR else _clock_token(question, match)


def _part_token(question: _Question, match: re.Match[str]) -> _Token | None:
    if not question.ok(match):
        return None
    part = match["part"]
    written = question.original(match.start("part"), match.end("part")).lower()
    if not written.isascii() and written not in _STRICT[part]:
        return None
    if part == "chieu" and question.before(match.start()) == "ho":  # hộ chiếu, the passport
        return None
    rel = (match["rel"] or "").split()[-1:] or [""]
    offset = _PART_DAY_OFFSETS.get(rel[0], 99)
    plain = question.original(match.start(), match.end()).isascii()
    weak = plain and match["buoi"] is None and not match["rel"]
    return _Token("part", match.start(), match.end(), (offset,), word=part, past=offset < 0, weak=weak)


def _relative_token(question: _Question, match: re.Match[str]) -> _Token | None:
    rel = match["rel"]
    if not question.ok(match) or (rel == "mai" and _is_place_mai(question, match)):
        return None
    if rel == "mot" and question.original(match.start(), match.end()).isascii():
        return None  # plain "mot" is "một" (one) far more often than "mốt"
    offset = 0 if "nay" in rel else 1 if rel.endswith("mai") else -1 if "qua" in rel else -2 \
        if rel == "hom kia" else 2
    return _Token("relative", match.start(), match.end(), (offset,), past=offset < 0)


def _is_place_mai(question: _Question, match: re.Match[str]) -> bool:
    """True when "mai" is part of a place name (Hoàng Mai, Mai Dịch, a capital "Mai" inside the sentence)."""
    before = question.before(match.start())
    capital_inside = question.original(match.end() - 3, match.end()) == "Mai" and before != ""
    return capital_inside or before in _MAI_NAME_BEFORE or question.after(match.end()) in _MAI_NAME_AFTER


def _weekday_token(question: _Question, match: re.Match[str]) -> _Token | None:
    if not question.ok(match):
        return None
    return _said_weekday(question, match) if match["thu"] else _abbreviated_weekday(question, match)


def _said_weekday(question: _Question, match: re.Match[str]) -> _Token | None:
    """A weekday said with "thứ" ("thứ bảy", "thứ 7"); None for an ordinal or "thứ tự", an error for "thứ tám"."""
    before = question.before(match.start())
    if before in _ORDINAL_BEFORE or (match["wd"] == "tu" and question.after(match.end()) in _TU_AFTER):
        return None
    word = match["wd"]
    written = question.original(match.start("wd"), match.end("wd")).lower()
    if not written.isascii() and written not in _STRICT.get(word, {written}):
        return None
    mod = match["mod"] or ""
    token = _Token("weekday", match.start(), match.end(), word=mod, past="truoc" in mod)
    number = int(word) if word.isdigit() else None
    if word in _WEEKDAY_WORDS or number in range(2, 8):
        token.value = (_WEEKDAY_WORDS[word] if number is None else number - 2,)
    else:
        token.error = (f"không có “thứ {written}” trong tuần: thứ Hai (2) đến thứ Bảy (7) và Chủ nhật",
                       f"there is no weekday 'thứ {written}': Monday (2) to Saturday (7) and Sunday")
    return token


def _abbreviated_weekday(question: _Question, match: re.Match[str]) -> _Token | None:
    """A weekday as "T7", "CN" or "chủ nhật" (None for "T8").

    "T7" and "CN" also abbreviate floors and branches: alone they count only before "có mở", "nghỉ", ...
    """
    if match["wdt"] == "8":
        return None
    mod = match["mod"] or ""
    abbreviated = match["cn"] in (None, "cn")
    weak = abbreviated and not mod and question.after(match.end()) not in _ABBREVIATED_OK
    value = (int(match["wdt"]) - 2,) if match["wdt"] else (6,)
    return _Token("weekday", match.start(), match.end(), value, word=mod, past="truoc" in mod, weak=weak)


def _weekend_token(question: _Question, match: re.Match[str]) -> _Token | None:
    if not question.ok(match):
        return None
    return _Token("weekend", match.start(), match.end(), word=match["mod"] or "", past=match["mod"] == "truoc")


def _vague_token(question: _Question, match: re.Match[str]) -> _Token:
    said = question.original(match.start(), match.end())
    error = (f"“{said}” chưa nói rõ ngày nào", f"'{said}' does not say which day")
    return _Token("vague", match.start(), match.end(), word=match.group(0), error=error)


def _slash_date_token(question: _Question, match: re.Match[str]) -> _Token | None:
    if question.before(match.start()) in _ADDRESS_BEFORE or question.folded[match.start() : match.end()] == "24/7":
        return None  # a house number ("ngõ 12/3") or "open 24/7"
    return _date_token(question, match)


def _word_date_token(question: _Question, match: re.Match[str]) -> _Token | None:
    return _date_token(question, match) if question.ok(match) else None


def _date_token(question: _Question, match: re.Match[str]) -> _Token:
    groups = match.groupdict()
    year = int(groups["y"]) if groups.get("y") else 0
    if 0 < year < 100:
        year += 2000
    month = int(groups["m"]) if groups.get("m") else 0
    mod = groups.get("mod") or ""
    return _Token("date", match.start(), match.end(), (int(groups["d"]), month, year), word=mod)


def _tet_token(question: _Question, match: re.Match[str]) -> _Token | None:
    if not question.ok(match):
        return None
    if match["eve"]:
        return _Token("tet", match.start(), match.end(), (TET_EVE,), word="eve")
    if match["solar"]:
        return _Token("date", match.start(), match.end(), (1, 1, 0))
    said_day = match["n"] or match["n2"]
    return _Token("tet", match.start(), match.end(), (int(said_day) if said_day else 1,),
                  word="mung" if match["n"] or not said_day else "")


_Builder = Callable[[_Question, re.Match[str]], _Token | None]
# (pattern, needles, on_digit, builder) in scanning order (`_select` keeps the first of otherwise equal tokens);
# a pattern is looked for when the folded text holds one of its needles, or, when on_digit, a time-shaped digit.
_SCANNERS: tuple[tuple[re.Pattern[str], tuple[str, ...], bool, _Builder], ...] = (
    (_NOW, ("bay", "luc", "hien"), False, _now_token),
    (_LATER, (), True, _later_token),
    (_CLOCK, (), True, _clock_token),
    (_BARE_CLOCK, (), True, _clock_token),
    (_HOUR_BEFORE_PART, (), True, _hour_before_part_token),
    (_PART, ("sang", "trua", "chieu", "toi", "dem"), False, _part_token),
    (_RELATIVE, ("nay", "mai", "kia", "mot", "qua"), False, _relative_token),
    (_WEEKDAY, ("thu", "chu", "cn"), True, _weekday_token),
    (_WEEKEND, ("cuoi",), False, _weekend_token),
    (_VAGUE, ("tuan", "thang"), False, _vague_token),
    (_SLASH_DATE, (), True, _slash_date_token),
    (_ISO_DATE, (), True, _date_token),
    (_WORD_DATE, (), True, _word_date_token),
    (_TET, ("tet", "giao"), False, _tet_token),
)


def _select(tokens: list[_Token], folded: str) -> list[_Token]:
    """Non-overlapping tokens (stronger kinds and longer spans first); weak ones only beside another."""
    for token in tokens:
        while token.end > token.start and folded[token.end - 1] == " ":
            token.end -= 1
    tokens.sort(key=lambda t: (_PRIORITY[t.kind], -(t.end - t.start), t.start))
    chosen: list[_Token] = []
    for token in tokens:
        if all(token.end <= other.start or token.start >= other.end for other in chosen):
            chosen.append(token)
    chosen.sort(key=lambda t: t.start)
    kept = []
    for i, token in enumerate(chosen):
        if token.weak:
            before = i > 0 and _GLUE.match(folded[chosen[i - 1].end : token.start])
            after = i + 1 < len(chosen) and _GLUE.match(folded[token.end : chosen[i + 1].start])
            if not (before or after):
                continue
        kept.append(token)
    return kept


def _spans(text: str, tokens: list[_Token], offsets: list[int] | None) -> tuple[TimeSpan, ...]:
    spans = []
    for token in tokens:
        start, end = token.start, token.end
        if offsets is not None:
            start, end = offsets[start], offsets[end - 1] + 1
            while end < len(text) and unicodedata.category(text[end]) == "Mn":
                end += 1
        spans.append(TimeSpan(start, end, text[start:end]))
    return tuple(spans)


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


def _weekday_date(token: _Token, today: date, said: str) -> date:
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


def _weekend_date(token: _Token, today: date) -> date:
    """Saturday of this week (on Sunday: of the coming week), or of the week(s) after."""
    weeks = {"sau": 1, "toi": 1, "sau nua": 2}.get(token.word, 0) + (today.weekday() == 6)
    return today + timedelta(days=5 - today.weekday() + 7 * weeks)


def _calendar_date(token: _Token, today: date, said: str) -> date:
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


def _tet_date(token: _Token, today: date, said: str) -> tuple[date, str, str]:
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


def _resolve(tokens: list[_Token], now: datetime, spans: tuple[TimeSpan, ...]) -> TimeReading:
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


def _refuse_errors_and_past(tokens: list[_Token], said: dict[int, str]) -> None:
    """Refuse the first token that is not a time (a vague one waits for a day) or that lies in the past."""
    for token in tokens:
        if token.error and token.kind != "vague":
            raise _Refusal(*token.error)
        if token.past:
            raise _Refusal(f"“{said[id(token)]}” đã qua: chỉ tìm được nơi mở cửa từ bây giờ trở đi",
                           f"'{said[id(token)]}' is in the past: only now or later can be answered")


def _the_day(tokens: list[_Token], said: dict[int, str], today: date) -> tuple[date | None, tuple[str, str] | None]:
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
