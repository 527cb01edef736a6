"""Vietnamese text normalisation: NFC, diacritic folding, keys for matching."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["fold", "nfc", "slug"]

_SPACES = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^0-9a-z]+")


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
