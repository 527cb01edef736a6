"""Parsing Vietnamese addresses: house number, lane, street, communes, old districts, localities."""

from __future__ import annotations

import pytest

from geo.geocode.address import parse_address
from geo.streets import street_key

# --------------------------------------------------------------------------------------------------
# Address parsing (real seat addresses from facts/commune_hq_2025.csv and branches.csv)


@pytest.mark.parametrize(
    ("address", "house", "lane", "street", "commune"),
    [
        ("Số 2, phố Trúc Bạch, phường Ba Đình", "2", None, "Trúc Bạch", "Ba Đình"),
        ("Số 525, phố Kim Mã, phường Giảng Võ", "525", None, "Kim Mã", "Giảng Võ"),
        ("Số 126 Hàng Trống, phường Hoàn Kiếm", "126", None, "Hàng Trống", "Hoàn Kiếm"),
        ("Số 270, đường Ngọc Thuỵ, phường Bồ Đề", "270", None, "Ngọc Thuỵ", "Bồ Đề"),
        ("Số 79A ngõ 25 Vũ Ngọc Phan, phường Láng", "79A", "ngõ 25", "Vũ Ngọc Phan", "Láng"),
        ("Số 2 ngõ 4B phố Đặng Văn Ngữ, phường Kim Liên", "2", "ngõ 4B", "Đặng Văn Ngữ", "Kim Liên"),
        ("Số 2/224 đường Hoàng Mai, phường Tương Mai", "2/224", "ngõ 224", "Hoàng Mai", "Tương Mai"),
        ("Số 8 ngõ 6 phố Bùi Huy Bích", "8", "ngõ 6", "Bùi Huy Bích", None),
        ("Phố Văn Hội, tổ dân phố số 2 phường Đông Ngạc", None, None, "Văn Hội", "Đông Ngạc"),
        ("Đường Dương Đức Hiền, thôn Cừ Keo, xã Thuận An", None, None, "Dương Đức Hiền", "Thuận An"),
        ("Số 10, đường 17/8, xã Quốc Oai", "10", None, "đường 17/8", "Quốc Oai"),
        ("Số 125 tỉnh lộ 422, xã Hoài Đức", "125", None, "tỉnh lộ 422", "Hoài Đức"),
        ("Số 01 đường Bích Hòa - Cao Viên, thôn Mùi, xã Bình Minh", "01", None, "Bích Hòa - Cao Viên", "Bình Minh"),
        ("Thôn Lũng Vân, xã An Khánh", None, None, None, "An Khánh"),
        ("Tổ dân phố Ngọa Long 2, phường Tây Tựu", None, None, None, "Tây Tựu"),
        ("Tổ 6, phường Phúc Lợi", None, None, None, "Phúc Lợi"),
        ("Số 99 thôn Nam Võng, xã Phúc Lộc", "99", None, None, "Phúc Lộc"),
        ("Lô C3, khu đô thị Văn Phú, phường Kiến Hưng", None, None, None, "Kiến Hưng"),
        ("197 Nghi Tàm, P. Yên Phụ, Q. Tây Hồ", "197", None, "Nghi Tàm", "Yên Phụ"),
        ("85 Dịch Vọng Hậu, Q. Cầu Giấy", "85", None, "Dịch Vọng Hậu", None),
        ("Ngõ 12 phố Trúc Bạch, phường Ba Đình", None, "ngõ 12", "Trúc Bạch", "Ba Đình"),
    ],
)
def test_parse_real_addresses(
    address: str, house: str | None, lane: str | None, street: str | None, commune: str | None
) -> None:
    parsed = parse_address(address)
    assert (parsed.house_number, parsed.lane, parsed.street, parsed.commune) == (house, lane, street, commune)
    assert parsed.street_ascii == (street_key(street) if street else None)


def test_parse_folds_and_normalises() -> None:
    decomposed = "So\u0302\u0301 2, pho\u0302\u0301 Tru\u0301c Ba\u0323ch"  # NFD input
    parsed = parse_address(decomposed)
    assert parsed.street == "Trúc Bạch" and parsed.street_ascii == "truc bach"
    assert parse_address("Số 2, phố Trúc Bạch").lane_street is None
    assert parse_address("Số 1 ngõ 282 đường Kim Giang").lane_street == "ngõ 282 Kim Giang"


def test_parse_old_units_districts_and_localities() -> None:
    xuan_la = parse_address("Tòa nhà Liên cơ 258 Võ Chí Công, P. Xuân La, Q. Tây Hồ")
    assert (xuan_la.house_number, xuan_la.street) == ("258", "Võ Chí Công")
    assert [(u.kind, u.name, u.district) for u in xuan_la.units] == [("phường", "Xuân La", "Tây Hồ")]
    nested = parse_address(
        "Tòa nhà Liên cơ A, 258 Võ Chí Công (old admin: P. Xuân La, Q. Tây Hồ; 2025 admin: P. Tây Hồ)"
    )
    assert [(u.name, u.district) for u in nested.units] == [("Xuân La", "Tây Hồ"), ("Tây Hồ", None)]
    assert parse_address("Thôn 4 - Hồng Kỳ, xã Trung Giã").localities == ("Hồng Kỳ",)
    assert parse_address("Thôn 3, Yên Bình, xã Yên Xuân").localities == ("Yên Bình",)
    assert parse_address("Thôn Vật Lại 3, xã Vật Lại").localities == ("Vật Lại",)
    sontay = parse_address("Phường Sơn Lộc, thị xã Sơn Tây")
    assert [(u.kind, u.name, u.district) for u in sontay.units] == [("phường", "Sơn Lộc", "Sơn Tây")]
