"""Boundary sets: the real 126-unit map, each validation rule on a small bad fixture, commune_at."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import GeometryCollection, LineString, Point, Polygon, box

from geo.boundaries import (
    CommuneLocator,
    boundary_set_ids,
    boundary_set_spec,
    load_boundary_set,
    validate_communes,
)
from geo.errors import DataValidationError, NotFound
from geo.settings import Settings
from geo.sources import load_sources


def _units(
    polys: list[Polygon],
    codes: list[str] | None = None,
    crs: str = "EPSG:4326",
    population: list[float | None] | None = None,
    kinds: list[str] | None = None,
) -> gpd.GeoDataFrame:
    n = len(polys)
    return gpd.GeoDataFrame(
        {
            "code": codes or [f"{i + 1:05d}" for i in range(n)],
            "name": [f"Unit {i}" for i in range(n)],
            "kind": kinds or ["ward"] * n,
            "population": population or [1000] * n,
        },
        geometry=polys,
        crs=crs,
    )


# Two 0.01° squares side by side near Hanoi's centre: a valid little map.
A = box(105.80, 21.00, 105.81, 21.01)
B = box(105.81, 21.00, 105.82, 21.01)


def test_valid_fixture_passes() -> None:
    units, notes = validate_communes(_units([A, B]), "fixture", {"ward": 2})
    assert len(units) == 2 and notes == []


def test_invalid_geometry_is_repaired_and_reported() -> None:
    bowtie = Polygon([(105.80, 21.00), (105.81, 21.01), (105.81, 21.00), (105.80, 21.01)])
    units, notes = validate_communes(_units([bowtie, B]), "fixture")
    assert units.geometry.is_valid.all()
    assert len(notes) == 1 and "repaired" in notes[0] and "00001" in notes[0]


def test_wrong_crs_is_refused() -> None:
    projected = _units([A, B]).to_crs("EPSG:32648")
    with pytest.raises(DataValidationError, match="EPSG:4326"):
        validate_communes(projected, "fixture")


def test_coordinates_that_are_not_degrees_are_refused() -> None:
    metres = gpd.GeoDataFrame(
        _units([A, B]).drop(columns="geometry"),
        geometry=[box(580000, 2320000, 581000, 2321000), B],
        crs="EPSG:4326",
    )
    with pytest.raises(DataValidationError, match="not lon/lat"):
        validate_communes(metres, "fixture")


def test_duplicate_codes_are_refused_with_rows() -> None:
    with pytest.raises(DataValidationError, match=r"duplicate code 00007 \(rows \[1, 2\]\)"):
        validate_communes(_units([A, B], codes=["00007", "00007"]), "fixture")


def test_malformed_code_names_its_row() -> None:
    with pytest.raises(DataValidationError, match=r"fixture:2.*'123' is not a 5-digit"):
        validate_communes(_units([A, B], codes=["00001", "123"]), "fixture")


def test_overlap_beyond_tolerance_is_refused() -> None:
    overlapping = box(105.805, 21.00, 105.815, 21.01)  # half of A: about 0.5 km²
    with pytest.raises(DataValidationError, match="00001 and 00002 overlap"):
        validate_communes(_units([A, overlapping]), "fixture")


def test_sliver_within_tolerance_is_accepted() -> None:
    sliver = box(105.80999, 21.00, 105.82, 21.01)  # 1 m of shared width: about 1,100 m²
    validate_communes(_units([A, sliver]), "fixture")


def test_counts_per_kind_must_match() -> None:
    with pytest.raises(DataValidationError, match="expected 51 units of kind 'ward', found 2"):
        validate_communes(_units([A, B]), "fixture", {"ward": 51})


def test_population_must_be_present() -> None:
    with pytest.raises(DataValidationError, match=r"fixture:2 \[00002\]: population missing"):
        validate_communes(_units([A, B], population=[100, None]), "fixture")


def test_every_problem_is_reported_together() -> None:
    with pytest.raises(DataValidationError) as caught:
        validate_communes(_units([A, B], codes=["00001", "x"], population=[None, 5]), "fixture")
    assert len(caught.value.problems) == 2


# ----------------------------------------------------------------------------- the real map
@pytest.fixture(scope="module")
def hanoi(settings: Settings):
    return load_boundary_set("hanoi-2025", settings)


def test_hanoi_2025_has_126_units(hanoi) -> None:
    communes = hanoi.communes
    assert len(communes) == 126
    assert (communes["kind"] == "ward").sum() == 51
    assert (communes["kind"] == "commune").sum() == 75
    assert communes["code"].str.fullmatch(r"\d{5}").all()
    assert communes.crs.to_epsg() == 4326
    assert communes["population"].notna().all() and (communes["population"] > 0).all()
    assert communes["former_units"].notna().all() and communes["seat_address"].notna().all()


def test_population_rule_and_disagreements_are_reported(hanoi) -> None:
    assert int(hanoi.communes["population"].sum()) == 8_807_523  # 01.json is the rule
    disagreements = [n for n in hanoi.notes if "population" in n]
    assert len(disagreements) == 2
    assert any("Thanh Trì" in n and "55378" in n for n in disagreements)


def test_area_mismatches_are_reported(hanoi) -> None:
    area_notes = [n for n in hanoi.notes if "stated area" in n]
    assert {n[:5] for n in area_notes} == {"04930", "09988"}


def test_names_keep_diacritics_with_folded_key(hanoi) -> None:
    ba_dinh = hanoi.communes.set_index("code").loc["00004"]
    assert ba_dinh["full_name"] == "Phường Ba Đình"
    assert ba_dinh["name_ascii"] == "ba dinh"


def test_commune_at_known_places(hanoi) -> None:
    locator = CommuneLocator(hanoi.communes)
    codes = hanoi.communes["code"].to_numpy()
    hoan_kiem_lake = locator.commune_at(105.8522, 21.0287)
    assert hoan_kiem_lake is not None and codes[hoan_kiem_lake] == "00070"
    assert locator.commune_at(106.5, 20.0) is None  # far outside Hanoi


def test_commune_at_vectorised_agrees(hanoi) -> None:
    locator = CommuneLocator(hanoi.communes)
    rng = np.random.default_rng(7)
    minx, miny, maxx, maxy = hanoi.communes.total_bounds
    lon = rng.uniform(minx, maxx, 300)
    lat = rng.uniform(miny, maxy, 300)
    batch = locator.communes_at(lon, lat)
    single = [locator.commune_at(x, y) for x, y in zip(lon, lat, strict=True)]
    assert [(-1 if s is None else s) for s in single] == batch.tolist()
    assert (batch >= 0).sum() > 100


def _agrees_with_the_tree(locator: CommuneLocator, lon: np.ndarray, lat: np.ndarray) -> None:
    """The raster-first `commune_at` gives the STRtree's answer (`communes_at`) at every point."""
    single = [locator.commune_at(x, y) for x, y in zip(lon.tolist(), lat.tolist(), strict=True)]
    assert [(-1 if s is None else s) for s in single] == locator.communes_at(lon, lat).tolist()


