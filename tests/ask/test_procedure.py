"""Procedure matching (geo.ask.procedure): the synonym table, and the matcher on any list of records."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geo.ask.gazetteer import tokenize
from geo.ask.procedure import (
    MAX_GAP,
    ProcedureMatcher,
    catalog_phrases,
    load_procedure_synonyms,
    synonym_phrases,
)
from geo.errors import DataValidationError

# A hand-made catalogue and synonym table (codes made up): the matcher needs nothing of the real ones.
RECORDS = [
    {"code": "9.000001", "name": "Thủ tục đăng ký khai sinh"},
    {"code": "9.000002", "name": "Thủ tục đăng ký kết hôn"},
    {"code": "9.000003", "name": "Đăng ký khai sinh có yếu tố nước ngoài"},
    {"code": "9.000004", "name": "Cấp bản sao trích lục hộ tịch (thực hiện tại cấp tỉnh)"},
    {"code": "9.000005", "name": "Cấp bản sao trích lục hộ tịch"},
]
SYNONYMS = pd.DataFrame(
    {
        "phrase": ["khai sinh", "kết hôn", "khai sinh ... nước ngoài", "sổ đỏ"],
        "code": ["9.000001", "9.000002", "9.000003", "9.000004|9.000005"],
        "rationale": ["x"] * 4,
    }
)


@pytest.fixture(scope="module")
def matcher() -> ProcedureMatcher:
    return ProcedureMatcher(synonym_phrases(SYNONYMS) + catalog_phrases(RECORDS), [r["code"] for r in RECORDS])


def guess(matcher: ProcedureMatcher, text: str):  # type: ignore[no-untyped-def]
    return matcher.match(text, tokenize(text))[0]


# --------------------------------------------------------------------------------------------- table


def test_synonym_table_is_valid_and_sourced(index) -> None:  # type: ignore[no-untyped-def]
    table = load_procedure_synonyms(codes=list(index.procedures["code"]))
    assert len(table) >= 100
    assert (table["rationale"].str.len() > 10).all()


def test_synonym_table_problems_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "syn.csv"
    bad.write_text("phrase,code,rationale\nkhai sinh,9.999999,x\n,1.001193,x\nkết hôn,1.000894,\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        load_procedure_synonyms(bad, codes=["1.001193", "1.000894"])
    messages = " | ".join(p.message for p in err.value.problems)
    assert "unknown procedure code 9.999999" in messages
    assert "empty phrase" in messages
    assert "empty rationale" in messages


def test_synonym_table_repeats_and_malformed_codes_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "syn.csv"
    bad.write_text(
        "phrase,code,rationale\nKhai Sinh,1.001193,x\nkhai sinh,1.001193,y\nkết hôn,1.894,z\n", encoding="utf-8"
    )
    with pytest.raises(DataValidationError) as err:
        load_procedure_synonyms(bad)
    problems = {(p.row, p.message) for p in err.value.problems}
    assert (3, "phrase repeats row 2") in problems
    assert (4, "malformed code '1.894'") in problems


def test_catalog_phrases_drop_the_prefix_and_keep_a_short_qualifier() -> None:
    phrases = {p.codes[0]: p for p in catalog_phrases(RECORDS)}
    assert phrases["9.000001"].text == "đăng ký khai sinh" and len(phrases["9.000001"].parts) == 1
    assert phrases["9.000004"].parts[1] == ("thuc", "hien", "tai", "cap", "tinh")
    assert catalog_phrases([{"code": "9.000009", "name": "Thủ tục trước bạ"}])  # two words are a phrase
    assert not catalog_phrases([{"code": "9.000009", "name": "Thủ tục lệ"}])  # one word is none


# --------------------------------------------------------------------------------------------- matcher


def test_a_known_code_wins_outright(matcher: ProcedureMatcher) -> None:
    text = "thủ tục 9.000002 khai sinh"
    found, used = matcher.match(text, tokenize(text))
    assert found is not None and (found.code, found.how, found.confidence) == ("9.000002", "code", 1.0)
    assert used == {2}
    assert guess(matcher, "thủ tục 1.234567 khai sinh").code == "9.000001"  # an unknown code is just a number


def test_the_longer_gapped_phrase_beats_the_phrase_inside_it(matcher: ProcedureMatcher) -> None:
    found = guess(matcher, "khai sinh cho con có bố là người nước ngoài")
    assert found.code == "9.000003" and found.matched == "khai sinh cho con có bố là người nước ngoài"
    # Beyond MAX_GAP words the second part no longer belongs to the phrase.
    far = guess(matcher, "khai sinh " + "a " * (MAX_GAP + 1) + "nước ngoài")
    assert far.code == "9.000001"


def test_conjunction_or_a_phrase_for_several_codes_is_ambiguous(matcher: ProcedureMatcher) -> None:
    both = guess(matcher, "khai sinh và kết hôn")
    assert both.code is None and both.options == ["9.000001", "9.000002"] and both.how == "phrase ambiguous"
    group = guess(matcher, "làm sổ đỏ")
    assert group.code is None and group.options == ["9.000004", "9.000005"]
    member = guess(matcher, "sổ đỏ cấp bản sao trích lục hộ tịch thực hiện tại cấp tỉnh")
    assert member.code == "9.000004"


def test_confidence_reflects_diacritics_and_typos(matcher: ProcedureMatcher) -> None:
    assert guess(matcher, "đăng ký kết hôn").confidence == 0.95
    assert guess(matcher, "dang ky ket hon").confidence == 0.9
    assert guess(matcher, "đăng ký kết hồn").confidence == 0.85  # a tone written wrong
    typo = guess(matcher, "dang ki khai sinhh")
    assert typo.code == "9.000001" and typo.how.endswith("fuzzy") and typo.confidence < 0.85
    assert guess(matcher, "xin chào") is None
