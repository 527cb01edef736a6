"""The MCP server of gandan (``gandan mcp``): five tools for assistants, over stdio or streamable HTTP.

Tools (typed inputs with descriptions; each returns structured JSON plus one short text line):

`find_nearest_service_point`
    The nearest open places for a procedure from a place named in free text or from coordinates
    (`geo.ask.Asker`: the same understanding and answer as ``/v1/ask``).
`search_procedures`
    Catalogue search by code, name or everyday wording (synonyms first, then the catalogue's own search).
`procedure_details`
    One procedure of the national catalogue: where it is handled in Hanoi (or which agency handles it),
    what to bring, how long, the fee, and the portal link to file online.
`locate_commune`
    Which commune in force a place or a point is in, and which pre-2025 units formed it.
`coverage_summary`
    How well a procedure's places cover the population (`geo.coverage.CoverageEngine`, straight-line
    distance): city totals and the least-covered communes, or one commune.

Each tool is a plain function of this module; `build_server` registers them on an ``MCPServer`` whose
lifespan context is a `ToolState` (the query service, and the coverage engine built on first use), which
a tool reaches through its ``ctx`` parameter (the SDK injects it; it is not part of the input schema).

Domain errors (`GandanError`) become tool errors (``isError``) with the error's detail, so a model
reads what was wrong; anything else is the SDK's generic tool failure.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from app.schemas import K_HELP, MAX_K
from geo import __version__
from geo.ask import Asker, as_plain, get_asker
from geo.errors import GandanError, NotFound
from geo.hours import TZ, parse_time
from geo.messages import message
from geo.service import Service, get_service

if TYPE_CHECKING:
    import pandas as pd

    from geo.coverage import CoverageEngine

__all__ = [
    "TOOLS",
    "ToolState",
    "build_server",
    "coverage_summary",
    "find_nearest_service_point",
    "locate_commune",
    "procedure_details",
    "run",
    "search_procedures",
]

INSTRUCTIONS = (
    "gandan answers where in Hanoi (Vietnam) to do an administrative procedure in person: the nearest OPEN "
    "public-service location (commune centres, branches of the city centre) for a procedure, after the "
    "2025 merger (126 communes). Procedures and places may be given in Vietnamese, diacritics optional; "
    "pre-2025 ward and district names are understood, and so are times in words ('sáng mai', 'thứ bảy này'). "
    "When a tool says status 'ask', relay its question."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
NEAREST_KEYS = (
    *("id", "name", "address", "distance_m", "state", "opens_at", "closes_at", "commune"),
    *("state_reason", "change_ids", "notices"),  # a staff change's reason, ids and notices (None elsewhere)
)
COVERAGE_KEYS = ("code", "name", "population", "share", "covered_population", "mean_cost", "p90_cost", "served_by_name")
T = TypeVar("T")

# ------------------------------------------------------------------------------------ tool inputs
# The descriptions and bounds below are the input schema a model reads.
Latitude = Annotated[float | None, Field(description="Latitude (WGS 84), with lon.", ge=-90, le=90)]
Longitude = Annotated[float | None, Field(description="Longitude (WGS 84), with lat.", ge=-180, le=180)]
ProcedureWords = Annotated[
    str,
    Field(
        description="The procedure: a national code (1.001193), its name, or everyday Vietnamese "
        "('làm giấy khai sinh', 'dang ky ket hon').",
        min_length=1,
        max_length=300,
    ),
]
PersonPlace = Annotated[
    str | None,
    Field(
        description="Where the person is, in words: a commune ('phường Cầu Giấy'), a pre-2025 ward "
        "or district ('phường Quán Thánh cũ', 'quận Đống Đa'), a landmark ('Hồ Gươm') or an "
        "address ('số 85 Dịch Vọng Hậu'). Leave empty when giving lat/lon.",
        max_length=200,
    ),
]
VisitTime = Annotated[
    str | None,
    Field(
        description="When the question is asked (the time words are read relative to it), ISO 8601 with "
        "offset (2026-03-02T09:30+07:00); default now. Without `when`, also the time of the visit.",
        max_length=64,
    ),
]
VisitWords = Annotated[
    str | None,
    Field(
        description="The time of the visit in Vietnamese words, relative to `at`: 'sáng mai', 'thứ bảy này', "
        "'7 giờ tối nay', 'ngày 17/2/2026', 'mùng 2 Tết'. Words the procedure text holds are read too.",
        max_length=100,
    ),
]
PlaceCount = Annotated[int, Field(description=K_HELP, ge=1, le=MAX_K)]
ProcedureQuery = Annotated[
    str,
    Field(
        description="A code, words of the official name, or everyday wording ('sổ đỏ', 'căn cước', "
        "'xin giấy khai sinh'); diacritics optional.",
        min_length=1,
        max_length=200,
    ),
]
ProcedureLimit = Annotated[int, Field(description="At most this many procedures.", ge=1, le=50)]
AnyPlace = Annotated[
    str | None,
    Field(
        description="A place in words: a commune in force, a pre-2025 ward/commune or district, a "
        "landmark or an address. Leave empty when giving lat/lon.",
        max_length=200,
    ),
]
CoverageProcedure = Annotated[
    str, Field(description="Procedure code or name, e.g. 1.001193 (birth registration).", max_length=200)
]
ThresholdMetres = Annotated[
    float,
    Field(description="A person is covered within this straight-line distance (metres).", gt=0, le=50_000),
]
OneCommune = Annotated[
    str | None, Field(description="Only this commune (code '00166' or name 'Cầu Giấy').", max_length=100)
]
WorstCount = Annotated[int, Field(description="How many least-covered communes to list.", ge=0, le=126)]
CoverageScope = Annotated[
    Literal["today", "before_after"], Field(description="today, or compare with the pre-merger offices.")
]


# ------------------------------------------------------------------------------------ shared state
@dataclass
class ToolState:
    """What the tools of one server share: the query service and a coverage engine built on first use.

    Parameters
    ----------
    service
        The query service; None: the process-wide one (`geo.service.get_service`), loaded on first use.
    """

    service: Service | None = None
    _engine: CoverageEngine | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def svc(self) -> Service:
        """The query service."""
        return self.service or get_service()

    def asker(self) -> Asker:
        """The free-text answerer on the query service."""
        return get_asker(self.svc())

    def coverage_engine(self) -> CoverageEngine:
        """The coverage engine on the service's index (built once: tool calls may run in threads)."""
        from geo.coverage import CoverageEngine

        with self._lock:
            if self._engine is None:
                self._engine = CoverageEngine.from_index(self.svc().index)
            return self._engine


