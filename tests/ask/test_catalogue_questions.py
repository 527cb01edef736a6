"""Questions about the national catalogue's procedures (outside the 75 reviewed ones), in residents' words.

``tests/data/ask_cases.csv`` holds at least 200 questions, at least 100 of them about catalogue
procedures: each group must reach 90 % for the procedure. ``tests/data/ask_holdout_catalogue.csv`` was
written after the synonyms for the catalogue were tuned, and is never tuned on: it must reach 85 %.
Every right answer also gets the right kind of place: locations of the kinds the place rule names, or
the agency and the portal link when no location handles the procedure.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from geo.ask import Asker, as_plain, labels
from geo.hours import parse_time

DATA = Path(__file__).parent.parent / "data"
AT = parse_time("2026-03-02T09:30:00+07:00")


@pytest.fixture(scope="module")
def asker(service) -> Asker:  # type: ignore[no-untyped-def]
    return Asker(service)


def _read(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _catalogue_cases(cases: list[dict[str, str]], index) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    authored = set(index.procedures.loc[index.procedures["layer"] == "authored", "code"])
    return [c for c in cases if (c["procedure"] not in authored and "catalogue" in c["notes"]) or (
        c["procedure"] != "ASK" and c["procedure"] not in authored)]  # fmt: skip


def _accuracy(asker: Asker, cases: list[dict[str, str]]) -> tuple[float, list[str]]:
    wrong = []
    for case in cases:
        lat, lon = case["lat"], case["lon"]
        response = asker.ask(case["query"], lon=float(lon) if lon else None, lat=float(lat) if lat else None, at=AT)
        got = labels(response)[0]
        if got != case["procedure"]:
            wrong.append(f"{case['query']!r}: want {case['procedure']}, got {got}")
    return 1 - len(wrong) / len(cases), wrong


def test_evaluation_set_is_large_enough(index) -> None:  # type: ignore[no-untyped-def]
    cases = _read("ask_cases.csv")
    assert len(cases) >= 200
    assert len(_catalogue_cases(cases, index)) >= 100
    holdout = _read("ask_holdout_catalogue.csv")
    assert len(holdout) >= 40
    assert not {c["query"] for c in holdout} & {c["query"] for c in cases}, "the hold-out repeats a tuned question"


def test_catalogue_questions_get_the_right_procedure(asker: Asker, index) -> None:  # type: ignore[no-untyped-def]
    accuracy, wrong = _accuracy(asker, _catalogue_cases(_read("ask_cases.csv"), index))
    assert accuracy >= 0.90, "\n".join(wrong)


def test_catalogue_hold_out(asker: Asker) -> None:
    accuracy, wrong = _accuracy(asker, _read("ask_holdout_catalogue.csv"))
    print(f"catalogue hold-out: {accuracy:.1%}", *wrong, sep="\n")
    assert accuracy >= 0.85, "\n".join(wrong)


@pytest.mark.parametrize(
    ("question", "code", "kinds"),
    [
        ("giấy phép karaoke ở phường Cầu Giấy", "1.001029", {"city_center", "branch"}),
        ("làm trợ cấp thất nghiệp ở phường Ba Đình", "1.014748", {"city_center", "branch"}),
        ("xin công nhận hộ nghèo ở xã Đông Anh", "1.011607", {"commune_center"}),
    ],
)
def test_the_right_kind_of_place(asker: Asker, question: str, code: str, kinds: set[str]) -> None:
    response = as_plain(asker.ask(question, at=AT))
    assert response["status"] == "answered" and response["understood"]["procedure"]["code"] == code
    features = response["result"]["features"]
    assert features and {f["properties"]["kind"] for f in features} <= kinds | {"city_center", "branch"}
    assert {f["properties"]["kind"] for f in features} & kinds
    assert response["understood"]["procedure"]["summary"]["portal_url"].startswith("https://dichvucong.gov.vn/")


@pytest.mark.parametrize(
    ("question", "code", "agency"),
    [
        ("đăng ký nhãn hiệu", "1.015002", "Cục Sở hữu trí tuệ"),
        ("sang tên xe máy ở phường Ba Đình", "1.013076", "Công an"),
        ("làm chế độ thai sản", "2.000693", "Bảo hiểm xã hội"),
    ],
)
def test_not_at_a_service_point_names_the_agency_and_the_portal(
    asker: Asker, question: str, code: str, agency: str
) -> None:
    response = as_plain(asker.ask(question, at=AT))
    assert response["status"] == "not_in_person"
    procedure = response["understood"]["procedure"]
    assert procedure["code"] == code and agency in response["answer"]
    elsewhere = procedure["handled_elsewhere"]
    assert agency in elsewhere["agency"] and elsewhere["portal_url"].startswith("https://dichvucong.gov.vn/")
