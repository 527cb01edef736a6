"""Place matching (geo.ask.place): which place a question names, through the asker and directly."""

from __future__ import annotations

import pytest

from geo.ask import Asker, as_plain, get_asker
from geo.ask.gazetteer import tokenize
from geo.ask.place import PlaceMatcher
from geo.hours import parse_time

AT = parse_time("2026-03-02T09:30:00+07:00")  # a Monday morning: commune centres are open


@pytest.fixture(scope="module")
def asker(service) -> Asker:  # type: ignore[no-untyped-def]
    return get_asker(service)


def ask(asker: Asker, q: str, **kw):  # type: ignore[no-untyped-def]
    return as_plain(asker.ask(q, at=AT, **kw))


def read(matcher: PlaceMatcher, text: str, used: set[int] | None = None):  # type: ignore[no-untyped-def]
    return matcher.match(tokenize(text), used or set())


# --------------------------------------------------------------------------------------------- names


def test_exact_diacritics_are_preferred_and_folded_homonyms_asked(asker: Asker) -> None:
    exact = ask(asker, "khai sinh ở xã Phú Đông")
    assert exact["understood"]["place"]["name"].startswith("Xã Phú Đông")  # Ba Vì, not Phù Đổng
    other = ask(asker, "khai sinh ở xã Phù Đổng")
    assert other["understood"]["place"]["commune"]["name"] == "Phù Đổng"
    folded = ask(asker, "khai sinh o xa phu dong")
    assert folded["status"] == "ask" and "place" in folded["ask"]["about"]
    labels_ = [o["label"] for o in folded["ask"]["place_options"]]
    assert any("Phù Đổng" in x for x in labels_) and any("Phú Đông" in x for x in labels_)


def test_name_in_force_beats_old_homonym_unless_old(asker: Asker) -> None:
    now = ask(asker, "kết hôn ở phường Giảng Võ")["understood"]["place"]
    assert now["kind"] == "commune" and now["commune"]["code"] == "00025"
    old = ask(asker, "kết hôn ở phường Giảng Võ cũ")["understood"]["place"]
    assert old["kind"] == "former_unit"
    notation = ask(asker, "kết hôn ở phường Kim Liên, quận Đống Đa")["understood"]["place"]
    assert notation["kind"] == "former_unit" and "Đống Đa" in notation["name"]


def test_former_district_small_answers_large_asks(asker: Asker) -> None:
    small = ask(asker, "làm giấy khai sinh ở quận Đống Đa")
    place = small["understood"]["place"]
    assert small["status"] == "answered" and place["kind"] == "former_district"
    assert place["district"]["code"] == "006" and place["precision"] == "area" and place["confidence"] < 0.9
    assert "Đống Đa" in {p["name"] for p in place["parts"]}
    assert "cũ" in small["answer"]
    large = ask(asker, "làm giấy khai sinh ở huyện Ba Vì")
    assert large["status"] == "ask" and large["ask"]["about"] == ["place"]
    assert {o["commune"]["name"] for o in large["ask"]["place_options"]} >= {"Ba Vì", "Cổ Đô"}


def test_split_old_unit_uses_likely_part_and_lists_parts(asker: Asker) -> None:
    data = ask(asker, "làm giấy khai sinh ở phường Dịch Vọng Hậu cũ")
    place = data["understood"]["place"]
    assert place["kind"] == "former_unit" and place["commune"]["code"] == "00166"
    assert {p["code"] for p in place["parts"]} == {"00160", "00166"}
    assert "chia" in data["answer"]


def test_street_address_and_unknown_street(asker: Asker) -> None:
    data = ask(asker, "làm giấy khai sinh cho con, nhà ở số 85 Dịch Vọng Hậu")
    place = data["understood"]["place"]
    assert place["kind"] == "street" and place["commune"]["code"] in ("00166", "00160")
    assert place["precision"] == "point"
    missing = ask(asker, "khai sinh cho con ở ngõ 25 Vũ Ngọc Phan")
    assert missing["status"] == "ask" and "vũ ngọc phan" in missing["answer"]


def test_coordinates_are_the_place_unless_text_names_another(asker: Asker) -> None:
    here = ask(asker, "đăng ký khai sinh gần đây", lat=21.0285, lon=105.8542)
    assert here["understood"]["place"]["kind"] == "coordinates"
    assert here["understood"]["place"]["commune"]["code"] == "00070"
    named = ask(asker, "đăng ký khai sinh ở phường Cầu Giấy", lat=21.0285, lon=105.8542)
    assert named["understood"]["place"]["commune"]["code"] == "00166"
    assert any("coordinates" in n["text_en"] for n in named["notes"])


# --------------------------------------------------------------------------------------------- the matcher


def test_matcher_says_whether_a_place_was_named(asker: Asker) -> None:
    matcher = asker.places
    found = read(matcher, "ở phường Cầu Giấy")
    assert found.named and found.place is not None and found.place.commune["code"] == "00166"
    missing = read(matcher, "ở phường Xyz")
    assert missing.named and missing.place is None and "xyz" in missing.problem
    nothing = read(matcher, "khai sinh gần đây")
    assert (nothing.named, nothing.place, nothing.problem) == (False, None, "")
    city = read(matcher, "ở Hà Nội")
    assert city.place is None and not city.named  # the city itself is no place to search from


def test_matcher_leaves_the_procedure_words_alone(asker: Asker) -> None:
    tokens = tokenize("Láng")
    assert asker.places.match(tokens, set()).place is not None
    assert asker.places.match(tokens, {0}).place is None


def test_coordinates_place_is_the_point_in_its_commune(asker: Asker) -> None:
    place = asker.places.coordinates(105.8542, 21.0285)
    assert place.kind == "coordinates" and place.precision == "point" and place.resolved
    assert place.commune is not None and place.commune["code"] == "00070"
