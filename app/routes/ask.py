"""``/v1/ask``: a free-text question in Vietnamese, answered or asked back (see `geo.ask`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from app.dependencies import AtParam, ServiceDep, resolve_at
from app.schemas import K_HELP, MAX_K, Note, Problem
from geo.ask import MAX_QUERY_CHARS, as_plain, get_asker

__all__ = ["AskResponse", "router"]

router = APIRouter(prefix="/v1", tags=["v1"])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    422: {"model": Problem, "content": {"application/problem+json": {}}},
    503: {"model": Problem, "content": {"application/problem+json": {}}},
}


class AskTime(BaseModel):
    """The time of the visit as understood (`geo.ask.when`), relative to the request's ``at``."""

    kind: Literal["none", "understood", "not_understood"] = Field(
        description="none: no time phrase, the request's `at` (default now) is used; understood: `at` is the "
        "time read from the question; not_understood: a time phrase was found but not read (asked back)."
    )
    at: str = Field(description="The time the opening states are for, ISO 8601 with offset.")
    phrase: str | None = Field(description="The words the time was read from, e.g. 'sáng mai'.")
    assumed_hour: bool = Field(description="A part of the day or a day without a clock time picked the hour.")
    text: str = Field(description="How the answer sentence says the time: 'Sáng mai, thứ Năm 05/03, lúc 08:00'.")
    text_en: str = Field(description="The same in English.")
    reason: str = Field(description="Why an hour was assumed, or why the phrase was not understood (Vietnamese).")
    reason_en: str = Field(description="The same in English.")


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
    time: AskTime = Field(description="The time the answer is for, and the phrase it was read from.")
    procedure_candidates: list[dict[str, Any]] = Field(description="Procedures to ask back between.")
    place_candidates: list[dict[str, Any]] = Field(description="Places to ask back between.")


class AskBack(BaseModel):
    """What to ask the person, when the question is missing or ambiguous."""

    model_config = ConfigDict(extra="allow")
    about: list[Literal["procedure", "place", "time"]] = Field(description="What is missing or ambiguous.")
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
    notes: list[Note] = Field(description="What to tell the person, each in Vietnamese and English.")
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
    k: Annotated[int, Query(description=K_HELP, ge=1, le=MAX_K)] = 3,
) -> Any:
    """Understand a question (procedure, place and time of the visit), answer with the nearest open places or ask back.

    A time in the question ("thứ bảy này", "lúc 7 giờ tối nay", "sáng mai", "ngày 17/2/2026") is read
    relative to `at` (default now): the answer is for that time and says which time it used
    (`understood.time`); a time phrase that is not understood is asked back (`ask.about` has "time").
    """
    asker = get_asker(service)
    return as_plain(asker.ask(q, lon=lon, lat=lat, at=resolve_at(at), k=k))
