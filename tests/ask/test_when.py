"""Time phrases of a question: `geo.ask.when.understand_time` on fixed `now`s, table-driven."""

from __future__ import annotations

import csv
import statistics
import time as clock
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.ask.time_phrases import find_time_phrases
from geo.ask.when import TimeReading, remove_time_phrase, understand_time
from geo.errors import InvalidTime
from geo.hours import TZ

WEDNESDAY = datetime(2026, 3, 4, 10, 15, tzinfo=TZ)
SUNDAY_NIGHT = datetime(2026, 3, 8, 23, 0, tzinfo=TZ)
BEFORE_TET = datetime(2026, 2, 10, 9, 0, tzinfo=TZ)  # a Tuesday; Tết Bính Ngọ is 2026-02-17
NOWS = {"wed": WEDNESDAY, "sun": SUNDAY_NIGHT, "tet": BEFORE_TET}
HOLDOUT = Path(__file__).parent.parent / "data" / "when_holdout.csv"


def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


# (now, text, expected moment); "now" means the reference moment itself.
UNDERSTOOD: list[tuple[str, str, datetime | str]] = [
    # full chatbot-style questions
    ("wed", "công chứng giấy tờ ở Hà Đông thứ bảy này có mở không", at(3, 7, 8)),
    ("wed", "công chứng giấy tờ ở Hà Đông lúc 7 giờ tối nay có mở không", at(3, 4, 19)),
    ("wed", "công chứng giấy tờ ở Hà Đông sáng mai", at(3, 5, 8)),
    ("tet", "công chứng giấy tờ ở Hà Đông ngày 17/2/2026 có làm việc không", at(2, 17, 8)),
    ("wed", "lam giay khai sinh chieu mai luc 3h", at(3, 5, 15)),
    ("wed", "Đăng ký khai sinh ở phường Cầu Giấy chiều thứ 6 được không?", at(3, 6, 14)),
    ("wed", "tôi muốn làm hộ chiếu vào sáng thứ hai tuần sau", at(3, 9, 8)),
    ("wed", "lam ho chieu mai co mo khong", at(3, 5, 8)),
    ("wed", "xin cấp lý lịch tư pháp ở Hoàng Mai lúc 8h sáng mai", at(3, 5, 8)),
    ("wed", "bây giờ có chỗ nào mở cửa làm sổ đỏ không", "now"),
    ("wed", "sang ten so do o Long Bien 9h sang thu 7", at(3, 7, 9)),
    ("wed", "cuối tuần có nơi nào chứng thực bản sao không", at(3, 7, 8)),
    ("wed", "T7 có mở không", at(3, 7, 8)),
    # parts of the day and relative days
    ("wed", "chiều nay", at(3, 4, 14)),
    ("wed", "sáng nay", "now"),
    ("wed", "trưa nay", at(3, 4, 12)),
    ("wed", "tối mai", at(3, 5, 19)),
    ("wed", "đêm mai", at(3, 5, 22)),
    ("wed", "TRƯA MAI", at(3, 5, 12)),
    ("wed", "buoi sang", "now"),
    ("wed", "buổi chiều", at(3, 4, 14)),
    ("wed", "hôm nay", "now"),
    ("wed", "hom nay co mo khong", "now"),
    ("wed", "ngày mai", at(3, 5, 8)),
    ("wed", "ngay mai", at(3, 5, 8)),
    ("wed", "Ngày Mai", at(3, 5, 8)),
    ("wed", "ngày kia", at(3, 6, 8)),
    ("wed", "mốt", at(3, 6, 8)),
    ("wed", "sáng mốt", at(3, 6, 8)),
    ("wed", "ngay mot", at(3, 6, 8)),
    # weekdays
    ("wed", "thứ hai", at(3, 9, 8)),
    ("wed", "thứ 3", at(3, 10, 8)),
    ("wed", "thứ tư", "now"),
    ("wed", "thu nam", at(3, 5, 8)),
    ("wed", "thứ 6 này", at(3, 6, 8)),
    ("wed", "THỨ BẢY", at(3, 7, 8)),
    ("wed", "thu 7", at(3, 7, 8)),
    ("wed", "chủ nhật", at(3, 8, 8)),
    ("wed", "chu nhat nay", at(3, 8, 8)),
    ("wed", "CN này", at(3, 8, 8)),
    ("wed", "thứ bảy tuần sau", at(3, 14, 8)),
    ("wed", "thứ 4 tuần tới", at(3, 11, 8)),
    ("wed", "chủ nhật tuần sau nữa", at(3, 22, 8)),
    ("wed", "cuối tuần sau", at(3, 14, 8)),
    ("wed", "chiều cuối tuần", at(3, 7, 14)),
    # clock times
    ("wed", "7 giờ tối", at(3, 4, 19)),
    ("wed", "7h30", at(3, 5, 7, 30)),
    ("wed", "7g30 sáng mai", at(3, 5, 7, 30)),
    ("wed", "19:00", at(3, 4, 19)),
    ("wed", "19h", at(3, 4, 19)),
    ("wed", "lúc 7 rưỡi tối", at(3, 4, 19, 30)),
    ("wed", "7 giờ kém 15 tối", at(3, 4, 18, 45)),
    ("wed", "lúc 3h chiều", at(3, 4, 15)),
    ("wed", "3h chiều thứ 6", at(3, 6, 15)),
    ("wed", "11h", at(3, 4, 11)),
    ("wed", "lúc 10 giờ 30 phút", at(3, 4, 10, 30)),
    ("wed", "16h45", at(3, 4, 16, 45)),
    ("wed", "lúc 2 giờ", at(3, 4, 14)),
    ("wed", "12h trưa", at(3, 4, 12)),
    ("wed", "1h trưa mai", at(3, 5, 13)),
    ("wed", "10h đêm", at(3, 4, 22)),
    ("wed", "vào lúc 9 giờ sáng thứ năm", at(3, 5, 9)),
    # dates
    ("wed", "30/4", at(4, 30, 8)),
    ("wed", "ngày 2/9", at(9, 2, 8)),
    ("wed", "2-9", at(9, 2, 8)),
    ("wed", "17/2/2027", at(2, 17, 8, year=2027)),
    ("wed", "1/3", at(3, 1, 8, year=2027)),
    ("wed", "ngày 4/3", "now"),
    ("wed", "ngày 5 tháng 3", at(3, 5, 8)),
    ("wed", "ngày 15", at(3, 15, 8)),
    ("wed", "ngày 2", at(4, 2, 8)),
    ("wed", "mùng 2/9", at(9, 2, 8)),
    ("wed", "2026-05-01", at(5, 1, 8)),
    ("wed", "ngày 30/4 lúc 9h", at(4, 30, 9)),
    ("wed", "sáng 30/4", at(4, 30, 8)),
    ("wed", "chiều ngày 2/9 lúc 3 giờ", at(9, 2, 15)),
    ("wed", "ngày 10/3/26", at(3, 10, 8)),
    # now
    ("wed", "ngay bây giờ", "now"),
    ("wed", "lúc này có mở không", "now"),
    ("wed", "bay gio", "now"),
    ("wed", "hiện giờ", "now"),
    # Tết
    ("wed", "mùng 2 Tết", at(2, 7, 8, year=2027)),
    ("wed", "29 Tết", at(2, 5, 8, year=2027)),
    ("wed", "ngày mùng 1 tết", at(2, 6, 8, year=2027)),
    ("tet", "mùng 2 Tết", at(2, 18, 8)),
    ("tet", "29 Tết", at(2, 16, 8)),
    ("tet", "ngày mùng 1 tết", at(2, 17, 8)),
    ("tet", "mung 3 tet", at(2, 19, 8)),
    ("tet", "28 tết", at(2, 15, 8)),
    ("tet", "giao thừa", at(2, 16, 8)),
    ("tet", "sáng mùng 4 Tết", at(2, 20, 8)),
    ("tet", "Tết có mở không", at(2, 17, 8)),
    ("tet", "cuối tuần", at(2, 14, 8)),
    ("tet", "thứ 6 này", at(2, 13, 8)),
    ("tet", "tết dương lịch", at(1, 1, 8, year=2027)),
    # delays, combinations, abbreviations
    ("wed", "2 ngày nữa", at(3, 6, 8)),
    ("wed", "3 tiếng nữa", at(3, 4, 13, 15)),
    ("wed", "khoảng 30 phút nữa có mở không", at(3, 4, 10, 45)),
    ("wed", "khoảng 3 giờ chiều", at(3, 4, 15)),
    ("wed", "sáng chủ nhật", at(3, 8, 8)),
    ("wed", "Chiều T6", at(3, 6, 14)),
    ("wed", "CN có làm việc không", at(3, 8, 8)),
    ("wed", "ngày 7 tháng 3 năm 2026", at(3, 7, 8)),
    ("wed", "thứ 2, 9/3", at(3, 9, 8)),
    ("wed", "thứ 7 ngày 7/3 lúc 8h30", at(3, 7, 8, 30)),
    ("wed", "Mai tôi đi được không", at(3, 5, 8)),
    ("wed", "toi nay", at(3, 4, 19)),
    # a Sunday night
    ("sun", "sáng mai", at(3, 9, 8)),
    ("sun", "tối nay", "now"),
    ("sun", "đêm nay", "now"),
    ("sun", "cuối tuần", at(3, 14, 8)),
    ("sun", "chủ nhật", "now"),
    ("sun", "thứ hai", at(3, 9, 8)),
    ("sun", "thứ 2 tuần sau", at(3, 9, 8)),
    ("sun", "7h sáng", at(3, 9, 7)),
    ("sun", "trưa mai", at(3, 9, 12)),
    ("sun", "8h", at(3, 9, 8)),
    ("sun", "2h đêm nay", at(3, 9, 2)),
]

