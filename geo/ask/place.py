"""Which place a question names, matched against the `geo.ask.gazetteer.Gazetteer`.

Coordinates (``lat``/``lon``) are the place unless the text names another (the asker decides that).
Otherwise, in order of specificity: a street after a house number or ``phố``/``đường``/``ngõ N``
(``"số 85 Dịch Vọng Hậu"``), a landmark, a commune in force or a former unit, a former district, a bare
street name. The word before a name (phường, xã, thị trấn, quận, huyện, thị xã) restricts its kind;
``cũ`` after it prefers the pre-2025 unit; a district after a unit (``"phường Kim Liên, quận Đống Đa"``)
picks the old unit of that district, as old-map notation. Written diacritics are preferred when they
match a name exactly (``"Phú Đông"`` is not ``"Phù Đổng"``); without diacritics, names that fold alike
and lead to different communes are asked back. A name in force wins over a pre-2025 homonym unless
``cũ`` or an old district says otherwise. No exact name: rapidfuzz against every name (typos).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process

from geo.ask.gazetteer import Gazetteer, PlaceEntry, Token, span_text
from geo.ask.procedure import PROCEDURE_CODE
from geo.ask.understanding import Place, PlaceReading

__all__ = ["MAX_NAME_TOKENS", "PLACE_FUZZY_MIN", "PLACE_FUZZY_MIN_CUED", "PlaceMatcher"]

PLACE_FUZZY_MIN_CUED = 85.0
"""Least rapidfuzz ratio for a name after a place word (``ở``, ``phường``…)."""
PLACE_FUZZY_MIN = 92.0
"""Least rapidfuzz ratio for a name with no place word before it."""
MAX_NAME_TOKENS = 7
_HOUSE = re.compile(r"^\d+[a-z]?(?:/\d+[a-z]?)*$")
_CITY_KEYS = ("thanh pho ha noi", "ha noi", "hanoi", "thu do", "viet nam")
_NEAR_WORDS = ("gan day", "quanh day", "cho toi", "vi tri cua toi", "noi toi o", "o day", "gan toi")
_PLACE_CUES = {"o", "tai", "gan", "khu", "quanh", "canh", "cho", "phuong", "xa", "quan", "huyen", "tran"}
_STREET_CUES = {"pho", "duong"}
_LANE_CUES = {"ngo", "ngach", "hem", "kiet"}
_UNIT_WORDS: dict[str, str] = {
    "phuong": "phuong", "xa": "xa", "thi tran": "thi_tran", "quan": "quan", "huyen": "huyen", "thi xa": "thi_xa",
}  # fmt: skip
_SPECIFICITY = {"street_numbered": 6, "landmark": 5, "former_unit": 4, "commune": 4, "former_district": 3, "street": 1}


@dataclass
class _Candidate:
    """A span of the query that names gazetteer entries, with the unit word before it and hints after."""

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


class PlaceMatcher:
    """Finds the place a tokenized question names (see the module docstring).

    Parameters
    ----------
    gazetteer
        Every place name understood.
    commune_at
        ``(lon, lat) -> dict | None``: the commune at a point, for places given as coordinates.
    """

    def __init__(self, gazetteer: Gazetteer, commune_at: Callable[[float, float], Any]) -> None:
        self.gazetteer = gazetteer
        self.commune_at = commune_at
        place_keys = gazetteer.keys(("commune", "former_unit", "former_district", "landmark"))
        self._fuzzy_place_keys = [k for k in place_keys if len(k) >= 5]

    def coordinates(self, lon: float, lat: float) -> Place:
        """The person's own position as a `Place`, in the commune around it."""
        commune = self.commune_at(lon, lat)
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

    def match(self, tokens: Sequence[Token], used: set[int]) -> PlaceReading:
        """The place the tokens name, leaving out positions in ``used`` (the procedure's words)."""
        keys = [t.key for t in tokens]
        city = _city_positions(keys)
        blocked = set(used) | city
        candidates, unfound = self._street_candidates(tokens, blocked)
        # "Hà Nội" alone is the city, no place to search from; inside a longer name ("Ga Hà Nội") it counts.
        named = self._name_candidates(tokens, set(used))
        candidates += [c for c in named if not set(range(c.start, c.end)) <= city]
        if any(_near_me(keys, i) for i in range(len(keys))) and not candidates:
            return PlaceReading(None)
        cue_named = _unit_cue_positions(keys, blocked)
        if not candidates:
            candidates = self._fuzzy_places(tokens, blocked, cue_named)
        if not candidates:
            return _not_found(tokens, cue_named, unfound)
        candidates = _drop_overlapping(_drop_contained(candidates), tokens)
        candidates = _apply_qualifiers(candidates)
        top = max(_SPECIFICITY[c.rank] for c in candidates)
        best = [c for c in candidates if _SPECIFICITY[c.rank] == top]
        resolved = [self._resolve_candidate(c, tokens) for c in best]
        places = [p for p in resolved if p is not None]
        return PlaceReading(_one_place(places) if places else None, named=True)

    # ------------------------------------------------------------------ candidates
    def _street_candidates(self, tokens: Sequence[Token], blocked: set[int]) -> tuple[list[_Candidate], list[str]]:
        """Street candidates of the tokens, and the unknown street names.

        Streets come after a house number, ``phố``/``đường`` or ``ngõ N``; the names after such a cue that
        are in no street of the road data are returned too (to say so).
        """
        if not self.gazetteer.has_streets:
            return [], []
        keys = [t.key for t in tokens]
        out: list[_Candidate] = []
        unfound: list[str] = []
        for i, key in enumerate(keys):
            if i in blocked:
                continue
            start, numbered, lane = _street_start(tokens, i)
            if start is None:
                continue
            while start < len(keys) and keys[start] in _STREET_CUES:
                start += 1
            found = self._street_after(keys, start, blocked, lane)
            if found is not None:
                entry, n = found
                rank = "street_numbered" if numbered else "landmark"
                out.append(_Candidate(start, start + n, [entry], rank, cue_start=i))
                continue
            words = [t.text for t in tokens[start : start + 3] if t.key not in _PLACE_CUES]
            if words and (lane or key in _STREET_CUES):
                unfound.append(" ".join(words))
        return out, unfound

    def _street_after(
        self, keys: Sequence[str], start: int, blocked: set[int], lane: str
    ) -> tuple[PlaceEntry, int] | None:
        """The street named from ``start`` (its first entry and how many words), longest name first."""
        for n in range(min(MAX_NAME_TOKENS, len(keys) - start), 0, -1):
            if any(p in blocked for p in range(start, start + n)):
                continue
            name = " ".join(keys[start : start + n])
            entries = []
            if lane:
                entries = [e for e in self.gazetteer.lookup(f"{lane} {name}") if e.kind == "street"]
            entries = entries or [e for e in self.gazetteer.lookup(name) if e.kind == "street"]
            if entries:
                return entries[0], n
        return None

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

    # ------------------------------------------------------------------ resolving
    def _resolve_candidate(self, cand: _Candidate, tokens: Sequence[Token]) -> Place | None:
        matched = span_text(tokens, cand.start, cand.end)
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
            entries = _in_force_per_name(entries)
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


