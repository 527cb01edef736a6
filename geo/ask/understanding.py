"""What a free-text question was understood to mean: the procedure, the place, and the whole reading.

These are plain records, shared by the matchers that fill them (`geo.ask.procedure`, `geo.ask.place`,
`geo.ask.gazetteer`), the `geo.ask.asker.Asker` that gathers them and `geo.ask.answer`, which words
them. The time of the visit read from the text ("thứ bảy này", "7 giờ tối") is the `TimeReading` of
`geo.ask.when`, kept beside them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from geo.ask.when import TimeReading
from geo.messages import Message

__all__ = ["Place", "PlaceReading", "ProcedureGuess", "Understanding"]


@dataclass
class ProcedureGuess:
    """What the question asks for: one procedure (``code``) or, when ambiguous, ``options``."""

    code: str | None
    confidence: float
    matched: str = ""
    how: str = ""
    options: list[str] = field(default_factory=list)


@dataclass
class Place:
    """A resolved place: a point to search from, the commune around it, and how sure that is.

    ``precision`` is ``"point"`` (coordinates, a landmark, a street) or ``"area"`` (a commune, a former
    unit or district: the point stands for the area). ``parts`` lists the communes an old unit or
    district went to (``share`` = how many former units' worth each took). ``options`` is non-empty
    when the place cannot be decided and the caller must ask back (then ``lon``/``lat`` are None).
    """

    kind: str
    name: str
    label: str
    confidence: float
    lon: float | None = None
    lat: float | None = None
    commune: dict[str, Any] | None = None
    precision: str = "area"
    matched: str = ""
    detail: str = ""
    parts: list[dict[str, Any]] = field(default_factory=list)
    options: list[dict[str, Any]] = field(default_factory=list)
    district: dict[str, Any] | None = None
    explanation: Message | None = None  # what to tell the person about the place (a former unit's fate)

    @property
    def resolved(self) -> bool:
        """Whether there is a point to search from."""
        return self.lon is not None and self.lat is not None and not self.options

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (coordinates rounded to 7 decimals)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "label": self.label,
            "matched": self.matched,
            "confidence": round(float(self.confidence), 2),
            "lon": None if self.lon is None else round(float(self.lon), 7),
            "lat": None if self.lat is None else round(float(self.lat), 7),
            "precision": self.precision,
            "commune": self.commune,
            "district": self.district,
            "parts": self.parts,
            "detail": self.detail,
            "explanation": None if self.explanation is None else self.explanation.to_json(),
        }


@dataclass(frozen=True)
class PlaceReading:
    """What the text says about the place: the `Place` (None when none), and whether it named one.

    ``named`` is True when the text names a place, even one that was not found; ``problem`` then says
    why it cannot be used (in Vietnamese, for the question asked back).
    """

    place: Place | None
    named: bool = False
    problem: str = ""


@dataclass
class Understanding:
    """What a question was understood to mean, before any search."""

    text: str
    procedure: ProcedureGuess | None
    place: Place | None
    notes: list[Message] = field(default_factory=list)
    language: str = "vi"
    place_named: bool = False  # the text named a place (even one not found)
    place_problem: str = ""  # why a named place could not be used
    time: TimeReading = field(default_factory=lambda: TimeReading(kind="none"))  # the time phrase, if any
