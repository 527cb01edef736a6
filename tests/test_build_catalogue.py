"""The national catalogue in the build: counts in ``build --json``, capabilities by place rule, bad input.

A broken agency rule or synonym row fails the build with file and row and the previous index keeps
serving; a detail page that does not parse is reported with file and section and its procedure keeps
its catalogue row.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from geo.build import build_index
from geo.catalogue import build_catalogue
from geo.errors import DataValidationError
from geo.index import read_index
from geo.settings import Settings
from geo.sources import paths_of_group


@pytest.fixture()
def scratch(tmp_path: Path, settings: Settings) -> Settings:
    """A copy of the authored data and an empty build folder."""
    data = tmp_path / "data"
    shutil.copytree(settings.data_dir, data, ignore=shutil.ignore_patterns("upstream"))
    return Settings(
        data_dir=data,
        build_dir=tmp_path / "build",
        upstream_dir=settings.upstream_dir,
        data_mirror=settings.data_mirror,
    )


def test_build_summary_reports_the_catalogue(index) -> None:
    summary = index.manifest["summary"]
    assert summary["procedures"] >= 4000
    assert summary["procedures_with_details"] >= 1500
    catalogue = summary["catalogue"]
    assert catalogue["kept"] >= 4700 and catalogue["left_out"]["local procedure of another province"] > 800
    assert catalogue["known_place"] == summary["procedures_known_place"]
    assert 0.95 <= catalogue["known_place_share"] <= 1  # aim of issue 12, with the reviewed rules
    assert isinstance(catalogue["parse_problems"], list) and isinstance(catalogue["authored_disagreements"], list)
    for problem in catalogue["authored_disagreements"]:
        assert problem["file"] == "data/procedures.csv" and problem["row"] >= 2 and problem["code"]


def test_authored_rows_win_and_catalogue_rows_follow(index) -> None:
    procedures = index.procedures
    assert procedures["code"].is_unique
    authored = procedures[procedures["layer"] == "authored"]
    assert len(authored) == 75 and authored.index.max() == 74  # the reviewed rows first
    birth = procedures[procedures["code"] == "1.001193"].iloc[0]
    assert birth["layer"] == "authored" and birth["portal_url"].startswith("https://dichvucong.gov.vn/")


def test_catalogue_procedures_get_capabilities_by_their_place_rule(index) -> None:
    procedures = index.procedures.set_index("code")
    caps = index.capabilities
    kinds = index.service_points.set_index("id")["kind"]
    karaoke = caps[caps["procedure_code"] == "1.001029"]["point_id"]  # a city department: centre + branches
    assert set(kinds[karaoke]) == set(procedures.loc["1.001029", "handled_at"].split("|")) & set(kinds)
    assert caps[caps["procedure_code"] == "1.015002"].empty  # a trademark: the central IP office
    assert not caps.duplicated().any()


def test_broken_agency_rule_fails_the_build_and_the_previous_index_serves(scratch: Settings) -> None:
    first = build_index(scratch)
    rules = scratch.data_dir / "agency_rules.csv"
    frame = pd.read_csv(rules, dtype=str, keep_default_na=False)
    frame.loc[2, "pattern"] = "(unclosed"
    frame.loc[4, "place"] = "somewhere"
    frame.to_csv(rules, index=False)
    with pytest.raises(DataValidationError) as caught:
        build_index(scratch)
    text = [str(p) for p in caught.value.problems]
    assert any("agency_rules.csv:4" in t and "pattern" in t for t in text), text
    assert any("agency_rules.csv:6" in t and "place" in t for t in text), text
    assert read_index(settings=scratch).path == first.path


def test_broken_synonym_row_fails_the_build(scratch: Settings) -> None:
    path = scratch.data_dir / "procedure_synonyms.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[len(frame)] = ["một cụm từ mới", "9.999999", "a code no catalogue has"]
    frame.to_csv(path, index=False)
    with pytest.raises(DataValidationError) as caught:
        build_index(scratch, write=False)
    assert any("unknown procedure code 9.999999" in str(p) for p in caught.value.problems)


def test_a_detail_page_that_does_not_parse_is_reported_and_keeps_its_row(settings: Settings, tmp_path: Path) -> None:
    pages = paths_of_group("procedure-details", settings)
    page = next(p for p in pages if p.parent.name == "1_001193")
    broken = tmp_path / "1_001193" / page.name
    broken.parent.mkdir()
    broken.write_text("# Không phải trang chi tiết\n\nchỉ có một dòng.\n", encoding="utf-8")
    records, report = build_catalogue(settings, pages=[broken, *[p for p in pages if p != page][:20]])
    birth = next(r for r in records if r.code == "1.001193")
    assert birth.detail is None and birth.name == "Thủ tục đăng ký khai sinh"
    problem = next(p for p in report.parse_problems if p.id == "1.001193")
    assert problem.file.endswith("1_001193_procedure_detail.md") and problem.context["section"] == "Thông tin chung"