ToolContext = Context[ToolState, Any]


def _state(ctx: ToolContext) -> ToolState:
    state: ToolState = ctx.request_context.lifespan_context
    return state


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


# ------------------------------------------------------------------------------------ find_nearest_service_point
def find_nearest_service_point(
    ctx: ToolContext,
    procedure: ProcedureWords,
    place: PersonPlace = None,
    lat: Latitude = None,
    lon: Longitude = None,
    at: VisitTime = None,
    k: PlaceCount = 3,
    when: VisitWords = None,
) -> CallToolResult:
    """The nearest open public-service locations in Hanoi that handle a procedure, at the time of the visit.

    Returns status answered (with places), ask (a question to relay: procedure, place or time missing,
    ambiguous or not understood) or not_in_person (the procedure is handled elsewhere, e.g. by the
    police). The answer says which time it is for (understood.time); when nothing is open then, it
    names the earliest reopening (next_opening) and still lists the nearest places.

    Parameters
    ----------
    ctx
        The request context (injected by the SDK); its lifespan context is the `ToolState`.
    procedure, place, lat, lon, at, k, when
        The tool's inputs, described in their ``Field`` (the input schema).

    Returns
    -------
    CallToolResult
        The answer as text (Vietnamese); status, what was understood (with the time), the question to
        ask, the places, the earliest reopening and notes as JSON.
    """
    state = _state(ctx)
    words = when.strip() if when and when.strip() else None
    data = _domain(
        lambda: state.asker().answer_parts(procedure, place, lon=lon, lat=lat, at=_when(at), k=k, when=words)
    )
    result = data.get("result") or {}
    summary = {
        "status": data["status"],
        "answer": data["answer"],
        "understood": data["understood"],
        "ask": data["ask"],
        "places": _places(result),
        "next_opening": result.get("next_opening"),
        "notes": data["notes"],
        "procedure_summary": (data["understood"].get("procedure") or {}).get("summary"),
        "handled_elsewhere": (data["understood"].get("procedure") or {}).get("handled_elsewhere"),
    }
    return _result(data["answer"], summary)


