"""The MCP server of gandan (``gandan mcp``): four tools for assistants, over stdio or streamable HTTP.

Tools (typed inputs with descriptions; each returns structured JSON plus one short text line):

``find_nearest_service_point``
    The nearest open places for a procedure from a place named in free text or from coordinates
    (`geo.ask.Asker`: the same understanding and answer as ``/v1/ask``).
``search_procedures``
    Catalogue search by code, name or everyday wording (synonyms first, then the catalogue's own search).
``locate_commune``
    Which commune in force a place or a point is in, and which pre-2025 units formed it.
``coverage_summary``
    How well a procedure's places cover the population (`geo.coverage.CoverageEngine`, straight-line
    distance): city totals and the least-covered communes, or one commune.

Domain errors (`GandanError`) become tool errors (``isError``) with the error's detail, so a model
reads what was wrong; anything else is the SDK's generic tool failure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from geo import __version__
from geo.ask import Asker, as_plain, get_asker
from geo.errors import GandanError, NotFound
from geo.hours import TZ, parse_time
from geo.registry import search_procedures as catalog_search
from geo.service import Service, get_service

__all__ = ["TOOLS", "build_server", "run"]

TOOLS = ("find_nearest_service_point", "search_procedures", "locate_commune", "coverage_summary")
INSTRUCTIONS = (
    "gandan answers where in Hanoi (Vietnam) to do an administrative procedure in person: the nearest OPEN "
    "public-service location (commune centres, branches of the city centre) for a procedure, after the "
    "2025 merger (126 communes). Procedures and places may be given in Vietnamese, diacritics optional; "
    "pre-2025 ward and district names are understood. When a tool says status 'ask', relay its question."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
T = TypeVar("T")


def _result(text: str, data: dict[str, Any]) -> CallToolResult:
    """A tool result a model can read: one text line and the structured JSON."""
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=as_plain(data))


def _domain(fn: Callable[[], T]) -> T:
    """Run ``fn``; a `GandanError` becomes a `ToolError` carrying its detail."""
    try:
        return fn()
    except GandanError as exc:
        raise ToolError(f"{exc.title}: {exc.detail}") from exc


def _when(at: str | None) -> datetime:
    return parse_time(at) if at else datetime.now(TZ)


def build_server(service: Service | None = None) -> MCPServer:
    """The MCP server on ``service`` (default: the process-wide one, loaded on the first tool call)."""
    server: MCPServer = MCPServer(
        "gandan",
        title="gandan — gần dân",
        instructions=INSTRUCTIONS,
        version=__version__,
    )
    coverage_lock = threading.Lock()
    coverage_engine: list[Any] = []

    def svc() -> Service:
        return service or get_service()

    def asker() -> Asker:
        return get_asker(svc())

    @server.tool(annotations=READ_ONLY)
    def find_nearest_service_point(
        procedure: Annotated[
            str,
            Field(
                description="The procedure: a national code (1.001193), its name, or everyday Vietnamese "
                "('làm giấy khai sinh', 'dang ky ket hon').",
                min_length=1,
                max_length=300,
            ),
        ],
        place: Annotated[
            str | None,
            Field(
                description="Where the person is, in words: a commune ('phường Cầu Giấy'), a pre-2025 ward "
                "or district ('phường Quán Thánh cũ', 'quận Đống Đa'), a landmark ('Hồ Gươm') or an "
                "address ('số 85 Dịch Vọng Hậu'). Leave empty when giving lat/lon.",
                max_length=200,
            ),
        ] = None,
        lat: Annotated[float | None, Field(description="Latitude (WGS 84), with lon.", ge=-90, le=90)] = None,
        lon: Annotated[float | None, Field(description="Longitude (WGS 84), with lat.", ge=-180, le=180)] = None,
        at: Annotated[
            str | None,
            Field(description="Time of the visit, ISO 8601 with offset (2026-03-02T09:30+07:00); default now."),
        ] = None,
        k: Annotated[int, Field(description="How many places.", ge=1, le=10)] = 3,
    ) -> CallToolResult:
        """The nearest open public-service locations in Hanoi that handle a procedure.

        Returns status answered (with places), ask (a question to relay: procedure or place missing or
        ambiguous) or not_in_person (the procedure is handled elsewhere, e.g. by the police).
        """
        data = _domain(lambda: asker().answer_parts(procedure, place, lon=lon, lat=lat, at=_when(at), k=k))
        places = [
            {
                key: f["properties"].get(key)
                for key in ("id", "name", "address", "distance_m", "state", "opens_at", "closes_at", "commune")
            }
            | {"lon": f["geometry"]["coordinates"][0] if f["geometry"]["type"] == "Point" else None}
            | {"lat": f["geometry"]["coordinates"][1] if f["geometry"]["type"] == "Point" else None}
            for f in (data.get("result") or {}).get("features", [])
        ]
        summary = {
            "status": data["status"],
            "answer": data["answer"],
            "understood": data["understood"],
            "ask": data["ask"],
            "places": places,
            "notes": data["notes"],
        }
        return _result(data["answer"], summary)

    @server.tool(annotations=READ_ONLY)
    def search_procedures(
        query: Annotated[
            str,
            Field(
                description="A code, words of the official name, or everyday wording ('sổ đỏ', 'căn cước', "
                "'xin giấy khai sinh'); diacritics optional.",
                min_length=1,
                max_length=200,
            ),
        ],
        limit: Annotated[int, Field(description="At most this many procedures.", ge=1, le=50)] = 10,
    ) -> CallToolResult:
        """Find procedures in gandan's catalogue, with whether and where they are handled in person."""

        def work() -> dict[str, Any]:
            a = asker()
            found: list[dict[str, Any]] = []
            guess = a.understand_procedure(query)
            if guess is not None:
                for code in [guess.code] if guess.code else guess.options:
                    found.append({**a.procedure_record(code), "match": guess.how, "matched": guess.matched})
            seen = {f["code"] for f in found}
            for row in catalog_search(query, a.catalog, limit=limit).to_dict("records"):
                if row["code"] not in seen:
                    seen.add(row["code"])
                    found.append({**a.procedure_record(str(row["code"])), "match": row["match"]})
            return {"query": query, "procedures": found[:limit]}

        data = _domain(work)
        items = data["procedures"]
        if not items:
            text = f"No procedure matches {query!r}."
        else:
            text = "; ".join(
                f"{p['code']} {p['short_name']}" + ("" if p["handled_in_person"] else " (not in person here)")
                for p in items[:5]
            )
        return _result(text, data)

    @server.tool(annotations=READ_ONLY)
    def locate_commune(
        place: Annotated[
            str | None,
            Field(
                description="A place in words: a commune in force, a pre-2025 ward/commune or district, a "
                "landmark or an address. Leave empty when giving lat/lon.",
                max_length=200,
            ),
        ] = None,
        lat: Annotated[float | None, Field(description="Latitude (WGS 84), with lon.", ge=-90, le=90)] = None,
        lon: Annotated[float | None, Field(description="Longitude (WGS 84), with lat.", ge=-180, le=180)] = None,
    ) -> CallToolResult:
        """Which 2025 commune (phường/xã) a place or point is in, and which pre-2025 units formed it."""

        def work() -> dict[str, Any]:
            a = asker()
            gaz = a.gazetteer
            if place:
                u = a.understand_place(place)
                if u.place is None:
                    raise NotFound(u.place_problem or f"no place of Hanoi recognised in {place!r}")
                found = u.place.to_dict()
                found["options"] = u.place.options
                commune = found.get("commune")
            elif lat is not None and lon is not None:
                backend = svc().backend
                backend.check_location(lon, lat)
                at = backend.commune_at(lon, lat)
                commune = None if at is None else gaz.commune_ref(str(at["code"]))
                found = {"kind": "coordinates", "lon": lon, "lat": lat, "commune": commune}
            else:
                raise NotFound("give a place or both lat and lon")
            former: list[dict[str, Any]] = []
            if commune:
                pairs = svc().backend.index.crosswalk
                for pair in pairs[pairs["new_code"] == commune["code"]].itertuples(index=False):
                    former.append(
                        {
                            "code": pair.legacy_code,
                            "name": pair.legacy_full_name,
                            "district": pair.legacy_district,
                            "relation": pair.relation,
                        }
                    )
            return {"query": place, "place": found, "commune": commune, "former_units": former}

        data = _domain(work)
        commune = data["commune"]
        place_data = data["place"]
        if commune:
            former = len(data["former_units"])
            text = f"{commune['full_name']} (code {commune['code']}), formed from {former} pre-2025 unit(s)."
            if place_data.get("kind") == "former_district":
                text = f"{place_data['name']}: centre in {text}"
        elif place_data.get("options"):
            text = "Ambiguous: " + "; ".join(o["label"] for o in place_data["options"][:6])
        else:
            text = "Outside every commune of Hanoi."
        return _result(text, data)

    @server.tool(annotations=READ_ONLY)
    def coverage_summary(
        procedure: Annotated[
            str, Field(description="Procedure code or name, e.g. 1.001193 (birth registration).", max_length=200)
        ] = "1.001193",
        threshold_m: Annotated[
            float,
            Field(description="A person is covered within this straight-line distance (metres).", gt=0, le=50_000),
        ] = 2_000.0,
        commune: Annotated[
            str | None, Field(description="Only this commune (code '00166' or name 'Cầu Giấy').", max_length=100)
        ] = None,
        worst: Annotated[int, Field(description="How many least-covered communes to list.", ge=0, le=126)] = 5,
        scope: Annotated[
            Literal["today", "before_after"], Field(description="today, or compare with the pre-merger offices.")
        ] = "today",
    ) -> CallToolResult:
        """How well a procedure's places cover Hanoi's population (share within a distance, per commune)."""

        def work() -> dict[str, Any]:
            from geo.coverage import CoverageEngine

            with coverage_lock:
                if not coverage_engine:
                    coverage_engine.append(CoverageEngine.from_index(svc().backend.index))
                engine = coverage_engine[0]
            code = svc().backend.procedure(procedure)["code"]
            report = engine.run(
                code, mode="straight", threshold=threshold_m, compare=None if scope == "today" else scope
            )
            body = report.to_json()
            rows = body["communes"]
            if commune:
                wanted = commune.strip().lower()
                rows = [r for r in rows if r["code"] == commune.strip() or str(r["name"]).lower() == wanted]
                if not rows:
                    raise NotFound(f"no commune {commune!r}")
            else:
                rows = sorted(rows, key=lambda r: (r["share"], -r["population"]))[:worst]
            keep = (
                "code",
                "name",
                "population",
                "share",
                "covered_population",
                "mean_cost",
                "p90_cost",
                "served_by_name",
            )
            return {
                "procedure": body["procedure"],
                "threshold_m": threshold_m,
                "totals": body["totals"],
                "communes": [
                    {k: r.get(k) for k in keep if k in r} | {k: r[k] for k in r if k.endswith("_before")} for r in rows
                ],
                "model": body["model"],
                "notes": body["notes"],
            }

        data = _domain(work)
        totals = data["totals"]
        text = (
            f"{data['procedure']['code']}: {totals['share']:.0%} of {totals['population']:,} people live within "
            f"{data['threshold_m']:,.0f} m of one of {totals['places']} places"
        )
        if commune and data["communes"]:
            row = data["communes"][0]
            text += f"; {row['name']}: {row['share']:.0%} covered"
        return _result(text + ".", data)

    return server


def run(transport: Literal["stdio", "http"] = "stdio", host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the tools over stdio, or streamable HTTP at ``http://host:port/mcp``."""
    server = build_server()
    if transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=host, port=port)
