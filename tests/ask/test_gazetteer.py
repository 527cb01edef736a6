"""The gazetteer (geo.ask.gazetteer): query tokens, the landmark table, entries and how they resolve."""

from __future__ import annotations

from pathlib import Path

import pytest

from geo.ask import get_asker
from geo.ask.gazetteer import Gazetteer, PlaceEntry, canonical, load_place_aliases, name_key, span_text, tokenize
from geo.errors import DataValidationError


@pytest.fixture(scope="module")
def gazetteer(service) -> Gazetteer:  # type: ignore[no-untyped-def]
    return get_asker(service).gazetteer


# --------------------------------------------------------------------------------------------- tokens


def test_tokens_fold_expand_and_unify_i_y() -> None:
    keys = [t.key for t in tokenize("ĐK kết hôn P.Cầu Giấy, Q. Đống Đa, TP HN, UBND")]
    assert keys == [
        "dang", "ki", "ket", "hon", "phuong", "cau", "giay", "quan", "dong", "da", "thanh", "pho", "ha", "noi",
        "uy", "ban", "nhan", "dan",
    ]  # fmt: skip
    assert canonical("ky") == canonical("ki") == "ki"
    assert canonical("quy") == "quy" and canonical("tay") == "tay"
    assert name_key("Mỹ Đức") == name_key("Mĩ Đức")


def test_tokens_keep_offsets_and_tones_and_split_numbers_whole() -> None:
    tokens = tokenize("Số 85a ngõ 37/27 thủ tục 1.001193")
    assert [t.key for t in tokens] == ["so", "85a", "ngo", "37/27", "thu", "tuc", "1.001193"]
    assert [t.accented for t in tokens] == [True, False, True, False, True, True, False]
    assert span_text(tokens, 2, 4) == "ngõ 37/27"
    expanded = tokenize("p.Láng")
    assert [(t.text, t.expanded, t.start, t.end) for t in expanded] == [("phường", True, 0, 1), ("láng", False, 2, 6)]
    assert tokenize("phu dong")[0].tone != tokenize("Phú Đông")[0].tone
    assert name_key("Phú Đông") == name_key("phu dong") == "phu dong"


# --------------------------------------------------------------------------------------------- landmarks


def test_place_aliases_resolve_inside_hanoi(gazetteer: Gazetteer) -> None:
    aliases = load_place_aliases()
    assert (aliases["source"].str.len() > 10).all()
    assert gazetteer.problems == []
    for names in aliases["names"]:
        for name in names.split("|"):
            entries = [e for e in gazetteer.lookup(name_key(name)) if e.kind == "landmark"]
            assert entries, name
            place = gazetteer.resolve(entries[0])
            assert place.resolved and place.commune is not None, name


def test_alias_file_problems_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "aliases.csv"
    bad.write_text(
        "names,kind,address,street,commune_code,legacy_code,source\nHồ X,lake,addr,,,,src\nHồ Y,lake,addr,,123,,\n",
        encoding="utf-8",
    )
    with pytest.raises(DataValidationError) as err:
        load_place_aliases(bad)
    messages = " | ".join(p.message for p in err.value.problems)
    assert "no anchor" in messages and "not 5 digits" in messages and "empty source" in messages


# --------------------------------------------------------------------------------------------- entries


def test_entry_labels_say_the_kind_and_old_district() -> None:
    old = PlaceEntry("former_unit", "phuong", "00001", "Quán Thánh", "quan thanh", "", district="Quận Ba Đình")
    assert old.label == "phường Quán Thánh cũ (quận Ba Đình)"
    assert PlaceEntry("former_district", "quan", "006", "Đống Đa", "dong da", "").label == "quận Đống Đa cũ"
    assert PlaceEntry("street", "", "hue", "Huế", "hue", "").label == "phố Huế"
    assert PlaceEntry("landmark", "", "landmark-1", "Hồ Gươm", "ho guom", "").label == "Hồ Gươm"
    assert PlaceEntry("commune", "xa", "00004", "Sóc Sơn", "soc son", "").label == "xã Sóc Sơn"


def test_every_kind_of_name_is_indexed(gazetteer: Gazetteer) -> None:
    kinds = {e.kind for e in gazetteer.lookup(name_key("Giảng Võ"))}
    assert {"commune", "former_unit"} <= kinds
    assert any(e.kind == "former_district" for e in gazetteer.lookup(name_key("Đống Đa")))
    # A compound name is also said by either half.
    assert any(e.kind == "commune" for e in gazetteer.lookup(name_key("Văn Miếu")))
    assert set(gazetteer.keys(["former_district"])) >= {"dong da", "ba vi"}
