"""Questions with a time, answered for that time on every surface: /v1/ask, `gandan ask` and the MCP tool."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from mcp import Client
from typer.testing import CliRunner

from app.cli import app as cli
from app.mcp import build_server

WEDNESDAY = "2026-03-04T10:15:00+07:00"  # the reference "now" of tests/ask/test_when.py
BEFORE_TET = "2026-02-10T09:00:00+07:00"  # a Tuesday; Tết Bính Ngọ is 2026-02-17
ASK = "công chứng giấy tờ ở Hà Đông"
HA_DONG = "09556"
CERTIFY = "2.000815"

# (question, reference time, the time answered for, state of the nearest place, its reopening or None, head)
CASES = [
    (f"{ASK} thứ bảy này có mở không", WEDNESDAY, "2026-03-07T08:00+07:00", "closed", "2026-03-09T08:00+07:00",
     "Thứ Bảy 07/03, lúc 08:00"),
    (f"{ASK} lúc 7 giờ tối nay có mở không", WEDNESDAY, "2026-03-04T19:00+07:00", "closed",
     "2026-03-05T08:00+07:00", "Tối nay, thứ Tư 04/03, lúc 19:00"),
    (f"{ASK} sáng mai", WEDNESDAY, "2026-03-05T08:00+07:00", "open", None, "Sáng mai, thứ Năm 05/03, lúc 08:00"),
    (f"{ASK} ngày 17/2/2026 có làm việc không", BEFORE_TET, "2026-02-17T08:00+07:00", "closed",
     "2026-02-23T08:00+07:00", "Thứ Ba 17/02, lúc 08:00"),
]  # fmt: skip


@pytest.mark.parametrize(("q", "now", "used", "state", "reopens", "head"), CASES)
def test_api_answers_for_the_time_asked(client, q: str, now: str, used: str, state: str, reopens: str | None,
                                        head: str) -> None:  # fmt: skip
    body = client.get("/v1/ask", params={"q": q, "at": now}).json()
    assert body["status"] == "answered", body["answer"]
    understood = body["understood"]
    # The time phrase was taken out before matching: the procedure and the place are still found.
    assert understood["procedure"]["code"] == CERTIFY and understood["place"]["commune"]["code"] == HA_DONG
    time = understood["time"]
    assert time["kind"] == "understood" and time["at"] == used and time["phrase"] and time["text"] == head
    assert time["phrase"] not in understood["procedure"]["matched"]
    assert body["query"]["at"] == now[:16] + "+07:00"  # the reference time stays the request's
    assert body["result"]["query"]["at"] == used  # the search ran at the time read
    first = body["result"]["features"][0]["properties"]
    assert first["state"] == state and first["opens_at"] == reopens
    assert body["answer"].startswith(head + " — ")
    if state == "closed":
        assert "lúc đó không có nơi nào mở cửa" in body["answer"] and "mở lại lúc 08:00" in body["answer"]
        assert body["result"]["next_opening"]["opens_at"] == reopens
        assert "all_closed" in [n["code"] for n in body["notes"]]
    else:
        assert "mở cửa lúc đó" in body["answer"] and body["result"]["next_opening"] is None


def test_tet_is_named_in_the_answer(client) -> None:
    body = client.get("/v1/ask", params={"q": CASES[3][0], "at": BEFORE_TET}).json()
    assert "nghỉ lễ: Mùng 1 Tết Bính Ngọ" in body["answer"]
    assert body["result"]["features"][0]["properties"]["today"]["holiday"] == "Mùng 1 Tết Bính Ngọ"


def test_an_assumed_hour_is_said(client) -> None:
    body = client.get("/v1/ask", params={"q": f"{ASK} sáng mai", "at": WEDNESDAY}).json()
    assert body["understood"]["time"]["assumed_hour"] is True
    assumed = [n for n in body["notes"] if n["code"] == "time_assumed"]
    assert assumed and "08:00" in assumed[0]["text"] and "08:00" in assumed[0]["text_en"]


def test_without_a_time_phrase_the_answer_is_for_the_request_time(client) -> None:
    body = client.get("/v1/ask", params={"q": ASK, "at": WEDNESDAY}).json()
    assert body["understood"]["time"]["kind"] == "none" and body["understood"]["time"]["phrase"] is None
    assert body["understood"]["time"]["at"] == "2026-03-04T10:15+07:00"
    assert body["answer"].startswith("Chứng thực") and "đang mở cửa" in body["answer"]


@pytest.mark.parametrize("phrase", ["lúc 25 giờ", "thứ tám", "ngày 31/2", "hôm qua"])
def test_a_time_not_understood_is_asked_back_not_answered_for_now(client, phrase: str) -> None:
    body = client.get("/v1/ask", params={"q": f"{ASK} {phrase}", "at": WEDNESDAY}).json()
    assert body["status"] == "ask" and body["result"] is None
    assert "time" in body["ask"]["about"] and "place" not in body["ask"]["about"]
    assert "chưa hiểu thời điểm" in body["answer"] and "Bạn định đến vào lúc nào?" in body["answer"]
    assert body["understood"]["time"]["kind"] == "not_understood" and body["understood"]["time"]["reason"]


def test_the_openapi_documents_the_time(client) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert {"kind", "at", "phrase", "assumed_hour", "text"} <= set(schemas["AskTime"]["properties"])
    assert "time" in schemas["AskBack"]["properties"]["about"]["items"]["enum"]


def test_cli_ask_answers_for_the_time_and_says_it(service, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import geo.service

    monkeypatch.setattr(geo.service, "get_service", lambda: service)
    runner = CliRunner()
    readable = runner.invoke(cli, ["ask", CASES[0][0], "--at", WEDNESDAY])
    assert readable.exit_code == 0, readable.output
    assert readable.output.startswith("Thứ Bảy 07/03, lúc 08:00 — ")
    assert "thời gian: Thứ Bảy 07/03, lúc 08:00 (từ 'thứ bảy này')" in readable.output
    assert "đang đóng cửa, mở lại 08:00 09/03" in readable.output
    machine = runner.invoke(cli, ["ask", CASES[1][0], "--at", WEDNESDAY, "--json"])
    body = json.loads(machine.output)
    assert body["understood"]["time"]["at"] == "2026-03-04T19:00+07:00"
    assert body["result"]["features"][0]["properties"]["state"] == "closed"
    words = json.loads(runner.invoke(cli, ["ask", ASK, "--at", WEDNESDAY, "--when", "sáng mai", "--json"]).output)
    assert words["understood"]["time"]["at"] == "2026-03-05T08:00+07:00" and words["query"]["when"] == "sáng mai"


def test_without_diacritics_too(client) -> None:
    body = client.get("/v1/ask", params={"q": "cong chung giay to o Ha Dong thu bay nay co mo khong",
                                         "at": WEDNESDAY}).json()  # fmt: skip
    assert body["status"] == "answered" and body["understood"]["time"]["at"] == "2026-03-07T08:00+07:00"
    assert body["understood"]["place"]["commune"]["code"] == HA_DONG
    assert body["result"]["features"][0]["properties"]["state"] == "closed"


def _call(server: Any, name: str, arguments: dict[str, Any]) -> Any:
    async def main() -> Any:
        async with Client(server) as client:
            return await client.call_tool(name, arguments)

    return anyio.run(main)


def test_mcp_reads_the_time_in_words_and_in_the_procedure(service) -> None:  # type: ignore[no-untyped-def]
    server = build_server(service)
    tool = "find_nearest_service_point"
    words = _call(server, tool, {"procedure": "công chứng giấy tờ", "place": "Hà Đông", "when": "thứ bảy này",
                                 "at": WEDNESDAY})  # fmt: skip
    data = words.structured_content
    assert data["status"] == "answered" and data["understood"]["time"]["at"] == "2026-03-07T08:00+07:00"
    assert data["places"][0]["state"] == "closed" and data["next_opening"]["opens_at"] == "2026-03-09T08:00+07:00"
    assert words.content[0].text.startswith("Thứ Bảy 07/03, lúc 08:00 — ")
    inline = _call(server, tool, {"procedure": "công chứng giấy tờ sáng mai", "place": "Hà Đông", "at": WEDNESDAY})
    assert inline.structured_content["understood"]["time"]["at"] == "2026-03-05T08:00+07:00"
    assert inline.structured_content["places"][0]["state"] == "open"
    vague = _call(server, tool, {"procedure": "công chứng giấy tờ", "place": "Hà Đông", "when": "khi nào rảnh",
                                 "at": WEDNESDAY})  # fmt: skip
    assert vague.structured_content["status"] == "ask" and "time" in vague.structured_content["ask"]["about"]
