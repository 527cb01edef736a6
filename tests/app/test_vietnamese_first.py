"""No English reaches a Vietnamese surface: /v1/nearest notes, /v1/ask sentences, CLI lines, MCP texts."""

from __future__ import annotations

import csv
import itertools
import re
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from typer.testing import CliRunner

from app.cli import app as cli
from app.mcp import build_server

CASES = Path(__file__).parent.parent / "data" / "ask_cases.csv"
# Words only an English sentence has (the idea of tests/test_messages.py, with the words notes used to carry).
ENGLISH = re.compile(
    r"\b(the|is|are|and|not|no|place|places|procedure|closed|open|network|distance|beyond|whole|into|went|"
    r"handles|handled|hours|unknown|straight|line|nearby|ranked|status|answered|note|former|commune|split)\b",
    re.IGNORECASE,
)
QUOTED = re.compile(r"'[^']*'|“[^”]*”|\"[^\"]*\"")  # the person's own words, echoed back
ORIGINS = {
    "hoan_kiem": (21.0285, 105.8542),
    "soc_son": (21.255, 105.85),  # beyond the road networks
    "ba_vi": (21.08, 105.37),
}
TIMES = ["2026-03-02T09:30:00+07:00", "2026-03-08T23:00:00+07:00", "2026-02-17T10:00:00+07:00",
         "2026-03-07T12:30:00+07:00"]  # fmt: skip
PROCEDURES = ["1.001193", "2.000815", "1.000894"]


def english_in(text: str) -> list[str]:
    """The English-only words of a Vietnamese text, outside what the person wrote (quoted)."""
    return ENGLISH.findall(QUOTED.sub("", text))


def test_the_detector_catches_the_old_english_notes() -> None:
    assert english_in("the origin is beyond the car road network; distances are straight-line")
    assert english_in("former Phường Quán Thánh (Quận Ba Đình) went whole into Phường Ba Đình")
    assert not english_in("Điểm xuất phát nằm ngoài mạng đường ô tô; khoảng cách tính theo đường chim bay.")


def test_nearest_notes_are_vietnamese_with_english_beside(client) -> None:
    seen: set[str] = set()
    for (lat, lon), at, procedure, mode, open_only in itertools.product(
        ORIGINS.values(), TIMES, PROCEDURES, ["straight", "walk", "car"], [False, True]
    ):
        params = {"lat": lat, "lon": lon, "procedure": procedure, "at": at, "mode": mode,
                  "open_only": str(open_only).lower()}  # fmt: skip
        body = client.get("/v1/nearest", params=params).json()
        assert body["features"], params  # never a dead end
        for note in body["notes"]:
            assert set(note) == {"code", "text", "text_en"} and note["text"] != note["text_en"]
            assert not english_in(note["text"]), (params, note["text"])
            seen.add(note["code"])
    assert {"all_closed", "none_open_shown_closed", "beyond_network"} <= seen


def _ask_texts(body: dict[str, Any]) -> list[str]:
    texts = [body["answer"], *(n["text"] for n in body["notes"])]
    if body["ask"]:
        texts.append(body["ask"]["question"])
    place = body["understood"].get("place") or {}
    if place.get("explanation"):
        texts.append(place["explanation"]["text"])
    texts.extend(n["text"] for n in (body.get("result") or {}).get("notes", []))
    return texts


@pytest.mark.parametrize("at", ["2026-03-02T09:30:00+07:00", "2026-03-08T23:00:00+07:00"])
def test_ask_sentences_over_the_evaluation_questions_are_vietnamese(client, at: str) -> None:
    with CASES.open(encoding="utf-8") as handle:
        cases = list(csv.DictReader(handle))
    extra = ["khai sinh ở phường Quán Thánh cũ thứ bảy này", "kết hôn ở Hà Đông lúc 25 giờ",
             "công chứng ở Cầu Giấy tối mai", "khai sinh ở quận Đống Đa", "làm căn cước ở Ba Đình"]  # fmt: skip
    for q in [c["query"] for c in cases] + extra:
        body = client.get("/v1/ask", params={"q": q, "at": at}).json()
        if body["query"]["language"] != "vi":
            continue  # the question itself is English: the answer apologises in Vietnamese, quoting it
        for text in _ask_texts(body):
            assert not english_in(text), (q, text)


def test_cli_human_output_is_vietnamese(service, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import geo.service

    monkeypatch.setattr(geo.service, "get_service", lambda: service)
    runner = CliRunner()
    runs = [
        ["ask", "khai sinh ở phường Quán Thánh cũ", "--at", TIMES[0]],
        ["ask", "công chứng giấy tờ ở Hà Đông thứ bảy này", "--at", TIMES[0]],
        ["ask", "khai sinh", "--at", TIMES[1]],
        ["nearest", "--lat", "21.0285", "--lon", "105.8542", "--procedure", "1.001193", "--at", TIMES[1],
         "--open-only"],
        ["nearest", "--lat", "21.255", "--lon", "105.85", "--procedure", "1.001193", "--at", TIMES[0], "--mode",
         "car"],
    ]  # fmt: skip
    for args in runs:
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        for line in result.output.splitlines():
            assert not english_in(line), (args, line)


def test_mcp_texts_are_vietnamese(service) -> None:  # type: ignore[no-untyped-def]
    calls = [
        ("find_nearest_service_point", {"procedure": "khai sinh", "place": "phường Hoàn Kiếm", "at": TIMES[1]}),
        ("find_nearest_service_point", {"procedure": "lý lịch tư pháp"}),
        ("find_nearest_service_point", {"procedure": "sổ đỏ", "at": TIMES[0]}),
        ("search_procedures", {"query": "căn cước"}),
        ("search_procedures", {"query": "zzzz qqqq"}),
        ("locate_commune", {"place": "quận Đống Đa"}),
        ("locate_commune", {"lat": 21.0285, "lon": 105.8542}),
        ("coverage_summary", {"procedure": "1.001193", "commune": "Cầu Giấy"}),
    ]

    async def main() -> list[Any]:
        async with Client(build_server(service)) as client:
            return [await client.call_tool(name, arguments) for name, arguments in calls]

    for (name, arguments), result in zip(calls, anyio.run(main), strict=True):
        assert not result.is_error, (name, result.content)
        text = result.content[0].text
        assert not english_in(text), (name, arguments, text)
        for note in (result.structured_content or {}).get("notes", []):
            if isinstance(note, dict):
                assert not english_in(note["text"]), (name, note)