def _places(collection: dict[str, Any]) -> list[dict[str, Any]]:
    """The short record of each place of a ``/v1/nearest`` feature collection, with lon and lat."""
    places = []
    for feature in collection.get("features", []):
        geometry = feature["geometry"]
        point = geometry["coordinates"] if geometry["type"] == "Point" else (None, None)
        record = {key: feature["properties"].get(key) for key in NEAREST_KEYS}
        places.append(record | {"lon": point[0], "lat": point[1]})
    return places


# ------------------------------------------------------------------------------------ search_procedures
def search_procedures(ctx: ToolContext, query: ProcedureQuery, limit: ProcedureLimit = 10) -> CallToolResult:
    """Find procedures in gandan's catalogue, with whether and where they are handled in person.

    Parameters
    ----------
    ctx
        The request context (injected by the SDK); its lifespan context is the `ToolState`.
    query, limit
        The tool's inputs, described in their ``Field`` (the input schema).

    Returns
    -------
    CallToolResult
        The first few codes and names as text; every match with how it matched as JSON.
    """
    state = _state(ctx)
    data = _domain(lambda: _find_procedures(state.asker(), query, limit))
    items = data["procedures"]
    if not items:
        text = message("no_procedure_match", query=query).text
    else:
        text = "; ".join(f"{p['code']} {p['short_name']}{_not_in_person_here(p)}" for p in items[:5])
    return _result(text, data)


def _not_in_person_here(record: dict[str, Any]) -> str:
    """What a procedure's line adds when no service point takes it: not handled there, or not known where."""
    if record["handled_in_person"]:
        return ""
    unknown = (record.get("handled_elsewhere") or {}).get("kind") == "unknown"
    return " " + message("place_unknown_here" if unknown else "not_in_person_here").text


def _find_procedures(asker: Asker, query: str, limit: int) -> dict[str, Any]:
    """The procedures the words name (synonyms and understanding first), then the catalogue's own matches."""
    found: list[dict[str, Any]] = []
    guess = asker.understand_procedure(query)
    if guess is not None:
        for code in [guess.code] if guess.code else guess.options:
            found.append({**asker.procedure_record(code), "match": guess.how, "matched": guess.matched})
    seen = {f["code"] for f in found}
    for row in asker.service.search_procedures(query, limit):
        if row["code"] not in seen:
            seen.add(row["code"])
            found.append({**asker.procedure_record(str(row["code"])), "match": row["match"], "matched": row["matched"]})
    return {"query": query, "procedures": found[:limit]}


# ------------------------------------------------------------------------------------ procedure_details
ProcedureCode = Annotated[
    str,
    Field(description="A national procedure code (1.001193) or the full official name.", min_length=1, max_length=300),
]


