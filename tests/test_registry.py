"""Registry: the real data loads, each validation rule fails on its own small fixture, search works."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from geo.errors import DataValidationError, UnknownProcedure
from geo.registry import (
    KINDS,
    POINT_COLUMNS,
    PROCEDURE_COLUMNS,
    capabilities,
    find_procedure,
    load_procedure_groups,
    load_procedures,
    load_service_points,
    search_procedures,
)
from geo.settings import PROJECT_ROOT

FIXTURES = Path(__file__).parent / "fixtures" / "registry"
FIXTURE_LABEL = "tests/fixtures/registry"
Real = tuple[pd.DataFrame, dict[str, list[str]], pd.DataFrame]
FACTS_COMMUNES = PROJECT_ROOT.parent / "shared" / "data" / "facts" / "commune_hq_2025.csv"


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def real() -> Real:
    procedures = load_procedures()
    groups = load_procedure_groups(procedures=procedures)
    points = load_service_points(procedures=procedures, groups=groups)
    return procedures, groups, points


def test_real_procedures_load(real: Real) -> None:
    procedures, _, _ = real
    assert len(procedures) >= 60
    assert list(procedures.columns) == [*PROCEDURE_COLUMNS, "name_ascii"]
    assert procedures["code"].str.fullmatch(r"\d\.\d{6}").all()
    assert procedures["code"].is_unique
    birth = procedures.set_index("code").loc["1.001193"]
    assert birth["name_ascii"] == "thu tuc dang ky khai sinh"
    assert "commune_center" in birth["handled_at"].split("|")


def test_real_police_procedures_are_not_handled_at_pasc(
    real: Real,
) -> None:
    procedures, _, _ = real
    by_code = procedures.set_index("code")
    for code in ("1.004222", "1.014061", "1.001456", "3.000333", "3.000346", "1.012575"):
        assert by_code.loc[code, "handled_at"] == "", code
        assert "Công an" in by_code.loc[code, "agency"], code


def test_real_service_points_load(real: Real) -> None:
    _, _, points = real
    assert len(points) >= 130
    assert points["id"].is_unique
    assert set(points["kind"]) <= set(KINDS)
    communes = points[points["kind"] == "commune_center"]
    assert len(communes) == 126
    assert communes["commune_code"].is_unique
    assert (communes["id"] == "cs-" + communes["commune_code"]).all()
    assert {"cc-hanoi", "br-01", "br-02", "br-07", "ds-hbt-1", "ds-hbt-4"} <= set(points["id"])
    # Not places to go: the renovated HQ and the only-planned site.
    assert not points["address"].str.contains("Nghi Tàm|102 Hai Bà Trưng").any()
    assert points.loc[points["id"] == "cs-00235", "address"].item().startswith("Số 71 Tôn Đức Thắng")
    # Coordinates come from the locate step, and a derived point is never exact.
    assert points["lon"].notna().all() and points["lat"].notna().all()
    assert set(points["location_precision"]) == {"approximate"}
    assert set(points["location_method"]) <= {"street", "legacy_point", "commune_interior"}
    assert (points["hours_source"] == "assumed").all()


@pytest.mark.skipif(not FACTS_COMMUNES.exists(), reason="shared facts folder not present")
def test_one_commune_point_per_official_commune(
    real: Real,
) -> None:
    _, _, points = real
    facts = pd.read_csv(FACTS_COMMUNES, dtype=str, keep_default_na=False)
    communes = points[points["kind"] == "commune_center"]
    assert sorted(communes["commune_code"]) == sorted(facts["ma_xa"])


def test_real_capabilities_follow_handled_at(
    real: Real,
) -> None:
    procedures, groups, points = real
    caps = capabilities(points, procedures, groups)
    assert list(caps.columns) == ["point_id", "procedure_code"]
    assert not caps.duplicated().any()
    kind_of = dict(zip(points["id"], points["kind"], strict=True))
    handled = {c: set(h.split("|")) - {""} for c, h in zip(procedures["code"], procedures["handled_at"], strict=True)}
    # Every point of a kind handles every procedure whose handled_at names that kind, and nothing else.
    for pid, kind in kind_of.items():
        expected = {c for c, kinds in handled.items() if kind in kinds}
        assert set(caps.loc[caps["point_id"] == pid, "procedure_code"]) == expected, pid
    assert caps.loc[caps["procedure_code"] == "1.004222"].empty  # police only
    assert set(caps.loc[caps["procedure_code"] == "1.001193", "point_id"]) >= {
        "cc-hanoi",
        "br-02",
        "cs-00004",
    }


def test_procedure_codes_column_expands_groups(
    real: Real,
) -> None:
    _, groups, points = real
    branch = points.set_index("id").loc["br-01", "procedure_codes"]
    assert branch == groups["commune_level"] + groups["city_level"]
    assert points.set_index("id").loc["ds-hbt-1", "procedure_codes"] == []


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fx_procedures() -> pd.DataFrame:
    return load_procedures(FIXTURES / "procedures.csv")


@pytest.fixture(scope="module")
def fx_groups(fx_procedures: pd.DataFrame) -> dict[str, list[str]]:
    return load_procedure_groups(FIXTURES / "procedure_groups.csv", fx_procedures)


def test_good_fixtures_load(fx_procedures: pd.DataFrame, fx_groups: dict[str, list[str]]) -> None:
    assert fx_groups == {"commune_level": ["1.001193"], "city_level": ["1.012783"]}
    points = load_service_points(FIXTURES / "service_points.csv", fx_procedures, fx_groups)
    assert points["procedure_codes"].tolist() == [["1.001193", "1.012783"], ["1.001193"], []]
    assert points["commune_code"].tolist() == ["00004"] * 3
    assert points["location_detail"].tolist() == [""] * 3  # optional column, absent from this file
    located = load_service_points(
        FIXTURES / "service_points_located.csv", fx_procedures, fx_groups, require_coordinates=True
    )
    assert located["lon"].dtype == "float64" and math.isclose(located["lat"].iloc[1], 21.044)
    assert located["location_detail"].iloc[1].startswith("on Phố Trúc Bạch")
    assert list(located.columns) == [*POINT_COLUMNS, "name_ascii", "procedure_codes"]
    caps = capabilities(located, fx_procedures, fx_groups)
    assert caps.values.tolist() == [
        ["cc-test", "1.001193"],
        ["cc-test", "1.012783"],
        ["cs-00004", "1.001193"],
    ]


def _problems(call: Callable[[], Any]) -> list[Any]:
    with pytest.raises(DataValidationError) as info:
        call()
    return info.value.problems


PROCEDURE_CASES = [
    ("procedures_missing_column.csv", 1, None, "missing column(s): confidence"),
    ("procedures_extra_column.csv", 1, None, "unexpected column(s): comment"),
    ("procedures_bad_code.csv", 3, "1.01278", "malformed procedure code"),
    ("procedures_duplicate_code.csv", 4, "1.001193", "duplicate procedure code 1.001193 (first at row 2)"),
    ("procedures_empty_name.csv", 3, "1.012783", "empty name"),
    ("procedures_bad_handled_at.csv", 3, "1.012783", "handled_at kind 'post_office'"),
    ("procedures_bad_enum.csv", 3, "1.012783", "boundary_free 'maybe'"),
    ("procedures_bad_level.csv", 3, "1.012783", "level 'Cấp huyện'"),
    ("procedures_in_person_conflict.csv", 3, "1.012783", "in_person is 'no'"),
]


@pytest.mark.parametrize(("name", "row", "id_", "message"), PROCEDURE_CASES)
def test_procedure_rule(name: str, row: int, id_: str | None, message: str) -> None:
    problems = _problems(lambda: load_procedures(FIXTURES / name))
    assert len(problems) == 1, problems
    (p,) = problems
    assert p.file == f"{FIXTURE_LABEL}/{name}" and p.row == row and p.id == id_
    assert message in p.message
    assert f"{FIXTURE_LABEL}/{name}:{row}" in str(p)


GROUP_CASES = [
    ("groups_missing_column.csv", 1, None, "missing column(s): source"),
    ("groups_unknown_code.csv", 4, "city_level:1.999999", "unknown procedure code 1.999999"),
    ("groups_malformed_code.csv", 4, "city_level:1999999", "malformed procedure code"),
    ("groups_duplicate_member.csv", 4, "commune_level:1.001193", "listed twice in group commune_level"),
    ("groups_bad_name.csv", 4, "City Level:1.012783", "malformed group name"),
]


@pytest.mark.parametrize(("name", "row", "id_", "message"), GROUP_CASES)
def test_group_rule(fx_procedures: pd.DataFrame, name: str, row: int, id_: str | None, message: str) -> None:
    problems = _problems(lambda: load_procedure_groups(FIXTURES / name, fx_procedures))
    assert len(problems) == 1, problems
    (p,) = problems
    assert p.file == f"{FIXTURE_LABEL}/{name}" and p.row == row and p.id == id_
    assert message in p.message


POINT_CASES = [
    ("points_missing_column.csv", 1, None, "missing column(s): hours_source"),
    ("points_extra_column.csv", 1, None, "unexpected column(s): phone"),
    ("points_duplicate_id.csv", 4, "cs-00004", "duplicate point id cs-00004 (first at row 3)"),
    ("points_bad_id.csv", 3, "CS 00004", "malformed id"),
    ("points_unknown_kind.csv", 3, "cs-00004", "unknown kind 'post_office'"),
    ("points_unknown_code.csv", 3, "cs-00004", "unknown procedure code 1.999999 in services"),
    ("points_unknown_group.csv", 3, "cs-00004", "unknown procedure group @ward_level"),
    ("points_malformed_service.csv", 3, "cs-00004", "malformed services entry 'khai sinh'"),
    ("points_bad_commune_code.csv", 3, "cs-00004", "commune_code '4' is not 5 digits"),
    ("points_bad_precision.csv", 3, "cs-00004", "location_precision 'rough'"),
    ("points_derived_exact.csv", 3, "cs-00004", "location derived by street cannot be 'exact'"),
    ("points_bad_method.csv", 3, "cs-00004", "location_method 'geocoder'"),
    ("points_lonlat_not_numeric.csv", 3, "cs-00004", "lon/lat not numeric"),
    ("points_outside_hanoi.csv", 3, "cs-00004", "outside Hanoi"),
    ("points_half_coordinates.csv", 3, "cs-00004", "only one of lon/lat"),
    ("points_precision_without_coordinates.csv", 3, "cs-00004", "given without lon/lat"),
    ("points_empty_name.csv", 3, "cs-00004", "empty name"),
    ("points_empty_address.csv", 3, "cs-00004", "empty address"),
    ("points_bad_hours_source.csv", 3, "cs-00004", "hours_source 'guessed'"),
    (
        "points_kind_mismatch.csv",
        3,
        "cs-00004",
        "not handled at kind commune_center (see handled_at): 1.012783",
    ),
    (
        "points_police_at_commune.csv",
        3,
        "cs-00004",
        "not handled at kind commune_center (see handled_at): 1.004222",
    ),
]


@pytest.mark.parametrize(("name", "row", "id_", "message"), POINT_CASES)
def test_point_rule(
    fx_procedures: pd.DataFrame,
    fx_groups: dict[str, list[str]],
    name: str,
    row: int,
    id_: str | None,
    message: str,
) -> None:
    problems = _problems(lambda: load_service_points(FIXTURES / name, fx_procedures, fx_groups))
    assert len(problems) == 1, problems
    (p,) = problems
    assert p.file == f"{FIXTURE_LABEL}/{name}" and p.row == row and p.id == id_
    assert message in p.message
    assert f"{FIXTURE_LABEL}/{name}:{row} [{id_}]" in str(p) if id_ else f"{name}:{row}" in str(p)


def test_all_point_problems_are_reported_together(fx_procedures: pd.DataFrame, fx_groups: dict[str, list[str]]) -> None:
    problems = _problems(lambda: load_service_points(FIXTURES / "points_many_problems.csv", fx_procedures, fx_groups))
    assert [(p.row, p.id) for p in problems] == [(2, "cc-test"), (3, "cs-00004"), (4, "ds-test-1")]
    assert "unknown kind 'castle'" in problems[0].message
    assert "not 5 digits" in problems[1].message
    assert "unknown procedure group @nope" in problems[2].message


def test_require_coordinates(fx_procedures: pd.DataFrame, fx_groups: dict[str, list[str]]) -> None:
    problems = _problems(
        lambda: load_service_points(FIXTURES / "service_points.csv", fx_procedures, fx_groups, require_coordinates=True)
    )
    assert [p.row for p in problems] == [2, 3, 4]
    assert all("no coordinates" in p.message for p in problems)


def test_unknown_commune_code_when_codes_given(fx_procedures: pd.DataFrame, fx_groups: dict[str, list[str]]) -> None:
    problems = _problems(
        lambda: load_service_points(FIXTURES / "service_points.csv", fx_procedures, fx_groups, commune_codes={"00008"})
    )
    assert len(problems) == 3 and "unknown commune_code 00004" in problems[0].message


def test_missing_file_is_a_problem(tmp_path: Path) -> None:
    problems = _problems(lambda: load_procedures(tmp_path / "nope.csv"))
    assert problems[0].message == "file not found"


def test_capabilities_cross_checks_kind(fx_procedures: pd.DataFrame, fx_groups: dict[str, list[str]]) -> None:
    points = load_service_points(FIXTURES / "service_points.csv", fx_procedures, fx_groups)
    points.loc[2, "services"] = "1.012783"  # a digital support station taking a land procedure
    problems = _problems(lambda: capabilities(points, fx_procedures, fx_groups))
    assert len(problems) == 1
    assert (problems[0].row, problems[0].id) == (4, "ds-test-1")
    assert "digital_support_station" in problems[0].message


# --------------------------------------------------------------------------- search


def test_search_folded_name_exact_first(
    real: Real,
) -> None:
    procedures, _, _ = real
    found = search_procedures("dang ky khai sinh", procedures)
    assert found["code"].iloc[0] == "1.001193"
    assert found["match"].iloc[0] == "exact_name"
    assert len(found) > 1 and (found["match"].iloc[1:] != "exact_name").all()
    assert search_procedures("Đăng ký khai sinh", procedures)["code"].iloc[0] == "1.001193"


def test_search_exact_code(real: Real) -> None:
    procedures, _, _ = real
    found = search_procedures("1.001193", procedures)
    assert found["code"].tolist() == ["1.001193"]
    assert found["match"].iloc[0] == "exact_code"
    assert search_procedures("1.0011", procedures)["code"].iloc[0] == "1.001193"


def test_search_typo(real: Real) -> None:
    procedures, _, _ = real
    found = search_procedures("dang ki khai sinh", procedures, limit=3)
    assert found["code"].iloc[0] == "1.001193"
    assert len(found) <= 3


def test_search_words_and_nothing(real: Real) -> None:
    procedures, _, _ = real
    assert search_procedures("ho chieu", procedures)["code"].tolist() == ["1.001456"]
    assert search_procedures("zzzz qqqq", procedures).empty
    assert search_procedures("  ", procedures).empty


def test_find_procedure(real: Real) -> None:
    procedures, _, _ = real
    assert find_procedure("1.001193", procedures)["name"] == "Thủ tục đăng ký khai sinh"
    assert find_procedure("dang ky khai sinh", procedures)["code"] == "1.001193"
    assert find_procedure("Thủ tục Đăng ký khai sinh", procedures)["code"] == "1.001193"
    assert find_procedure(" đăng  ký kết hôn ", procedures)["code"] == "1.000894"


def test_find_procedure_unknown_suggests(
    real: Real,
) -> None:
    procedures, _, _ = real
    with pytest.raises(UnknownProcedure) as info:
        find_procedure("dang ki khai sinh", procedures)
    suggestions = info.value.extra["suggestions"]
    assert suggestions[0] == "1.001193" and 1 <= len(suggestions) <= 3
    assert "did you mean: 1.001193" in info.value.detail
    with pytest.raises(UnknownProcedure) as info:
        find_procedure("9.999999", procedures)
    assert "unknown procedure '9.999999'" in info.value.detail
    with pytest.raises(UnknownProcedure):
        find_procedure("", procedures)


def test_find_procedure_ambiguous_name() -> None:
    procedures = load_procedures(FIXTURES / "procedures_same_name.csv")
    with pytest.raises(UnknownProcedure) as info:
        find_procedure("dang ky khai sinh", procedures)
    assert sorted(info.value.extra["suggestions"]) == ["1.001193", "1.004222"]
    assert find_procedure("1.004222", procedures)["name"] == "Đăng ký khai sinh"
