"""Vietnamese text normalisation: NFC, diacritic folding, keys for matching."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["fold", "nfc", "slug", "tone_key"]

_SPACES = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^0-9a-z]+")
_WORD_SPLIT = re.compile(r"[^\w]+")
# Combining tone marks (huyền, sắc, hỏi, ngã, nặng); other diacritics (â, ơ, ư, đ) are letters.
_TONES = {"\u0300": "2", "\u0301": "1", "\u0309": "3", "\u0303": "4", "\u0323": "5"}


def nfc(text: str) -> str:
    """Return ``text`` in Unicode NFC with runs of white space collapsed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def fold(text: str) -> str:
    """Fold Vietnamese text to lower-case ASCII: diacritics dropped, đ→d, spaces collapsed.

    Examples
    --------
    >>> fold("Phường Ba Đình")
    'phuong ba dinh'
    """
    text = nfc(text).lower().replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return _SPACES.sub(" ", stripped).strip()


def slug(text: str) -> str:
    """Return a folded key with only ``[0-9a-z_]`` (``"Phường Ba Đình"`` → ``"phuong_ba_dinh"``)."""
    return _NON_WORD.sub("_", fold(text)).strip("_")


def tone_key(text: str) -> str:
    """Key that ignores case, punctuation and where the tone mark sits, but keeps every diacritic.

    ``fold`` would merge different places (Phú Đông and Phù Đổng, Tiên Phong and Tiền Phong); this key
    tells them apart while still equating "Thuỵ" and "Thụy", "Hoà" and "Hòa".
    """
    words = []
    for word in _WORD_SPLIT.split(nfc(text).lower()):
        if not word:
            continue
        decomposed = unicodedata.normalize("NFD", word)
        tones = "".join(_TONES[ch] for ch in decomposed if ch in _TONES)
        base = unicodedata.normalize("NFC", "".join(ch for ch in decomposed if ch not in _TONES))
        words.append(base + tones)
    return " ".join(words)