NOT_TIME = [
    "thủ tục đăng ký khai sinh",
    "làm hộ chiếu ở Hà Đông",
    "tôi muốn sang tên sổ đỏ",
    "toi muon sang ten so do",
    "thủ tục 1.001193 ở đâu",
    "1.001193",
    "số 2 Hà Cầu",
    "so 2 ha cau",
    "ngõ 12/3 phố Hà Cầu",
    "số 12-14 Trần Phú",
    "theo thứ tự",
    "thứ tự ưu tiên",
    "thu tu uu tien",
    "đăng ký khai sinh cho con thứ hai",
    "cấp bản sao lần thứ ba",
    "phường Hoàng Mai",
    "phuong mai dich",
    "xã Xuân Mai",
    "Bach Mai",
    "đem theo giấy tờ gì",
    "một bản sao",
    "mot ban sao",
    "CN Hà Đông",
    "tầng T2 tòa nhà",
    "mở cửa 24/7 không",
    "tôi ở quận 3",
    "Tôi cần làm gì",
    "sắp tới có mở không",
    "chùa Một Cột",
    "Nghị định 01/2026",
    "QĐ 63/2024/QĐ-UBND",
    "Tôi tên Mai",
    "mấy giờ mở cửa",
    "giờ hành chính",
    "",
]

