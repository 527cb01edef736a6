"""The MCP server (app.mcp), driven by the SDK's own client: in memory, over stdio and over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from app.mcp import TOOLS, build_server
from geo.settings import PROJECT_ROOT, get_settings
from tests.conftest import free_port

AT = "2026-03-02T09:30:00+07:00"


def _call(server: Any, steps: Any) -> Any:
    """Open a client on ``server`` and run ``steps(client)`` (an async function) to completion."""

    async def main() -> Any:
        async with Client(server) as client:
            return await steps(client)

    return anyio.run(main)


@pytest.fixture(scope="module")
def mcp_server(service):  # type: ignore[no-untyped-def]
    return build_server(service)


def test_tools_are_listed_with_typed_described_inputs(mcp_server) -> None:  # type: ignore[no-untyped-def]
    async def steps(client: Client) -> Any:
        return await client.list_tools()

    listed = _call(mcp_server, steps)
    tools = {t.name: t for t in listed.tools}
    assert set(TOOLS) <= set(tools)
    for name in TOOLS:
        tool = tools[name]
        assert tool.description and len(tool.description) > 30, name
        properties = tool.input_schema["properties"]
        assert properties, name
        for prop, schema in properties.items():
            assert schema.get("description"), f"{name}.{prop} has no description"
        assert tool.annotations is not None and tool.annotations.read_only_hint
    nearest = tools["find_nearest_service_point"].input_schema
    assert nearest["required"] == ["procedure"]
    assert nearest["properties"]["k"]["maximum"] == get_settings().max_k  # one k limit, from settings


def test_every_tool_answers(mcp_server) -> None:  # type: ignore[no-untyped-def]
    async def steps(client: Client) -> dict[str, Any]:
        out = {}
        out["nearest"] = await client.call_tool(
            "find_nearest_service_point",
            {"procedure": "làm giấy khai sinh cho con", "place": "phường Quán Thánh cũ", "at": AT},
        )
        out["nearest_xy"] = await client.call_tool(
            "find_nearest_service_point", {"procedure": "1.000894", "lat": 21.0285, "lon": 105.8542, "at": AT, "k": 2}
        )
        out["ask"] = await client.call_tool("find_nearest_service_point", {"procedure": "sổ đỏ", "at": AT})
        out["police"] = await client.call_tool("find_nearest_service_point", {"procedure": "lý lịch tư pháp"})
        out["search"] = await client.call_tool("search_procedures", {"query": "sổ đỏ", "limit": 5})
        out["search_code"] = await client.call_tool("search_procedures", {"query": "1.001193"})
        out["locate"] = await client.call_tool("locate_commune", {"place": "quận Đống Đa"})
        out["locate_xy"] = await client.call_tool("locate_commune", {"lat": 21.0285, "lon": 105.8542})
        out["coverage"] = await client.call_tool("coverage_summary", {"procedure": "1.001193", "worst": 3})
        out["coverage_one"] = await client.call_tool("coverage_summary", {"commune": "Cầu Giấy"})
        return out

    out = _call(mcp_server, steps)
    for name, result in out.items():
        assert not result.is_error, (name, result.content)
        assert result.content and result.content[0].text, name
        assert isinstance(result.structured_content, dict), name

    nearest = out["nearest"].structured_content
    assert nearest["status"] == "answered"
    assert nearest["understood"]["place"]["commune"]["code"] == "00004"
    assert len(nearest["places"]) == 3 and nearest["places"][0]["distance_m"] > 0
    assert out["nearest"].content[0].text == nearest["answer"]
    assert out["nearest_xy"].structured_content["understood"]["place"]["kind"] == "coordinates"
    assert len(out["nearest_xy"].structured_content["places"]) == 2
    assert out["ask"].structured_content["status"] == "ask"
    assert out["police"].structured_content["status"] == "not_in_person"
    assert "Công an" in out["police"].content[0].text

    codes = [p["code"] for p in out["search"].structured_content["procedures"]]
    assert {"1.013978", "1.012786"} <= set(codes) and len(codes) <= 5
    assert out["search_code"].structured_content["procedures"][0]["code"] == "1.001193"

    district = out["locate"].structured_content
    assert district["place"]["kind"] == "former_district" and district["commune"]["code"]
    point = out["locate_xy"].structured_content
    assert point["commune"]["code"] == "00070" and len(point["former_units"]) >= 10

    coverage = out["coverage"].structured_content
    assert 0 < coverage["totals"]["share"] <= 1 and len(coverage["communes"]) == 3
    shares = [c["share"] for c in coverage["communes"]]
    assert shares == sorted(shares)
    one = out["coverage_one"].structured_content["communes"]
    assert [c["code"] for c in one] == ["00166"]


def test_errors_are_tool_errors_not_crashes(mcp_server) -> None:  # type: ignore[no-untyped-def]
    async def steps(client: Client) -> list[Any]:
        return [
            await client.call_tool("find_nearest_service_point", {"procedure": "khai sinh", "lat": 10.0, "lon": 106.0}),
            await client.call_tool("find_nearest_service_point", {"procedure": "😀"}),
            await client.call_tool("locate_commune", {"place": "phường Xyz"}),
            await client.call_tool("coverage_summary", {"procedure": "9.999999"}),
            await client.call_tool("find_nearest_service_point", {"procedure": "khai sinh", "k": 99}),
        ]

    results = _call(mcp_server, steps)
    for result in results:
        assert result.is_error
    assert "outside" in results[0].content[0].text
    assert "no words" in results[1].content[0].text
    assert "Xyz" in results[2].content[0].text or "xyz" in results[2].content[0].text
    assert "9.999999" in results[3].content[0].text


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GANDAN_DATA_MIRROR", str(PROJECT_ROOT.parent / "shared" / "data" / "mirror"))
    return env


def test_stdio_transport_with_the_sdk_client() -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "app.cli", "mcp", "--transport", "stdio"], cwd=str(PROJECT_ROOT), env=_env()
    )

    async def steps(client: Client) -> tuple[Any, Any]:
        listed = await client.list_tools()
        found = await client.call_tool("search_procedures", {"query": "dang ky ket hon"})
        return listed, found

    listed, found = _call(params, steps)
    assert set(TOOLS) <= {t.name for t in listed.tools}
    assert found.structured_content["procedures"][0]["code"] == "1.000894"




@pytest.fixture()
def http_server() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "mcp", "--transport", "http", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, "the MCP HTTP server exited"
                time.sleep(0.2)
        else:
            pytest.fail("the MCP HTTP server did not start within 60 s")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_streamable_http_transport_with_the_sdk_client(http_server: str) -> None:
    async def steps(client: Client) -> tuple[Any, Any]:
        listed = await client.list_tools()
        found = await client.call_tool("locate_commune", {"place": "phường Quán Thánh cũ"})
        return listed, found

    listed, found = _call(http_server, steps)
    assert set(TOOLS) <= {t.name for t in listed.tools}
    assert found.structured_content["commune"]["code"] == "00004"


def test_procedure_details_tool(mcp_server) -> None:  # type: ignore[no-untyped-def]
    async def steps(client: Client) -> Any:
        return (
            await client.call_tool("procedure_details", {"code": "1.001193"}),
            await client.call_tool("procedure_details", {"code": "1.015002"}),
            await client.call_tool(
                "find_nearest_service_point", {"procedure": "giấy phép karaoke", "place": "phường Cầu Giấy", "at": AT}
            ),
        )

    birth, trademark, karaoke = _call(mcp_server, steps)
    assert not birth.is_error and "Giấy chứng sinh" in birth.structured_content["summary"]["documents"]
    assert [c["kind"] for c in birth.structured_content["channels"]] == ["online", "post", "in_person"]
    assert "Sở hữu trí tuệ" in trademark.content[0].text
    assert trademark.structured_content["handled_elsewhere"]["portal_url"].startswith("https://dichvucong.gov.vn/")
    data = karaoke.structured_content
    assert data["understood"]["procedure"]["code"] == "1.001029" and data["places"]
    assert {p["id"].split("-")[0] for p in data["places"]} and data["procedure_summary"]["portal_url"]
