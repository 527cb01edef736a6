"""``gandan build``: validate every source, join them, and write one index artifact.

Sources → checks → joins → `geo.index.write_index`. Every problem found is collected with its file and
row before anything is written; one problem is enough to stop the build, and then the previous index
stays in place untouched.

What the build makes of the boundary set comes from its declaration in ``data/boundaries/sets.toml``
(`geo.boundaries.boundary_set_spec`): the old → new crosswalk is derived only when the set names the
previous map (``crosswalk = "hanoi-2024"``); a set without one builds with an empty crosswalk.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.boundaries import SETS_FILE, BoundarySet, CommuneLocator, boundary_set_spec, load_boundary_set
from geo.catalogue import (
    AGENCY_RULES_FILE,
    CatalogueReport,
    authored_disagreements,
    build_catalogue,
    details_table,
    procedure_layer,
)
from geo.crosswalk import PAIR_COLUMNS, Crosswalk, build_crosswalk, load_metadata
from geo.errors import DataProblem, DataValidationError, GandanError
from geo.geodesy import WGS84
from geo.hours import Calendar, parse_hours
from geo.index import Index, write_index
from geo.legacy import load_legacy_units
from geo.registry import (
    capabilities,
    catalogue_capabilities,
    load_procedure_groups,
    load_procedures,
    load_service_points,
)
from geo.settings import Settings, get_settings
from geo.sources import load_sources, local_path, sha256_of

__all__ = ["build_index", "catalogue_summary", "summarize"]

POINTS_FILE = "service_points.csv"
PROCEDURES_FILE = "procedures.csv"
GROUPS_FILE = "procedure_groups.csv"
CALENDAR_FILE = "calendar_overrides.csv"
SYNONYMS_FILE = "procedure_synonyms.csv"
LEGACY_LOADER = "vietnamadminunits"  # the loader of the 526 pre-merger units a crosswalk leads back to

Progress = Callable[[str], None]


def _join_points_to_communes(
    points: pd.DataFrame, communes: gpd.GeoDataFrame, source: str
) -> tuple[gpd.GeoDataFrame, list[DataProblem]]:
    """Attach each point's containing commune; a point outside every commune or in another one is a problem."""
    located = gpd.GeoDataFrame(
        points.copy(),
        geometry=gpd.points_from_xy(points["lon"].astype(float), points["lat"].astype(float)),
        crs=WGS84,
    )
    locator = CommuneLocator(communes, cell_deg=None)  # one vectorised lookup: no raster needed
    at = locator.communes_at(located.geometry.x.to_numpy(), located.geometry.y.to_numpy())
    problems: list[DataProblem] = []
    codes = communes["code"].to_numpy()
    names = communes["full_name"].to_numpy()
    found_code: list[str | None] = []
    found_name: list[str | None] = []
    for i, (row_pos, declared) in enumerate(zip(at, located["commune_code"].astype(str), strict=True)):
        pid = str(located["id"].iloc[i])
        if row_pos < 0:
            problems.append(DataProblem(source, "point lies outside every commune", row=i + 2, id=pid))
            found_code.append(None)
            found_name.append(None)
            continue
        found_code.append(codes[row_pos])
        found_name.append(names[row_pos])
        if declared and declared != codes[row_pos]:
            problems.append(
                DataProblem(
                    source,
                    f"address says commune {declared} but the point lies in {codes[row_pos]} {names[row_pos]}",
                    row=i + 2,
                    id=pid,
                )
            )
    located["commune_code"] = found_code
    located["commune_name"] = found_name
    return located, problems


def _crosswalk(boundary: BoundarySet, legacy: gpd.GeoDataFrame, settings: Settings, step: Progress) -> Crosswalk:
    """The old → new crosswalk the set declares (``crosswalk = "<previous set>"``), or an empty one.

    The only previous map a crosswalk is derived to is one of the 526 pre-merger units (the
    ``vietnamadminunits`` loader, `geo.legacy`), from each new unit's official ``beforeMerger`` text.
    """
    previous = boundary.spec.crosswalk if boundary.spec else None
    if previous is None:
        return Crosswalk(pairs=pd.DataFrame(columns=PAIR_COLUMNS))
    if boundary_set_spec(previous, settings).loader != LEGACY_LOADER:
        raise DataValidationError(
            [
                DataProblem(
                    SETS_FILE,
                    f"set {boundary.id!r}: a crosswalk is derived only to the pre-merger units "
                    f"(loader {LEGACY_LOADER!r}); {previous!r} is not one",
                    id=boundary.id,
                )
            ]
        )
    step("crosswalk")
    return build_crosswalk(boundary.communes, load_metadata(settings), legacy)


