"""The places a coverage is measured on: today's network, the pre-merger one, and a scenario's edits.

*today*: the service points that handle the procedure. *pre-merger*: the 526 former commune offices
(``legacy_units`` points, a geocoded point per unit, not surveyed offices) when the procedure is a
commune-level one (handled at commune centres today), plus today's branches and intake points that
handle it. A *scenario* adds, moves or closes places of today's network (`Change`): `parse_changes`
validates rows (from ``POST /v1/coverage`` or a CSV / JSON file read by `read_scenario`, which
`scenario_csv` / `scenario_json` write), `apply_changes` applies them to a places layer.

A module of its own because these are the planner's inputs, validated like any hand-edited file
(`geo.tables`: every problem at once, as file, row, column, what), and they know nothing of costs or measures.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

import geopandas as gpd
import numpy as np
import shapely

from geo.errors import DataProblem, DataValidationError, OutsideServiceArea
from geo.geodesy import HANOI_BBOX, WGS84, in_hanoi_bbox
from geo.index import Index
from geo.registry import find_procedure
from geo.tables import Problems, Row, read_table

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
    "scenario_csv",
    "scenario_json",
    "today_facilities",
]

BEFORE_KINDS = ("branch", "intake_point")
SCENARIO_COLUMNS = ("action", "id", "lon", "lat", "kind", "name")
FACILITY_COLUMNS = ["id", "name", "kind", "source", "geometry"]
OUTSIDE = "outside Hanoi"  # how a place outside the city's bounding box is reported
_BBOX_TEXT = "lon {0}..{2}, lat {1}..{3}".format(*HANOI_BBOX)


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


def _check_change(row: Row | int, cells: Mapping[str, Any], problems: Problems) -> Change | None:
    """One scenario row as a `Change`, or None after recording each of its problems (column by column)."""
    row_cells = {k: (v.strip() if isinstance(v, str) else v) for k, v in cells.items()}
    action = str(row_cells.get("action") or "").lower()
    ident = str(row_cells.get("id") or "")
    before = len(problems.items)
    if action not in ("add", "move", "close"):
        problems.add(row, "action", f"{row_cells.get('action')!r} is not add, move or close", id=ident)
    if not ident:
        problems.add(row, "id", "id is empty")
    coords: dict[str, float | None] = {}
    for column in ("lon", "lat"):
        try:
            coords[column] = _number(row_cells.get(column))
        except (TypeError, ValueError):
            problems.add(row, column, f"{row_cells.get(column)!r} is not a number", id=ident)
            coords[column] = None
            continue
        if coords[column] is None and action in ("add", "move"):
            problems.add(row, column, f"{action} needs {column}", id=ident)
    lon, lat = coords["lon"], coords["lat"]
    if lon is not None and lat is not None and action in ("add", "move") and not in_hanoi_bbox(lon, lat):
        problems.add(row, "lon", f"{OUTSIDE}: lon={lon}, lat={lat} is not within {_BBOX_TEXT}", id=ident)
    if len(problems.items) > before:
        return None
    kind, name = row_cells.get("kind") or None, row_cells.get("name") or None
    return Change(action, ident, lon, lat, kind, name)  # type: ignore[arg-type]


def parse_changes(records: Iterable[Mapping[str, Any]], source: str = "scenario") -> list[Change]:
    """Validate scenario rows (``action, id, lon, lat, kind, name``) into `Change` objects.

    Rows are numbered from 1 (the first change). Every problem of every row is reported at once.

    Raises
    ------
    DataValidationError
        One `DataProblem` per bad cell: unknown action, missing id, missing or non-numeric lon/lat
        for ``add`` and ``move``, a place outside Hanoi (among other problems).
    OutsideServiceArea
        The only problems are places outside Hanoi's bounding box (each listed in ``problems``).
    """
    problems = Problems(source)
    changes = [_check_change(n, raw, problems) for n, raw in enumerate(records, start=1)]
    _raise(problems)
    return [c for c in changes if c is not None]


def _raise(problems: Problems) -> None:
    """Raise every problem at once: `OutsideServiceArea` when each one is a place outside Hanoi."""
    if problems and all(p.message.startswith(OUTSIDE) for p in problems.items):
        lines = [str(p) for p in problems.items]
        raise OutsideServiceArea("; ".join(lines), problems=lines)
    problems.raise_if_any()


def _scenario_csv(source: Path | TextIO, label: str) -> list[Change]:
    rows = read_table(source, SCENARIO_COLUMNS, optional=("lon", "lat", "kind", "name"), label=label)
    problems = Problems(label)
    changes = [_check_change(row, row, problems) for row in rows]
    _raise(problems)
    return [c for c in changes if c is not None]


def _scenario_json(text: str, label: str) -> list[Change]:
    problems = Problems(label)
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.add(exc.lineno, None, f"not JSON: {exc.msg} (column {exc.colno})")
        problems.raise_if_any()
    records = body.get("changes") if isinstance(body, dict) else body
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        problems.add(None, "changes", "expected {\"changes\": [{\"action\": ..., \"id\": ...}, ...]}")
        problems.raise_if_any()
    assert isinstance(records, list)
    return parse_changes(records, source=label)


def read_scenario(path: str | Path, text: str | None = None) -> list[Change]:
    """Read a scenario file: CSV (``action,id,lon,lat,kind,name``, header required) or JSON (``.json``).

    The JSON form is what the planner page saves: ``{"name", "procedure", "mode", "threshold", "changes":
    [{action, id, lon, lat, kind, name}, ...]}`` (only ``changes`` is read here). ``text``: the file's
    content when it did not come from disk (an upload); ``path`` then only names it.

    Raises
    ------
    DataValidationError
        Every problem of the file at once, each with file, row, column and what is wrong. CSV rows are
        the file's line numbers (header = 1); JSON rows count the changes from 1.
    """
    path = Path(path)
    label = path.name if text is not None else str(path)
    if path.suffix.lower() == ".json":
        if text is None:
            try:
                text = path.read_text(encoding="utf-8-sig")
            except OSError as exc:
                raise DataValidationError([DataProblem(label, f"cannot read scenario: {exc}")]) from exc
        return _scenario_json(text, label)
    return _scenario_csv(path if text is None else io.StringIO(text), label)


def scenario_csv(changes: Sequence[Change]) -> str:
    """The CSV text of a scenario, as `read_scenario` reads it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SCENARIO_COLUMNS)
    for c in changes:
        writer.writerow(["" if getattr(c, k) is None else getattr(c, k) for k in SCENARIO_COLUMNS])
    return out.getvalue()


def scenario_json(changes: Sequence[Change], **meta: Any) -> dict[str, Any]:
    """The JSON form of a scenario (``meta``: name, procedure, mode, threshold), as `read_scenario` reads it."""
    return {**meta, "changes": [{k: getattr(c, k) for k in SCENARIO_COLUMNS} for c in changes]}


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
            problems.append(
                DataProblem(source, f"add: id {change.id!r} already exists", row=n, id=change.id, column="id")
            )
            continue
        if change.action in ("move", "close") and not exists:
            message = f"{change.action}: no place with id {change.id!r}"
            problems.append(DataProblem(source, message, row=n, id=change.id, column="id"))
            continue
        if change.action == "close":
            del rows[change.id]
            continue
        assert change.lon is not None and change.lat is not None
        if inside is not None and not inside(change.lon, change.lat):
            line = str(DataProblem(
                source, f"{OUTSIDE}: lon={change.lon}, lat={change.lat} is in none of its communes", row=n,
                id=change.id, column="lon",
            ))
            raise OutsideServiceArea(line, problems=[line])
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