# --------------------------------------------------------------------------------------------- helpers


def _not_found(tokens: Sequence[Token], cue_named: list[tuple[int, int]], unfound: list[str]) -> PlaceReading:
    """No candidate at all: whether the text still named a place, and why it cannot be used."""
    if cue_named:
        a, b = cue_named[0]
        return PlaceReading(None, named=True, problem=f"không tìm thấy '{span_text(tokens, a, b)}' ở Hà Nội")
    if unfound:
        problem = f"không tìm thấy phố '{unfound[0]}' trong dữ liệu bản đồ (chỉ có các phố khu trung tâm)"
        return PlaceReading(None, named=True, problem=problem)
    return PlaceReading(None)


def _one_place(places: list[Place]) -> Place:
    """The place the most specific candidates agree on; one to ask about when they do not."""
    communes = {(p.commune or {}).get("code") for p in places if p.resolved}
    asks = [p for p in places if not p.resolved]
    if asks:
        return asks[0]
    if len(communes) > 1:
        options = [
            {"label": p.label, "kind": p.kind, "code": (p.commune or {}).get("code"), "commune": p.commune}
            for p in places
        ]
        return Place(
            kind="ambiguous",
            name=" / ".join(p.name for p in places),
            label=" hay ".join(p.label for p in places),
            confidence=0.3,
            matched=" / ".join(p.matched for p in places),
            detail="the text names several places in different communes",
            options=options,
        )
    return max(places, key=lambda p: p.confidence)


def _street_start(tokens: Sequence[Token], i: int) -> tuple[int | None, bool, str]:
    """Where a street name may start after the cue at ``i``: (start, after a number, the lane words)."""
    key = tokens[i].key
    if _HOUSE.match(key) and not PROCEDURE_CODE.match(tokens[i].text):
        return i + 1, True, ""
    if key in _STREET_CUES:
        return i + 1, False, ""
    if key in _LANE_CUES and i + 1 < len(tokens) and _HOUSE.match(tokens[i + 1].key):
        return i + 2, True, f"{key} {tokens[i + 1].key}"
    return None, False, ""


def _in_force_per_name(entries: list[PlaceEntry]) -> list[PlaceEntry]:
    """Per distinct spelling, its in-force units if any, else all its entries.

    Names that only fold alike ("phu dong": Phú Đông or Phù Đổng) are different places; still several
    communes afterwards means ask.
    """
    by_tone: dict[str, list[PlaceEntry]] = {}
    for e in entries:
        by_tone.setdefault(e.tone, []).append(e)
    kept: list[PlaceEntry] = []
    for group in by_tone.values():
        in_force = [e for e in group if e.kind == "commune"]
        kept.extend(in_force or group)
    return kept


def _apply_qualifiers(candidates: list[_Candidate]) -> list[_Candidate]:
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
    """The entries of one name that the question most likely means.

    ``cũ`` keeps the former units; otherwise the unit in force wins, then a landmark, then former units.
    With ``keep_other_names``, entries of a different spelling (that only fold alike) are kept for the
    caller to weigh.
    """
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
