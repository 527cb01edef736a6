"""Search over the whole procedure catalogue, precomputed once: folded names, an inverted index, a shortlist.

`ProcedureSearch` is built from the index's procedures layer (about 4,800 rows) and the synonym table
(``data/procedure_synonyms.csv``) and answers a query in well under a millisecond:

1. a national code (``1.001193``) or its start; the exact name (folded, "Thủ tục" ignored);
2. a synonym phrase inside the query ("sổ đỏ", "làm căn cước", ``...`` = words between allowed);
3. words: each query word is looked up in the vocabulary of names and fields (as a word, as the start
   of a word, and — when it is in no name — as its closest words by rapidfuzz, for typos); the
   procedures are weighed by the summed rarity of the words they contain (one ``numpy.bincount``) and
   only the best `SHORTLIST` of them are compared to the query with rapidfuzz.

Each hit says how it matched (``match``: exact_code, exact_name, code_prefix, synonym, name_prefix,
name_contains, all_words, field or fuzzy), its ``score`` (0–100) and the ``matched`` text.
`find` resolves one procedure exactly (code or full name) and suggests close ones otherwise, as
`geo.registry.find_procedure` always has.
"""

from __future__ import annotations

import bisect
import math
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from geo.errors import UnknownProcedure
from geo.text import fold, nfc

__all__ = ["FUZZY_CUTOFF", "SHORTLIST", "SUGGEST_CUTOFF", "ProcedureHit", "ProcedureSearch", "search_of"]

SHORTLIST = 40
"""Procedures compared with rapidfuzz per query (the best by word weight)."""
FUZZY_CUTOFF = 80.0
"""A hit that shares no whole word pattern with the query needs at least this similarity."""
SUGGEST_CUTOFF = 55.0
_WORDS = re.compile(r"[0-9a-z]+")
_CODE_LIKE = re.compile(r"^[\d.]+$")
_NAME_PREFIX = "thu tuc "
_GAP = "..."
_MAX_PREFIX_EXPANSIONS = 40
_TYPO_MIN_LENGTH = 3
_TYPO_CUTOFF = 75.0
_FIELD_WEIGHT = 0.3  # a word of the field says less about the procedure than a word of its name
# Bonus per kind of word match, added to the similarity to rank the word tiers together.
_BONUS = {"name_prefix": 12.0, "name_contains": 8.0, "all_words": 4.0, "field": 1.0, "fuzzy": 0.0}


def _key(text: str) -> str:
    """Folded words of a name or query, without a leading "Thủ tục"."""
    return _folded_key(fold(text))


def _folded_key(folded: str) -> str:
    """`_key` of text that is folded already."""
    return " ".join(_WORDS.findall(folded)).removeprefix(_NAME_PREFIX)


def _similarity(query: str, key: str) -> float:
    """Similarity 0–100 of a folded query to a folded name; a query inside a long name still scores."""
    score = fuzz.ratio(query, key)
    if len(key) > len(query):
        score = max(score, 0.9 * fuzz.partial_ratio(query, key))
    score = max(score, 0.95 * fuzz.token_sort_ratio(query, key))
    return float(max(score, 0.9 * fuzz.token_set_ratio(query, key)))


@dataclass(frozen=True, slots=True)
class ProcedureHit:
    """One procedure found: its row position in the procedures table, how it matched, and on what text."""

    position: int
    code: str
    match: str
    score: float
    matched: str


@dataclass(frozen=True, slots=True)
class _Synonym:
    parts: tuple[str, ...]
    codes: tuple[str, ...]
    phrase: str