def test_commune_at_is_exact_on_and_near_borders(hanoi) -> None:
    locator = CommuneLocator(hanoi.communes)
    rng = np.random.default_rng(11)
    border = shapely.get_coordinates(shapely.boundary(hanoi.communes.geometry.to_numpy()))
    pick = border[rng.choice(len(border), 4000, replace=False)]
    mids = (border[:-1] + border[1:])[rng.choice(len(border) - 1, 2000, replace=False)] / 2
    for scale in (0.0, 1e-9, 1e-7, 1e-5, 3e-4):  # on the border, a hair off it, and up to ~30 m off it
        for points in (pick, mids):
            moved = points + rng.normal(0, scale, points.shape)
            _agrees_with_the_tree(locator, moved[:, 0], moved[:, 1])
    # On raster cell edges: where rounding picks the cell.
    minx, miny = hanoi.communes.total_bounds[:2]
    edges_x = minx + np.arange(0, 1500) * 0.0005
    _agrees_with_the_tree(locator, edges_x, np.full(len(edges_x), 21.0287))
    _agrees_with_the_tree(locator, np.full(1500, 105.8522), miny + np.arange(0, 1500) * 0.0005)


def test_commune_at_with_enclave_and_tolerated_overlap() -> None:
    # An enclave (a unit inside another's hole) and two units that overlap by a sliver: the tie rule
    # (smallest code) must hold inside the raster cells as on the exact path.
    outer = Polygon(
        [(105.80, 21.00), (105.83, 21.00), (105.83, 21.03), (105.80, 21.03)],
        holes=[[(105.81, 21.01), (105.82, 21.01), (105.82, 21.02), (105.81, 21.02)]],
    )
    enclave = box(105.81, 21.01, 105.82, 21.02)
    overlapping = box(105.8299, 21.00, 105.85, 21.03)
    units = _units([outer, enclave, overlapping], codes=["00003", "00002", "00001"])
    locator = CommuneLocator(units)
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(105.795, 105.855, 20_000), rng.uniform(20.995, 21.035, 20_000)
    _agrees_with_the_tree(locator, lon, lat)
    assert locator.communes["code"][locator.commune_at(105.815, 21.015)] == "00002"
    assert locator.communes["code"][locator.commune_at(105.82995, 21.015)] == "00001"


