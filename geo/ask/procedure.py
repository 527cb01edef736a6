"""Which procedure a question asks for: phrases of the synonym table and the catalogue, matched on tokens.

Phrases of the synonym table (each a sequence of words, ``...`` allowing a gap of up to `MAX_GAP`
words: ``"kết hôn ... nước ngoài"``) and the catalogue names are matched on token keys (folded, so
diacritics are optional). Then, in order: a phrase inside a longer match is dropped (``"hộ khẩu"``
inside ``"chứng thực bản sao sổ hộ khẩu"``); a phrase naming a set of procedures gives way to one naming
a member of the set (``"căn cước"`` to ``"cấp đổi ... căn cước"``); one procedure left is the answer,
several are ambiguous unless one phrase is at least twice as long as every other and no conjunction
("và", "hoặc"…) joins them (``"xác nhận độc thân để kết hôn"``). A national code (``1.001193``) wins
outright. Without any exact phrase, phrases are compared to the query's word windows with rapidfuzz
(typos: ``"khai sinhh"``).

`ProcedureMatcher` works on a list of `Phrase` s and the set of known codes; `synonym_phrases` and
`catalog_phrases` make phrases from the synonym table and from any list of catalogue records (``code``,
``name``), so a larger catalogue only means more records.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from geo.ask.gazetteer import Token, name_key, span_text, tokenize
from geo.ask.understanding import ProcedureGuess
from geo.errors import DataProblem, DataValidationError
from geo.settings import get_settings
from geo.tables import read_table
from geo.text import nfc

__all__ = [
    "DOMINANCE",
    "GAP_MARK",
    "MAX_GAP",
    "PROCEDURE_CODE",
    "PROCEDURE_FUZZY_MIN",
    "SYNONYMS_FILE",
    "SYNONYM_COLUMNS",
    "Phrase",
    "PhraseMatch",
    "ProcedureMatcher",
    "catalog_phrases",
    "load_procedure_synonyms",
    "select_matches",
    "synonym_phrases",
]

SYNONYMS_FILE = "procedure_synonyms.csv"
SYNONYM_COLUMNS = ("phrase", "code", "rationale")
MAX_GAP = 6
GAP_MARK = "..."
PROCEDURE_FUZZY_MIN = 85.0
DOMINANCE = 2.0
"""A procedure phrase this many times as specific as every other one found is the procedure."""
PROCEDURE_CODE = re.compile(r"\b\d\.\d{6}\b")
"""A national procedure code in running text (``1.001193``)."""
_OBJECT_TAKING = {"chung thuc", "cong chung", "sao y", "ban sao", "photo cong"}
"""Procedures whose phrase is followed by the document they act on, which is no procedure of its own."""
_CONJUNCTIONS = {"va", "hoac", "hay", "cung", "voi ca", "roi", "con"}


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
    rows = read_table(path, SYNONYM_COLUMNS, label=label)
    known = set(codes) if codes is not None else None
    problems: list[DataProblem] = []
    seen: dict[str, int] = {}
    for row in rows:
        problems.extend(_synonym_problems(row, row.number, label, known, seen))
    if problems:
        raise DataValidationError(problems)
    return pd.DataFrame([dict(r) for r in rows], columns=list(SYNONYM_COLUMNS), dtype=object)


def _synonym_problems(
    rec: Mapping[str, str], row: int, label: str, known: set[str] | None, seen: dict[str, int]
) -> list[DataProblem]:
    """What is wrong with one synonym row (``seen`` maps phrase keys to their first row, and grows)."""
    phrase = nfc(rec["phrase"])
    if not phrase or not name_key(phrase.replace(GAP_MARK, " ")):
        return [DataProblem(label, "empty phrase", row=row)]
    problems: list[DataProblem] = []
    key = " / ".join(name_key(p) for p in phrase.split(GAP_MARK))
    if key in seen:
        problems.append(DataProblem(label, f"phrase repeats row {seen[key]}", row=row, id=phrase))
    seen[key] = row
    for code in rec["code"].split("|"):
        if not re.fullmatch(r"\d\.\d{6}", code.strip()):
            problems.append(DataProblem(label, f"malformed code {code!r}", row=row, id=phrase))
        elif known is not None and code.strip() not in known:
            problems.append(DataProblem(label, f"unknown procedure code {code}", row=row, id=phrase))
    if not rec["rationale"].strip():
        problems.append(DataProblem(label, "empty rationale", row=row, id=phrase))
    return problems


# --------------------------------------------------------------------------------------------- phrases


@dataclass(frozen=True)
class Phrase:
    """A way of naming one or several procedures: gap-separated parts of token keys, with their tones."""

    parts: tuple[tuple[str, ...], ...]  # token keys per gap-separated part
    tones: tuple[tuple[str, ...], ...]
    codes: tuple[str, ...]
    text: str
    source: str  # "synonym" or "catalog"

    @property
    def size(self) -> int:
        """How many words the phrase has."""
        return sum(len(p) for p in self.parts)


@dataclass(frozen=True)
class PhraseMatch:
    """Where a `Phrase` was found in a query (token positions), and how well."""

    phrase: Phrase
    positions: tuple[int, ...]
    exact_tone: bool
    score: float = 100.0
    weight: float = 0.0  # sum of the matched words' specificity (rarer words weigh more)

    @property
    def start(self) -> int:
        """First token position."""
        return self.positions[0]

    @property
    def end(self) -> int:
        """One past the last token position."""
        return self.positions[-1] + 1

    @property
    def size(self) -> int:
        """How many tokens matched."""
        return len(self.positions)


def _phrase(parts: Sequence[Sequence[Token]], codes: tuple[str, ...], text: str, source: str) -> Phrase:
    return Phrase(
        parts=tuple(tuple(t.key for t in p) for p in parts),
        tones=tuple(tuple(t.tone for t in p) for p in parts),
        codes=codes,
        text=text,
        source=source,
    )


def synonym_phrases(synonyms: pd.DataFrame) -> list[Phrase]:
    """One `Phrase` per row of the synonym table (`load_procedure_synonyms`), in order."""
    phrases: list[Phrase] = []
    for phrase, codes in zip(synonyms["phrase"], synonyms["code"], strict=True):
        parts = [tokenize(p, expand=False) for p in phrase.split(GAP_MARK)]
        parts = [p for p in parts if p]
        phrases.append(_phrase(parts, tuple(c.strip() for c in codes.split("|")), phrase, "synonym"))
    return phrases


def catalog_phrases(records: Iterable[Mapping[str, Any]]) -> list[Phrase]:
    """A `Phrase` for the official name of each catalogue record (``code``, ``name``) of two words or more.

    The leading "Thủ tục" is dropped; a short trailing qualifier in parentheses ("(thực hiện tại cấp
    tỉnh)") becomes a second part, since it tells a variant apart and must be said too.
    """
    phrases: list[Phrase] = []
    for record in records:
        text = re.sub(r"^thủ tục\s+", "", nfc(str(record["name"])), flags=re.IGNORECASE)
        head, _, qualifier = text.partition("(")
        parts = [tokenize(head, expand=False)]
        if qualifier.strip(" )") and len(qualifier) < 40:
            parts.append(tokenize(qualifier.strip(" )"), expand=False))
        parts = [p for p in parts if p]
        if parts and len(parts[0]) >= 2:
            phrases.append(_phrase(parts, (str(record["code"]),), text.strip(), "catalog"))
    return phrases


# --------------------------------------------------------------------------------------------- matcher


class ProcedureMatcher:
    """Finds the procedure a tokenized question names (see the module docstring).

    Parameters
    ----------
    phrases
        Every way of naming a procedure (`synonym_phrases` + `catalog_phrases`).
    codes
        The known national codes: a code written in the text is the procedure when it is one of them.
    """

    def __init__(self, phrases: Sequence[Phrase], codes: Iterable[str]) -> None:
        self.phrases = list(phrases)
        self.codes = set(codes)
        self._first: dict[str, list[Phrase]] = {}
        for phrase in self.phrases:
            self._first.setdefault(phrase.parts[0][0], []).append(phrase)
        # Word specificity: a word found in many phrases ("đăng ký", "cấp") says less than a rare one
        # ("nước ngoài", "độc thân"); matches are compared by the summed weight of their words.
        frequency: dict[str, int] = {}
        for phrase in self.phrases:
            for key in {k for part in phrase.parts for k in part}:
                frequency[key] = frequency.get(key, 0) + 1
        total = len(self.phrases)
        self._weight = {k: math.log((total + 1) / (n + 1)) + 0.1 for k, n in frequency.items()}
        contiguous = [p for p in self.phrases if len(p.parts) == 1 and len(" ".join(p.parts[0])) >= 6]
        self._fuzzy_phrases = contiguous
        self._fuzzy_phrase_keys = [" ".join(p.parts[0]) for p in contiguous]

    def match(self, text: str, tokens: Sequence[Token]) -> tuple[ProcedureGuess | None, set[int]]:
        """The procedure of ``text`` (its `tokenize` tokens), and the token positions that named it."""
        for found in PROCEDURE_CODE.finditer(text):
            if found.group(0) in self.codes:
                used = {i for i, t in enumerate(tokens) if t.start >= found.start() and t.end <= found.end()}
                return ProcedureGuess(found.group(0), 1.0, found.group(0), "code"), used
        matches = self._exact(tokens)
        how = "phrase"
        if not matches:
            matches = self._fuzzy(tokens)
            how = "fuzzy"
        if not matches:
            return None, set()
        chosen, ambiguous = select_matches(matches, tokens)
        return _guess(chosen, ambiguous, tokens, how), {p for m in chosen for p in m.positions}

    def _exact(self, tokens: Sequence[Token]) -> list[PhraseMatch]:
        matches: list[PhraseMatch] = []
        for i, token in enumerate(tokens):
            for phrase in self._first.get(token.key, ()):
                found = self._match_phrase(phrase, tokens, i)
                if found is not None:
                    matches.append(found)
        return matches

    def _match_phrase(self, phrase: Phrase, tokens: Sequence[Token], start: int) -> PhraseMatch | None:
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
        return PhraseMatch(phrase, tuple(positions), exact, weight=self._weigh(keys, positions))

    def _weigh(self, keys: Sequence[str], positions: Sequence[int]) -> float:
        return float(sum(self._weight.get(keys[p], 1.0) for p in positions))

    def _fuzzy(self, tokens: Sequence[Token]) -> list[PhraseMatch]:
        windows: list[tuple[int, int]] = [
            (i, i + n) for n in range(1, 6) for i in range(len(tokens) - n + 1) if not tokens[i].key.isdigit()
        ]
        if not windows or not self._fuzzy_phrase_keys:
            return []
        texts = [" ".join(t.key for t in tokens[a:b]) for a, b in windows]
        scores = process.cdist(texts, self._fuzzy_phrase_keys, scorer=fuzz.ratio, score_cutoff=PROCEDURE_FUZZY_MIN)
        found: list[PhraseMatch] = []
        for w, p in zip(*np.nonzero(scores), strict=True):
            a, b = windows[int(w)]
            phrase = self._fuzzy_phrases[int(p)]
            if abs((b - a) - len(phrase.parts[0])) > 1:
                continue
            weight = sum(self._weight.get(k, 1.0) for part in phrase.parts for k in part)
            found.append(PhraseMatch(phrase, tuple(range(a, b)), False, float(scores[w, p]), weight))
        # Keep, per window start, the best-scoring phrase so near-duplicates do not read as ambiguity.
        best: dict[tuple[int, int], PhraseMatch] = {}
        for m in found:
            k = (m.start, m.end)
            if k not in best or (m.score, m.phrase.size) > (best[k].score, best[k].phrase.size):
                best[k] = m
        return list(best.values())


def _guess(chosen: list[PhraseMatch], ambiguous: bool, tokens: Sequence[Token], how: str) -> ProcedureGuess:
    """The `ProcedureGuess` the chosen matches make, with a confidence from how they matched."""
    matched = " / ".join(span_text(tokens, m.start, m.end) for m in chosen)
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
        return ProcedureGuess(codes[0], round(confidence, 2), matched, f"{best.phrase.source} {how}")
    return ProcedureGuess(None, round(confidence * 0.5, 2), matched, f"{how} ambiguous", codes)


def select_matches(matches: list[PhraseMatch], tokens: Sequence[Token]) -> tuple[list[PhraseMatch], bool]:
    """Pick the matches that say what the procedure is; True when they remain ambiguous."""

    def inside(a: PhraseMatch, b: PhraseMatch) -> bool:
        return (
            b.start <= a.start
            and a.end <= b.end
            and (b.size > a.size or (b.size == a.size and b.end - b.start < a.end - a.start))
        )

    def beaten(a: PhraseMatch, b: PhraseMatch) -> bool:
        """Overlapping matches read the same words: the more specific one (by weight) wins."""
        overlap = set(a.positions) & set(b.positions)
        return bool(overlap) and a.phrase.codes != b.phrase.codes and (b.weight, b.size) > (a.weight, a.size)

    keys = [t.key for t in tokens]

    def object_of(b: PhraseMatch, a: PhraseMatch) -> bool:
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


def _conjunction_between(keys: Sequence[str], a: PhraseMatch, b: PhraseMatch) -> bool:
    lo, hi = (a, b) if a.start < b.start else (b, a)
    between = keys[lo.end : hi.start]
    text = " ".join(between)
    return any(w in _CONJUNCTIONS for w in between) or any(c in text for c in _CONJUNCTIONS if " " in c)