class ProcedureSearch:
    """The precomputed search of one procedures table (see the module docstring).

    Parameters
    ----------
    procedures
        ``code``, ``name`` and optionally ``field`` per procedure, in the order positions refer to.
    synonyms
        ``phrase``, ``code`` (``|``-separated when the phrase does not tell several apart): optional.
    """

    def __init__(self, procedures: pd.DataFrame, synonyms: pd.DataFrame | None = None) -> None:
        self.codes: list[str] = [str(c) for c in procedures["code"]]
        self.names: list[str] = [str(n) for n in procedures["name"]]
        fields = [str(f or "") for f in procedures["field"]] if "field" in procedures else [""] * len(self.codes)
        # The index's layer carries each name folded already (``name_ascii``); fields repeat a lot.
        folded = [str(f) for f in procedures["name_ascii"]] if "name_ascii" in procedures else None
        self.keys = [_folded_key(f) for f in folded] if folded is not None else [_key(n) for n in self.names]
        key_of_field = {f: _key(f) for f in set(fields)}
        self.field_keys = [key_of_field[f] for f in fields]
        self.fields = fields
        self.position_of = {code: i for i, code in enumerate(self.codes)}
        self.by_key: dict[str, list[int]] = {}
        for i, key in enumerate(self.keys):
            self.by_key.setdefault(key, []).append(i)
        self.sorted_codes = sorted(self.codes)
        postings: dict[str, set[int]] = {}
        field_postings: dict[str, set[int]] = {}
        for i, (key, field_key) in enumerate(zip(self.keys, self.field_keys, strict=True)):
            for word in key.split():
                postings.setdefault(word, set()).add(i)
            for word in field_key.split():
                field_postings.setdefault(word, set()).add(i)
        n = max(len(self.codes), 1)
        self.vocabulary = sorted(set(postings) | set(field_postings))
        self._postings = {w: np.fromiter(sorted(p), dtype=np.int64) for w, p in postings.items()}
        self._field_postings = {w: np.fromiter(sorted(p), dtype=np.int64) for w, p in field_postings.items()}
        # Rarity: a word in half the names ("cấp", "đăng ký") weighs little, a word in five a lot.
        self._idf = {w: math.log((n + 1) / (len(postings.get(w, field_postings.get(w, ()))) + 1)) + 0.1
                     for w in self.vocabulary}  # fmt: skip
        self._name_vocabulary = sorted(postings)
        self.synonyms: list[_Synonym] = []
        if synonyms is not None:
            for phrase, codes in zip(synonyms["phrase"], synonyms["code"], strict=True):
                parts = tuple(p for p in (_key(part) for part in str(phrase).split(_GAP)) if p)
                known = tuple(c.strip() for c in str(codes).split("|") if c.strip() in self.position_of)
                if parts and known:
                    self.synonyms.append(_Synonym(parts, known, str(phrase)))

    def __len__(self) -> int:
        return len(self.codes)

    # ------------------------------------------------------------------ exact lookups
    def find(self, query: str) -> int:
        """The position of the procedure whose code or full name (diacritics optional) is ``query``.

        Raises
        ------
        UnknownProcedure
            No exact match, or a name shared by several codes; ``extra["suggestions"]`` carries up to
            three close matches.
        """
        text = nfc(query or "")
        if not text:
            raise UnknownProcedure("empty procedure code or name", suggestions=[])
        if text in self.position_of:
            return self.position_of[text]
        exact = self.by_key.get(_key(text), []) if _key(text) else []
        if len(exact) == 1:
            return exact[0]
        if exact:
            codes = [self.codes[i] for i in exact]
            raise UnknownProcedure(
                f"procedure name {text!r} is ambiguous: codes {', '.join(codes)}; give the code",
                suggestions=codes,
            )
        close = [h for h in self.search(text, limit=3, cutoff=SUGGEST_CUTOFF)]
        if close:
            hint = "; did you mean: " + "; ".join(f"{h.code} {self.names[h.position]}" for h in close) + "?"
        else:
            hint = "; no close match in the catalogue"
        raise UnknownProcedure(f"unknown procedure {text!r}{hint}", suggestions=[h.code for h in close])

    # ------------------------------------------------------------------ search
    def search(self, query: str, limit: int = 10, cutoff: float = FUZZY_CUTOFF) -> list[ProcedureHit]:
        """The procedures that match ``query``, best first (at most ``limit``; see the module docstring)."""
        text = nfc(query or "")
        if not text or limit <= 0:
            return []
        hits: list[ProcedureHit] = []
        seen: set[int] = set()

        def add(position: int, match: str, score: float, matched: str) -> None:
            if position not in seen and len(hits) < limit:
                seen.add(position)
                hits.append(ProcedureHit(position, self.codes[position], match, round(score, 1), matched))

        if _CODE_LIKE.match(text):
            self._codes(text, add, cutoff)
            return hits
        qkey = _key(text)
        if not qkey:
            return hits
        for position in self.by_key.get(qkey, ()):
            add(position, "exact_name", 100.0, self.names[position])
        for synonym, position in self._synonyms(qkey):
            add(position, "synonym", 100.0 - len(hits) * 0.1, synonym.phrase)
        for position, match, score in self._words(qkey, cutoff):
            add(position, match, score, self.fields[position] if match == "field" else self.names[position])
        return hits

    def _codes(self, text: str, add: object, cutoff: float) -> None:
        """Exact code, then codes starting with ``text``, then (a full-length code) close ones."""
        emit = add  # the callback of `search`
        if text in self.position_of:
            emit(self.position_of[text], "exact_code", 100.0, text)  # type: ignore[operator]
        start = bisect.bisect_left(self.sorted_codes, text)
        for code in self.sorted_codes[start : start + 50]:
            if not code.startswith(text):
                break
            emit(self.position_of[code], "code_prefix", float(fuzz.ratio(text, code)), code)  # type: ignore[operator]
        if len(text) == len("1.001193") and text not in self.position_of:
            for code, score, _ in process.extract(text, self.codes, scorer=fuzz.ratio, limit=5, score_cutoff=cutoff):
                emit(self.position_of[code], "fuzzy", float(score), code)  # type: ignore[operator]

    def _synonyms(self, qkey: str) -> list[tuple[_Synonym, int]]:
        """Synonym phrases inside the query (each part as whole words, in order), longest phrase first."""
        padded = f" {qkey} "
        found: list[tuple[int, _Synonym]] = []
        for synonym in self.synonyms:
            at = 0
            for part in synonym.parts:
                at = padded.find(f" {part} ", at)
                if at < 0:
                    break
                at += len(part) + 1
            else:
                found.append((sum(len(p) for p in synonym.parts), synonym))
        found.sort(key=lambda f: -f[0])
        return [(s, self.position_of[c]) for _, s in found for c in s.codes]

    def _expand(self, word: str) -> list[str]:
        """Vocabulary words a query word stands for: itself, words it starts, or (a typo) its closest words."""
        vocabulary = self.vocabulary
        start = bisect.bisect_left(vocabulary, word)
        expanded = []
        for candidate in vocabulary[start : start + _MAX_PREFIX_EXPANSIONS]:
            if not candidate.startswith(word):
                break
            expanded.append(candidate)
        if expanded or len(word) < _TYPO_MIN_LENGTH or word.isdigit():
            return expanded
        close = process.extract(word, self._name_vocabulary, scorer=fuzz.ratio, limit=3, score_cutoff=_TYPO_CUTOFF)
        return [c for c, _, _ in close]

    def _words(self, qkey: str, cutoff: float) -> list[tuple[int, str, float]]:
        """Word matches: weigh every procedure by the query words it has, compare the best with rapidfuzz."""
        words = list(dict.fromkeys(qkey.split()))
        n = len(self.codes)
        weight = np.zeros(n)
        name_cover = np.zeros(n, dtype=np.int64)
        any_cover = np.zeros(n, dtype=np.int64)
        for word in words:
            named = np.zeros(n, dtype=bool)
            fielded = np.zeros(n, dtype=bool)
            for candidate in self._expand(word):
                idf = self._idf[candidate] * (1.0 if candidate == word else 0.8)
                posting = self._postings.get(candidate)
                if posting is not None:
                    weight[posting] += idf
                    named[posting] = True
                field_posting = self._field_postings.get(candidate)
                if field_posting is not None:
                    weight[field_posting] += idf * _FIELD_WEIGHT
                    fielded[field_posting] = True
            name_cover += named
            any_cover += named | fielded
        candidates = np.flatnonzero(weight)
        if not len(candidates):
            return []
        if len(candidates) > SHORTLIST:
            # Most words first, then weight: a name with every word beats one with a rare word only.
            order = np.lexsort((-weight[candidates], -any_cover[candidates]))
            candidates = candidates[order[:SHORTLIST]]
        ranked: list[tuple[float, int, int, str, float]] = []
        padded = f" {qkey} "
        for position in candidates.tolist():
            key = self.keys[position]
            if f"{key} ".startswith(padded[1:]):
                match = "name_prefix"
            elif padded in f" {key} ":
                match = "name_contains"
            elif name_cover[position] == len(words):
                match = "all_words"
            elif any_cover[position] == len(words):
                match = "field"
            else:
                match = "fuzzy"
            score = _similarity(qkey, key)
            if match == "fuzzy" and score < cutoff:
                continue
            ranked.append((-(score + _BONUS[match]), len(self.names[position]), position, match, score))
        ranked.sort()
        return [(position, match, score) for _, _, position, match, score in ranked]

    # ------------------------------------------------------------------ helpers
    def rows(self, hits: Sequence[ProcedureHit]) -> list[int]:
        """The positions of ``hits``."""
        return [h.position for h in hits]


_SEARCHES: dict[int, tuple[weakref.ref[pd.DataFrame], ProcedureSearch]] = {}


def search_of(procedures: pd.DataFrame) -> ProcedureSearch:
    """The `ProcedureSearch` of a procedures table without synonyms, built once per table object.

    Tables are not hashable: they are remembered by identity, and forgotten when they are collected.
    """
    key = id(procedures)
    found = _SEARCHES.get(key)
    if found is not None and found[0]() is procedures:
        return found[1]
    search = ProcedureSearch(procedures)

    def forget(_ref: weakref.ref[pd.DataFrame], key: int = key) -> None:
        _SEARCHES.pop(key, None)

    _SEARCHES[key] = (weakref.ref(procedures, forget), search)
    return search
