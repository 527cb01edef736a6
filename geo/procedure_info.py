"""What a resident needs to know about one procedure: the full record, the short summary, where else to go.

Built on the index's procedures layer and its ``procedure_details`` table (`geo.catalogue`), both the
same in every backend. Three shapes, for every surface (API, CLI, MCP, chatbot, map):

`ProcedureInfo.record`
    The full record of ``/v1/procedures/{code}``: level, field, who may file, agencies, channels (each
    with processing time and fee, `NOT_STATED` when the portal says nothing), documents to submit and
    to show (originals, copies, the case they apply to, the form), notes, legal basis, portal URL and
    where it is handled in Hanoi.
`ProcedureInfo.summary`
    The short "what to bring / how long / fee / file online at <portal URL>" (online channel first
    when there is one), as data and as one Vietnamese sentence with English beside it.
`ProcedureInfo.handled_elsewhere`
    For a procedure no public-service location handles: the agency that does, and the portal link.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from geo.messages import message
from geo.text import fold

__all__ = ["CHANNEL_ORDER", "NOT_STATED", "SUMMARY_DOCUMENTS", "ProcedureInfo"]

NOT_STATED = "not stated"
"""Time or fee of a channel the portal says nothing about."""
CHANNEL_ORDER = ("online", "post", "in_person")
"""Channels in the order they are offered: online first (Hanoi waives fees online)."""
SUMMARY_DOCUMENTS = 3
"""Documents named in a summary (the first ones to submit, for every case first)."""
_LIST_COLUMNS = ("levels", "applicants", "agencies", "channels", "documents", "notes", "legal_basis")
_NOT_STATED_VI = "không nêu"
_DOCUMENT_CHARS = 100
_FORM = re.compile(r"\s+theo\s+mẫu\b", re.IGNORECASE)
_ENUMERATOR = re.compile(r"^\(?(\d{1,2})[).]\s*")
_CASE_STARTS = ("ban chinh hoac", "truong hop", "doi voi", "neu ", "khi ", "luu y", "nguoi co yeu cau", "ngoai ra")
_CASE_RANK = 2
_CASE_WORDS = ("truong hop uy quyen", "neu co", "dien tu tuong tac")
_PAPER_STARTS = (
    "to khai", "don ", "giay", "ban sao", "ban chinh", "van ban", "ho chieu", "can cuoc", "the ", "so ", "phieu",
    "hop dong", "quyet dinh", "chung chi", "bang ", "anh ", "01 ", "02 ",
)  # fmt: skip


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _split(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [part for part in _text(value).split("|") if part]


class ProcedureInfo:
    """Records, summaries and "handled elsewhere" of the procedures of one index.

    Parameters
    ----------
    procedures
        The index's procedures layer.
    details
        The index's ``procedure_details`` table (may be empty).
    """

    def __init__(self, procedures: pd.DataFrame, details: pd.DataFrame) -> None:
        self.procedures = procedures
        self.details = details
        codes = details["code"].astype(str).tolist() if "code" in details else []
        self._detail_row = {code: i for i, code in enumerate(codes)}
        self._details: dict[str, dict[str, Any] | None] = {}
        self._summaries: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ detail pages
    def detail(self, code: str) -> dict[str, Any] | None:
        """The parsed detail page of ``code`` (lists decoded), or None without one; decoded once."""
        if code in self._details:
            return self._details[code]
        row = self._detail_row.get(code)
        found = None
        if row is not None:
            raw = self.details.iloc[row].to_dict()
            # A missing cell comes back from parquet as NaN: it is "not stated" (None), not a float.
            found = {
                k: json.loads(v) if k in _LIST_COLUMNS and isinstance(v, str) else (None if _missing(v) else v)
                for k, v in raw.items()
            }
        self._details[code] = found
        return found

    def channels(self, code: str) -> list[dict[str, Any]]:
        """The channels of ``code`` in `CHANNEL_ORDER`, time and fee as given or `NOT_STATED`."""
        detail = self.detail(code)
        if detail is None:
            return []
        channels = sorted(detail["channels"], key=lambda c: CHANNEL_ORDER.index(c["kind"]))
        return [
            {
                "kind": c["kind"],
                "label": c["label"],
                "time": c["time"] or NOT_STATED,
                "days": c["days"],
                "working_days": c["working_days"],
                "fee": c["fee"] or NOT_STATED,
                "description": c["description"],
            }
            for c in channels
        ]

    def documents(self, code: str) -> dict[str, list[dict[str, Any]]]:
        """Documents to ``submit`` and to ``show``: name, originals, copies, condition (None = every case), form."""
        detail = self.detail(code)
        out: dict[str, list[dict[str, Any]]] = {"submit": [], "show": []}
        for doc in detail["documents"] if detail else []:
            out[doc["role"]].append({k: doc[k] for k in ("name", "originals", "copies", "condition", "form")})
        return out

    # ------------------------------------------------------------------ shapes
    def where(self, record: Mapping[str, Any], capable_count: int) -> dict[str, Any]:
        """Where ``record`` is handled in Hanoi: place, kinds of location, agency, how many locations, rule."""
        place = _text(record.get("place")) or ("pasc" if _split(record.get("handled_at")) else "not_at_pasc")
        return {
            "place": place,
            "kinds": _split(record.get("handled_at")),
            "agency": _text(record.get("agency")) or None,
            "locations": capable_count,
            "rule": _text(record.get("place_rule")) or None,
            "layer": _text(record.get("layer")) or "authored",
        }

    def summary(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """What to bring, how long, the fee and the online option of ``record`` (cached per code).

        Returns
        -------
        dict
            ``documents`` (the first `SUMMARY_DOCUMENTS` to submit, for every case first),
            ``documents_total``, ``time`` and ``fee`` (of the first channel in `CHANNEL_ORDER`, or None
            without details), ``channel`` (its kind), ``online`` (True/False; None without details),
            ``portal_url``, ``details`` (whether the portal has a detail page), ``text`` (Vietnamese)
            and ``text_en``.
        """
        code = str(record["code"])
        cached = self._summaries.get(code)
        if cached is not None:
            return cached
        detail = self.detail(code)
        url = _text(record.get("portal_url")) or None
        channels = self.channels(code)
        submit = self.documents(code)["submit"]
        # Page order is not reading order; a number the page put before a document ("(2) ...") is.
        ranked = sorted((_document_rank(d), _enumerator(d["name"]), i) for i, d in enumerate(submit))
        plain = [submit[i] for rank, _, i in ranked if rank < _CASE_RANK] or [submit[i] for _, _, i in ranked]
        names = list(dict.fromkeys(_short(d["name"]) for d in plain))[:SUMMARY_DOCUMENTS]
        first = channels[0] if channels else None
        online = None if detail is None else any(c["kind"] == "online" for c in channels)
        parts = []
        if online and url:
            parts.append(message("file_online", url=url))
        if names:
            more = len(submit) - len(names)
            listed = "; ".join(names)
            parts.append(message("procedure_bring", documents=listed + (f" (+{more})" if more > 0 else "")))
        if first is not None:
            parts.append(message("procedure_time", time=_vi(first["time"])))
            parts.append(message("procedure_fee", fee=_vi(first["fee"])))
        if detail is None and url:
            parts.append(message("procedure_no_details", url=url))
        summary = {
            "documents": names,
            "documents_total": len(submit),
            "time": first["time"] if first else None,
            "fee": first["fee"] if first else None,
            "channel": first["kind"] if first else None,
            "online": online,
            "portal_url": url,
            "details": detail is not None,
            "text": " ".join(p.text for p in parts),
            "text_en": " ".join(p.text_en for p in parts).replace(_NOT_STATED_VI, NOT_STATED),
        }
        self._summaries[code] = summary
        return summary

    def handled_elsewhere(self, record: Mapping[str, Any], capable_count: int) -> dict[str, Any] | None:
        """For a procedure no public-service location handles: ``agency``, ``kind``, ``portal_url``, ``online``, notes.

        ``kind`` is the place rule's verdict: ``not_at_pasc`` (another agency handles it), ``unknown`` (no
        rule covers it) or ``no_location`` (handled at a kind of location Hanoi has none of). None when
        some location handles it.
        """
        if capable_count > 0:
            return None
        where = self.where(record, capable_count)
        kind = where["place"] if where["place"] != "pasc" else "no_location"
        agency = where["agency"] or _text(record.get("issuer")) or None
        summary = self.summary(record)
        notes = [
            message("place_unknown" if kind == "unknown" else "not_at_service_point", agency=agency or "?").to_json()
        ]
        if summary["portal_url"]:
            # Online only when the detail page lists the channel; otherwise just the portal page.
            code = "file_online" if summary["online"] else "portal_page"
            notes.append(message(code, url=summary["portal_url"]).to_json())
        return {
            "agency": agency,
            "kind": kind,
            "portal_url": summary["portal_url"],
            "online": summary["online"],
            "notes": notes,
        }

    def record(self, base: Mapping[str, Any], capable_count: int) -> dict[str, Any]:
        """The full record of one procedure (``base`` is its row as `geo.service.procedure_record` gives it)."""
        code = str(base["code"])
        detail = self.detail(code)
        out = dict(base)
        out.update(
            levels=(detail["levels"] if detail else None) or _split(base.get("level")),
            applicants=detail["applicants"] if detail else [],
            agencies=(detail["agencies"] if detail else []) or [a for a in [_text(base.get("agency"))] if a],
            channels=self.channels(code),
            documents=self.documents(code),
            notes=detail["notes"] if detail else [],
            legal_basis=detail["legal_basis"] if detail else [],
            decision=detail["decision"] if detail else None,
            portal_url=_text(base.get("portal_url")) or None,
            where=self.where(base, capable_count),
            summary=self.summary(base),
            handled_elsewhere=self.handled_elsewhere(base, capable_count),
            detail_source=detail["source_file"] if detail else None,
        )
        return out


def _document_rank(doc: Mapping[str, Any]) -> int:
    """Order of documents in a summary: every-case papers named as papers first, then the rest, cases last.

    The portal's rows are not in reading order, and many rows that apply to every case still describe
    one ("Trường hợp …", "Đối với …"): those go last, as do documents under a case heading.
    """
    key = _ENUMERATOR.sub("", fold(str(doc["name"])))
    if doc["condition"] is not None or key.startswith(_CASE_STARTS) or any(c in key for c in _CASE_WORDS):
        return _CASE_RANK
    return 0 if key.startswith(_PAPER_STARTS) else 1


def _enumerator(name: str) -> float:
    """The number a document name starts with ("(2) Bản gốc …", "1. Sổ …"), or infinity."""
    found = _ENUMERATOR.match(name)
    return float(found.group(1)) if found else float("inf")


def _short(name: str) -> str:
    """A document name cut to its first clause, on one readable line, without its enumerator."""
    line = name.splitlines()[0] if name else name
    line = _ENUMERATOR.sub("", line).rstrip(" .;")
    form = _FORM.search(line)
    if form:  # "… theo mẫu số 18 ban hành kèm theo Nghị định …": the form comes with the file anyway
        line = line[: form.start()].rstrip(" ,")
    head = re.split(r"[;.]\s|\s\(|:\s", line, maxsplit=1)[0].strip()
    if len(head) >= 8:
        line = head
    return line if len(line) <= _DOCUMENT_CHARS else line[: _DOCUMENT_CHARS - 1].rstrip() + "…"


def _vi(value: str | None) -> str:
    return _NOT_STATED_VI if value in (None, NOT_STATED) else str(value)