def procedure_details(ctx: ToolContext, code: ProcedureCode) -> CallToolResult:
    """One procedure: where it is handled in Hanoi (or which agency handles it), what to bring, time, fee, portal.

    Online filing comes first when the portal offers it. Documents list what to submit and what to show,
    with originals, copies and the case each applies to.

    Parameters
    ----------
    ctx
        The request context (injected by the SDK); its lifespan context is the `ToolState`.
    code
        The tool's input, described in its ``Field`` (the input schema).

    Returns
    -------
    CallToolResult
        The name and the summary (or who handles it) as text; the full record as JSON.
    """
    state = _state(ctx)
    record = _domain(lambda: state.svc().procedure_detail(code))
    elsewhere = record["handled_elsewhere"]
    lines = [f"{record['code']} {record['name']}."]
    if elsewhere:
        lines += [note["text"] for note in elsewhere["notes"]]
    else:
        lines.append(f"Nhận tại {record['where']['locations']} điểm phục vụ hành chính công ở Hà Nội.")
    if record["summary"]["text"]:
        lines.append(record["summary"]["text"])
    return _result(" ".join(lines), record)


# ------------------------------------------------------------------------------------ locate_commune
def locate_commune(
    ctx: ToolContext, place: AnyPlace = None, lat: Latitude = None, lon: Longitude = None
) -> CallToolResult:
    """Which 2025 commune (phường/xã) a place or point is in, and which pre-2025 units formed it.

    Parameters
    ----------
    ctx
        The request context (injected by the SDK); its lifespan context is the `ToolState`.
    place, lat, lon
        The tool's inputs, described in their ``Field`` (the input schema): a place, or both lat and lon.

    Returns
    -------
    CallToolResult
        The commune and how many units formed it as text; the place, commune and former units as JSON.
    """
    state = _state(ctx)
    data = _domain(lambda: _locate(state, place, lat, lon))
    commune = data["commune"]
    found = data["place"]
    if commune:
        former = len(data["former_units"])
        text = message("commune_formed_from", name=commune["full_name"], code=commune["code"], count=former).text
        if found.get("kind") == "former_district":
            text = message("district_centre_in", district=found["name"], commune=text).text
    elif found.get("options"):
        text = message("place_ambiguous", options="; ".join(o["label"] for o in found["options"][:6])).text
    else:
        text = message("outside_hanoi_communes").text
    return _result(text, data)


def _locate(state: ToolState, place: str | None, lat: float | None, lon: float | None) -> dict[str, Any]:
    """The place (words or coordinates), its commune in force and the pre-2025 units that formed it."""
    asker = state.asker()
    if place:
        understood = asker.understand_place(place)
        if understood.place is None:
            raise NotFound(understood.place_problem or f"no place of Hanoi recognised in {place!r}")
        found = understood.place.to_dict()
        found["options"] = understood.place.options
        commune = found.get("commune")
    elif lat is not None and lon is not None:
        service = state.svc()
        service.check_location(lon, lat)
        at = service.commune_at(lon, lat)
        commune = None if at is None else asker.gazetteer.commune_ref(str(at["code"]))
        found = {"kind": "coordinates", "lon": lon, "lat": lat, "commune": commune}
    else:
        raise NotFound("give a place or both lat and lon")
    former = _former_units(state.svc().index.crosswalk, commune["code"]) if commune else []
    return {"query": place, "place": found, "commune": commune, "former_units": former}


def _former_units(crosswalk: pd.DataFrame, code: str) -> list[dict[str, Any]]:
    """The pre-2025 units that became (part of) commune ``code``, from the crosswalk."""
    return [
        {
            "code": pair.legacy_code,
            "name": pair.legacy_full_name,
            "district": pair.legacy_district,
            "relation": pair.relation,
        }
        for pair in crosswalk[crosswalk["new_code"] == code].itertuples(index=False)
    ]


