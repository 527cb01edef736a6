"""The places a coverage is measured on: today's network, the pre-merger one, and a scenario's edits.

*today*: the service points that handle the procedure. *pre-merger*: the 526 former commune offices
(``legacy_units`` points, a geocoded point per unit, not surveyed offices) when the procedure is a
commune-level one (handled at commune centres today), plus today's branches and intake points that
handle it. A *scenario* adds, moves or closes places of today's network (`Change`): `parse_changes`
validates rows (from ``POST /v1/coverage`` or a CSV read by `read_scenario`), `apply_changes` applies
them to a places layer.

A module of its own because these are the planner's inputs, validated like any hand-edited file
(one `DataProblem` per bad row), and they know nothing of costs or measures.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import shapely

from geo.errors import DataProblem, DataValidationError, OutsideServiceArea
from geo.geodesy import WGS84
from geo.index import Index
from geo.registry import find_procedure

__all__ = [
    "BEFORE_KINDS",
    "FACILITY_COLUMNS",
    "SCENARIO_COLUMNS",
    "Change",
    "apply_changes",
    "before_facilities",
    "facilities_frame",
    "parse_changes",
    "read_scenario",
    "today_facilities",
]

BEFORE_KINDS = ("branch", "intake_point")
SCENARIO_COLUMNS = ("action", "id", "lon", "lat", "kind", "name")
FACILITY_COLUMNS = ["id", "name", "kind", "source", "geometry"]


# ================================================================================== places
def facilities_frame(records: Iterable[Mapping[str, Any]] | None = None) -> gpd.GeoDataFrame:
    """A places layer (id, name, kind, source, geometry Point EPSG:4326), sorted by id."""
    frame = gpd.GeoDataFrame(list(records or []), columns=FACILITY_COLUMNS, geometry="geometry", crs=WGS84)
    return frame.sort_values("id", kind="stable").reset_index(drop=True)


def _procedure_code(index: Index, procedure: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(procedure, Mapping):
        return dict(procedure)
    return dict(find_procedure(procedure, index.procedures))


def today_facilities(index: Index, procedure: str | Mapping[str, Any]) -> gpd.GeoDataFrame:
    """Today's places that handle ``procedure`` (code, name or catalog row)."""
    code = _procedure_code(index, procedure)["code"]
    ids = set(index.capabilities.loc[index.capabilities["procedure_code"] == code, "point_id"].astype(str))
    points = index.service_points[index.service_points["id"].astype(str).isin(ids)]
    return facilities_frame(
        {"id": str(p.id), "name": str(p.name), "kind": str(p.kind), "source": "registry", "geometry": p.geometry}
        for p in points.itertuples()
    )


def before_facilities(index: Index, procedure: str | Mapping[str, Any]) -> gpd.GeoDataFrame:
    """The pre-merger network for ``procedure``: former commune offices (if commune-level) + branches.

    A former office is included when the procedure is handled at commune centres today, i.e. it is a
    commune-level procedure that the 526 old communes handled themselves. Its place is the legacy
    unit's point (geocoded, not surveyed). Today's branches and intake points that handle it are
    added as they are (`BEFORE_KINDS`).
    """
    proc = _procedure_code(index, procedure)
    handled = set(str(proc.get("handled_at") or "").split("|"))
    records: list[dict[str, Any]] = []
    if "commune_center" in handled:
        records.extend(
            {
                "id": f"legacy-{u.code}",
                "name": f"UBND {u.full_name} ({u.district})",
                "kind": "former_commune_office",
                "source": "legacy_units",
                "geometry": u.geometry,
            }
            for u in index.legacy_units.itertuples()
        )
    today = today_facilities(index, proc)
    records.extend(today[today["kind"].isin(BEFORE_KINDS)].to_dict("records"))
    return facilities_frame(records)


