"""The Vietnamese answer (geo.ask.answer): sentences, questions back, and the response they make."""

from __future__ import annotations

from datetime import datetime

import pytest

from geo.ask import Asker, as_plain, get_asker
from geo.ask.answer import (
    answer_sentence,
    answer_status,
    compose,
    distance_text,
    not_in_person_sentence,
    place_question,
    procedure_question,
    short_name,
)
from geo.ask.understanding import Place, ProcedureGuess, Understanding
from geo.errors import InvalidTime
from geo.hours import parse_time
from geo.messages import message

AT = parse_time("2026-03-02T09:30:00+07:00")  # a Monday morning: commune centres are open


@pytest.fixture(scope="module")
def asker(service) -> Asker:  # type: ignore[no-untyped-def]
    return get_asker(service)


def ask(asker: Asker, q: str, **kw):  # type: ignore[no-untyped-def]
    return as_plain(asker.ask(q, at=AT, **kw))


def record(code: str = "9.000001", in_person: bool = True, **kw) -> dict:  # type: ignore[no-untyped-def]
    return {
        "code": code,
        "short_name": "Đăng ký khai sinh",
        "agency": "UBND cấp xã",
        "handled_in_person": in_person,
        "online_full": "",
        **kw,
    }


HERE = Place("commune", "Phường Láng", "phường Láng", 0.95, lon=105.8, lat=21.0, commune={"code": "00001"})


def feature(state: str, **props) -> dict:  # type: ignore[no-untyped-def]
    return {
        "properties": {"name": "UBND phường Láng", "address": "1 Láng", "distance_m": 1234.0, "state": state, **props}
    }


# --------------------------------------------------------------------------------------------- through the asker


def test_not_in_person_names_the_agency(asker: Asker, index) -> None:  # type: ignore[no-untyped-def]
    data = ask(asker, "xin phiếu lý lịch tư pháp")
    assert data["status"] == "not_in_person" and data["result"] is None
    agency = index.procedures.set_index("code").loc["3.000333", "agency"]
    assert agency in data["answer"]
    online = ask(asker, "đăng ký xe máy mới mua")
    assert online["status"] == "not_in_person" and "trực tuyến" in online["answer"]
    group = ask(asker, "làm căn cước công dân")
    assert group["status"] == "not_in_person" and len(group["understood"]["procedure_candidates"]) == 4


def test_missing_or_ambiguous_asks_back_never_guesses(asker: Asker) -> None:
    nothing = ask(asker, "ở đâu gần nhất")
    assert nothing["status"] == "ask" and set(nothing["ask"]["about"]) == {"procedure", "place"}
    assert nothing["result"] is None and nothing["answer"].endswith("?")
    many = ask(asker, "làm sổ đỏ ở phường Láng")
    assert many["status"] == "ask" and many["ask"]["about"] == ["procedure"]
    assert {o["code"] for o in many["ask"]["procedure_options"]} >= {"1.013978", "1.012786"}
    two = ask(asker, "đăng ký khai sinh và kết hôn ở phường Láng")
    assert two["status"] == "ask" and {o["code"] for o in two["ask"]["procedure_options"]} == {"1.001193", "1.000894"}
    homonym = ask(asker, "đăng ký khai sinh ở xã Tiền Phong")
    assert homonym["status"] == "ask" and len(homonym["ask"]["place_options"]) == 2
    unknown = ask(asker, "đăng ký khai sinh ở phường Xyz")
    assert unknown["status"] == "ask" and "xyz" in unknown["answer"].lower()


def test_other_languages_ask_back_in_vietnamese(asker: Asker) -> None:
    english = ask(asker, "Where can I register a birth certificate?")
    assert english["query"]["language"] == "en" and english["status"] == "ask"
    assert english["answer"].startswith("Xin lỗi")
    chinese = ask(asker, "登记出生 在河内")
    assert chinese["query"]["language"] == "other" and chinese["status"] == "ask"


# --------------------------------------------------------------------------------------------- words


def test_distances_and_names_read_as_said() -> None:
    assert distance_text(364) == "360 m" and distance_text(366) == "370 m"
    assert distance_text(1234) == "1,2 km"
    assert short_name("thủ tục đăng ký khai sinh") == "Đăng ký khai sinh"
    long = short_name("Thủ tục " + "cấp giấy chứng nhận " * 10)
    assert long.endswith("…") and len(long) <= 91 and not long.startswith("Thủ tục")


def test_answer_sentence_says_open_closed_or_unknown() -> None:
    open_ = answer_sentence(record(), HERE, {"features": [feature("open", closes_at="2026-03-02T17:00:00+07:00")]}, AT)
    assert open_ == (
        "Đăng ký khai sinh: nơi gần phường Láng nhất đang mở cửa là UBND phường Láng, 1 Láng "
        "(cách khoảng 1,2 km), mở đến 17:00."
    )
    later = answer_sentence(record(), HERE, {"features": [feature("closed", opens_at="2026-03-03T08:00:00+07:00")]}, AT)
    assert "hiện chưa có nơi nào mở cửa" in later and later.endswith("mở lại lúc 08:00 thứ Ba 03/03.")
    unknown = answer_sentence(record(), HERE, {"features": [feature("unknown")]}, AT)
    assert unknown.endswith("chưa rõ giờ mở cửa.")
    none = answer_sentence(record(), HERE, {"features": []}, AT)
    assert none == "Đăng ký khai sinh: không tìm thấy nơi nào gần phường Láng làm thủ tục này."
    street = Place("street", "Huế", "phố Huế", 0.8, lon=105.85, lat=21.01, precision="point")
    assert answer_sentence(record(), street, {"features": [feature("unknown")]}, AT).endswith("không theo số nhà.)")


