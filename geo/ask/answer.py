"""The Vietnamese answer to an understood question: one sentence a bot can relay as is, or a question back.

`answer_status` decides what kind of answer an `Understanding` gets (``answered``, ``ask`` or
``not_in_person``); `compose` turns it, with the procedure records and the search result, into the
response body of ``/v1/ask``. It never presents a guess as certain: a missing or ambiguous procedure or
place asks back with the candidates; a procedure not handled in person by the city's public-service
network names the agency from the catalogue.

Procedure records are the dicts of `geo.ask.asker.Asker.procedure_record` (``code``, ``short_name``,
``agency``, ``handled_in_person``, ``online_full``…).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from geo.ask.understanding import Place, Understanding
from geo.ask.when import TimeReading
from geo.hours import TZ
from geo.messages import Message, distance_text, message
from geo.text import nfc

__all__ = [
    "AnswerStatus",
    "answer_sentence",
    "answer_status",
    "compose",
    "not_in_person_sentence",
    "place_question",
    "procedure_question",
    "short_name",
    "staff_closures",
    "time_json",
    "time_question",
]

AnswerStatus = Literal["answered", "ask", "not_in_person"]
_WEEKDAYS = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
_NOT_VIETNAMESE = "Xin lỗi, tôi chỉ hiểu câu hỏi bằng tiếng Việt. "
_NO_TIME = TimeReading(kind="none")


# --------------------------------------------------------------------------------------------- words


def short_name(name: str) -> str:
    """A procedure's name for a sentence: without "Thủ tục", at most about 90 characters, capitalised."""
    text = re.sub(r"^thủ tục\s+", "", nfc(name), flags=re.IGNORECASE).strip()
    if len(text) > 90:
        cut = text[:90].rsplit(" ", 1)[0].rstrip(",;(")
        text = cut + "…"
    return text[:1].upper() + text[1:]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _when_text(value: str | None, at: datetime) -> str:
    """An ISO time as a clock time, with the weekday and date when it is not on the day of ``at``."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value).astimezone(TZ)
    clock = moment.strftime("%H:%M")
    if moment.date() == at.astimezone(TZ).date():
        return clock
    return f"{clock} {_WEEKDAYS[moment.weekday()]} {moment:%d/%m}"


def _place_phrase(place: Place) -> str:
    if place.kind == "coordinates":
        return "vị trí của bạn"
    if place.kind == "former_unit" and place.commune:
        return f"{place.label.split(' (')[0]} (nay thuộc {_lower_first(place.commune['full_name'])})"
    return place.label


# --------------------------------------------------------------------------------------------- sentences


def answer_sentence(
    record: dict[str, Any], place: Place, result: dict[str, Any], at: datetime, reading: TimeReading = _NO_TIME
) -> str:
    """The answer: the nearest place for the procedure, whether it is open at ``at``, and how far.

    When the question said a time (``reading`` understood), the sentence starts with the time used
    (``"Sáng mai, thứ Năm 05/03, lúc 08:00 — …"``) and speaks of that time, not of now.
    """
    features = result.get("features") or []
    name = record["short_name"]
    head = f"{reading.describe_vi()} — " if reading.kind == "understood" else ""
    if not features:
        return f"{head}{name}: không tìm thấy nơi nào gần {_place_phrase(place)} làm thủ tục này."
    said = reading.kind == "understood"
    sentence = _nearest_sentence(name, place, features[0]["properties"], at, said, result.get("next_opening"))
    for closed in staff_closures(features):
        sentence += " " + closed.text
    for note in result.get("notes") or []:  # nearer places a staff change keeps out (`Service.nearest`)
        if note.get("code") in KEPT_NEARER_NOTES:
            sentence += " " + note["text"]
    return head + _about_the_place(sentence, place)


KEPT_NEARER_NOTES = frozenset({"nearer_closed_by_staff", "nearer_unavailable_by_staff"})
"""Codes of the notes `geo.service.Service.nearest` adds for a nearer place a staff change keeps out."""


def _staff_reason(props: dict[str, Any]) -> str | None:
    """The staff's reason a place is closed (its hours rule's comment), as the map's popup shows it; else None.

    A place a staff change altered (``change_ids``) that is closed with a reason other than a holiday is
    closed by that change: the reason is the closure's, in the staff's words.
    """
    reason = props.get("state_reason")
    holiday = (props.get("today") or {}).get("holiday")
    if props.get("state") != "closed" or not props.get("change_ids") or not reason or reason == holiday:
        return None
    return str(reason)


def staff_closures(features: Sequence[dict[str, Any]]) -> list[Message]:
    """Why the places an answer names are closed by the staff: the nearest, and any nearer than it that is closed.

    The answer names ``features[0]`` (open places rank first, so a nearer place the staff closed comes
    after it); a resident who knows that nearer place learns why it is not the answer.
    """
    if not features:
        return []
    first = features[0]["properties"]
    named = [first, *(f["properties"] for f in features[1:] if f["properties"]["distance_m"] < first["distance_m"])]
    out = []
    for props in named:
        reason = _staff_reason(props)
        if reason is not None:
            out.append(message("place_closed_by_staff", name=props["name"], reason=reason))
    return out


def _nearest_sentence(
    name: str, place: Place, first: dict[str, Any], at: datetime, said: bool, next_opening: dict[str, Any] | None
) -> str:
    where = f"{first['name']}, {first['address']} (cách khoảng {distance_text(first['distance_m'])})"
    if first["state"] == "open":
        closes = _when_text(first.get("closes_at"), at)
        is_open = "mở cửa lúc đó" if said else "đang mở cửa"
        sentence = f"{name}: nơi gần {_place_phrase(place)} nhất {is_open} là {where}"
        return sentence + (f", mở đến {closes}." if closes else ".")
    if first["state"] == "closed":
        opens = _when_text(first.get("opens_at"), at)
        none_open = "lúc đó không có nơi nào mở cửa" if said else "hiện chưa có nơi nào mở cửa"
        holiday = (first.get("today") or {}).get("holiday")
        if holiday:
            none_open += f" (nghỉ lễ: {holiday})"
        sentence = f"{name}: {none_open}; gần {_place_phrase(place)} nhất là {where}"
        sentence += f", mở lại lúc {opens}." if opens else "."
        if next_opening and next_opening["id"] != first["id"]:
            earliest = _when_text(next_opening["opens_at"], at)
            sentence += f" Nơi mở lại sớm nhất: {next_opening['name']}, lúc {earliest}."
        return sentence
    return f"{name}: nơi gần {_place_phrase(place)} nhất là {where}, chưa rõ giờ mở cửa."


def _about_the_place(sentence: str, place: Place) -> str:
    """``sentence`` with what the person should know about where it was measured from."""
    if place.kind == "former_district" and place.parts:
        names = ", ".join(p["name"] for p in place.parts[:4])
        return (
            f"{_upper_first(place.label)} nay thuộc nhiều phường, xã ({names}…); "
            f"tôi tính từ khoảng giữa địa bàn cũ. " + sentence
        )
    if place.kind == "former_unit" and len(place.parts) > 1:
        unit = place.label.split(" (")[0]
        parts = ", ".join(_lower_first(p["full_name"]) for p in place.parts)
        return sentence + f" ({_upper_first(unit)} nay chia cho {parts}; tôi tính từ vị trí của nó.)"
    if place.kind == "street":
        return sentence + " (Tính từ đoạn giữa phố, không theo số nhà.)"
    return sentence


def not_in_person_sentence(records: Sequence[dict[str, Any]]) -> str:
    """Procedures no public-service point of the city handles: the agency, honestly, and the online channel.

    When the place rule does not know where in Hanoi a procedure is handled (``handled_elsewhere.kind`` is
    ``unknown``) the sentence says so and names the agency of the catalogue, never that the procedure is not
    handled at the public-service locations. The portal link (file online, or the procedure's page) follows.
    """
    first = records[0]
    if len(records) == 1:
        name = first["short_name"]
    else:
        name = f"Các thủ tục này ({'; '.join(_lower_first(r['short_name']) for r in records[:4])})"
    elsewhere = [r.get("handled_elsewhere") or {} for r in records]
    agency = first["agency"] or elsewhere[0].get("agency") or "?"
    unknown = any(e.get("kind") == "unknown" for e in elsewhere)
    sentence = message("place_unknown_named" if unknown else "not_at_service_point_named", name=name, agency=agency)
    notes = {n["code"]: n["text"] for n in elsewhere[0].get("notes", [])}
    parts = [sentence.text]
    if "file_online" in notes:
        parts.append(notes["file_online"])
    else:
        if any(r["online_full"] == "yes" for r in records):
            parts.append("Thủ tục này nộp trực tuyến toàn trình trên Cổng dịch vụ công.")
        if "portal_page" in notes:
            parts.append(notes["portal_page"])
    return " ".join(parts)


def procedure_question(options: Sequence[dict[str, Any]]) -> str:
    """The question back when the procedure is missing (with examples) or ambiguous (with the options)."""
    if not options:
        return "Bạn cần làm thủ tục gì? Ví dụ: đăng ký khai sinh, đăng ký kết hôn, chứng thực bản sao."
    names = [_lower_first(o["short_name"]) for o in options[:5]]
    listed = ", ".join(names[:-1]) + f" hay {names[-1]}" if len(names) > 1 else names[0]
    return f"Bạn cần thủ tục nào: {listed}?"


def place_question(u: Understanding) -> str:
    """The question back when the place is missing, unusable or ambiguous."""
    place = u.place
    if place is not None and place.options:
        labels = [o["label"] for o in place.options[:6]]
        if place.kind == "former_district":
            return f"{_upper_first(place.label)} nay gồm {', '.join(labels)}. Bạn ở phường, xã nào?"
        listed = ", ".join(labels[:-1]) + f" hay {labels[-1]}" if len(labels) > 1 else labels[0]
        return f"Bạn ở {listed}?"
    if u.place_problem:
        return f"Tôi {u.place_problem}. Bạn ở phường, xã nào (hoặc gần địa điểm nào)?"
    return "Bạn đang ở phường, xã nào của Hà Nội (hoặc gần địa điểm nào)?"


# --------------------------------------------------------------------------------------------- response


def answer_status(u: Understanding, record: dict[str, Any] | None, options: Sequence[dict[str, Any]]) -> AnswerStatus:
    """What kind of answer ``u`` gets, given its procedure's record (or the ambiguous options).

    ``not_in_person`` when the procedure, or every option of one agency, is not handled in person;
    ``answered`` when a procedure and a place with a point are known and any time phrase was
    understood; else ``ask`` (a time phrase that was not understood is asked back, never read as now).
    """
    if record is not None and not record["handled_in_person"]:
        return "not_in_person"
    if _options_not_in_person(record, options):
        return "not_in_person"
    if record is not None and u.place is not None and u.place.resolved and u.time.kind != "not_understood":
        return "answered"
    return "ask"


def time_question(reading: TimeReading) -> str:
    """The question back when a time phrase was not understood: what was not, and when the person means."""
    said = message("time_not_understood", phrase=reading.text, reason=reading.reason_en, reason_vi=reading.reason)
    return f"{said.text} {message('time_question').text}"


def time_json(reading: TimeReading, used: datetime) -> dict[str, Any]:
    """``understood.time``: the moment answered for, the phrase it came from and the sentence head.

    ``kind`` is ``none`` (no time phrase: the request's ``at``, default now), ``understood`` or
    ``not_understood`` (``reason`` says why; the answer asks back). ``text``/``text_en`` is the head the
    answer sentence starts with (empty for ``none``).
    """
    return {
        "kind": reading.kind,
        "at": used.astimezone(TZ).isoformat(timespec="minutes"),
        "phrase": reading.text or None,
        "assumed_hour": reading.assumed_hour,
        "text": reading.describe_vi(),
        "text_en": reading.describe_en(),
        "reason": reading.reason,
        "reason_en": reading.reason_en,
    }


def _options_not_in_person(record: dict[str, Any] | None, options: Sequence[dict[str, Any]]) -> bool:
    """Ambiguous between procedures of one agency, none handled in person: that agency is the answer."""
    return (
        record is None
        and bool(options)
        and not any(o["handled_in_person"] for o in options)
        and len({o["agency"] for o in options}) == 1
    )


def compose(
    u: Understanding,
    status: AnswerStatus,
    record: dict[str, Any] | None,
    options: list[dict[str, Any]],
    at: datetime,
    result: dict[str, Any] | None = None,
    search_notes: Sequence[Message] = (),
) -> dict[str, Any]:
    """The response body of an answer (``status``, ``understood``, ``ask``, ``result``, ``answer``, ``notes``).

    Parameters
    ----------
    u
        What the question was understood to mean.
    status
        `answer_status` of ``u``.
    record, options
        The procedure's record, or the records of the ambiguous options.
    at
        The time of the visit (for opening times in the sentence).
    result, search_notes
        The ``/v1/nearest`` FeatureCollection and the search's notes, when ``status`` is ``answered``.
    """
    notes: list[Message] = [*u.notes, *search_notes]
    if u.time.kind == "understood" and u.time.assumed_hour:
        notes.append(message("time_assumed", reason=u.time.reason_en, reason_vi=u.time.reason))
    ask: dict[str, Any] | None = None
    if status == "not_in_person":
        answer = not_in_person_sentence([record] if record is not None else options)
        if record is None:
            ask = {"about": ["procedure"], "question": procedure_question(options), "procedure_options": options}
    elif status == "answered" and record is not None and u.place is not None and result is not None:
        answer = answer_sentence(record, u.place, result, at, u.time)
        notes.extend(staff_closures(result.get("features") or []))  # the English beside the sentence's words
    else:
        ask = _ask_back(u, record, options)
        answer = _ask_sentence(ask["question"], record, u.language)
    if status != "ask" and u.language != "vi":
        notes.append(message("not_vietnamese"))
    place_options = u.place.options if u.place is not None else []
    if ask is not None:
        ask.setdefault("place_options", place_options)
    return {
        "status": status,
        "understood": {
            **_understood(u, record),
            "time": time_json(u.time, at),
            "procedure_candidates": options,
            "place_candidates": place_options,
        },
        "ask": ask,
        "result": result,
        "answer": answer,
        "notes": [note.to_json() for note in notes],
    }


def _understood(u: Understanding, record: dict[str, Any] | None) -> dict[str, Any]:
    """The procedure (its record with how it was matched) and the place, when either is settled."""
    place = u.place
    shown = place is not None and (place.resolved or place.kind == "former_district")
    procedure = None
    if record is not None and u.procedure is not None:
        guess = u.procedure
        procedure = {**record, "confidence": guess.confidence, "matched": guess.matched, "how": guess.how}
    return {"procedure": procedure, "place": place.to_dict() if shown and place is not None else None}


def _ask_back(u: Understanding, record: dict[str, Any] | None, options: list[dict[str, Any]]) -> dict[str, Any]:
    """What to ask back: about the procedure, the place or both, with the options for each."""
    about: list[str] = []
    questions: list[str] = []
    if record is None:
        about.append("procedure")
        questions.append(procedure_question(options))
    if u.place is None or not u.place.resolved:
        about.append("place")
        questions.append(place_question(u))
    if u.time.kind == "not_understood":
        about.append("time")
        questions.append(time_question(u.time))
    return {
        "about": about,
        "question": " ".join(questions),
        "procedure_options": options,
        "place_options": u.place.options if u.place is not None else [],
    }


def _ask_sentence(question: str, record: dict[str, Any] | None, language: str) -> str:
    """The question back as the answer: for the procedure when it is known, with an apology in another language."""
    answer = question
    if record is not None:
        answer = f"Để {_lower_first(record['short_name'])}: {_lower_first(answer)}"
    if language != "vi":
        answer = _NOT_VIETNAMESE + answer
    return answer