# ================================================================================== scenarios
@dataclass(frozen=True)
class Change:
    """One what-if edit of the network: ``add`` a place, ``move`` one, or ``close`` one."""

    action: Literal["add", "move", "close"]
    id: str
    lon: float | None = None
    lat: float | None = None
    kind: str | None = None
    name: str | None = None


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def parse_changes(records: Iterable[Mapping[str, Any]], source: str = "scenario") -> list[Change]:
    """Validate scenario rows (``action, id, lon, lat, kind, name``) into `Change` objects.

    Raises
    ------
    DataValidationError
        One `DataProblem` per bad row: unknown action, missing id, missing or non-numeric lon/lat
        for ``add`` and ``move``.
    """
    changes: list[Change] = []
    problems: list[DataProblem] = []
    for row_no, raw in enumerate(records, start=1):
        row = {k: (v.strip() if isinstance(v, str) else v) for k, v in raw.items()}
        action = str(row.get("action") or "").lower()
        ident = str(row.get("id") or "")
        bad = []
        if action not in ("add", "move", "close"):
            bad.append(f"action {row.get('action')!r} is not add, move or close")
        if not ident:
            bad.append("id is empty")
        try:
            lon, lat = _number(row.get("lon")), _number(row.get("lat"))
        except (TypeError, ValueError) as exc:
            bad.append(f"lon/lat: {exc}")
            lon = lat = None
        if action in ("add", "move") and (lon is None or lat is None) and not bad:
            bad.append(f"{action} needs lon and lat")
        problems.extend(DataProblem(source, m, row=row_no, id=ident or None) for m in bad)
        if not bad:
            changes.append(
                Change(action, ident, lon, lat, row.get("kind") or None, row.get("name") or None)  # type: ignore[arg-type]
            )
    if problems:
        raise DataValidationError(problems)
    return changes


def read_scenario(path: str | Path) -> list[Change]:
    """Read a scenario CSV with columns ``action,id,lon,lat,kind,name`` (UTF-8, header required)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in ("action", "id") if c not in (reader.fieldnames or [])]
            if missing:
                raise DataValidationError([DataProblem(str(path), f"missing column(s) {', '.join(missing)}")])
            rows = list(reader)
    except OSError as exc:
        raise DataValidationError([DataProblem(str(path), f"cannot read scenario: {exc}")]) from exc
    return parse_changes(rows, source=str(path))


def apply_changes(
    facilities: gpd.GeoDataFrame,
    changes: Sequence[Change],
    inside: Callable[[float, float], bool] | None = None,
    source: str = "scenario",
) -> gpd.GeoDataFrame:
    """Apply ``changes`` in order to a places layer and return the new layer.

    ``add`` needs a new id; ``move`` and ``close`` an existing one. ``inside(lon, lat)`` (the service
    area check) refuses places outside Hanoi with `OutsideServiceArea`.
    """
    rows = {str(r["id"]): dict(r) for r in facilities.to_dict("records")}
    problems: list[DataProblem] = []
    for n, change in enumerate(changes, start=1):
        exists = change.id in rows
        if change.action == "add" and exists:
            problems.append(DataProblem(source, f"add: id {change.id!r} already exists", row=n, id=change.id))
            continue
        if change.action in ("move", "close") and not exists:
            message = f"{change.action}: no place with id {change.id!r}"
            problems.append(DataProblem(source, message, row=n, id=change.id))
            continue
        if change.action == "close":
            del rows[change.id]
            continue
        assert change.lon is not None and change.lat is not None
        if inside is not None and not inside(change.lon, change.lat):
            raise OutsideServiceArea(
                f"{source} row {n} ({change.action} {change.id}): lon={change.lon}, lat={change.lat} is outside Hanoi"
            )
        point = shapely.Point(change.lon, change.lat)
        if change.action == "move":
            rows[change.id].update(geometry=point, source="scenario:move")
        else:
            rows[change.id] = {
                "id": change.id,
                "name": change.name or change.id,
                "kind": change.kind or "intake_point",
                "source": "scenario:add",
                "geometry": point,
            }
    if problems:
        raise DataValidationError(problems)
    return facilities_frame(rows.values())