def test_questions_back_list_the_options() -> None:
    assert procedure_question([]).startswith("Bạn cần làm thủ tục gì?")
    two = [record("9.000001"), record("9.000002", short_name="Đăng ký kết hôn")]
    assert procedure_question(two) == "Bạn cần thủ tục nào: đăng ký khai sinh hay đăng ký kết hôn?"
    options = [{"label": "xã Tiền Phong (Mê Linh)"}, {"label": "xã Tiền Phong (Thường Tín)"}]
    ambiguous = Place("ambiguous", "Tiền Phong", "x", 0.3, options=options)
    u = Understanding("q", None, ambiguous)
    assert place_question(u) == "Bạn ở xã Tiền Phong (Mê Linh) hay xã Tiền Phong (Thường Tín)?"
    problem = Understanding("q", None, None, place_problem="không tìm thấy 'xyz' ở Hà Nội")
    assert place_question(problem).startswith("Tôi không tìm thấy 'xyz' ở Hà Nội.")
    assert not_in_person_sentence([record(in_person=False, online_full="yes")]).endswith("trên Cổng dịch vụ công.")


# --------------------------------------------------------------------------------------------- response


def test_status_follows_procedure_then_place() -> None:
    guess = ProcedureGuess("9.000001", 0.95)
    assert answer_status(Understanding("q", guess, HERE), record(), []) == "answered"
    assert answer_status(Understanding("q", guess, None), record(), []) == "ask"
    assert answer_status(Understanding("q", guess, HERE), record(in_person=False), []) == "not_in_person"
    one_agency = [record("9.000001", in_person=False), record("9.000002", in_person=False)]
    assert answer_status(Understanding("q", None, HERE), None, one_agency) == "not_in_person"
    two_agencies = [record("9.000001", in_person=False), record("9.000002", in_person=False, agency="Công an")]
    assert answer_status(Understanding("q", None, HERE), None, two_agencies) == "ask"


def test_compose_asks_about_what_is_missing_in_vietnamese() -> None:
    u = Understanding("where", ProcedureGuess("9.000001", 0.9, "khai sinh"), None, language="en")
    body = compose(u, "ask", record(), [], AT)
    assert body["ask"] == {
        "about": ["place"],
        "question": place_question(u),
        "procedure_options": [],
        "place_options": [],
    }
    assert body["answer"].startswith("Xin lỗi, tôi chỉ hiểu câu hỏi bằng tiếng Việt. Để đăng ký khai sinh: bạn đang ở")
    assert body["understood"]["procedure"]["matched"] == "khai sinh" and body["understood"]["place"] is None
    assert body["result"] is None and body["notes"] == []


def test_compose_keeps_the_search_notes_and_flags_other_languages() -> None:
    first, searched = message("place_named_coordinates_ignored"), message("beyond_network", mode="walk")
    u = Understanding("q", ProcedureGuess("9.000001", 0.9), HERE, notes=[first], language="en")
    result = {"type": "FeatureCollection", "features": [feature("unknown")]}
    body = compose(u, "answered", record(), [], AT, result, [searched])
    assert body["status"] == "answered" and body["ask"] is None and body["result"] is result
    assert body["notes"] == [first.to_json(), searched.to_json(), message("not_vietnamese").to_json()]
    assert body["understood"]["place"] == HERE.to_dict()


def test_visit_time_is_hanoi_time(asker: Asker) -> None:
    assert asker.visit_time(parse_time("2026-03-02T02:30:00+00:00")) == AT
    assert asker.visit_time(None).utcoffset() == AT.utcoffset()
    with pytest.raises(InvalidTime):
        asker.visit_time(datetime(2026, 3, 2, 9, 30))  # naive: the offset is not guessed


def test_closed_sentence_names_another_earliest_reopening_and_the_time_asked() -> None:
    from geo.ask.when import understand_time

    reading = understand_time("khai sinh tối nay", AT)
    assert reading.kind == "understood" and reading.at is not None
    result = {
        "features": [feature("closed", id="near", opens_at="2026-03-03T13:00+07:00")],
        "next_opening": {"id": "far", "name": "UBND phường Kim Liên", "opens_at": "2026-03-03T08:00+07:00"},
    }
    sentence = answer_sentence(record(), HERE, result, reading.at, reading)
    assert sentence.startswith("Tối nay, thứ Hai 02/03, lúc 19:00 — Đăng ký khai sinh: lúc đó không có nơi nào mở")
    assert "mở lại lúc 13:00 thứ Ba 03/03." in sentence
    assert sentence.endswith("Nơi mở lại sớm nhất: UBND phường Kim Liên, lúc 08:00 thứ Ba 03/03.")
    # The same place: said once.
    result["next_opening"]["id"] = "near"
    assert "sớm nhất" not in answer_sentence(record(), HERE, result, reading.at, reading)
