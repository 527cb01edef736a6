"""Response schemas of the API (they document /openapi.json and are checked by the schema tests)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from geo.modes import TravelMode
from geo.settings import get_settings

__all__ = [
    "CommuneRef",
    "CommuneSummary",
    "HandledElsewhere",
    "Health",
    "HoursSpan",
    "LocateResult",
    "NearestCollection",
    "NearestFeature",
    "NearestProperties",
    "NearestQuery",
    "NextOpening",
    "Note",
    "Problem",
    "ProcedureChannel",
    "ProcedureDetailOut",
    "ProcedureDocument",
    "ProcedureOut",
    "ProcedureSummary",
    "TodayHours",
]

# One limit on how many places an answer lists, from settings (GANDAN_MAX_K): HTTP, MCP and ask share it.
MAX_K = get_settings().max_k
K_HELP = f"How many places (1..{MAX_K})."


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


class CommuneRef(BaseModel):
    """A commune named by its official code."""

    code: str | None = Field(description="Official 5-digit code, e.g. '00004'.")
    name: str | None


class PointGeometry(BaseModel):
    """A GeoJSON Point, lon/lat."""

    type: Literal["Point"]
    coordinates: list[float] = Field(min_length=2, max_length=2)


class RouteGeometry(BaseModel):
    """The place and the route to it."""

    type: Literal["GeometryCollection"]
    geometries: list[dict[str, Any]]


# Shared by the declared query parameters (`app.dependencies`) and the query models below.
LAT_HELP = "Latitude, WGS 84 degrees, inside Hanoi's service area (the communes and 1 km around them)."
LON_HELP = "Longitude, WGS 84 degrees, inside Hanoi's service area (the communes and 1 km around them)."
AT_HELP = (
    "Time of the visit, ISO 8601 with offset (2026-03-02T09:30+07:00), years 2000 to 2099; default now in "
    "Asia/Ho_Chi_Minh. A time without offset is refused."
)
AT_MAX_LENGTH = 64
# The bounding box of the service area (boundary set hanoi-2025: communes 105.285..106.020 E, 20.564..21.385 N,
# plus 1 km), rounded outwards. Documented, not enforced as such: the location check refuses what lies outside
# the area (a polygon, which JSON Schema cannot say) with its own message, swapped coordinates named.
LAT_BOUNDS: dict[str, JsonValue] = {"minimum": 20.55, "maximum": 21.40}
LON_BOUNDS: dict[str, JsonValue] = {"minimum": 105.27, "maximum": 106.03}
# `at` as `app.dependencies.resolve_at` accepts it: a real calendar date of 2000..2099 (leap years included),
# 24-hour time with optional seconds and fraction, and a UTC offset (Z or ±HH:MM); empty means now.
_DAY = (
    r"20\d\d-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)"
    r"|02-(?:0[1-9]|1\d|2[0-8]))|20(?:0[48]|[2468][048]|[13579][26])-02-29"
)
_CLOCK = r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
AT_PATTERN = rf"^$|^(?:{_DAY})T{_CLOCK}$"


class NearestQuery(BaseModel):
    """The query string of ``/v1/nearest`` (validated in one pydantic call, see `app.dependencies.parse_query`)."""

    lat: float = Field(description=LAT_HELP, json_schema_extra=LAT_BOUNDS, examples=[21.0285])
    lon: float = Field(description=LON_HELP, json_schema_extra=LON_BOUNDS, examples=[105.8542])
    procedure: str = Field(
        description="Procedure code (1.001193) or name; diacritics optional.",
        min_length=1,
        max_length=200,
        examples=["1.001193"],
    )
    at: str | None = Field(
        default=None, description=AT_HELP, max_length=AT_MAX_LENGTH, json_schema_extra={"pattern": AT_PATTERN}
    )
    k: int = Field(default=3, ge=1, le=MAX_K, description=K_HELP)
    mode: TravelMode = Field(
        default="straight", description="straight (geodesic distance) or a road-network travel mode."
    )
    open_only: bool = Field(default=False, description="Only places open at `at`.")
    route: bool = Field(default=False, description="Include the route as a LineString (network modes).")


class HoursSpan(BaseModel):
    """A span of one day, local Hanoi time."""

    opens: str = Field(description="HH:MM", examples=["08:00"])
    closes: str = Field(description="HH:MM (24:00 is the end of the day)", examples=["12:00"])


class TodayHours(BaseModel):
    """The hours of the day asked about (the Hanoi date of ``at``), as data and as display text."""

    date: str = Field(description="The Hanoi date, YYYY-MM-DD.")
    spans: list[HoursSpan] = Field(description="Open spans in time order; empty when closed all day.")
    unsure_spans: list[HoursSpan] = Field(description="Spans the hours rule marks unknown (usually none).")
    closed_all_day: bool = Field(description="Hours known and nothing open that day.")
    holiday: str | None = Field(description="The public holiday's Vietnamese name, or null.")
    holiday_en: str | None = Field(description="Its English name, when the calendar gives one.")
    make_up_working_day: bool = Field(description="A make-up working day (an office day on a weekend).")
    make_up_reason: str | None = Field(description="Why, from the calendar overrides (Vietnamese).")
    make_up_reason_en: str | None = Field(description="The same in English, when given.")
    unknown: bool = Field(description="No hours known for this place (never read as closed).")
    text: str = Field(description="For display, Vietnamese: 08:00–12:00, 13:00–17:00 or Nghỉ lễ: …")
    text_en: str = Field(description="For display, English: 08:00–12:00, 13:00–17:00 or Public holiday: …")


class NearestProperties(BaseModel):
    """Properties of one ranked place (the contract in DESIGN.md)."""

    model_config = ConfigDict(extra="allow")
    id: str
    kind: str
    name: str
    address: str
    commune: CommuneRef
    rank: int
    distance_m: float = Field(description="Geodesic metres (straight) or metres along the road network.")
    travel_time_s: float | None = Field(description="Seconds on the road network; null in straight mode.")
    cost_basis: Literal["straight_line", "network"]
    state: Literal["open", "closed", "unknown"]
    opens_at: str | None = Field(description="Next opening, ISO 8601 with offset, when not open now.")
    closes_at: str | None = Field(description="Next closing, ISO 8601 with offset, when open now.")
    hours: str | None = Field(description="OSM opening_hours string.")
    today: TodayHours = Field(description="Today's hours (the Hanoi date of the query's time) as data and text.")
    location_precision: Literal["exact", "approximate"]


class ProcedureSummary(BaseModel):
    """What to bring, how long, the fee and the online option, for a resident (`geo.procedure_info`)."""

    documents: list[str] = Field(description="The first documents to submit (for every case first).")
    documents_total: int
    time: str | None = Field(description="Processing time of the first channel (online first); 'not stated'.")
    fee: str | None = Field(description="Fee of that channel as the portal gives it; 'not stated'.")
    channel: Literal["online", "post", "in_person"] | None
    online: bool | None = Field(description="Whether it can be filed online; null without a detail page.")
    portal_url: str | None
    details: bool = Field(description="Whether the national portal has a detail page for it.")
    text: str = Field(description="One Vietnamese paragraph: file online at …, bring …, time, fee.")
    text_en: str


class HandledElsewhere(BaseModel):
    """Who handles a procedure that no public-service location handles, and where to file it online."""

    agency: str | None
    kind: Literal["not_at_pasc", "unknown", "no_location"] = Field(
        description="not_at_pasc: another agency (police, tax, ...); unknown: no reviewed rule covers it; "
        "no_location: handled at a kind of location Hanoi has none of."
    )
    portal_url: str | None
    online: bool | None
    notes: list[dict[str, str]] = Field(description="Messages (code, text in Vietnamese, text_en).")


class ProcedureChannel(BaseModel):
    """One way to file: online, by post or in person, with the time and fee as the portal gives them."""

    kind: Literal["online", "post", "in_person"]
    label: str
    time: str = Field(description="As given ('5 ngày làm việc'), or 'not stated'.")
    days: float | None
    working_days: bool | None
    fee: str = Field(description="As given, or 'not stated'.")
    description: str | None


class ProcedureDocument(BaseModel):
    """One document of the file."""

    name: str
    originals: int | None
    copies: int | None
    condition: str | None = Field(description="The case it applies to; null for every case.")
    form: str | None


class NearestFeature(BaseModel):
    """One ranked place."""

    type: Literal["Feature"]
    id: str
    geometry: PointGeometry | RouteGeometry
    properties: NearestProperties


class Note(BaseModel):
    """One thing to tell the person, from the message catalogue (`geo.messages`): Vietnamese first."""

    code: str = Field(description="Stable code a program can act on, e.g. all_closed, beyond_network.")
    text: str = Field(description="Vietnamese text (shown on a Vietnamese page).")
    text_en: str = Field(description="English text (shown on an English page).")


class NextOpening(BaseModel):
    """The capable place that opens first, when none is open at the time asked about."""

    id: str
    name: str
    opens_at: str = Field(description="ISO 8601 with offset.")
    distance_m: float = Field(description="Geodesic metres from the origin.")


class NearestCollection(BaseModel):
    """Nearest places, best first, with the query as understood.

    Never a dead end: when no place that handles the procedure is open at ``at`` (with or without
    ``open_only``), ``features`` holds the nearest places anyway (``state`` closed, with ``opens_at``),
    ``next_opening`` names the place that reopens first and a note (code ``all_closed``) says so; with
    ``open_only`` a second note (``none_open_shown_closed``) says the places shown are not open.
    """

    model_config = ConfigDict(extra="allow")
    type: Literal["FeatureCollection"]
    features: list[NearestFeature]
    query: dict[str, Any]
    procedure: dict[str, Any]
    notes: list[Note] = Field(description="What to tell the person, each in Vietnamese and English.")
    next_opening: NextOpening | None = Field(
        description="When no capable place is open at `at`: the one that reopens first (nearest on a tie); "
        "null when some place is open."
    )
    handled_elsewhere: HandledElsewhere | None = Field(
        default=None, description="When no location handles the procedure: the agency that does, the portal link."
    )


class ProcedureOut(BaseModel):
    """A procedure of the catalog."""

    model_config = ConfigDict(extra="allow")
    code: str
    name: str
    field: str | None = None
    level: str | None = None
    handled_at: list[str]
    boundary_free: str | None = None
    online_full: str | None = None
    in_person: str | None = Field(
        default=None, description="Whether it can be done in person anywhere (police included)."
    )
    handled_in_person_here: bool = Field(description="Whether a gandan location (PASC network) accepts it in person.")
    layer: str | None = Field(default=None, description="authored (reviewed row of procedures.csv) or catalogue.")
    place: str | None = Field(default=None, description="pasc, not_at_pasc or unknown (agency rules).")
    portal_url: str | None = None
    match: str | None = Field(default=None, description="How a search matched it (exact_code, synonym, ...).")
    rank: int | None = Field(default=None, description="Place in the search's ranking, 1 = best.")
    matched: str | None = Field(default=None, description="The text the search matched on.")
    summary: ProcedureSummary | None = None


class ProcedureDetailOut(ProcedureOut):
    """The full record of one procedure: ``/v1/procedures/{code}``."""

    levels: list[str]
    applicants: list[str] = Field(description="Who may file (Đối tượng thực hiện).")
    agencies: list[str]
    channels: list[ProcedureChannel] = Field(description="Online first; empty without a detail page.")
    documents: dict[str, list[ProcedureDocument]] = Field(description="'submit' (nộp) and 'show' (xuất trình).")
    notes: list[str]
    legal_basis: list[dict[str, Any]]
    decision: str | None
    where: dict[str, Any] = Field(description="Where it is handled in Hanoi: place, kinds, agency, locations.")
    handled_elsewhere: HandledElsewhere | None
    detail_source: str | None


class CommuneSummary(BaseModel):
    """A commune without its geometry."""

    model_config = ConfigDict(extra="allow")
    code: str
    name: str
    full_name: str
    kind: str
    population: int | None
    area_km2: float | None


class LocateResult(BaseModel):
    """The commune at a point, and the pre-merger units it came from."""

    model_config = ConfigDict(extra="allow")
    lat: float
    lon: float
    commune: CommuneSummary | None
    former_units: list[dict[str, Any]]
    likely_former_unit: dict[str, Any] | None


class Health(BaseModel):
    """Liveness and what each part says."""

    model_config = ConfigDict(extra="allow")
    status: Literal["ok", "degraded"]
    backend: str
    parts: dict[str, str]