# ------------------------------------------------------------------------------------ coverage_summary
def coverage_summary(
    ctx: ToolContext,
    procedure: CoverageProcedure = "1.001193",
    threshold_m: ThresholdMetres = 2_000.0,
    commune: OneCommune = None,
    worst: WorstCount = 5,
    scope: CoverageScope = "today",
) -> CallToolResult:
    """How well a procedure's places cover Hanoi's population (share within a distance, per commune).

    Parameters
    ----------
    ctx
        The request context (injected by the SDK); its lifespan context is the `ToolState`.
    procedure, threshold_m, commune, worst, scope
        The tool's inputs, described in their ``Field`` (the input schema).

    Returns
    -------
    CallToolResult
        The city share (and the commune's) as text; totals, the communes listed, model and notes as JSON.
    """
    state = _state(ctx)
    data = _domain(lambda: _coverage(state, procedure, threshold_m, commune, worst, scope))
    totals = data["totals"]
    text = message(
        "coverage_city",
        code=data["procedure"]["code"],
        share=f"{totals['share']:.0%}",
        population=f"{totals['population']:,}".replace(",", "."),
        metres=f"{data['threshold_m']:,.0f}".replace(",", "."),
        places=totals["places"],
    ).text
    if commune and data["communes"]:
        row = data["communes"][0]
        text += message("coverage_commune", name=row["name"], share=f"{row['share']:.0%}").text
    return _result(text + ".", data)


def _coverage(
    state: ToolState, procedure: str, threshold_m: float, commune: str | None, worst: int, scope: str
) -> dict[str, Any]:
    """Straight-line coverage of ``procedure``: totals and one commune, or the ``worst`` least covered."""
    engine = state.coverage_engine()
    code = state.svc().procedure(procedure)["code"]
    report = engine.run(code, mode="straight", threshold=threshold_m, compare=None if scope == "today" else scope)
    body = report.to_json()
    rows = _coverage_rows(body["communes"], commune, worst)
    return {
        "procedure": body["procedure"],
        "threshold_m": threshold_m,
        "totals": body["totals"],
        "communes": [
            {k: r.get(k) for k in COVERAGE_KEYS if k in r} | {k: r[k] for k in r if k.endswith("_before")} for r in rows
        ],
        "model": body["model"],
        "notes": body["notes"],
    }


def _coverage_rows(rows: list[dict[str, Any]], commune: str | None, worst: int) -> list[dict[str, Any]]:
    """The row of ``commune`` (code or name), or the ``worst`` least-covered rows."""
    if not commune:
        return sorted(rows, key=lambda r: (r["share"], -r["population"]))[:worst]
    wanted = commune.strip().lower()
    picked = [r for r in rows if r["code"] == commune.strip() or str(r["name"]).lower() == wanted]
    if not picked:
        raise NotFound(f"no commune {commune!r}")
    return picked


# ------------------------------------------------------------------------------------ server
TOOL_FUNCTIONS = (find_nearest_service_point, search_procedures, procedure_details, locate_commune, coverage_summary)
TOOLS = tuple(tool.__name__ for tool in TOOL_FUNCTIONS)


def _description(tool: Callable[..., Any]) -> str:
    """What a model reads about a tool: its docstring without the numpydoc sections for developers."""
    return inspect.cleandoc(tool.__doc__ or "").split("\n\nParameters\n")[0]


def build_server(service: Service | None = None) -> MCPServer[ToolState]:
    """The MCP server with every tool of `TOOLS` registered.

    Parameters
    ----------
    service
        The query service the tools use; None: the process-wide one, loaded on the first tool call.

    Returns
    -------
    MCPServer
        Ready to ``run`` (stdio or streamable HTTP) or to hand to an in-memory ``mcp.Client``.
    """
    state = ToolState(service)

    @asynccontextmanager
    async def lifespan(_server: MCPServer[ToolState]) -> AsyncIterator[ToolState]:
        yield state  # the same state for every session: one coverage engine per server

    server: MCPServer[ToolState] = MCPServer(
        "gandan",
        title="gandan — gần dân",
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=lifespan,
    )
    for tool in TOOL_FUNCTIONS:
        server.add_tool(tool, description=_description(tool), annotations=READ_ONLY)
    return server


def run(transport: Literal["stdio", "http"] = "stdio", host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the tools over stdio, or streamable HTTP at ``http://host:port/mcp``.

    Parameters
    ----------
    transport
        ``stdio`` (an assistant starts the process) or ``http`` (a long-running server).
    host, port
        Where the HTTP transport listens.
    """
    server = build_server()
    if transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=host, port=port)
