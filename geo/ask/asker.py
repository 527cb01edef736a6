"""Free-text lookups for a chatbot: understand a Vietnamese question, answer it or ask back.

``ask("làm giấy khai sinh cho con ở phường Cầu Giấy")`` finds the procedure (the catalogue plus
``data/procedure_synonyms.csv``) and the place (`geo.gazetteer`), runs the same nearest search as
``/v1/nearest`` (`Service.nearest` + `Service.to_feature_collection`) and writes one Vietnamese sentence
a bot can relay as is. It never presents a guess as certain: a missing or ambiguous procedure or place
gives ``status == "ask"`` with the candidates to ask back; a procedure not handled in person by the
city's public-service network (police, tax, social insurance, online only) gives
``status == "not_in_person"`` with the agency from the catalogue.

Understanding the procedure
---------------------------
Phrases of the synonym table (each a sequence of words, ``...`` allowing a gap of up to `MAX_GAP`
words: ``"kết hôn ... nước ngoài"``) and the catalogue names are matched on token keys (folded, so
diacritics are optional). Then, in order: a phrase inside a longer match is dropped (``"hộ khẩu"``
inside ``"chứng thực bản sao sổ hộ khẩu"``); a phrase naming a set of procedures gives way to one naming
a member of the set (``"căn cước"`` to ``"cấp đổi ... căn cước"``); one procedure left is the answer,
several are ambiguous unless one phrase is at least twice as long as every other and no conjunction
("và", "hoặc"…) joins them (``"xác nhận độc thân để kết hôn"``). A national code (``1.001193``) wins
outright. Without any exact phrase, phrases are compared to the query's word windows with rapidfuzz
(typos: ``"khai sinhh"``).

Understanding the place
-----------------------
Coordinates (``lat``/``lon``) are the place unless the text names another. Otherwise, in order of
specificity: a street after a house number or ``phố``/``đường``/``ngõ N`` (``"số 85 Dịch Vọng Hậu"``),
a landmark, a commune in force or a former unit, a former district, a bare street name. The word before
a name (phường, xã, thị trấn, quận, huyện, thị xã) restricts its kind; ``cũ`` after it prefers the
pre-2025 unit; a district after a unit (``"phường Kim Liên, quận Đống Đa"``) picks the old unit of that
district, as old-map notation. Written diacritics are preferred when they match a name exactly
(``"Phú Đông"`` is not ``"Phù Đổng"``); without diacritics, names that fold alike and lead to different
communes are asked back. A name in force wins over a pre-2025 homonym unless ``cũ`` or an old
district says otherwise. No exact name: rapidfuzz against every name (typos).
"""

from __future__ import annotations

import math
import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from geo.ask.gazetteer import Gazetteer, Place, PlaceEntry, Token, is_letters, load_place_aliases, name_key, tokenize
from geo.errors import DataProblem, DataValidationError, GandanError, InvalidParameter, InvalidQuery
from geo.hours import TZ, ensure_aware
from geo.service import Service, iso
from geo.settings import get_settings
from geo.text import nfc