def test_commune_at_with_collections_lines_and_points() -> None:
    # make_valid may leave a GeometryCollection; a set may hold lines or points. None may fool the raster.
    collection = GeometryCollection([box(105.80, 21.00, 105.81, 21.01), LineString([(105.81, 21.0), (105.85, 21.0)])])
    line = LineString([(105.80, 21.015), (105.84, 21.015)])
    units = _units(
        [collection, box(105.83, 21.02, 105.84, 21.03), line, Point(105.82, 21.005)],
        codes=["00004", "00003", "00002", "00001"],
    )
    locator = CommuneLocator(units)
    rng = np.random.default_rng(9)
    lon, lat = rng.uniform(105.79, 105.86, 20_000), rng.uniform(20.99, 21.04, 20_000)
    _agrees_with_the_tree(locator, lon, lat)
    _agrees_with_the_tree(locator, np.array([105.82, 105.83, 105.805, 105.82]), np.array([21.005, 21.0, 21.015, 21.03]))
    assert locator.commune_at(105.82, 21.03) is None  # between the parts: outside every commune


@pytest.mark.parametrize("geoms", [[], [Point(105.8, 21.0), Point(105.9, 21.1)]])
def test_commune_at_without_any_polygon(geoms: list) -> None:
    locator = CommuneLocator(_units(geoms))
    assert locator.commune_at(105.85, 21.05) is None
    if geoms:
        assert locator.commune_at(105.8, 21.0) == 0


def test_commune_at_refuses_nothing_and_finds_nothing_for_non_finite(hanoi) -> None:
    locator = CommuneLocator(hanoi.communes)
    for lon, lat in ((float("nan"), 21.0), (105.85, float("inf")), (float("-inf"), float("nan"))):
        assert locator.commune_at(lon, lat) is None


def test_sets_are_declared_as_data(settings: Settings) -> None:
    assert {"hanoi-2025", "hanoi-2024"} <= set(boundary_set_ids(settings))
    with pytest.raises(NotFound, match="not declared"):
        load_boundary_set("atlantis", settings)


def test_a_file_based_set_loads_the_same_way(tmp_path: Path, settings: Settings) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "boundaries").mkdir(parents=True)
    plan = _units([A, B], codes=["10001", "10002"], kinds=["Phường", "Xã"])
    plan = plan.rename(columns={"code": "ma", "name": "ten", "kind": "loai", "population": "dan_so"})
    plan.to_file(tmp_path / "plan.geojson", driver="GeoJSON")
    (data_dir / "boundaries" / "sets.toml").write_text(
        '[[set]]\nid = "plan-2"\nloader = "geojson"\n'
        f'path = "{tmp_path / "plan.geojson"}"\n'
        'fields = { code = "ma", name = "ten", kind = "loai", population = "dan_so" }\n'
        "expected = { total = 2 }\n",
        "utf-8",
    )
    custom = Settings(data_dir=data_dir, upstream_dir=settings.upstream_dir, data_mirror=settings.data_mirror)
    loaded = load_boundary_set("plan-2", custom)
    assert loaded.communes["code"].tolist() == ["10001", "10002"]
    assert loaded.communes["kind"].tolist() == ["ward", "commune"]
    assert loaded.has_polygons
    assert loaded.spec is not None and loaded.spec.crosswalk is None
    assert loaded.spec.caption == {"vi": "ranh giới: plan-2", "en": "boundaries: plan-2"}


def test_sets_declare_caption_sources_and_crosswalk(settings: Settings) -> None:
    current = boundary_set_spec("hanoi-2025", settings)
    assert current.crosswalk == "hanoi-2024"
    assert "126 đơn vị" in current.caption["vi"] and "126 communes" in current.caption["en"]
    assert {s.licence for s in current.sources} == {"MIT"}
    assert "thanglequoc/vietnamese-provinces-database (MIT)" in current.attribution
    previous = boundary_set_spec("hanoi-2024", settings)
    assert previous.crosswalk is None and "526" in previous.caption["en"]
    # Every group a set names is pinned in the project's source list.
    pinned = {s.group for s in load_sources(settings)}
    for set_id in boundary_set_ids(settings):
        for source in boundary_set_spec(set_id, settings).sources:
            assert set(source.groups) <= pinned, (set_id, source.name)
    assert load_boundary_set("hanoi-2024", settings).spec == previous


def test_a_set_declaration_names_every_problem(tmp_path: Path) -> None:
    (tmp_path / "boundaries").mkdir()
    (tmp_path / "boundaries" / "sets.toml").write_text(
        '[[set]]\nid = "broken"\nloader = "geojson"\ncrosswalk = "atlantis"\n'
        'caption = { vi = "ranh giới" }\n'
        '[[set.source]]\nname = "somebody"\n',
        "utf-8",
    )
    with pytest.raises(DataValidationError) as info:
        boundary_set_spec("broken", Settings(data_dir=tmp_path))
    messages = " | ".join(p.message for p in info.value.problems)
    assert len(info.value.problems) == 3
    assert "caption needs" in messages and "lacks licence" in messages and "'atlantis'" in messages
