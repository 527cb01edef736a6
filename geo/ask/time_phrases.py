"""Finding the time phrases of a Vietnamese question: folded words and numbers with a time shape.

The text is folded character by character (so every match keeps its offsets in the original text), and
where a folded word is ambiguous the original diacritics decide ("tối" is evening, "tôi" is I; "thứ tư" is
Wednesday, "thứ tự" is order; "sáng" is morning, "sang tên" is a transfer). Without diacritics such a word
counts only next to another time word ("toi nay", "7h toi", "buoi sang"). Numbers only count with a time
shape around them, so procedure codes (1.001193), house numbers ("số 2 Hà Cầu", "ngõ 12/3") and ordinals
("lần thứ hai") are left alone. What the phrases mean is `geo.ask.when`'s part.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from geo.ask.lunar import TET_EVE
from geo.text import fold

__all__ = ["TimeSpan", "TimeToken", "find_time_phrases"]

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


# ---------------------------------------------------------------------------------------------- tokens
@dataclass(frozen=True, slots=True)
class TimeSpan:
    """One matched time phrase: ``text[start:end]`` of the original question."""

    start: int
    end: int
    text: str


@dataclass(slots=True)
class TimeToken:
    """One candidate time word or phrase, in folded-text offsets, with what it says.

    Attributes
    ----------
    kind
        ``now``, ``later``, ``clock``, ``part``, ``relative``, ``weekday``, ``weekend``, ``vague``, ``date``
        or ``tet``.
    start, end
        ``folded[start:end]`` (white space trimmed once selected).
    value
        The numbers it says: minutes or days from now, (hour, minute), the day offset of a part of the day
        (99 when none is said), the weekday (Monday 0), (day, month, year) with 0 for unsaid, or a Tết day.
    word
        The word that qualifies it: the part of the day, "tuần sau", "tháng sau", "eve", "mung".
    """

    kind: str
    start: int
    end: int
    value: tuple[int, ...] = ()
    word: str = ""
    error: tuple[str, str] | None = None  # Vietnamese and English reason the phrase is not a time
    past: bool = False
    weak: bool = False  # a plain-ASCII ambiguous word: counts only next to another time word



def find_time_phrases(text: str) -> tuple[list[TimeToken], tuple[TimeSpan, ...]]:
    """The time tokens of ``text`` that do not overlap, in text order, and their spans in ``text``.

    Parameters
    ----------
    text
        The question as typed (any case, with or without diacritics, composed or decomposed).

    Returns
    -------
    tuple of list of TimeToken and tuple of TimeSpan
        The tokens and, one for one, the phrases they were read from; both empty when there is none.

    Examples
    --------
    >>> tokens, spans = find_time_phrases("làm hộ chiếu sáng mai")
    >>> [(token.kind, token.word, token.value) for token in tokens], spans[0].text
    ([('part', 'sang', (1,))], 'sáng mai')
    """
    folded, offsets = _fold_keep_offsets(text)
    if offsets is None and not _FAST.search(folded) and not (_ANY_DIGIT.search(folded) and _DIGIT.search(folded)) \
            and (text.isascii() or not _WRITTEN_PART.search(text.lower())):
        return [], ()
    tokens = _select(_scan(text, folded, offsets), folded)
    return tokens, _spans(text, tokens, offsets)


# ---------------------------------------------------------------------------------------------- scanning
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


def _scan(text: str, folded: str, offsets: list[int] | None) -> list[TimeToken]:
    """Every candidate time token of ``folded`` (overlapping ones included)."""
    question = _Question(text, folded, offsets)
    digit = _DIGIT.search(folded) is not None
    tokens: list[TimeToken] = []
    for pattern, needles, on_digit, build in _SCANNERS:
        # Cheap substring checks first: most questions have no time phrase at all.
        if (digit and on_digit) or any(needle in folded for needle in needles):
            for match in pattern.finditer(folded):
                if (token := build(question, match)) is not None:
                    tokens.append(token)
    return tokens


def _now_token(question: _Question, match: re.Match[str]) -> TimeToken | None:
    return TimeToken("now", match.start(), match.end()) if question.ok(match) else None


def _later_token(question: _Question, match: re.Match[str]) -> TimeToken | None:
    """A delay: "2 ngày nữa" is a day, "3 tiếng nữa" a moment (in minutes from now)."""
    if not question.ok(match):
        return None
    amount, unit = int(match["n"]), match["unit"]
    kind = "relative" if unit == "ngay" else "later"
    value = amount if unit == "ngay" else amount * (1 if unit == "phut" else 60)
    return TimeToken(kind, match.start(), match.end(), (value,))


def _clock_token(question: _Question, match: re.Match[str]) -> TimeToken | None:
    if not question.ok(match):
        return None
    get = match.groupdict().get
    hour, kem = int(match["h"]), int(get("kem") or 0)  # "7 giờ kém 15" is 15 minutes before 7
    minute = 30 if get("half") or get("half2") else -kem if kem else int(get("m1") or get("m2") or 0)
    said = question.original(match.start("h"), match.end()).strip()
    error = (f"không có “{said}”: giờ từ 0 đến 23, phút từ 0 đến 59", f"'{said}': hours run 0-23, minutes 0-59")
    bad = hour > 23 or not -60 < minute < 60 or (minute < 0 and hour == 0)
    return TimeToken("clock", match.start(), match.end(), (hour, minute), error=error if bad else None)


def _hour_before_part_token(question: _Question, match: re.Match[str]) -> TimeToken | None:
    """A bare hour before a part of the day: "7 tối" is a clock time, "ngày 7 tối" or "số 7 sáng" is not."""
    return None if question.before(match.start()) in _NO_HOUR else _clock_token(question, match)


def _part_token(question: _Question, match: re.Match[str]) -> TimeToken | None:
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
    return TimeToken("part", match.start(), match.end(), (offset,), word=part, past=offset < 0, weak=weak)


def _relative_token(question: _Question, match: re.Match[str]) -> TimeToken | None:
    rel = match["rel"]
    if not question.ok(match) or (rel == "mai" and _is_place_mai(question, match)):
        return None
    if rel == "mot" and question.original(match.start(), match.end()).isascii():
        return None  # plain "mot" is "một" (one) far more often than "mốt"
    offset = 0 if "nay" in rel else 1 if rel.endswith("mai") else -1 if "qua" in rel else -2 \
        if rel == "hom kia" else 2
    return TimeToken("relative", match.start(), match.end(), (offset,), past=offset < 0)


def _is_place_mai(question: _Question, match: re.Match[str]) -> bool:
    """True when "mai" is part of a place name (Hoàng Mai, Mai Dịch, a capital "Mai" inside the sentence)."""
    before = question.before(match.start())
    capital_inside = question.original(match.end() - 3, match.end()) == "Mai" and before != ""
    return capital_inside or before in _MAI_NAME_BEFORE or question.after(match.end()) in _MAI_NAME_AFTER


def _weekday_token(question: _Question, match: re.Match[str]) -> TimeToken | None:
    if not question.ok(match):
        return None
    return _said_weekday(question, match) if match["thu"] else _abbreviated_weekday(question, match)


def _said_weekday(question: _Question, match: re.Match[str]) -> TimeToken | None:
    """A weekday said with "thứ" ("thứ bảy", "thứ 7"); None for an ordinal or "thứ tự", an error for "thứ tám"."""
    before = question.before(match.start())
    if before in _ORDINAL_BEFORE or (match["wd"] == "tu" and question.after(match.end()) in _TU_AFTER):
        return None
    word = match["wd"]
    written = question.original(match.start("wd"), match.end("wd")).lower()
    if not written.isascii() and written not in _STRICT.get(word, {written}):
        return None
    mod = match["mod"] or ""
    token = TimeToken("weekday", match.start(), match.end(), word=mod, past="truoc" in mod)
    number = int(word) if word.isdigit() else None
    if word in _WEEKDAY_WORDS or number in range(2, 8):
        token.value = (_WEEKDAY_WORDS[word] if number is None else number - 2,)
    else:
        token.error = (f"không có “thứ {written}” trong tuần: thứ Hai (2) đến thứ Bảy (7) và Chủ nhật",
                       f"there is no weekday 'thứ {written}': Monday (2) to Saturday (7) and Sunday")
    return token


def _abbreviated_weekday(question: _Question, match: re.Match[str]) -> TimeToken | None:
    """A weekday as "T7", "CN" or "chủ nhật" (None for "T8").

    "T7" and "CN" also abbreviate floors and branches: alone they count only before "có mở", "nghỉ", ...
    """
    if match["wdt"] == "8":
        return None
    mod = match["mod"] or ""
    abbreviated = match["cn"] in (None, "cn")
    weak = abbreviated and not mod and question.after(match.end()) not in _ABBREVIATED_OK
    value = (int(match["wdt"]) - 2,) if match["wdt"] else (6,)
    return TimeToken("weekday", match.start(), match.end(), value, word=mod, past="truoc" in mod, weak=weak)


def _weekend_token(question: _Question, match: re.Match[str]) -> TimeToken | None:
    if not question.ok(match):
        return None
    return TimeToken("weekend", match.start(), match.end(), word=match["mod"] or "", past=match["mod"] == "truoc")


def _vague_token(question: _Question, match: re.Match[str]) -> TimeToken:
    said = question.original(match.start(), match.end())
    error = (f"“{said}” chưa nói rõ ngày nào", f"'{said}' does not say which day")
    return TimeToken("vague", match.start(), match.end(), word=match.group(0), error=error)


def _slash_date_token(question: _Question, match: re.Match[str]) -> TimeToken | None:
    if question.before(match.start()) in _ADDRESS_BEFORE or question.folded[match.start() : match.end()] == "24/7":
        return None  # a house number ("ngõ 12/3") or "open 24/7"
    return _date_token(question, match)


def _word_date_token(question: _Question, match: re.Match[str]) -> TimeToken | None:
    return _date_token(question, match) if question.ok(match) else None


def _date_token(question: _Question, match: re.Match[str]) -> TimeToken:
    groups = match.groupdict()
    year = int(groups["y"]) if groups.get("y") else 0
    if 0 < year < 100:
        year += 2000
    month = int(groups["m"]) if groups.get("m") else 0
    mod = groups.get("mod") or ""
    return TimeToken("date", match.start(), match.end(), (int(groups["d"]), month, year), word=mod)


def _tet_token(question: _Question, match: re.Match[str]) -> TimeToken | None:
    if not question.ok(match):
        return None
    if match["eve"]:
        return TimeToken("tet", match.start(), match.end(), (TET_EVE,), word="eve")
    if match["solar"]:
        return TimeToken("date", match.start(), match.end(), (1, 1, 0))
    said_day = match["n"] or match["n2"]
    return TimeToken("tet", match.start(), match.end(), (int(said_day) if said_day else 1,),
                  word="mung" if match["n"] or not said_day else "")


_Builder = Callable[[_Question, re.Match[str]], TimeToken | None]
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


def _select(tokens: list[TimeToken], folded: str) -> list[TimeToken]:
    """Non-overlapping tokens (stronger kinds and longer spans first); weak ones only beside another."""
    for token in tokens:
        while token.end > token.start and folded[token.end - 1] == " ":
            token.end -= 1
    tokens.sort(key=lambda t: (_PRIORITY[t.kind], -(t.end - t.start), t.start))
    chosen: list[TimeToken] = []
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


def _spans(text: str, tokens: list[TimeToken], offsets: list[int] | None) -> tuple[TimeSpan, ...]:
    spans = []
    for token in tokens:
        start, end = token.start, token.end
        if offsets is not None:
            start, end = offsets[start], offsets[end - 1] + 1
            while end < len(text) and unicodedata.category(text[end]) == "Mn":
                end += 1
        spans.append(TimeSpan(start, end, text[start:end]))
    return tuple(spans)
