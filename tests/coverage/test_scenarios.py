"""Places and scenarios (geo.coverage.scenarios): edits measured on the fixture, row-by-row validation."""

from __future__ import annotations

import json

import pytest

from geo.coverage import Change, CoverageEngine, apply_changes, before_facilities, parse_changes, read_scenario
from geo.errors import DataValidationError, OutsideServiceArea


def test_a_scenario_changes_only_what_it_touches(  # type: ignore[no-untyped-def]
    engine: CoverageEngine, places, fixtures_dir, fixture_procedure
) -> None:
    changes = read_scenario(fixtures_dir / "scenario.csv")
    assert [c.action for c in changes] == ["add", "move"]
    after = engine.measure(apply_changes(places, changes), "straight", 400.0, "scenario")
    before = engine.measure(places, "straight", 400.0)
    report = engine.report(fixture_procedure, after, before, changes)
    table = report.table().set_index("name")
    assert table.loc["Beta", "share"] == 0.75 and table.loc["Beta", "delta_share"] == 0.75
    assert table.loc["Beta", "served_by"] == "N1"
    assert table.loc["Alpha", "delta_share"] == 0.0 and table.loc["Gamma", "delta_share"] == 0.0
    assert report.totals()["delta_covered_population"] == 2400
    assert report.compare == "scenario"


def test_closing_every_place_gives_zero(engine: CoverageEngine, places, fixture_procedure) -> None:  # type: ignore[no-untyped-def]
    closed = apply_changes(places, [Change("close", pid) for pid in places["id"]])
    result = engine.measure(closed, "straight", 400.0)
    assert len(closed) == 0
    assert (result.communes["share"] == 0).all()
    assert result.communes["mean_cost"].isna().all() and result.communes["served_by"].isna().all()
    assert result.totals["share"] == 0 and result.totals["mean_cost"] is None
    # JSON has no NaN or infinity in it.
    body = json.dumps(engine.report(fixture_procedure, result).to_json(), allow_nan=False)
    assert '"share": 0.0' in body


def test_scenario_validation_names_every_bad_row(places, fixtures_dir) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataValidationError) as info:
        read_scenario(fixtures_dir / "scenario_bad.csv")
    # Every problem at once, as file, row (the line: the header is row 1), column and what.
    where = sorted((p.row, p.column) for p in info.value.problems)
    assert where == [(2, "action"), (3, "lon"), (4, "id")]
    assert {p.file for p in info.value.problems} == {str(fixtures_dir / "scenario_bad.csv")}
    assert str(info.value.problems[0]).startswith(f"{fixtures_dir / 'scenario_bad.csv'}:2 [N1] action: ")
    with pytest.raises(DataValidationError, match="already exists"):
        apply_changes(places, parse_changes([{"action": "add", "id": "P1", "lon": 105.8, "lat": 21.0}]))
    with pytest.raises(DataValidationError, match="no place with id"):
        apply_changes(places, [Change("close", "nope")])
    with pytest.raises(OutsideServiceArea):
        apply_changes(places, [Change("add", "X", 0.0, 0.0)], inside=lambda lon, lat: False)


def test_procedure_not_handled_at_communes_has_branches_only_before(index) -> None:  # type: ignore[no-untyped-def]
    procs = index.procedures
    city = procs[(procs["handled_at"] != "") & ~procs["handled_at"].str.contains("commune_center")]
    assert len(city)
    before = before_facilities(index, str(city["code"].iat[0]))
    assert set(before["kind"]) <= {"branch", "intake_point"}
