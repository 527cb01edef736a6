"""The procedure catalogue: scope rule, detail-page parser, agency rules, authored disagreements.

Fixture pages under tests/fixtures/catalogue/ (one per shape: full, fallback, broken, odd table, "Không có
thông tin" everywhere); the real-mirror tests read the pinned catalogue and its 2,104 pages.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geo.catalogue import (
    AGENCY_RULES_FILE,
    CatalogueRecord,
    CatalogueReport,
    authored_disagreements,
    build_catalogue,
    issuer_scope,
    load_agency_rules,
    place_procedure,
)
from geo.errors import DataValidationError
from geo.procedure_detail import detail_path, parse_detail, parse_detail_file
from geo.registry import load_procedures
from geo.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "catalogue"
PAGES = FIXTURES / "raw_data"
COMMUNE_KINDS = ("city_center", "branch", "intake_point", "commune_center")
CITY_KINDS = ("city_center", "branch", "intake_point")


@pytest.fixture(scope="module")
def fixture_catalogue(settings: Settings) -> tuple[dict[str, CatalogueRecord], CatalogueReport]:
    records, report = build_catalogue(
        settings, catalogue_csv=FIXTURES / "full-data.csv", pages=sorted(PAGES.glob("*/*_procedure_detail.md"))
    )
    return {r.code: r for r in records}, report


@pytest.fixture(scope="module")
def real_catalogue(settings: Settings) -> tuple[dict[str, CatalogueRecord], CatalogueReport]:
    records, report = build_catalogue(settings)
    return {r.code: r for r in records}, report


# ------------------------------------------------------------------ scope and rows


def test_scope_keeps_national_and_hanoi_and_counts_the_rest(fixture_catalogue) -> None:
    records, report = fixture_catalogue
    assert report.rows_read == 11
    assert set(records) == {
        "1.001193",
        "1.000002",
        "1.000003",
        "1.000004",
        "1.000005",
        "1.004222",
        "1.000010",
        "1.013337",
    }
    assert report.kept == 8 and report.kept_by_scope == {"national": 7, "hanoi": 1}
    assert report.left_out == {"local procedure of another province": 2, "duplicate code": 1}
    assert records["1.000010"].scope == "hanoi"


def test_duplicate_code_is_reported_and_the_first_row_kept(fixture_catalogue) -> None:
    records, report = fixture_catalogue
    (dup,) = report.duplicates
    assert dup.id == "1.004222" and dup.row == 11 and "first at row 7" in dup.message
    assert records["1.004222"].name == "Đăng ký thường trú"


def test_blank_issuer_is_kept_as_national_with_a_remark(fixture_catalogue) -> None:
    records, report = fixture_catalogue
    assert records["1.013337"].scope == "national"
    assert [(p.id, p.column) for p in report.row_problems] == [("1.013337", "Cơ quan ban hành")]


@pytest.mark.parametrize(
    ("issuer", "scope"),
    [
        ("Bộ Tư pháp", "national"),
        ("Ngân hàng Nhà nước Việt Nam", "national"),
        ("Tòa án nhân dân", "national"),
        ("UBND Thành phố Hà Nội", "hanoi"),
        ("Trung tâm phục vụ hành chính công Thành phố Hà Nội", "hanoi"),
        ("UBND tỉnh Bắc Ninh", None),
        ("UBND Thành phố Hải Phòng", None),
        ("Sở Xây dựng - tỉnh Quảng Ngãi", None),
    ],
)
def test_issuer_scope(issuer: str, scope: str | None) -> None:
    assert issuer_scope(issuer)[0] == scope


# ------------------------------------------------------------------ detail pages


def test_full_page_channels_with_time_fee_and_not_stated(fixture_catalogue) -> None:
    detail = fixture_catalogue[0]["1.001193"].detail
    assert detail is not None and detail.shape == "full"
    online, post, in_person = detail.channels
    assert (online.kind, online.time, online.days, online.working_days, online.fee) == (
        "online",
        "1 ngày",
        1.0,
        False,
        None,
    )
    assert online.description is None  # "Không có thông tin"
    assert (post.kind, post.time, post.days, post.working_days) == ("post", "5 ngày làm việc", 5.0, True)
    assert post.fee == "Lệ phí: 8.000 Đồng"
    assert post.description == "Nộp qua bưu điện.\nNhận kết quả tại nhà."
    assert in_person.kind == "in_person"


def test_full_page_general_information(fixture_catalogue) -> None:
    detail = fixture_catalogue[0]["1.001193"].detail
    assert detail is not None
    assert detail.levels == ("Cấp xã",)
    assert detail.field == "Hộ tịch"
    assert detail.applicants == ("Công dân Việt Nam", "Tổ chức (không bao gồm doanh nghiệp, HTX)")
    assert detail.decision == "163/QĐ-BTP"
    assert detail.agencies == ()
    assert [(b.title, b.number) for b in detail.legal_basis] == [
        ("Luật Hộ tịch", "60/2014/QH13"),
        ("Nghị định 123/2015/NĐ-CP", None),
    ]


def test_wrapped_rows_are_joined_and_roles_follow_headings(fixture_catalogue) -> None:
    detail = fixture_catalogue[0]["1.001193"].detail
    assert detail is not None
    submit = [d for d in detail.documents if d.role == "submit"]
    names = [d.name for d in submit]
    assert names[0] == "Tờ khai đăng ký khai sinh theo mẫu" and submit[0].form == "Mẫu tờ khai.docx"
    # a row that starts mid-sentence continues the row before it
    assert names[1].endswith("thì phải có giấy cam đoan về việc sinh.")
    assert (submit[1].originals, submit[1].copies) == (1, 0)
    # "+" sub-items continue a row ending with ":"; counts are the largest of the rows
    assert names[2] == (
        "Chứng cứ chứng minh quan hệ mẹ, con gồm: + Văn bản của cơ sở y tế + Văn bản của cơ quan giám định"
    )
    assert (submit[2].originals, submit[2].copies) == (1, 1)
    # an enumerated row ("a)") starts a new document even though it is lower case
    assert names[3] == "a) Văn bản ủy quyền, nếu có"
    assert [d.name for d in detail.documents if d.role == "show"] == ["Hộ chiếu hoặc Thẻ căn cước"]
    assert detail.notes == ("Người tiếp nhận không được yêu cầu nộp thêm giấy tờ.",)
    case = submit[-1]
    assert case.name == "Giấy tờ chứng minh việc trẻ em nhập cảnh"
    assert case.condition == "b) Đối với trường hợp trẻ em sinh ra ở nước ngoài"
    assert all(d.condition is None for d in submit[:-1])


def test_fallback_page_flattened_text(fixture_catalogue) -> None:
    record = fixture_catalogue[0]["1.000002"]
    detail = record.detail
    assert detail is not None and detail.shape == "fallback"
    assert detail.levels == () and detail.field == "Việc làm" and detail.agencies == ("Cục Việc làm",)
    by_kind = {c.kind: c for c in detail.channels}
    assert set(by_kind) == {"in_person", "online", "post"}
    assert (by_kind["in_person"].time, by_kind["in_person"].days, by_kind["in_person"].fee) == (
        "03 ngày làm việc",
        3.0,
        "Phí: 500000 Đồng",
    )
    assert by_kind["in_person"].description == "Nộp hồ sơ trực tiếp tại Cục Việc làm."
    assert (by_kind["post"].days, by_kind["post"].working_days) == (5.0, False)
    assert [(d.name, d.originals, d.copies, d.form) for d in detail.documents] == [
        ("Văn bản đề nghị cấp giấy phép lao động", 1, 0, "Mau11.docx"),
        ("Bản sao hộ chiếu còn giá trị", 0, 1, None),
    ]
    # the page's agency places it (the catalogue row names none)
    assert record.placement.place == "not_at_pasc" and record.placement.agency == "Cục Việc làm"


def test_broken_page_is_a_problem_and_the_row_stays(fixture_catalogue) -> None:
    records, report = fixture_catalogue
    record = records["1.000003"]
    assert record.detail is None
    assert record.placement.handled_at == CITY_KINDS  # from the catalogue row: Sở Tư pháp
    (problem,) = [p for p in report.parse_problems if p.id == "1.000003"]
    assert problem.file.endswith("1_000003_procedure_detail.md")
    assert problem.context["section"] == "Thông tin chung" and "not a detail page" in problem.message


def test_odd_table_rows_are_problems_with_their_section(fixture_catalogue) -> None:
    records, report = fixture_catalogue
    problems = [(p.context["section"], p.message) for p in report.parse_problems if p.id == "1.000004"]
    assert ("Cách thức thực hiện", "Cách thức thực hiện: unknown channel 'Qua fax'") in problems
    assert any(s == "Cách thức thực hiện" and "3 cells" in m for s, m in problems)
    assert any(s == "Thành phần hồ sơ" and "'một' is not a number" in m for s, m in problems)
    detail = records["1.000004"].detail
    assert detail is not None and detail.channels == () and detail.documents[0].originals is None
    assert detail.levels == ("Cấp tỉnh", "Cấp bộ/ngành") and detail.applicants == ()
    assert records["1.000004"].placement.rule == "level-province"  # the first level rule that matches


def test_page_that_says_nothing_parses_to_empty_fields(fixture_catalogue) -> None:
    records, report = fixture_catalogue
    detail = records["1.000005"].detail
    assert detail is not None
    assert (detail.levels, detail.channels, detail.documents, detail.agencies) == ((), (), (), ())
    assert not [p for p in report.parse_problems if p.id == "1.000005"]
    assert records["1.000005"].placement.place == "unknown"
    assert report.with_details == 4  # five pages, one broken


def test_page_code_must_match_its_folder() -> None:
    text = (PAGES / "1_000005" / "1_000005_procedure_detail.md").read_text(encoding="utf-8")
    detail, problems = parse_detail(text, "x.md", "9.999999")
    assert detail is not None
    assert [p.message for p in problems] == ["Thông tin chung: Mã thủ tục '1.000005' is not the folder's code 9.999999"]


def test_unreadable_page_is_a_problem(tmp_path: Path) -> None:
    detail, problems = parse_detail_file(tmp_path / "absent.md", "1.000001")
    assert detail is None and problems[0].context["section"] == "page"


def test_detail_path_uses_underscores() -> None:
    assert detail_path("1.001193", Path("r")) == Path("r/1_001193/1_001193_procedure_detail.md")


# ------------------------------------------------------------------ agency rules


def test_rules_place_procedures_first_match_wins(settings: Settings) -> None:
    rules = load_agency_rules(settings.data_dir / AGENCY_RULES_FILE)
    commune = place_procedure(rules, agencies=["Công an cấp Xã", "Ủy ban nhân dân cấp xã"])
    assert (commune.place, commune.handled_at, commune.rule) == ("pasc", COMMUNE_KINDS, "commune-people-committee")
    police = place_procedure(rules, agencies=["Công an cấp Xã"])
    assert (police.place, police.agency, police.handled_at) == ("not_at_pasc", "Công an cấp Xã", ())
    assert place_procedure(rules, agencies=["Sở Y tế"]).handled_at == CITY_KINDS
    assert place_procedure(rules, agencies=["Uỷ ban nhân dân cấp tỉnh"]).handled_at == CITY_KINDS
    assert place_procedure(rules, agencies=["Thuế cơ sở"]).agency == "Thuế cơ sở"
    assert place_procedure(rules, agencies=["Bảo hiểm xã hội tỉnh"]).place == "not_at_pasc"
    assert place_procedure(rules, agencies=["Cơ sở giáo dục"]).rule == "schools"
    central = place_procedure(rules, levels=["Cấp bộ/ngành"], issuer="Bộ Y tế")
    assert (central.place, central.agency) == ("not_at_pasc", "Bộ Y tế (central)")
    assert place_procedure(rules, issuer="Bộ Công an").rule == "issuer-police"
    assert place_procedure(rules, agencies=["Cơ quan khác"], issuer="Bộ Y tế").place == "unknown"


def test_every_rule_has_a_source_and_valid_vocabulary(settings: Settings) -> None:
    rules = load_agency_rules(settings.data_dir / AGENCY_RULES_FILE)
    assert len({r.id for r in rules}) == len(rules) > 20
    assert all(r.source for r in rules)
    points = pd.read_csv(settings.data_dir / "service_points.csv", dtype=str, keep_default_na=False)
    used = {k for r in rules for k in r.handled_at}
    assert used <= set(points["kind"]) | {"intake_point"}  # the kinds of procedures.csv's handled_at


def test_bad_rules_are_reported_with_row_and_column(tmp_path: Path, settings: Settings) -> None:
    good = (settings.data_dir / AGENCY_RULES_FILE).read_text(encoding="utf-8").splitlines()
    bad = [
        good[0],
        "x-rule,agency,(unclosed,pasc,city_center,,high,src,",
        "Bad_Id,colour,sở,pasc,,,sure,,",
        "y-rule,agency,sở,not_at_pasc,commune_center,,high,src,",
    ]
    path = tmp_path / "rules.csv"
    path.write_text("\n".join(bad) + "\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        load_agency_rules(path)
    found = {(p.row, p.column) for p in err.value.problems}
    assert {
        (2, "pattern"),
        (3, "id"),
        (3, "applies_to"),
        (3, "handled_at"),
        (3, "confidence"),
        (3, "source"),
        (4, "agency"),
    } <= found


# ------------------------------------------------------------------ the authored layer


def test_disagreements_with_the_authored_rows(fixture_catalogue) -> None:
    records, _ = fixture_catalogue
    authored = pd.DataFrame(
        [
            {
                "code": "1.001193",
                "name": "Đăng ký khai sinh",
                "field": "Hộ tịch",
                "level": "Cấp xã",
                "handled_at": "|".join(COMMUNE_KINDS),
            },
            {
                "code": "1.004222",
                "name": "Đăng ký thường trú",
                "field": "Cư trú",
                "level": "Cấp tỉnh",
                "handled_at": "commune_center",
            },
            {
                "code": "1.115753",
                "name": "Thủ tục đất đai của Lạng Sơn",
                "field": "Đất đai",
                "level": "",
                "handled_at": "",
            },
        ]
    )
    found = authored_disagreements(list(records.values()), authored)
    assert [(p.row, p.id, p.column) for p in found] == [
        (3, "1.004222", "field"),
        (3, "1.004222", "handled_at"),
        (4, "1.115753", "code"),
    ]
    assert found[1].context["catalogue"] == "not at PASC (Công an cấp Xã)"


# ------------------------------------------------------------------ the real mirror


def test_real_catalogue_counts(real_catalogue) -> None:
    records, report = real_catalogue
    assert report.rows_read == 5608
    assert report.kept == len(records) == 4767
    assert report.kept_by_scope == {"national": 4735, "hanoi": 32}
    assert report.left_out == {"local procedure of another province": 841}
    assert report.duplicates == []
    assert report.with_details == 1535
    assert report.parse_problems == []


def test_real_birth_registration_documents_and_channels(real_catalogue) -> None:
    record = real_catalogue[0]["1.001193"]
    assert record.detail is not None and record.name == "Thủ tục đăng ký khai sinh"
    submit = [d.name for d in record.detail.documents if d.role == "submit"]
    assert any(name.startswith("Giấy chứng sinh; trường hợp không có Giấy chứng sinh") for name in submit)
    assert any("Hộ chiếu/Thẻ căn cước" in d.name for d in record.detail.documents if d.role == "show")
    assert [(c.kind, c.time) for c in record.detail.channels] == [
        ("online", "1 ngày"),
        ("post", "1 ngày"),
        ("in_person", "1 ngày"),
    ]
    assert record.placement.handled_at == COMMUNE_KINDS


def test_real_rule_coverage(real_catalogue) -> None:
    records, report = real_catalogue
    # measured 93.7 % (4,466 of 4,767): the rest name no agency, have no detail page and no hint in name or field
    assert report.known_share >= 0.93
    assert report.by_place["pasc"] > 1500 and report.by_place["not_at_pasc"] > 2000
    assert records["1.004222"].placement.place == "not_at_pasc"


def test_real_authored_rows_mostly_agree(real_catalogue) -> None:
    found = authored_disagreements(list(real_catalogue[0].values()), load_procedures())
    assert {p.column for p in found} <= {"handled_at", "level", "name", "field", "code"}
    assert len(found) < 10
