"""The asker end to end (geo.ask.asker, /v1/ask, `gandan ask`): evaluation set, answers, bad input.

The evaluation set ``tests/data/ask_cases.csv`` (written before the matcher was tuned) must reach 90 %
for the procedure and for the place; failures are printed. Matching and wording have their own test
files beside this one (test_procedure, test_place, test_gazetteer, test_answer, test_understanding).
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from geo.ask import MAX_QUERY_CHARS, Asker, InvalidQuery, as_plain, labels
from geo.errors import InvalidParameter, OutsideServiceArea
from geo.hours import TZ, parse_time

CASES = Path(__file__).parent.parent / "data" / "ask_cases.csv"
AT = parse_time("2026-03-02T09:30:00+07:00")  # a Monday morning: commune centres are open
MIN_ACCURACY = 0.90


@pytest.fixture(scope="module")
def asker(service) -> Asker:  # type: ignore[no-untyped-def]
    return Asker(service)


def ask(asker: Asker, q: str, **kw):  # type: ignore[no-untyped-def]
    return as_plain(asker.ask(q, at=AT, **kw))


# --------------------------------------------------------------------------------------------- evaluation


def _cases() -> list[dict[str, str]]:
    with CASES.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_evaluation_set_is_well_formed(index) -> None:  # type: ignore[no-untyped-def]
    cases = _cases()
    assert len(cases) >= 80
    codes = set(index.procedures["code"])
    communes = set(index.communes["code"])
    districts = set(index.legacy_units["district_code"])
    for case in cases:
        assert case["query"].strip(), case
        assert case["procedure"] == "ASK" or case["procedure"] in codes, case
        for place in case["place"].split("|"):
            assert (
                place in ("ASK", "NONE") or place in communes or (place.startswith("D:") and place[2:] in districts)
            ), case
    queries = [c["query"] for c in cases]
    assert len(queries) == len(set(queries)), "duplicate queries"
    # The set covers what the issue lists: no diacritics, old names, districts, ask-backs, typos.
    assert sum(c["query"].isascii() for c in cases) >= 15
    assert sum(" cũ" in c["query"] for c in cases) >= 5
    assert sum(c["place"].startswith("D:") for c in cases) >= 5
    assert sum(c["procedure"] == "ASK" for c in cases) >= 8
    assert sum(c["place"] == "ASK" for c in cases) >= 10


def test_evaluation_accuracy(asker: Asker) -> None:
    cases = _cases()
    good_procedure = good_place = 0
    failures = []
    for case in cases:
        lat = float(case["lat"]) if case["lat"] else None
        lon = float(case["lon"]) if case["lon"] else None
        procedure, place = labels(asker.ask(case["query"], lon=lon, lat=lat, at=AT))
        ok_procedure = procedure == case["procedure"]
        ok_place = place in case["place"].split("|")
        good_procedure += ok_procedure
        good_place += ok_place
        if not (ok_procedure and ok_place):
            failures.append(f"{case['query']!r}: want {case['procedure']} {case['place']}, got {procedure} {place}")
    n = len(cases)
    print(
        f"\nask evaluation: procedure {good_procedure}/{n} = {good_procedure / n:.1%}, "
        f"place {good_place}/{n} = {good_place / n:.1%}"
    )
    for failure in failures:
        print("  FAIL", failure)
    assert good_procedure / n >= MIN_ACCURACY, failures
    assert good_place / n >= MIN_ACCURACY, failures


# --------------------------------------------------------------------------------------------- understanding


def test_decomposed_input_reads_like_composed(asker: Asker) -> None:
    text = "đăng ký kết hôn ở phường Yên Hoà"
    decomposed = unicodedata.normalize("NFD", text)
    assert decomposed != text
    assert labels(ask(asker, decomposed)) == labels(ask(asker, text)) == ("1.000894", "00175")


# --------------------------------------------------------------------------------------------- answers


def test_answer_is_the_nearest_result(asker: Asker, client) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/v1/ask", params={"q": "làm giấy khai sinh cho con ở phường Cầu Giấy", "at": AT.isoformat()})
    assert body.status_code == 200
    data = body.json()
    assert data["status"] == "answered"
    proc, place = data["understood"]["procedure"], data["understood"]["place"]
    assert proc["code"] == "1.001193" and 0 < proc["confidence"] <= 1
    assert place["commune"]["code"] == "00166" and 0 < place["confidence"] <= 1
    nearest = client.get(
        "/v1/nearest",
        params={"lat": place["lat"], "lon": place["lon"], "procedure": "1.001193", "at": AT.isoformat()},
    ).json()
    assert [f["id"] for f in data["result"]["features"]] == [f["id"] for f in nearest["features"]]
    assert (
        data["result"]["features"][0]["properties"]["distance_m"] == nearest["features"][0]["properties"]["distance_m"]
    )
    first = nearest["features"][0]["properties"]
    assert first["name"] in data["answer"] and "mở" in data["answer"]


# --------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "q",
    ["   ", "😀😀😀", "!!! ??? ...", "x" * (MAX_QUERY_CHARS + 1), "đăng ký " * 2000],
    ids=["blank", "emoji", "punctuation", "too-long", "10kB"],
)
def test_unusable_text_is_a_clear_error(asker: Asker, q: str) -> None:
    with pytest.raises(InvalidQuery):
        asker.ask(q, at=AT)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"q": ""}, 422),
        ({"q": "😀"}, 422),
        ({"q": "a" * 501}, 422),
        ({"q": "khai sinh " * 1100}, 422),
        ({"q": "khai sinh", "lat": 21.03}, 422),
        ({"q": "khai sinh", "lat": 10.0, "lon": 106.0}, 422),
        ({"q": "khai sinh", "at": "tomorrow"}, 422),
        ({"q": "SELECT * FROM procedures; DROP TABLE users;--"}, 200),
        ({"q": "Where can I register a birth certificate?"}, 200),
        ({"q": "登记出生 在河内"}, 200),
        ({"q": "khai sinh\x00\x07 ở phường Láng"}, 200),
        ({"q": "' OR 1=1 --"}, 200),
    ],
)
def test_api_never_fails_on_bad_input(client, params: dict, status: int) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/v1/ask", params=params)
    assert response.status_code == status, response.text
    if status == 422:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["detail"]
    else:
        data = response.json()
        assert data["answer"] and data["status"] in ("ask", "answered", "not_in_person")


def test_only_one_coordinate_is_refused(asker: Asker) -> None:
    with pytest.raises(InvalidParameter):
        asker.ask("khai sinh", lat=21.0, at=AT)
    with pytest.raises(OutsideServiceArea):
        asker.ask("khai sinh", lat=105.85, lon=21.03, at=AT)


# --------------------------------------------------------------------------------------------- CLI


def test_cli_ask_readable_and_json(service, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import geo.service
    from app.cli import app

    monkeypatch.setattr(geo.service, "get_service", lambda: service)
    runner = CliRunner()
    readable = runner.invoke(app, ["ask", "đăng ký kết hôn ở phường Ba Đình", "--at", AT.isoformat()])
    assert readable.exit_code == 0, readable.output
    assert "1.000894" in readable.output and "trạng thái câu trả lời: đã trả lời" in readable.output
    raw = runner.invoke(app, ["ask", "dang ky ket hon phuong ba dinh", "--at", AT.isoformat(), "--json"])
    assert raw.exit_code == 0, raw.output
    data = json.loads(raw.output)
    assert data["status"] == "answered" and data["result"]["type"] == "FeatureCollection"
    empty = runner.invoke(app, ["ask", "😀"])
    assert empty.exit_code != 0 and re.search(r"no words", empty.output)


# --------------------------------------------------------------------------------------------- staff closures


def test_a_staff_closure_is_said_with_its_reason(finder, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from geo.changes import Change
    from geo.messages import message
    from geo.service import Service
    from geo.store.staff import SqliteStaffStore
    from tests.app.test_staff_api import few_places_procedure

    store = SqliteStaffStore(tmp_path / "staff.sqlite")
    service = Service(finder, settings, staff=store)
    try:
        code = few_places_procedure(service)
        now = datetime.now(TZ).replace(microsecond=0)  # the live overlay keeps only changes not yet ended
        reason = "Mất điện đột xuất, mời quay lại sau"
        for row in service.backend.capable_rows(code):  # every place that takes it: the answer names one
            place = str(service.backend.points["id"].iloc[int(row)])
            closure = Change(
                id="", kind="closure", place_id=place, reason=reason, starts=now - timedelta(hours=1),
                ends=now + timedelta(hours=3),
            )  # fmt: skip
            store.add_change(closure, actor="Lan")
        service.refresh()
        body = as_plain(Asker(service).ask(f"{code} ở phường Tây Hồ", at=now))
        assert body["status"] == "answered", body["answer"]
        first = body["result"]["features"][0]["properties"]
        said = message("place_closed_by_staff", name=first["name"], reason=reason)
        assert first["state"] == "closed" and said.text in body["answer"] and f"“{reason}”" in body["answer"]
        assert said.to_json() in body["notes"]  # the English beside it
        # The nearest place's closure undone: it is the answer again (open, or closed by its own hours, and
        # still the nearest), and the farther places' closures are not its business.
        own = next(c for c in store.changes() if c.place_id == first["id"])
        store.add_change(Change(id="", kind="undo", place_id=first["id"], reason="nhầm", undoes=own.id), actor="Lan")
        service.refresh()
        body = as_plain(Asker(service).ask(f"{code} ở phường Tây Hồ", at=now))
        assert body["result"]["features"][0]["properties"]["id"] == first["id"]
        assert reason not in body["answer"] and all(n["code"] != said.code for n in body["notes"])
    finally:
        service.live.stop()
