"""gandan build: the real summary, errors with file and row, and the atomic swap of the index."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from geo.build import build_index
from geo.errors import DataValidationError
from geo.index import read_index
from geo.settings import Settings


def test_real_build_summary(index) -> None:
    summary = index.manifest["summary"]
    assert summary["communes"] == 126
    assert summary["wards"] == 51 and summary["rural_communes"] == 75
    assert summary["legacy_units"] == 526
    assert summary["service_points"]["total"] >= 130
    assert summary["service_points"]["by_kind"]["commune_center"] == 126
    assert "exact" not in summary["service_points"]["by_location_precision"]
    assert summary["procedures"] >= 60


def test_every_point_is_in_its_declared_commune(index) -> None:
    points = index.service_points
    assert points["commune_code"].notna().all()
    centers = points[points["kind"] == "commune_center"]
    assert sorted(centers["commune_code"]) == sorted(index.communes["code"])


def test_manifest_pins_sources(index) -> None:
    manifest = index.manifest
    assert len(manifest["sources"]) >= 130
    assert all(len(sha) == 64 for sha in manifest["sources"].values())
    assert set(manifest["authored"]) >= {"service_points.csv", "procedures.csv"}


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


def _edit_points(settings: Settings, edit) -> None:  # type: ignore[no-untyped-def]
    path = settings.data_dir / "service_points.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(frame)
    frame.to_csv(path, index=False)


def test_failed_rebuild_leaves_previous_index_serving(scratch: Settings) -> None:
    first = build_index(scratch)
    before = read_index(settings=scratch)
    assert before.manifest["built_at"] == first.manifest["built_at"]

    def outside(frame: pd.DataFrame) -> None:
        frame.loc[3, "lon"] = "106.05"  # Bắc Ninh: inside the plausibility box, outside every Hanoi commune
        frame.loc[3, "lat"] = "21.30"

    _edit_points(scratch, outside)
    with pytest.raises(DataValidationError) as caught:
        build_index(scratch)
    message = str(caught.value.problems[0])
    assert "service_points.csv:5" in message and "outside every commune" in message
    after = read_index(settings=scratch)
    assert after.path == before.path
    assert len(after.service_points) == len(before.service_points)


def test_point_in_another_commune_than_its_address_is_an_error(scratch: Settings) -> None:
    def wrong_commune(frame: pd.DataFrame) -> None:
        row = frame.index[frame["kind"] == "commune_center"][0]
        frame.loc[row, "commune_code"] = "00008" if frame.loc[row, "commune_code"] != "00008" else "00004"

    _edit_points(scratch, wrong_commune)
    with pytest.raises(DataValidationError, match="address says commune"):
        build_index(scratch, write=False)


def test_broken_hours_string_names_its_row(scratch: Settings) -> None:
    def broken(frame: pd.DataFrame) -> None:
        frame.loc[0, "opening_hours"] = "Mo-Fr 08:00-25:99 banana"

    _edit_points(scratch, broken)
    with pytest.raises(DataValidationError, match=r"service_points.csv:2"):
        build_index(scratch, write=False)


def test_duplicate_point_id_is_an_error(scratch: Settings) -> None:
    def duplicate(frame: pd.DataFrame) -> None:
        frame.loc[1, "id"] = frame.loc[0, "id"]

    _edit_points(scratch, duplicate)
    with pytest.raises(DataValidationError, match="duplicate"):
        build_index(scratch, write=False)


def test_rebuild_swaps_atomically_and_prunes(scratch: Settings) -> None:
    first = build_index(scratch).path
    second = build_index(scratch).path
    third = build_index(scratch).path
    assert len({first, second, third}) == 3
    link = scratch.index_dir
    assert link.is_symlink() and link.resolve() == third
    assert not first.exists()  # only the current build and the one before are kept
    assert second.exists()


def _three_ward_set(scratch: Settings, index, tmp_path: Path, extra: str = "") -> Settings:  # type: ignore[no-untyped-def]
    """A file-based set of three real wards (no crosswalk unless ``extra`` declares one), points cut to match."""
    codes = ["00004", "00008", "00025"]
    wards = index.communes[index.communes["code"].isin(codes)][["code", "name", "kind", "population", "geometry"]]
    wards.to_file(tmp_path / "three-wards.geojson", driver="GeoJSON")
    sets = scratch.data_dir / "boundaries" / "sets.toml"
    sets.write_text(
        sets.read_text("utf-8")
        + '\n[[set]]\nid = "three-wards"\ntitle = "Ba phường"\nloader = "geojson"\n'
        + f'path = "{tmp_path / "three-wards.geojson"}"\nexpected = {{ total = 3 }}\n'
        + 'caption = { vi = "ranh giới: ba phường (thử)", en = "boundaries: three wards (test)" }\n'
        + extra,
        "utf-8",
    )
    points = scratch.data_dir / "service_points.csv"
    frame = pd.read_csv(points, dtype=str, keep_default_na=False)
    frame[frame["commune_code"].isin(codes)].to_csv(points, index=False)
    return scratch.model_copy(update={"boundary_set": "three-wards"})


def test_a_set_without_a_crosswalk_builds_without_one(scratch: Settings, index, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    custom = _three_ward_set(scratch, index, tmp_path)
    steps: list[str] = []
    build_index(custom, progress=steps.append)
    built = read_index(settings=custom)
    assert built.boundary_set == "three-wards" and len(built.communes) == 3
    assert "crosswalk" not in steps and len(built.crosswalk) == 0
    assert list(built.crosswalk.columns) == list(index.crosswalk.columns)
    assert built.manifest["crosswalk_from"] is None and built.manifest["summary"]["crosswalk_pairs"] == 0
    assert set(built.service_points["commune_code"]) <= {"00004", "00008", "00025"}
    assert len(built.service_points) >= 3


def test_a_crosswalk_only_leads_back_to_the_pre_merger_units(scratch: Settings, index, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    custom = _three_ward_set(scratch, index, tmp_path, extra='crosswalk = "hanoi-2025"\n')
    with pytest.raises(DataValidationError, match="derived only to the pre-merger units"):
        build_index(custom, write=False)