NOT_UNDERSTOOD: list[tuple[str, str]] = [
    ("wed", "lúc 25 giờ"),
    ("wed", "thứ tám"),
    ("wed", "thứ 8 có mở không"),
    ("wed", "ngày 31/2"),
    ("wed", "30/2"),
    ("wed", "hôm qua"),
    ("wed", "sáng hôm qua"),
    ("wed", "thứ 2 tuần trước"),
    ("wed", "tuần sau"),
    ("wed", "tháng sau"),
    ("wed", "7h60"),
    ("wed", "13h sáng"),
    ("wed", "ngày 17/2/2026"),
    ("wed", "mùng 15 Tết"),
    ("wed", "8h sáng nay"),
    ("wed", "sáng mai thứ 6"),
    ("wed", "7h sáng và 9h tối"),
    ("wed", "thứ 6 ngày 7/3"),
    ("wed", "hôm nay lúc 9h"),
    ("wed", "2 tiếng nữa lúc 9h"),
    ("sun", "sáng nay"),
    ("tet", "30 Tết"),
]


@pytest.mark.parametrize(("now_key", "text", "expected"), UNDERSTOOD)
def test_understood(now_key: str, text: str, expected: datetime | str) -> None:
    now = NOWS[now_key]
    reading = understand_time(text, now)
    assert reading.kind == "understood", reading
    assert reading.at == (now if expected == "now" else expected)
    assert reading.at is not None and reading.at.tzinfo is not None
    assert reading.phrase, reading


