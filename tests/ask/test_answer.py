"""The Vietnamese answer (geo.ask.answer): sentences, questions back, and the response they make."""

from __future__ import annotations

from datetime import datetime

import pytest

from app.routes.pages import STRINGS
from geo.ask import Asker, as_plain, get_asker
from geo.ask.answer import (
    answer_sentence,
    answer_status,
    compose,
    not_in_person_sentence,
    place_question,
    procedure_question,
    short_name,
)
from geo.ask.understanding import Place, ProcedureGuess, Understanding
from geo.errors import InvalidTime
from geo.hours import parse_time
from geo.messages import distance_text, message

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


def test_the_answer_names_a_nearer_place_a_staff_change_keeps_out() -> None:
    kept = message("nearer_closed_by_staff", name="UBND phường Kim Liên", reason="Mất điện", distance="300 m",
                   distance_vi="300 m")  # fmt: skip
    other = message("beyond_network", mode="walk")
    features = [feature("open", closes_at="2026-03-02T17:00:00+07:00")]
    result = {"features": features, "notes": [kept.to_json(), other.to_json()]}
    sentence = answer_sentence(record(), HERE, result, AT)
    assert sentence.endswith(" " + kept.text) and other.text not in sentence


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


# --------------------------------------------------------------------------------------------- unknown place rule
OLD_WORDING = ("không làm tại các điểm phục vụ hành chính công", "không làm trực tiếp tại các điểm phục vụ")


def _unknown_codes(asker: Asker, index) -> list[str]:  # type: ignore[no-untyped-def]
    """Procedures the place rule does not know where in Hanoi they are handled, and no service point takes."""
    codes = [str(c) for c in index.procedures.loc[index.procedures["place"] == "unknown", "code"]]
    return [c for c in codes if not asker.procedure_record(c)["handled_in_person"]][:5]


def test_an_unknown_place_is_said_honestly_on_every_surface(asker: Asker, index) -> None:  # type: ignore[no-untyped-def]
    import anyio
    from mcp import Client

    from app.mcp import build_server

    codes = _unknown_codes(asker, index)
    assert codes
    for code in codes:
        rec = asker.procedure_record(code)
        assert rec["handled_elsewhere"]["kind"] == "unknown"
        sentence = not_in_person_sentence([rec])
        agency = rec["agency"] or rec["handled_elsewhere"]["agency"] or "?"
        assert sentence.startswith(message("place_unknown_named", name=rec["short_name"], agency=agency).text)
        assert not any(old in sentence for old in OLD_WORDING), sentence
        if rec["handled_elsewhere"]["portal_url"]:
            assert rec["handled_elsewhere"]["portal_url"] in sentence  # the online channel, or the portal page
        body = ask(asker, f"thủ tục {code}")
        if body["status"] == "not_in_person":
            assert body["answer"] == sentence
    other_agency = index.procedures.loc[index.procedures["place"] == "not_at_pasc", "code"][:20]
    elsewhere = [asker.procedure_record(str(c)) for c in other_agency]
    known = next(r for r in elsewhere if not r["handled_in_person"] and r["handled_elsewhere"])
    agency = known["agency"] or known["handled_elsewhere"]["agency"] or "?"
    said = message("not_at_service_point_named", name=known["short_name"], agency=agency)
    assert not_in_person_sentence([known]).startswith(said.text)  # another agency handles it: said so

    async def steps(client: Client) -> str:
        found = await client.call_tool("search_procedures", {"query": codes[0], "limit": 1})
        return str(found.content[0].text)

    text = anyio.run(lambda: _with_client(build_server(asker.service), steps))
    assert message("place_unknown_here").text in text and message("not_in_person_here").text not in text
    # The map and the planner key their wording on the search's `place` (app/pages/map.js, planner.js).
    [found] = asker.service.search_procedures(codes[0], 1)
    assert found["place"] == "unknown" and found["handled_in_person_here"] is False
    for key in ("procedure_place_unknown", "planner_procedure_place_unknown", "summary_catalogue_agency"):
        assert not any(old in STRINGS["vi"][key] for old in OLD_WORDING) and STRINGS["en"][key]


async def _with_client(server, steps):  # type: ignore[no-untyped-def]
    from mcp import Client

    async with Client(server) as client:
        return await steps(client)