__all__ = [
    "MAX_GAP",
    "MAX_QUERY_CHARS",
    "SYNONYMS_FILE",
    "SYNONYM_COLUMNS",
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

SYNONYMS_FILE = "procedure_synonyms.csv"
SYNONYM_COLUMNS = ("phrase", "code", "rationale")
MAX_QUERY_CHARS = 500
MAX_GAP = 6
GAP_MARK = "..."
PROCEDURE_FUZZY_MIN = 85.0
PLACE_FUZZY_MIN_CUED = 85.0
PLACE_FUZZY_MIN = 92.0
MAX_NAME_TOKENS = 7
DOMINANCE = 2.0
"""A procedure phrase this many times as specific as every other one found is the procedure."""
_CODE = re.compile(r"\b\d\.\d{6}\b")
_HOUSE = re.compile(r"^\d+[a-z]?(?:/\d+[a-z]?)*$")
_OBJECT_TAKING = {"chung thuc", "cong chung", "sao y", "ban sao", "photo cong"}
"""Procedures whose phrase is followed by the document they act on, which is no procedure of its own."""
_CONJUNCTIONS = {"va", "hoac", "hay", "cung", "voi ca", "roi", "con"}
_CITY_KEYS = ("thanh pho ha noi", "ha noi", "hanoi", "thu do", "viet nam")
_NEAR_WORDS = ("gan day", "quanh day", "cho toi", "vi tri cua toi", "noi toi o", "o day", "gan toi")
_PLACE_CUES = {"o", "tai", "gan", "khu", "quanh", "canh", "cho", "phuong", "xa", "quan", "huyen", "tran"}
_STREET_CUES = {"pho", "duong"}
_LANE_CUES = {"ngo", "ngach", "hem", "kiet"}
_ENGLISH = {
    "the", "where", "how", "can", "i", "a", "an", "to", "my", "register", "birth", "certificate",
    "marriage", "near", "what", "is", "do", "need", "for", "of", "in", "get", "please", "hello", "office",
}  # fmt: skip
_UNIT_WORDS: dict[str, str] = {
    "phuong": "phuong", "xa": "xa", "thi tran": "thi_tran", "quan": "quan", "huyen": "huyen", "thi xa": "thi_xa",
}  # fmt: skip
_UNIT_OF_COMMUNE_KIND = {"ward": "phuong", "commune": "xa"}
_SPECIFICITY = {"street_numbered": 6, "landmark": 5, "former_unit": 4, "commune": 4, "former_district": 3, "street": 1}
_WEEKDAYS = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")


# --------------------------------------------------------------------------------------------- synonyms


def load_procedure_synonyms(path: Path | None = None, codes: Sequence[str] | None = None) -> pd.DataFrame:
    """Read and check ``data/procedure_synonyms.csv``: ``phrase, code, rationale``.

    ``code`` is a national code, or several joined by ``|`` when the phrase does not tell them apart
    (the caller asks back). Every row needs a rationale; ``codes`` (the catalogue) catches unknown codes.

    Raises
    ------
    DataValidationError
        One `DataProblem` per bad row (empty phrase, unknown or malformed code, no rationale, duplicate).
    """
    path = path or get_settings().data_dir / SYNONYMS_FILE
    label = path.name
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataValidationError([DataProblem(label, f"cannot read: {exc}")]) from exc
    if list(frame.columns) != list(SYNONYM_COLUMNS):
        raise DataValidationError([DataProblem(label, f"columns must be {', '.join(SYNONYM_COLUMNS)}", row=1)])
    known = set(codes) if codes is not None else None
    problems: list[DataProblem] = []
    seen: dict[str, int] = {}
    for i, rec in enumerate(frame.to_dict("records"), start=2):
        phrase = nfc(rec["phrase"])
        if not phrase or not name_key(phrase.replace(GAP_MARK, " ")):
            problems.append(DataProblem(label, "empty phrase", row=i))
            continue
        key = " / ".join(name_key(p) for p in phrase.split(GAP_MARK))
        if key in seen:
            problems.append(DataProblem(label, f"phrase repeats row {seen[key]}", row=i, id=phrase))
        seen[key] = i
        for code in rec["code"].split("|"):
            if not re.fullmatch(r"\d\.\d{6}", code.strip()):
                problems.append(DataProblem(label, f"malformed code {code!r}", row=i, id=phrase))
            elif known is not None and code.strip() not in known:
                problems.append(DataProblem(label, f"unknown procedure code {code}", row=i, id=phrase))
        if not rec["rationale"].strip():
            problems.append(DataProblem(label, "empty rationale", row=i, id=phrase))
    if problems:
        raise DataValidationError(problems)
    return frame.map(lambda v: nfc(str(v)))


@dataclass(frozen=True)
class _Phrase:
    parts: tuple[tuple[str, ...], ...]  # token keys per gap-separated part
    tones: tuple[tuple[str, ...], ...]
    codes: tuple[str, ...]
    text: str
    source: str  # "synonym" or "catalog"

    @property
    def size(self) -> int:
        return sum(len(p) for p in self.parts)


@dataclass(frozen=True)
class _PhraseMatch:
    phrase: _Phrase
    positions: tuple[int, ...]
    exact_tone: bool
    score: float = 100.0
    weight: float = 0.0  # sum of the matched words' specificity (rarer words weigh more)

    @property
    def start(self) -> int:
        return self.positions[0]

    @property
    def end(self) -> int:
        return self.positions[-1] + 1

    @property
    def size(self) -> int:
        return len(self.positions)


# --------------------------------------------------------------------------------------------- results


@dataclass
class ProcedureGuess:
    """What the question asks for: one procedure (``code``) or, when ambiguous, ``options``."""

    code: str | None
    confidence: float
    matched: str = ""
    how: str = ""
    options: list[str] = field(default_factory=list)


@dataclass
class Understanding:
    """What a question was understood to mean, before any search."""

    text: str
    procedure: ProcedureGuess | None
    place: Place | None
    notes: list[str] = field(default_factory=list)
    language: str = "vi"
    place_named: bool = False  # the text named a place (even one not found)
    place_problem: str = ""  # why a named place could not be used


# --------------------------------------------------------------------------------------------- engine


class Asker:
    """Understands questions and answers them on a `Service` (one per process: `get_asker`)."""

    def __init__(
        self,
        service: Service,
        gazetteer: Gazetteer | None = None,
        synonyms: pd.DataFrame | None = None,
    ) -> None:
        self.service = service
        backend = service.backend
        self.catalog = backend.index.procedures.reset_index(drop=True)
        self._by_code = {str(r["code"]): r for r in self.catalog.to_dict("records")}
        self.gazetteer = gazetteer or _default_gazetteer(service)
        if synonyms is None:
            synonyms = load_procedure_synonyms(codes=list(self._by_code))
        self._phrases = self._build_phrases(synonyms)
        self._first: dict[str, list[_Phrase]] = {}
        for phrase in self._phrases:
            self._first.setdefault(phrase.parts[0][0], []).append(phrase)
        # Word specificity: a word found in many phrases ("đăng ký", "cấp") says less than a rare one
        # ("nước ngoài", "độc thân"); matches are compared by the summed weight of their words.
        frequency: dict[str, int] = {}
        for phrase in self._phrases:
            for key in {k for part in phrase.parts for k in part}:
                frequency[key] = frequency.get(key, 0) + 1
        total = len(self._phrases)
        self._weight = {k: math.log((total + 1) / (n + 1)) + 0.1 for k, n in frequency.items()}
        contiguous = [p for p in self._phrases if len(p.parts) == 1 and len(" ".join(p.parts[0])) >= 6]
        self._fuzzy_phrases = contiguous
        self._fuzzy_phrase_keys = [" ".join(p.parts[0]) for p in contiguous]
        place_keys = self.gazetteer.keys(("commune", "former_unit", "former_district", "landmark"))
        self._fuzzy_place_keys = [k for k in place_keys if len(k) >= 5]

    # ------------------------------------------------------------------ phrases
    def _build_phrases(self, synonyms: pd.DataFrame) -> list[_Phrase]:
        phrases: list[_Phrase] = []
        for phrase, codes in zip(synonyms["phrase"], synonyms["code"], strict=True):
            parts = [tokenize(p, expand=False) for p in phrase.split(GAP_MARK)]
            parts = [p for p in parts if p]
            phrases.append(
                _Phrase(
                    parts=tuple(tuple(t.key for t in p) for p in parts),
                    tones=tuple(tuple(t.tone for t in p) for p in parts),
                    codes=tuple(c.strip() for c in codes.split("|")),
                    text=phrase,
                    source="synonym",
                )
            )
        for code, name in zip(self.catalog["code"], self.catalog["name"], strict=True):
            text = re.sub(r"^thủ tục\s+", "", nfc(str(name)), flags=re.IGNORECASE)
            # A trailing "(thực hiện tại cấp tỉnh)" tells a variant apart: it must be said too.
            head, _, qualifier = text.partition("(")
            parts = [tokenize(head, expand=False)]
            if qualifier.strip(" )") and len(qualifier) < 40:
                parts.append(tokenize(qualifier.strip(" )"), expand=False))
            parts = [p for p in parts if p]
            if parts and len(parts[0]) >= 2:
                phrases.append(
                    _Phrase(
                        parts=tuple(tuple(t.key for t in p) for p in parts),
                        tones=tuple(tuple(t.tone for t in p) for p in parts),
                        codes=(str(code),),
                        text=text.strip(),
                        source="catalog",
                    )
                )
        return phrases

    def _match_phrase(self, phrase: _Phrase, tokens: Sequence[Token], start: int) -> _PhraseMatch | None:
        keys = [t.key for t in tokens]
        positions: list[int] = []
        at = start
        for n, part in enumerate(phrase.parts):
            limit = at + 1 if n == 0 else min(len(keys), at + MAX_GAP + 1)
            found = None
            for s in range(at, limit):
                if tuple(keys[s : s + len(part)]) == part:
                    found = s
                    break
            if found is None:
                return None
            positions.extend(range(found, found + len(part)))
            at = found + len(part)
        tones = [tone for part in phrase.tones for tone in part]
        exact = all(not tokens[p].accented or tokens[p].tone == tone for p, tone in zip(positions, tones, strict=True))
        return _PhraseMatch(phrase, tuple(positions), exact, weight=self._weigh(keys, positions))

    def _weigh(self, keys: Sequence[str], positions: Sequence[int]) -> float:
        return float(sum(self._weight.get(keys[p], 1.0) for p in positions))

    # ------------------------------------------------------------------ understanding
    def understand(self, text: str, lon: float | None = None, lat: float | None = None) -> Understanding:
        """Understand a question (see the module docstring); raises `InvalidQuery` for unusable text."""
        clean = _clean(text)
        tokens = tokenize(clean)
        language = _language(clean, tokens)
        procedure, used = self._procedure(clean, tokens)
        understanding = Understanding(text=clean, procedure=procedure, place=None, language=language)
        self._place(tokens, used, understanding)
        if understanding.place is None and lon is not None and lat is not None:
            understanding.place = self._coordinates(lon, lat)
        elif understanding.place is not None and lon is not None and lat is not None:
            understanding.notes.append("the text names a place: the given coordinates were not used")
        return understanding

    def understand_procedure(self, text: str) -> ProcedureGuess | None:
        """Only the procedure of a text (the MCP tools use it)."""
        clean = _clean(text)
        return self._procedure(clean, tokenize(clean))[0]

    def understand_place(self, text: str) -> Understanding:
        """Only the place of a text (the MCP tools use it)."""
        clean = _clean(text)
        understanding = Understanding(text=clean, procedure=None, place=None)
        self._place(tokenize(clean), set(), understanding)
        return understanding

    def _procedure(self, text: str, tokens: Sequence[Token]) -> tuple[ProcedureGuess | None, set[int]]:
        for match in _CODE.finditer(text):
            if match.group(0) in self._by_code:
                used = {i for i, t in enumerate(tokens) if t.start >= match.start() and t.end <= match.end()}
                return ProcedureGuess(match.group(0), 1.0, match.group(0), "code"), used
        matches: list[_PhraseMatch] = []
        for i, token in enumerate(tokens):
            for phrase in self._first.get(token.key, ()):
                found = self._match_phrase(phrase, tokens, i)
                if found is not None:
                    matches.append(found)
        how = "phrase"
        if not matches:
            matches = self._fuzzy_procedures(tokens)
            how = "fuzzy"
        if not matches:
            return None, set()
        chosen, ambiguous = _select(matches, tokens)
        used = {p for m in chosen for p in m.positions}
        matched = " / ".join(_span_text(tokens, m.start, m.end) for m in chosen)
        codes: list[str] = []
        for m in chosen:
            codes.extend(c for c in m.phrase.codes if c not in codes)
        best = max(chosen, key=lambda m: m.size)
        confidence = 0.95 if best.exact_tone else 0.85
        if not any(t.accented for t in tokens):
            confidence = 0.9
        if how == "fuzzy":
            confidence = 0.85 * min(m.score for m in chosen) / 100
        if len(codes) == 1 and not ambiguous:
            return ProcedureGuess(codes[0], round(confidence, 2), matched, f"{best.phrase.source} {how}"), used
        return ProcedureGuess(None, round(confidence * 0.5, 2), matched, f"{how} ambiguous", codes), used

    def _fuzzy_procedures(self, tokens: Sequence[Token]) -> list[_PhraseMatch]:
        windows: list[tuple[int, int]] = [
            (i, i + n) for n in range(1, 6) for i in range(len(tokens) - n + 1) if not tokens[i].key.isdigit()
        ]
        if not windows or not self._fuzzy_phrase_keys:
            return []
        texts = [" ".join(t.key for t in tokens[a:b]) for a, b in windows]
        scores = process.cdist(texts, self._fuzzy_phrase_keys, scorer=fuzz.ratio, score_cutoff=PROCEDURE_FUZZY_MIN)
        found: list[_PhraseMatch] = []
        for w, p in zip(*np.nonzero(scores), strict=True):
            a, b = windows[int(w)]
            phrase = self._fuzzy_phrases[int(p)]
            if abs((b - a) - len(phrase.parts[0])) > 1:
                continue
            weight = sum(self._weight.get(k, 1.0) for part in phrase.parts for k in part)
            found.append(_PhraseMatch(phrase, tuple(range(a, b)), False, float(scores[w, p]), weight))
        # Keep, per window start, the best-scoring phrase so near-duplicates do not read as ambiguity.
        best: dict[tuple[int, int], _PhraseMatch] = {}
        for m in found:
            k = (m.start, m.end)
            if k not in best or (m.score, m.phrase.size) > (best[k].score, best[k].phrase.size):
                best[k] = m
        return list(best.values())

    # ------------------------------------------------------------------ places
    def _coordinates(self, lon: float, lat: float) -> Place:
        commune = self.service.backend.commune_at(lon, lat)
        ref = None if commune is None else self.gazetteer.commune_ref(str(commune["code"]))
        return Place(
            kind="coordinates",
            name="vị trí của bạn",
            label="vị trí của bạn",
            confidence=1.0,
            lon=lon,
            lat=lat,
            commune=ref,
            precision="point",
            detail="the given lat/lon",
        )

    def _place(self, tokens: Sequence[Token], used: set[int], out: Understanding) -> None:
        keys = [t.key for t in tokens]
        city = _city_positions(keys)
        blocked = set(used) | city
        candidates, unfound = self._street_candidates(tokens, blocked)
        # "Hà Nội" alone is the city, no place to search from; inside a longer name ("Ga Hà Nội") it counts.
        named = self._name_candidates(tokens, set(used))
        candidates += [c for c in named if not set(range(c.start, c.end)) <= city]
        if any(_near_me(keys, i) for i in range(len(keys))) and not candidates:
            return
        cue_named = _unit_cue_positions(keys, blocked)
        if not candidates:
            candidates = self._fuzzy_places(tokens, blocked, cue_named)
        if not candidates:
            if cue_named:
                a, b = cue_named[0]
                out.place_named = True
                out.place_problem = f"không tìm thấy '{_span_text(tokens, a, b)}' ở Hà Nội"
            elif unfound:
                out.place_named = True
                out.place_problem = (
                    f"không tìm thấy phố '{unfound[0]}' trong dữ liệu bản đồ (chỉ có các phố khu trung tâm)"
                )
            return
        out.place_named = True
        candidates = _drop_overlapping(_drop_contained(candidates), tokens)
        candidates = self._apply_qualifiers(candidates, tokens)
        top = max(_SPECIFICITY[c.rank] for c in candidates)
        best = [c for c in candidates if _SPECIFICITY[c.rank] == top]
        resolved = [self._resolve_candidate(c, tokens) for c in best]
        places = [p for p in resolved if p is not None]
        if not places:
            return
        communes = {(p.commune or {}).get("code") for p in places if p.resolved}
        asks = [p for p in places if not p.resolved]
        if asks:
            out.place = asks[0]
        elif len(communes) > 1:
            options = [
                {"label": p.label, "kind": p.kind, "code": (p.commune or {}).get("code"), "commune": p.commune}
                for p in places
            ]
            out.place = Place(
                kind="ambiguous",
                name=" / ".join(p.name for p in places),
                label=" hay ".join(p.label for p in places),
                confidence=0.3,
                matched=" / ".join(p.matched for p in places),
                detail="the text names several places in different communes",
                options=options,
            )
        else:
            out.place = max(places, key=lambda p: p.confidence)

    def _street_candidates(self, tokens: Sequence[Token], blocked: set[int]) -> tuple[list[_Candidate], list[str]]:
        """Streets after a house number, ``phố``/``đường`` or ``ngõ N``; and the names after such a cue
        that are in no street of the road data (to say so)."""
        if not self.gazetteer.has_streets:
            return [], []
        keys = [t.key for t in tokens]
        out: list[_Candidate] = []
        unfound: list[str] = []
        for i, key in enumerate(keys):
            if i in blocked:
                continue
            start = None
            lane = ""
            numbered = False
            if _HOUSE.match(key) and not _CODE.match(tokens[i].text):
                start, numbered = i + 1, True
            elif key in _STREET_CUES:
                start = i + 1
            elif key in _LANE_CUES and i + 1 < len(keys) and _HOUSE.match(keys[i + 1]):
                start, numbered, lane = i + 2, True, f"{key} {keys[i + 1]}"
            if start is None:
                continue
            while start < len(keys) and keys[start] in _STREET_CUES:
                start += 1
            for n in range(min(MAX_NAME_TOKENS, len(keys) - start), 0, -1):
                span = range(start, start + n)
                if any(p in blocked for p in span):
                    continue
                name = " ".join(keys[start : start + n])
                entries = []
                if lane:
                    entries = [e for e in self.gazetteer.lookup(f"{lane} {name}") if e.kind == "street"]
                entries = entries or [e for e in self.gazetteer.lookup(name) if e.kind == "street"]
                if entries:
                    rank = "street_numbered" if numbered else "landmark"
                    out.append(_Candidate(start, start + n, entries[:1], rank, cue_start=i))
                    break
            else:
                words = [t.text for t in tokens[start : start + 3] if t.key not in _PLACE_CUES]
                if words and (lane or key in _STREET_CUES):
                    unfound.append(" ".join(words))
        return out, unfound

    def _name_candidates(self, tokens: Sequence[Token], blocked: set[int]) -> list[_Candidate]:
        keys = [t.key for t in tokens]
        out: list[_Candidate] = []
        for i in range(len(tokens)):
            for n in range(min(MAX_NAME_TOKENS, len(tokens) - i), 0, -1):
                if any(p in blocked for p in range(i, i + n)):
                    continue
                entries = [e for e in self.gazetteer.lookup(" ".join(keys[i : i + n])) if e.kind != "street" or n >= 2]
                if not entries:
                    continue
                cue, cue_start = _cue_before(keys, i)
                entries = _filter_by_cue(entries, cue)
                if not entries:
                    continue
                if (
                    cue is None
                    and n == 1
                    and not (tokens[i].accented and any(e.tone == tokens[i].tone for e in entries))
                ):
                    continue  # a bare one-word name only with its exact diacritics ("Láng")
                old = i + n < len(keys) and keys[i + n] == "cu"
                new = i + n < len(keys) and keys[i + n] == "moi"
                out.append(_Candidate(i, i + n, entries, "", cue=cue, cue_start=cue_start, old=old, new=new))
        return out

    def _fuzzy_places(
        self, tokens: Sequence[Token], blocked: set[int], cued: list[tuple[int, int]]
    ) -> list[_Candidate]:
        keys = [t.key for t in tokens]
        windows: list[tuple[int, int, bool]] = []
        for i in range(len(keys)):
            cue, _ = _cue_before(keys, i)
            for n in range(1, 5):
                if i + n > len(keys) or any(p in blocked or keys[p] in _PLACE_CUES for p in range(i, i + n)):
                    continue
                if n == 1 and len(keys[i]) < 5:
                    continue
                if cue is not None or (keys[i - 1 : i] and keys[i - 1] in _PLACE_CUES) or n >= 2:
                    windows.append((i, i + n, cue is not None or bool(keys[i - 1 : i] and keys[i - 1] in _PLACE_CUES)))
        if not windows or not self._fuzzy_place_keys:
            return []
        texts = [" ".join(keys[a:b]) for a, b, _ in windows]
        scores = process.cdist(texts, self._fuzzy_place_keys, scorer=fuzz.ratio, score_cutoff=PLACE_FUZZY_MIN_CUED)
        best: _Candidate | None = None
        best_score = 0.0
        for w, k in zip(*np.nonzero(scores), strict=True):
            a, b, is_cued = windows[int(w)]
            score = float(scores[w, k])
            if not is_cued and score < PLACE_FUZZY_MIN:
                continue
            cue, cue_start = _cue_before(keys, a)
            entries = _filter_by_cue(self.gazetteer.lookup(self._fuzzy_place_keys[int(k)]), cue)
            if entries and score > best_score:
                best_score = score
                best = _Candidate(a, b, entries, "", cue=cue, cue_start=cue_start, score=score)
        return [best] if best is not None else []

    def _apply_qualifiers(self, candidates: list[_Candidate], tokens: Sequence[Token]) -> list[_Candidate]:
        """A district right after a unit qualifies it (old-map notation) instead of being a place of its own."""
        districts = [
            c
            for c in candidates
            if any(e.kind == "former_district" for e in c.entries) and c.cue in ("quan", "huyen", "thi_xa")
        ]
        kept: list[_Candidate] = []
        for cand in candidates:
            if cand in districts and any(
                o is not cand
                and o.end <= cand.cue_start <= o.end + 2
                and any(e.kind in ("commune", "former_unit") for e in o.entries)
                for o in candidates
            ):
                continue
            after = next((d for d in districts if d is not cand and cand.end <= d.cue_start <= cand.end + 2), None)
            if after is not None:
                codes = {e.code for e in after.entries if e.kind == "former_district"}
                in_district = [e for e in cand.entries if e.kind == "former_unit" and e.district_code in codes]
                if in_district:
                    cand = _Candidate(**{**cand.__dict__, "entries": in_district, "old": True})
            kept.append(cand)
        return kept

    def _resolve_candidate(self, cand: _Candidate, tokens: Sequence[Token]) -> Place | None:
        matched = _span_text(tokens, cand.start, cand.end)
        accented = any(t.accented for t in tokens[cand.start : cand.end])
        span_tone = " ".join(t.tone for t in tokens[cand.start : cand.end])
        entries = list(cand.entries)
        exact = [e for e in entries if e.tone == span_tone]
        confidence = 0.95
        if accented and exact:
            entries = exact
        elif accented:
            confidence = 0.85  # diacritics written but none matches exactly: a typo in a tone
        else:
            confidence = 0.9
        if cand.score:
            confidence = 0.85 * cand.score / 100
        entries = _prefer_kind(entries, cand.old, keep_other_names=not accented)
        if not accented and len({e.tone for e in entries}) > 1:
            # Names that only fold alike ("phu dong": Phú Đông or Phù Đổng) are different places: per
            # distinct name keep its in-force unit if any; still several communes means ask.
            by_tone: dict[str, list[PlaceEntry]] = {}
            for e in entries:
                by_tone.setdefault(e.tone, []).append(e)
            entries = []
            for group in by_tone.values():
                in_force = [e for e in group if e.kind == "commune"]
                entries.extend(in_force or group)
        places = [self.gazetteer.resolve(e, matched, confidence) for e in entries]
        if len(places) == 1:
            return places[0]
        communes = {(p.commune or {}).get("code") for p in places}
        if len(communes) == 1 and all(p.resolved for p in places):
            return places[0]
        return Place(
            kind="ambiguous",
            name=matched,
            label=" hay ".join(e.label for e in entries),
            confidence=0.3,
            matched=matched,
            detail=f"'{matched}' names {len(entries)} places",
            options=[
                {"label": e.label, "kind": e.kind, "code": e.code, "commune": p.commune}
                for e, p in zip(entries, places, strict=True)
            ],
        )

    # ------------------------------------------------------------------ answering
    def ask(
        self,
        q: str,
        lon: float | None = None,
        lat: float | None = None,
        at: datetime | None = None,
        k: int = 3,
    ) -> dict[str, Any]:
        """Answer a question: what was understood, the nearest places or what to ask back, and a sentence.

        Parameters
        ----------
        q
            The question, free Vietnamese text (at most `MAX_QUERY_CHARS` characters).
        lon, lat
            The person's position, both or neither; the place unless the text names another.
        at
            Time of the visit (default now in Hanoi).
        k
            How many places to return.

        Returns
        -------
        dict
            ``query``, ``status`` (``answered``, ``ask`` or ``not_in_person``), ``understood``
            (procedure and place with confidence), ``ask`` (what to ask back, with options) or None,
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
            self.service.backend.check_location(lon, lat)
        when = ensure_aware(at) if at is not None else datetime.now(TZ)
        understanding = self.understand(q, lon, lat)
        response = self._compose(understanding, when, k)
        response["query"] = {
            "q": understanding.text,
            "lat": lat,
            "lon": lon,
            "at": iso(when),
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
    ) -> dict[str, Any]:
        """Like `ask`, with the procedure and the place given separately (for tools)."""
        text = procedure if not place else f"{procedure} ở {place}"
        if len(text) > MAX_QUERY_CHARS:
            raise InvalidQuery(f"procedure and place are longer than {MAX_QUERY_CHARS} characters together")
        return self.ask(text, lon=lon, lat=lat, at=at, k=k)

    def procedure_record(self, code: str) -> dict[str, Any]:
        """The catalogue row of ``code`` with ``handled_in_person``."""
        rec = dict(self._by_code[code])
        handled = [h for h in str(rec.get("handled_at") or "").split("|") if h]
        capable = len(self.service.backend.capable_rows(code)) > 0
        return {
            "code": code,
            "name": str(rec["name"]),
            "short_name": _short_name(str(rec["name"])),
            "agency": str(rec.get("agency") or ""),
            "handled_at": handled,
            "handled_in_person": bool(handled) and capable,
            "online_full": str(rec.get("online_full") or ""),
            "boundary_free": str(rec.get("boundary_free") or ""),
            "level": str(rec.get("level") or ""),
        }

    def _compose(self, u: Understanding, at: datetime, k: int) -> dict[str, Any]:
        proc = u.procedure
        record = self.procedure_record(proc.code) if proc and proc.code else None
        options = [self.procedure_record(c) for c in proc.options] if proc and proc.options else []
        understood: dict[str, Any] = {
            "procedure": None,
            "place": u.place.to_dict()
            if u.place is not None and (u.place.resolved or u.place.kind == "former_district")
            else None,
        }
        if record is not None and proc is not None:
            understood["procedure"] = {
                **record,
                "confidence": proc.confidence,
                "matched": proc.matched,
                "how": proc.how,
            }
        notes = list(u.notes)
        result = None
        ask: dict[str, Any] | None = None
        about: list[str] = []
        place_ok = u.place is not None and u.place.resolved

        if record is not None and not record["handled_in_person"]:
            status = "not_in_person"
            answer = _not_in_person_sentence([record])
        elif (
            record is None
            and options
            and not any(o["handled_in_person"] for o in options)
            and len({o["agency"] for o in options}) == 1
        ):
            status = "not_in_person"
            answer = _not_in_person_sentence(options)
            ask = {"about": ["procedure"], "question": _procedure_question(options), "procedure_options": options}
        elif (
            record is not None
            and place_ok
            and u.place is not None
            and u.place.lon is not None
            and u.place.lat is not None
        ):
            status = "answered"
            nearest = self.service.nearest(u.place.lon, u.place.lat, record["code"], at, k=k)
            result = self.service.to_feature_collection(nearest)
            notes.extend(nearest.notes)
            answer = _answer_sentence(record, u.place, result, at)
        else:
            status = "ask"
            questions: list[str] = []
            if record is None:
                about.append("procedure")
                questions.append(_procedure_question(options))
            if not place_ok:
                about.append("place")
                questions.append(_place_question(u))
            ask = {
                "about": about,
                "question": " ".join(questions),
                "procedure_options": options,
                "place_options": u.place.options if u.place is not None else [],
            }
            answer = ask["question"]
            if record is not None:
                answer = f"Để {_lower_first(record['short_name'])}: {_lower_first(answer)}"
            if u.language != "vi":
                answer = "Xin lỗi, tôi chỉ hiểu câu hỏi bằng tiếng Việt. " + answer
        if status != "ask" and u.language != "vi":
            notes.append("the question does not look Vietnamese")
        if ask is not None:
            ask.setdefault("place_options", u.place.options if u.place is not None else [])
            ask.setdefault("procedure_options", options)
        return {
            "status": status,
            "understood": {
                **understood,
                "procedure_candidates": options,
                "place_candidates": u.place.options if u.place is not None else [],
            },
            "ask": ask,
            "result": result,
            "answer": answer,
            "notes": notes,
        }


# --------------------------------------------------------------------------------------------- helpers


@dataclass
class _Candidate:
    start: int
    end: int
    entries: list[PlaceEntry]
    rank: str = ""
    cue: str | None = None
    cue_start: int = -1
    old: bool = False
    new: bool = False
    score: float = 0.0

    def __post_init__(self) -> None:
        if not self.rank:
            kinds = {e.kind for e in self.entries}
            for kind in ("landmark", "commune", "former_unit", "former_district", "street"):
                if kind in kinds:
                    self.rank = kind
                    break
        if self.cue_start < 0:
            self.cue_start = self.start


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


def _select(matches: list[_PhraseMatch], tokens: Sequence[Token]) -> tuple[list[_PhraseMatch], bool]:
    """Pick the matches that say what the procedure is; True when they remain ambiguous."""

    def inside(a: _PhraseMatch, b: _PhraseMatch) -> bool:
        return (
            b.start <= a.start
            and a.end <= b.end
            and (b.size > a.size or (b.size == a.size and b.end - b.start < a.end - a.start))
        )

    def beaten(a: _PhraseMatch, b: _PhraseMatch) -> bool:
        """Overlapping matches read the same words: the more specific one (by weight) wins."""
        overlap = set(a.positions) & set(b.positions)
        return bool(overlap) and a.phrase.codes != b.phrase.codes and (b.weight, b.size) > (a.weight, a.size)

    keys = [t.key for t in tokens]

    def object_of(b: _PhraseMatch, a: _PhraseMatch) -> bool:
        """``b`` names the document that ``a`` certifies or copies ("chứng thực bản sao | sổ hộ khẩu")."""
        verb = " ".join(a.phrase.parts[0][:2])
        return verb in _OBJECT_TAKING and a.end <= b.start <= a.end + 3 and not _conjunction_between(keys, a, b)

    kept = [m for m in matches if not any(o is not m and inside(m, o) for o in matches)]
    kept = [m for m in kept if not any(o is not m and beaten(m, o) for o in kept)]
    kept = [m for m in kept if not any(o is not m and object_of(m, o) for o in kept)]
    # A phrase naming a set of procedures gives way to one naming a member of that set.
    kept = [m for m in kept if not any(set(o.phrase.codes) < set(m.phrase.codes) for o in kept if o is not m)]
    code_sets = {m.phrase.codes for m in kept}
    if len(code_sets) == 1:
        best_size = max(m.size for m in kept)
        return [m for m in kept if m.size == best_size][:1], len(kept[0].phrase.codes) > 1
    best = max(kept, key=lambda m: (m.weight, m.size, m.score))
    others = [m for m in kept if m.phrase.codes != best.phrase.codes]
    joined = any(_conjunction_between(keys, best, o) for o in others)
    if not joined and all(best.weight >= DOMINANCE * o.weight for o in others):
        return [best], len(best.phrase.codes) > 1
    return kept, True


def _conjunction_between(keys: Sequence[str], a: _PhraseMatch, b: _PhraseMatch) -> bool:
    lo, hi = (a, b) if a.start < b.start else (b, a)
    between = keys[lo.end : hi.start]
    text = " ".join(between)
    return any(w in _CONJUNCTIONS for w in between) or any(c in text for c in _CONJUNCTIONS if " " in c)


def _span_text(tokens: Sequence[Token], start: int, end: int) -> str:
    return " ".join(t.text for t in tokens[start:end])


def _city_positions(keys: Sequence[str]) -> set[int]:
    """Positions of words naming the city itself ("Hà Nội", "thành phố"), which are no place to search from."""
    blocked: set[int] = set()
    text_keys = list(keys)
    for phrase in _CITY_KEYS:
        words = phrase.split()
        for i in range(len(text_keys) - len(words) + 1):
            if text_keys[i : i + len(words)] == words:
                blocked.update(range(i, i + len(words)))
    for i in range(len(text_keys) - 1):
        if text_keys[i : i + 2] == ["thanh", "pho"] and (i + 2 >= len(text_keys) or text_keys[i + 2] in ("ha",)):
            blocked.update((i, i + 1))
    return blocked


def _near_me(keys: Sequence[str], i: int) -> bool:
    return any(" ".join(keys[i : i + len(p.split())]) == p for p in _NEAR_WORDS)


def _cue_before(keys: Sequence[str], i: int) -> tuple[str | None, int]:
    """The unit word just before position ``i`` and where it starts (``("phuong", i - 1)``), if any."""
    for n in (2, 1):
        if i - n >= 0:
            phrase = " ".join(keys[i - n : i])
            if phrase in _UNIT_WORDS and not (n == 1 and phrase == "xa" and i >= 2 and keys[i - 2] == "thi"):
                return _UNIT_WORDS[phrase], i - n
    return None, i


def _unit_cue_positions(keys: Sequence[str], blocked: set[int]) -> list[tuple[int, int]]:
    """Spans of words after a unit word (``phường Xyz``): a place was named even if none is found."""
    spans = []
    for i in range(len(keys)):
        cue, start = _cue_before(keys, i)
        if cue is not None and i not in blocked and start not in blocked:
            end = i
            while end < len(keys) and end - i < 4 and keys[end] not in _UNIT_WORDS and not keys[end].isdigit():
                end += 1
            if end > i:
                spans.append((start, end))
    return spans


def _filter_by_cue(entries: list[PlaceEntry], cue: str | None) -> list[PlaceEntry]:
    if cue is None:
        return entries
    if cue in ("quan", "huyen", "thi_xa"):
        same = [e for e in entries if e.kind == "former_district" and e.unit == cue]
        return same or [e for e in entries if e.kind == "former_district"]
    same = [e for e in entries if e.kind in ("commune", "former_unit") and e.unit == cue]
    # "phường Sóc Sơn" for a xã: the kind word is wrong, the name still counts.
    return same or [e for e in entries if e.kind in ("commune", "former_unit")]


def _drop_contained(candidates: list[_Candidate]) -> list[_Candidate]:
    """Drop candidates whose span lies inside another's (``"Hồ Gươm"`` keeps over ``"Gươm"``)."""
    return [
        c
        for c in candidates
        if not any(
            o is not c and o.start <= c.start and c.end <= o.end and (o.end - o.start) > (c.end - c.start)
            for o in candidates
        )
    ]


def _prefer_kind(entries: list[PlaceEntry], old: bool, keep_other_names: bool) -> list[PlaceEntry]:
    """Among entries of one name: ``cũ`` keeps the former units; otherwise the unit in force wins, then
    a landmark, then former units. With ``keep_other_names``, entries of a different spelling (that
    only fold alike) are kept for the caller to weigh."""
    groups: dict[str, list[PlaceEntry]] = {}
    for e in entries:
        groups.setdefault(e.tone if keep_other_names else "", []).append(e)
    kept: list[PlaceEntry] = []
    for group in groups.values():
        kinds = {e.kind for e in group}
        if old and kinds & {"former_unit", "former_district"}:
            group = [e for e in group if e.kind in ("former_unit", "former_district")]
        elif "commune" in kinds and not old:
            group = [e for e in group if e.kind == "commune"]
        elif "landmark" in kinds:
            group = [e for e in group if e.kind == "landmark"]
        elif "former_unit" in kinds:
            group = [e for e in group if e.kind == "former_unit"]
        kept.extend(group)
    return kept


def _drop_overlapping(candidates: list[_Candidate], tokens: Sequence[Token]) -> list[_Candidate]:
    """Of two candidates sharing words (their unit word included), keep the better read.

    "phường Từ Liêm" must not also read as the old commune "Phương Tú" (``phường Từ``): a name after
    its unit word beats one that swallows the unit word; then the longer span, then the one whose
    diacritics match exactly.
    """

    def quality(c: _Candidate) -> tuple[int, int, int]:
        tone = " ".join(t.tone for t in tokens[c.start : c.end])
        exact = any(e.tone == tone for e in c.entries) or not any(t.accented for t in tokens[c.start : c.end])
        return (c.cue is not None or c.rank in ("street_numbered",), c.end - c.start, int(exact))

    def reach(c: _Candidate) -> set[int]:
        return set(range(min(c.cue_start, c.start), c.end))

    return [
        c
        for c in candidates
        if not any(o is not c and reach(o) & reach(c) and quality(o) > quality(c) for o in candidates)
    ]


def _short_name(name: str) -> str:
    text = re.sub(r"^thủ tục\s+", "", nfc(name), flags=re.IGNORECASE).strip()
    if len(text) > 90:
        cut = text[:90].rsplit(" ", 1)[0].rstrip(",;(")
        text = cut + "…"
    return text[:1].upper() + text[1:]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text


def _distance_text(metres: float) -> str:
    if metres < 1000:
        return f"{round(metres / 10) * 10:.0f} m"
    return f"{metres / 1000:.1f} km".replace(".", ",")


def _when_text(value: str | None, at: datetime) -> str:
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


def _answer_sentence(record: dict[str, Any], place: Place, result: dict[str, Any], at: datetime) -> str:
    features = result.get("features") or []
    name = record["short_name"]
    if not features:
        return f"{name}: không tìm thấy nơi nào gần {_place_phrase(place)} làm thủ tục này."
    first = features[0]["properties"]
    where = f"{first['name']}, {first['address']} (cách khoảng {_distance_text(first['distance_m'])})"
    if first["state"] == "open":
        closes = _when_text(first.get("closes_at"), at)
        sentence = f"{name}: nơi gần {_place_phrase(place)} nhất đang mở cửa là {where}"
        sentence += f", mở đến {closes}." if closes else "."
    elif first["state"] == "closed":
        opens = _when_text(first.get("opens_at"), at)
        sentence = f"{name}: hiện chưa có nơi nào mở cửa; gần {_place_phrase(place)} nhất là {where}"
        sentence += f", mở lại lúc {opens}." if opens else "."
    else:
        sentence = f"{name}: nơi gần {_place_phrase(place)} nhất là {where}, chưa rõ giờ mở cửa."
    if place.kind == "former_district" and place.parts:
        names = ", ".join(p["name"] for p in place.parts[:4])
        sentence = (
            f"{place.label[:1].upper()}{place.label[1:]} nay thuộc nhiều phường, xã ({names}…); "
            f"tôi tính từ khoảng giữa địa bàn cũ. " + sentence
        )
    elif place.kind == "former_unit" and len(place.parts) > 1:
        sentence += f" ({place.label.split(' (')[0][:1].upper()}{place.label.split(' (')[0][1:]} nay chia cho "
        sentence += ", ".join(_lower_first(p["full_name"]) for p in place.parts) + "; tôi tính từ vị trí của nó.)"
    elif place.kind == "street":
        sentence += " (Tính từ đoạn giữa phố, không theo số nhà.)"
    return sentence


def _not_in_person_sentence(records: list[dict[str, Any]]) -> str:
    first = records[0]
    if len(records) == 1:
        sentence = (
            f"{first['short_name']} không làm tại các điểm phục vụ hành chính công của Hà Nội; "
            f"cơ quan giải quyết: {first['agency']}."
        )
    else:
        sentence = (
            f"Các thủ tục này ({'; '.join(_lower_first(r['short_name']) for r in records[:4])}) không làm tại "
            f"các điểm phục vụ hành chính công của Hà Nội; cơ quan giải quyết: {first['agency']}."
        )
    if any(r["online_full"] == "yes" for r in records):
        sentence += " Thủ tục này nộp trực tuyến toàn trình trên Cổng dịch vụ công."
    return sentence


def _procedure_question(options: list[dict[str, Any]]) -> str:
    if not options:
        return "Bạn cần làm thủ tục gì? Ví dụ: đăng ký khai sinh, đăng ký kết hôn, chứng thực bản sao."
    names = [_lower_first(o["short_name"]) for o in options[:5]]
    listed = ", ".join(names[:-1]) + f" hay {names[-1]}" if len(names) > 1 else names[0]
    return f"Bạn cần thủ tục nào: {listed}?"


def _place_question(u: Understanding) -> str:
    place = u.place
    if place is not None and place.options:
        labels = [o["label"] for o in place.options[:6]]
        if place.kind == "former_district":
            return f"{place.label[:1].upper()}{place.label[1:]} nay gồm {', '.join(labels)}. Bạn ở phường, xã nào?"
        listed = ", ".join(labels[:-1]) + f" hay {labels[-1]}" if len(labels) > 1 else labels[0]
        return f"Bạn ở {listed}?"
    if u.place_problem:
        return f"Tôi {u.place_problem}. Bạn ở phường, xã nào (hoặc gần địa điểm nào)?"
    return "Bạn đang ở phường, xã nào của Hà Nội (hoặc gần địa điểm nào)?"


def _default_gazetteer(service: Service) -> Gazetteer:
    from geo.legacy import load_legacy_districts

    streets = None
    try:
        from geo.locate import load_osm_streets
        from geo.sources import paths_of_group

        streets = load_osm_streets(paths_of_group("osm-central-hanoi", service.settings))
    except GandanError:
        streets = None  # no road data here: street names are not understood, everything else is
    return Gazetteer(
        service.backend.index,
        service.backend.commune_at,
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
        lines.append(f"địa điểm: {place['label']} [{place['kind']}]{where} (độ tin cậy {place['confidence']:.2f})")
        if place.get("detail"):
            lines.append(f"  {place['detail']}")
    for option in understood.get("place_candidates") or []:
        lines.append(f"  có thể: {option['label']}")
    for i, feature in enumerate((response.get("result") or {}).get("features", []), start=1):
        p = feature["properties"]
        lines.append(f"{i}. {p['name']} — {p['address']} — {_distance_text(p['distance_m'])} — {p['state']}")
    lines.extend(f"note: {n}" for n in response.get("notes") or [])
    lines.append(f"status: {response['status']}")
    return "\n".join(lines)