def test_enough_distinct_phrasings() -> None:
    texts = {text for _, text, _ in UNDERSTOOD} | set(NOT_TIME) | {text for _, text in NOT_UNDERSTOOD}
    assert len({text for _, text, _ in UNDERSTOOD}) >= 80
    assert len(texts) >= 130


@pytest.mark.parametrize("text", NOT_TIME)
def test_not_a_time(text: str) -> None:
    reading = understand_time(text, WEDNESDAY)
    assert reading.kind == "none", reading
    assert reading.at is None and reading.phrase == ()
    assert reading.describe_vi() == "" and reading.describe_en() == ""


@pytest.mark.parametrize(("now_key", "text"), NOT_UNDERSTOOD)
def test_not_understood_has_a_reason(now_key: str, text: str) -> None:
    reading = understand_time(text, NOWS[now_key])
    assert reading.kind == "not_understood", reading
    assert reading.at is None
    assert reading.reason and reading.reason_en
    assert reading.phrase


def test_reason_names_the_problem() -> None:
    assert "25" in understand_time("lúc 25 giờ", WEDNESDAY).reason
    assert "tám" in understand_time("thứ tám", WEDNESDAY).reason
    assert "31/2" in understand_time("ngày 31/2", WEDNESDAY).reason
    assert "đã qua" in understand_time("hôm qua", WEDNESDAY).reason
    assert "29" in understand_time("30 Tết", BEFORE_TET).reason


def test_assumed_hour_and_reason() -> None:
    morning = understand_time("sáng mai", WEDNESDAY)
    assert morning.assumed_hour and "08:00" in morning.reason
    noon = understand_time("trưa mai", WEDNESDAY)
    assert noon.assumed_hour and noon.at == at(3, 5, 12)
    clock_given = understand_time("8h sáng mai", WEDNESDAY)
    assert not clock_given.assumed_hour
    running = understand_time("sáng nay", WEDNESDAY)
    assert not running.assumed_hour and "hiện tại" in running.reason
    afternoon = understand_time("lúc 3h", WEDNESDAY)
    assert afternoon.at == at(3, 4, 15) and "chiều" in afternoon.reason


def test_describe() -> None:
    reading = understand_time("công chứng ở Hà Đông sáng mai", WEDNESDAY)
    assert reading.describe_vi() == "Sáng mai, thứ Năm 05/03, lúc 08:00"
    assert reading.describe_en() == "Tomorrow morning, Thursday 05/03, at 08:00"
    assert understand_time("bây giờ", WEDNESDAY).describe_vi() == "Bây giờ, thứ Tư 04/03, lúc 10:15"
    assert understand_time("7 giờ tối nay", WEDNESDAY).describe_en() == "This evening, Wednesday 04/03, at 19:00"
    assert understand_time("chiều thứ bảy", WEDNESDAY).describe_vi() == "Chiều thứ Bảy 07/03, lúc 14:00"
    assert understand_time("chiều thứ bảy", WEDNESDAY).describe_en() == "Saturday afternoon 07/03, at 14:00"
    assert understand_time("chủ nhật tuần sau", WEDNESDAY).describe_vi() == "Chủ nhật 15/03, lúc 08:00"
    assert understand_time("mùng 2 Tết", BEFORE_TET).describe_vi() == "Mùng 2 Tết, thứ Tư 18/02, lúc 08:00"
    assert understand_time("17/2/2027", WEDNESDAY).describe_vi() == "Thứ Tư 17/02/2027, lúc 08:00"
    assert understand_time("lúc 25 giờ", WEDNESDAY).describe_vi() == ""


