"""Free-text lookups for a chatbot: understand a Vietnamese question, answer it or ask back.

``ask("làm giấy khai sinh cho con ở phường Cầu Giấy")`` finds the procedure (`geo.ask.procedure`: the
catalogue plus ``data/procedure_synonyms.csv``) and the place (`geo.ask.place` on `geo.ask.gazetteer`),
runs the same nearest search as ``/v1/nearest`` (`Service.nearest` + `Service.to_feature_collection`)
and writes one Vietnamese sentence a bot can relay as is (`geo.ask.answer`). It never presents a guess
as certain: a missing or ambiguous procedure or place gives ``status == "ask"`` with the candidates to
ask back; a procedure not handled in person by the city's public-service network (police, tax, social
insurance, online only) gives ``status == "not_in_person"`` with the agency from the catalogue.

The `Asker` only orchestrates: it cleans the text, reads the time of the visit (`geo.ask.when`,
relative to the request's ``at``, default now; `Asker.visit_time`) and removes its phrase, hands the
tokens to the procedure matcher first (its words are then no place name), then to the place matcher,
searches at the time read, and lets `geo.ask.answer` word the response. A time phrase that is present
but not understood is asked back, never answered for now.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from geo.ask.answer import answer_status, compose, short_name
from geo.ask.gazetteer import Gazetteer, Token, is_letters, load_place_aliases, tokenize
from geo.ask.place import PlaceMatcher
from geo.ask.procedure import (
    ProcedureMatcher,
    catalog_phrases,
    load_procedure_synonyms,
    synonym_phrases,
)
from geo.ask.understanding import ProcedureGuess, Understanding
from geo.ask.when import TimeReading, TimeSpan, remove_time_phrase, understand_time
from geo.errors import GandanError, InvalidParameter, InvalidQuery
from geo.hours import TZ, ensure_aware
from geo.messages import distance_text, message, place_kind_label, state_label
from geo.service import Service, iso
from geo.text import nfc

__all__ = [
    "MAX_QUERY_CHARS",
    "Asker",
    "InvalidQuery",
    "ProcedureGuess",
    "Understanding",
    "as_plain",
    "format_answer",
    "get_asker",
    "labels",
    "load_procedure_synonyms",
]

MAX_QUERY_CHARS = 500
_NO_TIME = TimeReading(kind="none")
_ENGLISH = {
    "the", "where", "how", "can", "i", "a", "an", "to", "my", "register", "birth", "certificate",
    "marriage", "near", "what", "is", "do", "need", "for", "of", "in", "get", "please", "hello", "office",
}  # fmt: skip


class Asker:
    """Understands questions and answers them on a `Service` (one per process: `get_asker`).

    ``understand_times`` (default True) reads time phrases; the bench turns it off to measure its cost.

    Parameters
    ----------
    service
        The query service the answers search on.
    gazetteer
        The place names (default: built from the service's index, the former districts, the landmark
        aliases and the OSM street names when the road data is there).
    synonyms
        The procedure synonym table (default: `load_procedure_synonyms`, checked against the catalogue).
    """

    def __init__(
        self,
        service: Service,
        gazetteer: Gazetteer | None = None,
        synonyms: pd.DataFrame | None = None,
    ) -> None:
        self.service = service
        self.catalog = service.index.procedures.reset_index(drop=True)
        records = self.catalog.to_dict("records")
        self._by_code = {str(r["code"]): r for r in records}
        self.gazetteer = gazetteer or _default_gazetteer(service)
        if synonyms is None:
            synonyms = load_procedure_synonyms(codes=list(self._by_code))
        self.procedures = ProcedureMatcher(synonym_phrases(synonyms) + catalog_phrases(records), self._by_code)
        self.places = PlaceMatcher(self.gazetteer, service.commune_at)
        self.understand_times = True

    # ------------------------------------------------------------------ understanding
    def understand(
        self,
        text: str,
        lon: float | None = None,
        lat: float | None = None,
        now: datetime | None = None,
        when: str | None = None,
    ) -> Understanding:
        """Understand a question (`geo.ask.when`, `geo.ask.procedure`, then `geo.ask.place`).

        The time is read relative to ``now`` (none is read without it), from ``when`` when given (a time
        in words, e.g. a tool's input; words that are no time are not understood), else from the text;
        its phrase is removed before the procedure and the place are matched. Raises `InvalidQuery`
        for unusable text.
        """
        clean = _clean(text)
        reading = self.read_time(when if when is not None else clean, now, required=when is not None)
        rest = remove_time_phrase(clean, reading) if when is None and reading.phrase else clean
        tokens = tokenize(rest)
        language = _language(clean, tokens)
        procedure, used = self.procedures.match(rest, tokens)
        understanding = Understanding(text=clean, procedure=procedure, place=None, language=language, time=reading)
        self._read_place(tokens, used, understanding)
        if understanding.place is None and lon is not None and lat is not None:
            understanding.place = self.places.coordinates(lon, lat)
        elif understanding.place is not None and lon is not None and lat is not None:
            understanding.notes.append(message("place_named_coordinates_ignored"))
        return understanding

    def read_time(self, text: str, now: datetime | None, required: bool = False) -> TimeReading:
        """The time phrase of ``text`` relative to ``now`` (`geo.ask.when.understand_time`).

        ``required``: the whole text is meant as a time, so finding none is *not understood* (not now).
        """
        if now is None or not self.understand_times:
            return _NO_TIME
        reading = understand_time(text, now)
        if required and reading.kind == "none":
            return TimeReading(
                kind="not_understood",
                phrase=(TimeSpan(0, len(text), text.strip()),),
                reason="không thấy ngày hay giờ nào",
                reason_en="no day or clock time found",
            )
        return reading

    def understand_procedure(self, text: str) -> ProcedureGuess | None:
        """Only the procedure of a text (the MCP tools use it)."""
        clean = _clean(text)
        return self.procedures.match(clean, tokenize(clean))[0]

    def understand_place(self, text: str) -> Understanding:
        """Only the place of a text (the MCP tools use it)."""
        clean = _clean(text)
        understanding = Understanding(text=clean, procedure=None, place=None)
        self._read_place(tokenize(clean), set(), understanding)
        return understanding

    def _read_place(self, tokens: Sequence[Token], used: set[int], out: Understanding) -> None:
        reading = self.places.match(tokens, used)
        out.place, out.place_named, out.place_problem = reading.place, reading.named, reading.problem

    def visit_time(self, at: datetime | None) -> datetime:
        """The time of the visit: ``at`` in Hanoi time, else now (the one place the asker takes it from)."""
        return ensure_aware(at) if at is not None else datetime.now(TZ)

    # ------------------------------------------------------------------ answering
    def ask(
        self,
        q: str,
        lon: float | None = None,
        lat: float | None = None,
        at: datetime | None = None,
        k: int = 3,
        when: str | None = None,
    ) -> dict[str, Any]:
        """Answer a question: what was understood, the nearest places or what to ask back, and a sentence.

        Parameters
        ----------
        q
            The question, free Vietnamese text (at most `MAX_QUERY_CHARS` characters).
        lon, lat
            The person's position, both or neither; the place unless the text names another.
        at
            The time the question is asked at (default now in Hanoi): the visit's time, unless the
            text says another ("sáng mai", "thứ Bảy này", "19:00"), read relative to it.
        k
            How many places to return.
        when
            The time of the visit in words, instead of reading it from ``q`` (tools pass their input).

        Returns
        -------
        dict
            ``query``, ``status`` (``answered``, ``ask`` or ``not_in_person``), ``understood``
            (procedure and place with confidence, the ``time`` used), ``ask`` (what to ask back, with
            options) or None,
            ``result`` (the ``/v1/nearest`` FeatureCollection) or None, ``answer`` (one Vietnamese
            sentence), ``notes``.

        Raises
        ------
        InvalidQuery
            Empty text, more than `MAX_QUERY_CHARS` characters, or no letter or digit.
        InvalidParameter, OutsideServiceArea
            Only one of lat/lon, or coordinates outside Hanoi.
        """
        started = time.perf_counter()
        if (lon is None) != (lat is None):
            raise InvalidParameter("give both lat and lon, or neither")
        if lon is not None and lat is not None:
            self.service.check_location(lon, lat)
        now = self.visit_time(at)
        understanding = self.understand(q, lon, lat, now=now, when=when)
        reading = understanding.time
        visit = reading.at if reading.kind == "understood" and reading.at is not None else now
        response = self._compose(understanding, visit, k)
        response["query"] = {
            "q": understanding.text,
            "lat": lat,
            "lon": lon,
            "at": iso(now),
            "when": when,
            "k": k,
            "language": understanding.language,
        }
        response["took_ms"] = round((time.perf_counter() - started) * 1000, 2)
        return response

    def answer_parts(
        self,
        procedure: str,
        place: str | None = None,
        lon: float | None = None,
        lat: float | None = None,
        at: datetime | None = None,
        k: int = 3,
        when: str | None = None,
    ) -> dict[str, Any]:
        """Like `ask`, with the procedure, the place and the time in words (``when``) given separately (for tools)."""
        text = procedure if not place else f"{procedure} ở {place}"
        if len(text) > MAX_QUERY_CHARS:
            raise InvalidQuery(f"procedure and place are longer than {MAX_QUERY_CHARS} characters together")
        return self.ask(text, lon=lon, lat=lat, at=at, k=k, when=when)

    def procedure_record(self, code: str) -> dict[str, Any]:
        """The catalogue row of ``code`` with ``handled_in_person``."""
        rec = dict(self._by_code[code])
        handled = [h for h in str(rec.get("handled_at") or "").split("|") if h]
        capable = self.service.handles_in_person(code)
        return {
            "code": code,
            "name": str(rec["name"]),
            "short_name": short_name(str(rec["name"])),
            "agency": str(rec.get("agency") or ""),
            "handled_at": handled,
            "handled_in_person": bool(handled) and capable,
            "online_full": str(rec.get("online_full") or ""),
            "boundary_free": str(rec.get("boundary_free") or ""),
            "level": str(rec.get("level") or ""),
            "summary": self.service.procedure_summary(code),
            "handled_elsewhere": self.service.handled_elsewhere(code),
        }

    def _compose(self, u: Understanding, at: datetime, k: int) -> dict[str, Any]:
        proc = u.procedure
        record = self.procedure_record(proc.code) if proc and proc.code else None
        options = [self.procedure_record(c) for c in proc.options] if proc and proc.options else []
        status = answer_status(u, record, options)
        if status != "answered" or record is None or u.place is None or u.place.lon is None or u.place.lat is None:
            return compose(u, status, record, options, at)
        nearest = self.service.nearest(u.place.lon, u.place.lat, record["code"], at, k=k)
        result = self.service.to_feature_collection(nearest)
        return compose(u, status, record, options, at, result, nearest.notes)


# --------------------------------------------------------------------------------------------- helpers


def _clean(text: str) -> str:
    """NFC text without control characters; raises `InvalidQuery` when empty, too long or wordless."""
    if text is None or not str(text).strip():
        raise InvalidQuery("the question is empty")
    raw = str(text)
    if len(raw) > MAX_QUERY_CHARS:
        raise InvalidQuery(f"the question has {len(raw)} characters; at most {MAX_QUERY_CHARS} are accepted")
    cleaned = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") else ch for ch in raw)
    cleaned = nfc(cleaned)
    if not cleaned or not is_letters(cleaned):
        raise InvalidQuery("the question has no words (only symbols, emoji or punctuation)")
    return cleaned


def _language(text: str, tokens: Sequence[Token]) -> str:
    """``"vi"``, ``"en"`` (mostly common English words, no Vietnamese letters) or ``"other"`` script."""
    letters = [ch for ch in text if ch.isalpha()]
    latin = [ch for ch in letters if "LATIN" in unicodedata.name(ch, "")]
    if letters and len(latin) < len(letters) / 2:
        return "other"
    words = [t.key for t in tokens if not t.key.isdigit()]
    if words and not any(t.accented for t in tokens) and sum(w in _ENGLISH for w in words) >= max(2, len(words) / 3):
        return "en"
    return "vi"


def _default_gazetteer(service: Service) -> Gazetteer:
    from geo.legacy import load_legacy_districts

    streets = None
    try:
        from geo.sources import paths_of_group
        from geo.streets import load_osm_streets

        streets = load_osm_streets(paths_of_group("osm-central-hanoi", service.settings))
    except GandanError:
        streets = None  # no road data here: street names are not understood, everything else is
    return Gazetteer(
        service.index,
        service.commune_at,
        load_legacy_districts(),
        aliases=load_place_aliases(),
        streets=streets,
    )


@lru_cache(maxsize=4)
def get_asker(service: Service) -> Asker:
    """The `Asker` of a service, built once (loading the road data's street names takes about a second)."""
    return Asker(service)


def as_plain(value: Any) -> Any:
    """``value`` with numpy scalars turned into Python ones, for JSON."""
    if isinstance(value, dict):
        return {k: as_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def labels(response: dict[str, Any]) -> tuple[str, str]:
    """What an `Asker.ask` response understood, as two short labels (for evaluation sets and logs).

    Procedure: its code, or ``"ASK"`` when none was settled. Place: ``"ASK"`` when the place is asked
    back, ``"NONE"`` when the text named none and none was needed, ``"D:<code>"`` for a former district
    answered from its middle, else the code of the commune the search started in.
    """
    understood = response["understood"]
    procedure = (understood.get("procedure") or {}).get("code") or "ASK"
    ask = response.get("ask") or {}
    place = understood.get("place")
    if "place" in ask.get("about", []) or (place is None and understood.get("place_candidates")):
        return procedure, "ASK"
    if place is None or place.get("lon") is None:
        return procedure, "ASK" if place is not None else "NONE"
    if place["kind"] == "former_district" and place.get("district"):
        return procedure, f"D:{place['district']['code']}"
    return procedure, (place.get("commune") or {}).get("code") or "NONE"


# not_in_person: no service point gandan knows takes it (the rule may not know where it is handled at all).
_STATUS_VI = {
    "answered": "đã trả lời",
    "ask": "cần hỏi lại",
    "not_in_person": "không có điểm phục vụ nào nhận trực tiếp",
}


def _clock(value: str) -> str:
    """An ISO time as ``HH:MM dd/mm`` for a terminal line."""
    return f"{value[11:16]} {value[8:10]}/{value[5:7]}"


def format_answer(response: dict[str, Any]) -> str:
    """A response as a few readable lines for a terminal: the sentence, what was understood, the places."""
    lines = [response["answer"], ""]
    understood = response["understood"]
    proc = understood.get("procedure")
    if proc:
        lines.append(
            f"thủ tục:  {proc['code']} {proc['short_name']} "
            f"(độ tin cậy {proc['confidence']:.2f}, từ '{proc['matched']}')"
        )
    for option in understood.get("procedure_candidates") or []:
        lines.append(f"  có thể: {option['code']} {option['short_name']}")
    place = understood.get("place")
    if place:
        commune = place.get("commune") or {}
        where = f" → {commune.get('full_name')} ({commune.get('code')})" if commune else ""
        kind = place_kind_label(place["kind"])
        lines.append(f"địa điểm: {place['label']} [{kind}]{where} (độ tin cậy {place['confidence']:.2f})")
        if place.get("explanation"):
            lines.append(f"  {place['explanation']['text']}")
    for option in understood.get("place_candidates") or []:
        lines.append(f"  có thể: {option['label']}")
    time = understood.get("time") or {}
    if time.get("kind") == "understood":
        lines.append(f"thời gian: {time['text']} (từ '{time['phrase']}')")
    elif time.get("kind") == "not_understood":
        lines.append(f"thời gian: chưa hiểu '{time['phrase']}' ({time['reason']})")
    for i, feature in enumerate((response.get("result") or {}).get("features", []), start=1):
        p = feature["properties"]
        state = state_label(p["state"]) + (f", mở lại {_clock(p['opens_at'])}" if p.get("opens_at") else "")
        lines.append(f"{i}. {p['name']} — {p['address']} — {distance_text(p['distance_m'])} — {state}")
    lines.extend(f"lưu ý: {note['text']}" for note in response.get("notes") or [])
    lines.append(f"trạng thái câu trả lời: {_STATUS_VI[response['status']]}")
    return "\n".join(lines)
