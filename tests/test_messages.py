"""The message catalogue: every message in Vietnamese and English, with the same placeholders."""

from __future__ import annotations

import re

import pytest

from geo.messages import CATALOGUE, message, mode_label, placeholders, state_label

# Words that only an English sentence has; a Vietnamese text containing one has English in it.
_ENGLISH = re.compile(r"\b(the|is|are|and|not|no|place|procedure|closed|open|network|distance)\b", re.IGNORECASE)


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_each_message_has_both_languages_with_the_same_fields(code: str) -> None:
    vi, en = CATALOGUE[code]
    assert vi.strip() and en.strip() and vi != en
    # A Vietnamese text takes its own value of a field as X_vi (mode_vi is filled from mode).
    assert {p.removesuffix("_vi") for p in placeholders(vi)} == placeholders(en)
    assert not _ENGLISH.search(re.sub(r"\{[^}]*\}", "", vi)), vi


def test_message_fills_mode_in_vietnamese() -> None:
    note = message("places_off_network", count=2, mode="walk", ids="a, b")
    assert note.text == "2 nơi ở gần nằm ngoài mạng đường đi bộ nên không được xếp theo thời gian đi: a, b."
    assert note.to_json()["code"] == "places_off_network"
    assert str(note) == note.text and note.in_lang("en") == note.text_en


def test_missing_parameter_or_code_fails_loudly() -> None:
    with pytest.raises(KeyError):
        message("beyond_network")
    with pytest.raises(KeyError):
        message("no_such_code")


def test_labels() -> None:
    assert [state_label(s) for s in ("open", "closed", "unknown")] == [
        "đang mở cửa",
        "đang đóng cửa",
        "chưa rõ giờ mở cửa",
    ]
    assert mode_label("motorbike") == "xe máy" and mode_label("motorbike", "en") == "motorbike"