def test_phrase_offsets_and_removal() -> None:
    text = "Công chứng giấy tờ ở Hà Đông sáng mai lúc 9h có mở không"
    reading = understand_time(text, WEDNESDAY)
    assert [span.text for span in reading.phrase] == ["sáng mai", "lúc 9h"]
    for span in reading.phrase:
        assert text[span.start : span.end] == span.text
    assert remove_time_phrase(text, reading) == "Công chứng giấy tờ ở Hà Đông có mở không"
    assert remove_time_phrase(text, TimeReading(kind="none")) == text


def test_decomposed_text_keeps_offsets() -> None:
    text = unicodedata.normalize("NFD", "làm khai sinh tối mai ở Đống Đa")
    reading = understand_time(text, WEDNESDAY)
    assert reading.at == at(3, 5, 19)
    span = reading.phrase[0]
    assert unicodedata.normalize("NFC", text[span.start : span.end]) == "tối mai"


def test_time_phrases_are_found_one_span_per_token_in_text_order() -> None:
    text = unicodedata.normalize("NFD", "khai sinh lúc 9h sáng thứ Bảy tuần sau ở số 2 Hà Cầu")
    tokens, spans = find_time_phrases(text)
    assert [token.kind for token in tokens] == ["clock", "part", "weekday"]
    assert [unicodedata.normalize("NFC", span.text) for span in spans] == ["lúc 9h", "sáng", "thứ Bảy tuần sau"]
    assert [span.start for span in spans] == sorted(span.start for span in spans)
    assert find_time_phrases("thủ tục 1.001193 ở số 2 Hà Cầu") == ([], ())


def test_now_is_converted_to_hanoi_and_naive_refused() -> None:
    utc_now = WEDNESDAY.astimezone(UTC)
    assert understand_time("sáng mai", utc_now).at == at(3, 5, 8)
    with pytest.raises(InvalidTime):
        understand_time("thủ tục khai sinh", datetime(2026, 3, 4, 10, 15))


def _holdout_rows() -> list[dict[str, str]]:
    with HOLDOUT.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_holdout_accuracy(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _holdout_rows()
    assert len(rows) >= 25
    right, wrong = 0, []
    for row in rows:
        reading = understand_time(row["text"], datetime.fromisoformat(row["now"]))
        expected_at = datetime.fromisoformat(row["expected_at"]) if row["expected_at"] else None
        if reading.kind == row["kind"] and reading.at == expected_at:
            right += 1
        else:
            wrong.append(f"{row['text']!r}: {reading.kind} {reading.at} (expected {row['kind']} {expected_at})")
    accuracy = right / len(rows)
    with capsys.disabled():
        print(f"\nwhen hold-out accuracy: {right}/{len(rows)} = {accuracy:.1%}")
        for line in wrong:
            print("  miss", line)
    assert accuracy >= 0.85


def test_fast_on_questions_without_time() -> None:
    questions = ["thủ tục đăng ký khai sinh ở Hà Đông", "lam ho chieu o dau", "công chứng hợp đồng mua bán nhà"]
    for question in questions:
        understand_time(question, WEDNESDAY)
    timings = []
    for _ in range(200):
        started = clock.perf_counter()
        for question in questions:
            understand_time(question, WEDNESDAY)
        timings.append((clock.perf_counter() - started) / len(questions))
    assert statistics.median(timings) < 200e-6


_WORDS = ["sáng", "mai", "thứ", "7", "giờ", "tối", "nay", "lúc", "25", "/", "-", "Tết", "mùng", "h", "30", "kém",
          "rưỡi", "ngày", "cuối tuần", "tuần sau", "chủ nhật", "CN", "T2", "đêm", "2", "số", "1.001193", ":"]


@given(st.lists(st.sampled_from(_WORDS) | st.text(max_size=4), max_size=10), st.sampled_from(list(NOWS.values())))
def test_never_raises_and_spans_match(words: list[str], now: datetime) -> None:
    text = " ".join(words)
    reading = understand_time(text, now)
    assert reading.kind in {"none", "understood", "not_understood"}
    assert (reading.at is not None) == (reading.kind == "understood")
    if reading.at is not None:
        assert reading.at.utcoffset() is not None and reading.at >= now.replace(second=0) - timedelta(minutes=1)
    for span in reading.phrase:
        assert text[span.start : span.end] == span.text and span.text.strip() == span.text