def build_index(
    settings: Settings | None = None, progress: Progress | None = None, write: bool = True
) -> Index:
    """Validate and join every source, then (when ``write``) swap in a new index artifact.

    Raises
    ------
    DataValidationError
        Listing every problem with its file and row; nothing is written.
    """
    settings = settings or get_settings()
    step = progress or (lambda _msg: None)
    data = settings.data_dir
    problems: list[DataProblem] = []

    step("boundaries")
    boundary = load_boundary_set(settings.boundary_set, settings)
    communes = boundary.communes
    step("legacy units")
    legacy = load_legacy_units()
    crosswalk = _crosswalk(boundary, legacy, settings, step)

    step("procedures")
    procedures = load_procedures(data / PROCEDURES_FILE)
    groups = load_procedure_groups(data / GROUPS_FILE, procedures)
    step("national procedure catalogue")
    records, catalogue = build_catalogue(settings)
    layer = procedure_layer(records, procedures)
    disagreements = authored_disagreements(records, procedures)
    step("procedure synonyms")
    _check_synonyms(settings, layer)
    step("service points")
    points = load_service_points(
        data / POINTS_FILE, procedures, groups, require_coordinates=True, commune_codes=set(communes["code"])
    )
    step("opening hours")
    calendar = Calendar.load(data / CALENDAR_FILE)
    for i, row in enumerate(points.itertuples(), start=2):
        if isinstance(row.opening_hours, str) and row.opening_hours.strip():
            try:
                parse_hours(row.opening_hours, where=f"{POINTS_FILE}:{i} [{row.id}]")
            except GandanError as exc:
                problems.append(DataProblem(POINTS_FILE, exc.detail, row=i, id=str(row.id)))
    step("join points to communes")
    located, join_problems = _join_points_to_communes(points, communes, POINTS_FILE)
    problems += join_problems
    if problems:
        raise DataValidationError(problems)
    caps = pd.concat(
        [capabilities(points, procedures, groups), catalogue_capabilities(points, layer)], ignore_index=True
    )

    step("write index")
    sources = {s.path: s.sha256 for s in load_sources(settings) if local_path(s, settings).exists()}
    authored = {
        name: sha256_of(data / name)
        for name in (POINTS_FILE, PROCEDURES_FILE, GROUPS_FILE, CALENDAR_FILE, AGENCY_RULES_FILE, SYNONYMS_FILE)
    }
    keep = [c for c in located.columns if c not in ("lon", "lat", "procedure_codes")]
    service_points = gpd.GeoDataFrame(located[keep], geometry="geometry", crs=WGS84)
    service_points["services"] = service_points["services"].astype(str)
    index = Index(
        manifest={
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "boundary_set": boundary.id,
            "boundary_title": boundary.title,
            "crosswalk_from": boundary.spec.crosswalk if boundary.spec else None,
            "sources": sources,
            "authored": authored,
            "notes": boundary.notes + [str(p) for p in crosswalk.unplaced + crosswalk.notes],
        },
        communes=communes,
        legacy_units=legacy,
        crosswalk=crosswalk.pairs,
        service_points=service_points,
        procedures=layer,
        capabilities=caps,
        calendar=calendar.to_frame(),
        procedure_details=details_table(records),
    )
    index.manifest["catalogue"] = catalogue_summary(catalogue, disagreements)
    index.manifest["summary"] = summarize(index)
    if write:
        index.path = write_index(index, settings)
    return index


def summarize(index: Index) -> dict[str, Any]:
    """Counts that ``gandan build --json`` prints and the manifest keeps."""
    points = index.service_points
    communes = index.communes
    return {
        "boundary_set": index.boundary_set,
        "communes": len(communes),
        "wards": int((communes["kind"] == "ward").sum()),
        "rural_communes": int((communes["kind"] == "commune").sum()),
        "population": int(pd.to_numeric(communes["population"], errors="coerce").sum()),
        "legacy_units": len(index.legacy_units),
        "crosswalk_pairs": len(index.crosswalk),
        "service_points": {
            "total": len(points),
            "by_kind": {str(k): int(v) for k, v in points["kind"].value_counts().sort_index().items()},
            "by_location_precision": {
                str(k): int(v) for k, v in points["location_precision"].value_counts().sort_index().items()
            },
            "by_location_method": {
                str(k): int(v) for k, v in points["location_method"].value_counts().sort_index().items()
            },
        },
        "procedures": len(index.procedures),
        "procedures_in_person": int(index.capabilities["procedure_code"].nunique()),
        "procedures_with_details": len(index.procedure_details),
        "procedures_known_place": int((index.procedures.get("place", pd.Series(dtype=object)) != "unknown").sum()),
        "catalogue": index.manifest.get("catalogue"),
        "capabilities": len(index.capabilities),
        "calendar_days": len(index.calendar),
    }


def catalogue_summary(report: CatalogueReport, disagreements: list[DataProblem]) -> dict[str, Any]:
    """What the build says about the national catalogue: counts, left-out reasons, coverage, problems."""

    def problem(p: DataProblem) -> dict[str, Any]:
        where = {"file": p.file, "row": p.row, "code": p.id, "column": p.column}
        return {**where, "message": p.message, **(p.context or {})}

    return {
        "rows_read": report.rows_read,
        "kept": report.kept,
        "kept_by_scope": dict(sorted(report.kept_by_scope.items())),
        "left_out": dict(report.left_out.most_common()),
        "with_details": report.with_details,
        "known_place": report.kept - report.by_place["unknown"],
        "known_place_share": round(report.known_share, 4),
        "by_place": dict(sorted(report.by_place.items())),
        "by_rule": dict(report.by_rule.most_common()),
        "parse_problems": [problem(p) for p in report.parse_problems],
        "row_problems": [problem(p) for p in report.row_problems],
        "pages_without_row": len(report.pages_without_row),
        "authored_disagreements": [problem(p) for p in disagreements],
        "seconds": round(report.seconds, 3),
    }


def _check_synonyms(settings: Settings, layer: pd.DataFrame) -> None:
    """Fail the build on a broken row of ``procedure_synonyms.csv`` (file and row), before anything is written."""
    from geo.ask.procedure import load_procedure_synonyms

    load_procedure_synonyms(settings.data_dir / SYNONYMS_FILE, codes=list(layer["code"].astype(str)))
