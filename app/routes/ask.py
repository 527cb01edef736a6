"""``/v1/ask``: a free-text question in Vietnamese, answered or asked back (see `geo.ask`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from app.dependencies import AtParam, ServiceDep, resolve_at
from app.schemas import Problem
from geo.ask import MAX_QUERY_CHARS, as_plain, get_asker

__all__ = ["AskResponse", "router"]

router = APIRouter(prefix="/v1", tags=["v1"])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    422: {"model": Problem, "content": {"application/problem+json": {}}},
    503: {"model": Problem, "content": {"application/problem+json": {}}},
}


class AskUnderstood(BaseModel):
    """What the question was understood to mean."""

    model_config = ConfigDict(extra="allow")
    procedure: dict[str, Any] | None = Field(
        description="The procedure (code, name, agency, handled_in_person, confidence 0–1, matched words), "
        "or null when none was settled."
    )
    place: dict[str, Any] | None = Field(
        description="The place (kind commune | former_unit | former_district | landmark | street | "
        "coordinates, lon/lat searched from, commune, confidence 0–1, parts of a split or former unit)."
    )
    procedure_candidates: list[dict[str, Any]] = Field(description="Procedures to ask back between.")
    place_candidates: list[dict[str, Any]] = Field(description="Places to ask back between.")


class AskBack(BaseModel):
    """What to ask the person, when the question is missing or ambiguous."""

    model_config = ConfigDict(extra="allow")
    about: list[Literal["procedure", "place", "time"]]
    question: str = Field(description="The question to relay, in Vietnamese.")
    procedure_options: list[dict[str, Any]]
    place_options: list[dict[str, Any]]


class AskResponse(BaseModel):
    """The answer to a free-text question."""

    model_config = ConfigDict(extra="allow")
    status: Literal["answered", "ask", "not_in_person"] = Field(
        description="answered: `result` holds the nearest places; ask: something is missing or ambiguous, "
        "see `ask`; not_in_person: the procedure is not handled at the city's public-service locations."
    )
    query: dict[str, Any]
    understood: AskUnderstood
    ask: AskBack | None
    result: dict[str, Any] | None = Field(description="The /v1/nearest GeoJSON FeatureCollection, when answered.")
    answer: str = Field(description="One Vietnamese sentence a bot can relay as is.")
    notes: list[str]
    took_ms: float


@router.get("/ask", response_model=AskResponse, responses=PROBLEMS)
def ask(
    service: ServiceDep,
    q: Annotated[
        str,
        Query(
            description="The question in Vietnamese, diacritics optional, e.g. 'làm giấy khai sinh cho con ở "
            f"phường Cầu Giấy' (at most {MAX_QUERY_CHARS} characters).",
            min_length=1,
            max_length=MAX_QUERY_CHARS,
        ),
    ],
    lat: Annotated[
        float | None, Query(description="Latitude of the person (WGS 84); the place unless the text names another.")
    ] = None,
    lon: Annotated[float | None, Query(description="Longitude of the person (WGS 84); give it with lat.")] = None,
    at: AtParam = None,
    k: Annotated[int, Query(description="How many places (1..10).", ge=1, le=10)] = 3,
) -> Any:
    """Understand a question (procedure + place), answer with the nearest open places or ask back."""
    asker = get_asker(service)
    return as_plain(asker.ask(q, lon=lon, lat=lat, at=resolve_at(at), k=k))
