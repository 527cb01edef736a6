"""Procedure catalogue and service-point registry: load, validate, expand, search.

Three authored CSV files under ``get_settings().data_dir`` (UTF-8, comma-separated, every cell text):

``procedures.csv``
    One row per administrative procedure (TTHC): ``code`` (national ``d.dddddd``), ``name`` (official,
    Vietnamese), ``field``, ``level`` (``|``-separated portal values), ``agency``, ``handled_at``
    (``|``-separated location kinds that accept it in person; empty when it is not handled in person at
    the PASC network, e.g. police procedures), ``boundary_free`` (yes/no/pilot/unknown), ``online_full``
    and ``in_person`` (yes/no/unknown), ``note``, ``source``, ``confidence`` (high/medium/low).
``procedure_groups.csv``
    Named groups, one row per member: ``group,code,source``. A point's ``services`` names a group as
    ``@group``. Membership is listed explicitly (not as a rule) so that every membership is visible and
    diffable in review; a member that a point's kind does not handle is caught by the kind cross-check.
``service_points.csv``
    One row per place a citizen can go: ``id, kind, name, address, commune_code, lon, lat,
    location_precision, location_method, location_detail, opening_hours, hours_source, services, source,
    note, confidence``. ``services`` is ``|``-separated procedure codes and/or ``@group`` names.
    ``lon, lat, location_precision, location_method, location_detail`` are filled by ``geo.geocode``;
    empty until then (``location_detail`` may be absent from the file).

Every loader collects one `DataProblem` per issue (file, spreadsheet row number where the header is row 1,
record id) and raises them together as one `DataValidationError`. Opening-hours syntax is not checked
here (``geo.hours`` owns it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable
from pathlib import Path

import pandas as pd

from geo.errors import DataProblem, DataValidationError
from geo.geodesy import HANOI_BBOX
from geo.procedure_search import search_of
from geo.settings import PROJECT_ROOT, get_settings
from geo.tables import read_table
from geo.text import fold

__all__ = [
    "BOUNDARY_FREE_VALUES",
    "CONFIDENCE_VALUES",
    "DERIVED_LOCATION_METHODS",
    "GROUPS_FILE",
    "GROUP_COLUMNS",
    "HOURS_SOURCES",
    "KINDS",
    "LEVELS",
    "LOCATION_METHODS",
    "LOCATION_PRECISIONS",
    "OPTIONAL_POINT_COLUMNS",
    "POINTS_FILE",
    "POINT_COLUMNS",
    "PROCEDURES_FILE",
    "PROCEDURE_COLUMNS",
    "capabilities",
    "catalogue_capabilities",
    "expand_services",
    "find_procedure",
    "load_procedure_groups",
    "load_procedures",
    "load_service_points",
    "search_procedures",
]

PROCEDURES_FILE = "procedures.csv"
GROUPS_FILE = "procedure_groups.csv"
POINTS_FILE = "service_points.csv"

PROCEDURE_COLUMNS: tuple[str, ...] = (
    "code", "name", "field", "level", "agency", "handled_at", "boundary_free", "online_full", "in_person",
    "note", "source", "confidence",
)  # fmt: skip
GROUP_COLUMNS: tuple[str, ...] = ("group", "code", "source")
POINT_COLUMNS: tuple[str, ...] = (
    "id", "kind", "name", "address", "commune_code", "lon", "lat", "location_precision", "location_method",
    "location_detail", "opening_hours", "hours_source", "services", "source", "note", "confidence",
)  # fmt: skip
OPTIONAL_POINT_COLUMNS: tuple[str, ...] = ("location_detail",)
"""Columns a registry file may omit (read as empty); ``location_detail`` is written by ``geo.geocode``."""

KINDS: tuple[str, ...] = (
    "city_center", "branch", "intake_point", "commune_center", "digital_support_station", "kiosk",
)  # fmt: skip
LEVELS = frozenset({"Cấp xã", "Cấp tỉnh", "Cấp bộ/ngành", "Cơ quan khác"})
BOUNDARY_FREE_VALUES = frozenset({"yes", "no", "pilot", "unknown"})
YES_NO_UNKNOWN = frozenset({"yes", "no", "unknown"})
CONFIDENCE_VALUES = frozenset({"high", "medium", "low"})
HOURS_SOURCES = frozenset({"sourced", "assumed"})
LOCATION_PRECISIONS = frozenset({"exact", "approximate"})
DERIVED_LOCATION_METHODS = frozenset({"street", "legacy_point", "commune_interior"})
"""Methods that estimate a location from an address; never ``exact``."""
LOCATION_METHODS = DERIVED_LOCATION_METHODS | {"surveyed", "staff_map"}
"""``surveyed``: measured on site (kept as is by ``geo.geocode``; the only way to ``exact``); ``staff_map``: placed
on the map by the office's staff (`geo.changes`, exported by ``gandan staff export``)."""

_CODE = re.compile(r"^\d\.\d{6}$")
_COMMUNE_CODE = re.compile(r"^\d{5}$")
_GROUP = re.compile(r"^[a-z][a-z0-9_]*$")
_POINT_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


# --------------------------------------------------------------------------- reading


def _label(path: Path) -> str:
    """Return ``path`` relative to the project root when inside it (for messages), else as given."""
    try:
        return path.resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


def _read(
    path: Path, columns: tuple[str, ...], problems: list[DataProblem], optional: tuple[str, ...] = ()
) -> pd.DataFrame | None:
    """Read an authored CSV through `geo.tables.read_table` into a frame of text cells.

    On a file, header or row-shape problem, append it to ``problems`` and return None. The file line of
    each row is kept in ``frame.attrs["rows"]``.
    """
    try:
        rows = read_table(path, columns, optional=optional, label=_label(path))
    except DataValidationError as exc:
        problems.extend(exc.problems)
        return None
    frame = pd.DataFrame([dict(r) for r in rows], columns=list(columns), dtype=object)
    frame.attrs["rows"] = [r.number for r in rows]
    return frame


def _split(value: str) -> list[str]:
    """Split a ``|``-separated cell into stripped parts (empty cell → no parts)."""
    return [part.strip() for part in value.split("|")] if value.strip() else []


def _check_enum(value: str, allowed: Collection[str], column: str, add: _Adder, *, required: bool = True) -> None:
    """Report an empty (when ``required``) or unlisted enumerated value."""
    if not value:
        if required:
            add(f"empty {column}", column)
        return
    if value not in allowed:
        add(f"{column} {value!r} is not one of {', '.join(sorted(allowed))}", column)


class _Adder:
    """Append problems for one row of one file."""

    def __init__(self, problems: list[DataProblem], file: str, row: int, id: str | None) -> None:
        self.problems, self.file, self.row, self.id = problems, file, row, id

    def __call__(self, message: str, column: str | None = None) -> None:
        """Record ``message`` as a problem of this row (and of ``column``, when one cell is at fault)."""
        self.problems.append(DataProblem(self.file, message, row=self.row, id=self.id or None, column=column))


def _raise(problems: list[DataProblem]) -> None:
    """Raise every collected problem at once, if there is any."""
    if problems:
        raise DataValidationError(problems)


# --------------------------------------------------------------------------- procedures


def load_procedures(path: Path | None = None) -> pd.DataFrame:
    """Load and validate the procedure catalogue.

    Parameters
    ----------
    path
        The CSV; default ``<data_dir>/procedures.csv``.

    Returns
    -------
    pandas.DataFrame
        The `PROCEDURE_COLUMNS` as text (codes are strings, empty cells are ``""``) plus ``name_ascii``
        (the name folded to lower-case ASCII), in file order with a fresh RangeIndex.

    Raises
    ------
    DataValidationError
        One `DataProblem` per issue, with file, row and code.
    """
    path = path or get_settings().data_dir / PROCEDURES_FILE
    problems: list[DataProblem] = []
    frame = _read(path, PROCEDURE_COLUMNS, problems)
    if frame is None:
        raise DataValidationError(problems)
    file = _label(path)
    first_row: dict[str, int] = {}
    for row, rec in zip(frame.attrs["rows"], frame.to_dict("records"), strict=True):
        code = rec["code"]
        add = _Adder(problems, file, row, code)
        if not code:
            add("empty code", "code")
        elif not _CODE.match(code):
            add(f"malformed procedure code {code!r} (expected d.dddddd, e.g. 1.001193)", "code")
        elif code in first_row:
            add(f"duplicate procedure code {code} (first at row {first_row[code]})", "code")
        else:
            first_row[code] = row
        for column in ("name", "field", "agency", "source"):
            if not rec[column]:
                add(f"empty {column}", column)
        for level in _split(rec["level"]):
            if level not in LEVELS:
                add(f"level {level!r} is not one of {', '.join(sorted(LEVELS))}", "level")
        kinds = _split(rec["handled_at"])
        for kind in kinds:
            if kind not in KINDS:
                add(f"handled_at kind {kind!r} is not one of {', '.join(KINDS)}", "handled_at")
        if len(set(kinds)) != len(kinds):
            add("handled_at lists a kind twice", "handled_at")
        _check_enum(rec["boundary_free"], BOUNDARY_FREE_VALUES, "boundary_free", add)
        _check_enum(rec["online_full"], YES_NO_UNKNOWN, "online_full", add)
        _check_enum(rec["in_person"], YES_NO_UNKNOWN, "in_person", add)
        _check_enum(rec["confidence"], CONFIDENCE_VALUES, "confidence", add)
        if kinds and rec["in_person"] == "no":
            add("handled_at lists in-person locations but in_person is 'no'", "in_person")
    _raise(problems)
    frame["name_ascii"] = [fold(name) for name in frame["name"]]
    frame.attrs["source_file"] = file
    return frame


def _handled_at(procedures: pd.DataFrame) -> dict[str, frozenset[str]]:
    """Map each procedure code to the set of kinds that handle it in person."""
    return {
        str(code): frozenset(_split(str(value)))
        for code, value in zip(procedures["code"], procedures["handled_at"], strict=True)
    }


# --------------------------------------------------------------------------- groups


def load_procedure_groups(path: Path | None = None, procedures: pd.DataFrame | None = None) -> dict[str, list[str]]:
    """Load and validate the named procedure groups.

    Parameters
    ----------
    path
        The CSV; default ``<data_dir>/procedure_groups.csv``.
    procedures
        The catalogue every member must belong to; default `load_procedures()`.

    Returns
    -------
    dict[str, list[str]]
        Group name → member codes, in file order.

    Raises
    ------
    DataValidationError
        One `DataProblem` per issue (bad group name, malformed/unknown code, duplicate member, no source).
    """
    path = path or get_settings().data_dir / GROUPS_FILE
    if procedures is None:
        procedures = load_procedures()
    known = set(procedures["code"].astype(str))
    problems: list[DataProblem] = []
    frame = _read(path, GROUP_COLUMNS, problems)
    if frame is None:
        raise DataValidationError(problems)
    file = _label(path)
    groups: dict[str, list[str]] = {}
    for row, rec in zip(frame.attrs["rows"], frame.to_dict("records"), strict=True):
        group, code = rec["group"], rec["code"]
        add = _Adder(problems, file, row, f"{group}:{code}")
        if not _GROUP.match(group):
            add(f"malformed group name {group!r} (lower-case letters, digits and _)", "group")
        if not _CODE.match(code):
            add(f"malformed procedure code {code!r} (expected d.dddddd)", "code")
        elif code not in known:
            add(f"unknown procedure code {code}", "code")
        elif code in groups.get(group, []):
            add(f"{code} is listed twice in group {group}", "code")
        if not rec["source"]:
            add("empty source", "source")
        groups.setdefault(group, [])
        if code not in groups[group]:
            groups[group].append(code)
    _raise(problems)
    return groups


# --------------------------------------------------------------------------- service points


def expand_services(services: str, groups: dict[str, list[str]], known: Collection[str]) -> tuple[list[str], list[str]]:
    """Expand a ``services`` cell into procedure codes.

    Parameters
    ----------
    services
        ``|``-separated codes and ``@group`` names.
    groups
        Group name → member codes.
    known
        Every valid procedure code.

    Returns
    -------
    tuple[list[str], list[str]]
        The codes (de-duplicated, in order of appearance) and one message per bad token.
    """
    codes: list[str] = []
    errors: list[str] = []
    seen_tokens: set[str] = set()
    for token in _split(services):
        if token in seen_tokens:
            errors.append(f"services lists {token} twice")
            continue
        seen_tokens.add(token)
        if token.startswith("@"):
            members = groups.get(token[1:])
            if members is None:
                errors.append(f"unknown procedure group {token} in services")
                continue
        elif not token:
            errors.append("empty entry in services (stray '|')")
            continue
        elif not _CODE.match(token):
            errors.append(f"malformed services entry {token!r} (a code d.dddddd or @group)")
            continue
        elif token not in known:
            errors.append(f"unknown procedure code {token} in services")
            continue
        else:
            members = [token]
        for code in members:
            if code not in codes:
                codes.append(code)
    return codes, errors


def _kind_mismatches(kind: str, codes: Iterable[str], handled: dict[str, frozenset[str]]) -> list[str]:
    """Return the codes that a point of ``kind`` lists but whose ``handled_at`` excludes ``kind``."""
    return [c for c in codes if c in handled and kind not in handled[c]]


def _mismatch_message(kind: str, bad: list[str]) -> str:
    """Describe the procedures a point of ``kind`` lists but may not handle (first five named)."""
    shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
    return f"a {kind} lists procedure(s) not handled at kind {kind} (see handled_at): {shown}"


def _number(value: str) -> float | None:
    """Parse a finite float, or return None."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def load_service_points(
    path: Path | None = None,
    procedures: pd.DataFrame | None = None,
    groups: dict[str, list[str]] | None = None,
    require_coordinates: bool = False,
    commune_codes: Collection[str] | None = None,
) -> pd.DataFrame:
    """Load and validate the service-point registry.

    Parameters
    ----------
    path
        The CSV; default ``<data_dir>/service_points.csv``.
    procedures
        The catalogue; default `load_procedures()`.
    groups
        Named groups; default `load_procedure_groups()` against ``procedures``.
    require_coordinates
        When True, every point must have ``lon``, ``lat``, ``location_precision`` and ``location_method``.
    commune_codes
        When given, every ``commune_code`` must be one of these.

    Returns
    -------
    pandas.DataFrame
        The `POINT_COLUMNS` (text; ``lon``/``lat`` as float, NaN when empty) plus ``name_ascii`` and
        ``procedure_codes`` (list of codes from ``services``, groups expanded), in file order.

    Raises
    ------
    DataValidationError
        One `DataProblem` per issue, with file, row and point id.
    """
    path = path or get_settings().data_dir / POINTS_FILE
    if procedures is None:
        procedures = load_procedures()
    if groups is None:
        groups = load_procedure_groups(procedures=procedures)
    known = set(procedures["code"].astype(str))
    handled = _handled_at(procedures)
    communes = set(commune_codes) if commune_codes is not None else None
    problems: list[DataProblem] = []
    frame = _read(path, POINT_COLUMNS, problems, OPTIONAL_POINT_COLUMNS)
    if frame is None:
        raise DataValidationError(problems)
    file = _label(path)
    first_row: dict[str, int] = {}
    expanded: list[list[str]] = []
    lons: list[float] = []
    lats: list[float] = []
    for row, rec in zip(frame.attrs["rows"], frame.to_dict("records"), strict=True):
        add = _Adder(problems, file, row, rec["id"])
        _check_point_cells(rec, row, first_row, communes, add)
        lon, lat = _check_location(rec, add, require_coordinates)
        lons.append(lon)
        lats.append(lat)
        codes, errors = expand_services(rec["services"], groups, known)
        for message in errors:
            add(message, "services")
        if rec["kind"] in KINDS:
            bad = _kind_mismatches(rec["kind"], codes, handled)
            if bad:
                add(_mismatch_message(rec["kind"], bad), "services")
        expanded.append(codes)
    _raise(problems)
    frame["lon"] = pd.Series(lons, dtype="float64")
    frame["lat"] = pd.Series(lats, dtype="float64")
    frame["name_ascii"] = [fold(name) for name in frame["name"]]
    frame["procedure_codes"] = pd.Series(expanded, dtype=object)
    frame.attrs["source_file"] = file
    return frame


def _check_point_cells(
    rec: dict[str, str], row: int, first_row: dict[str, int], communes: set[str] | None, add: _Adder
) -> None:
    """Check the id (unique, well formed), kind, required text, commune code and enumerations of one point."""
    pid = rec["id"]
    if not pid:
        add("empty id", "id")
    elif not _POINT_ID.match(pid):
        add(f"malformed id {pid!r} (lower-case letters, digits and single hyphens)", "id")
    elif pid in first_row:
        add(f"duplicate point id {pid} (first at row {first_row[pid]})", "id")
    else:
        first_row[pid] = row
    if rec["kind"] not in KINDS:
        add(f"unknown kind {rec['kind']!r} (one of {', '.join(KINDS)})", "kind")
    for column in ("name", "address", "opening_hours", "source"):
        if not rec[column]:
            add(f"empty {column}", column)
    code = rec["commune_code"]
    if not _COMMUNE_CODE.match(code):
        add(f"commune_code {code!r} is not 5 digits", "commune_code")
    elif communes is not None and code not in communes:
        add(f"unknown commune_code {code}", "commune_code")
    _check_enum(rec["hours_source"], HOURS_SOURCES, "hours_source", add)
    _check_enum(rec["confidence"], CONFIDENCE_VALUES, "confidence", add)


def _check_location(rec: dict[str, str], add: _Adder, require: bool) -> tuple[float, float]:
    """Validate the four location cells of one point; return lon, lat (NaN when absent or bad)."""
    nan = float("nan")
    raw_lon, raw_lat = rec["lon"], rec["lat"]
    precision, method = rec["location_precision"], rec["location_method"]
    if not raw_lon and not raw_lat:
        if require:
            add("no coordinates (lon/lat empty); run the locate step")
        if precision or method:
            add("location_precision/location_method given without lon/lat")
        return nan, nan
    if not raw_lon or not raw_lat:
        add("only one of lon/lat is given")
        return nan, nan
    lon, lat = _number(raw_lon), _number(raw_lat)
    if lon is None or lat is None:
        add(f"lon/lat not numeric: {raw_lon!r}, {raw_lat!r}")
        return nan, nan
    min_lon, min_lat, max_lon, max_lat = HANOI_BBOX
    if not (min_lon <= lon <= max_lon and min_lat <= lat <= max_lat):
        add(f"lon/lat {lon}, {lat} outside Hanoi ({min_lon}–{max_lon} E, {min_lat}–{max_lat} N)")
    if not precision:
        add("lon/lat given without location_precision")
    elif precision not in LOCATION_PRECISIONS:
        add(f"location_precision {precision!r} is not one of {', '.join(sorted(LOCATION_PRECISIONS))}")
    if not method:
        add("lon/lat given without location_method")
    elif method not in LOCATION_METHODS:
        add(f"location_method {method!r} is not one of {', '.join(sorted(LOCATION_METHODS))}")
    elif method in DERIVED_LOCATION_METHODS and precision == "exact":
        add(f"location derived by {method} cannot be 'exact' (use 'approximate')")
    return lon, lat


# --------------------------------------------------------------------------- capabilities


def capabilities(points: pd.DataFrame, procedures: pd.DataFrame, groups: dict[str, list[str]]) -> pd.DataFrame:
    """List which point handles which procedure, checking each against the procedure's ``handled_at``.

    Parameters
    ----------
    points
        Service points with ``id``, ``kind`` and ``services`` (as from `load_service_points`).
    procedures
        The catalogue.
    groups
        Named groups.

    Returns
    -------
    pandas.DataFrame
        Columns ``point_id`` and ``procedure_code`` (text), one row per pair, in point then services order.

    Raises
    ------
    DataValidationError
        When a point names an unknown code or group, or lists a procedure whose ``handled_at`` does not
        include the point's kind (row = position in ``points`` + 2, as in the CSV).
    """
    file = str(points.attrs.get("source_file", POINTS_FILE))
    known = set(procedures["code"].astype(str))
    handled = _handled_at(procedures)
    problems: list[DataProblem] = []
    pairs: list[tuple[str, str]] = []
    for i, (pid, kind, services) in enumerate(
        zip(points["id"].astype(str), points["kind"].astype(str), points["services"], strict=True)
    ):
        add = _Adder(problems, file, i + 2, pid)
        text = services if isinstance(services, str) else ""
        codes, errors = expand_services(text, groups, known)
        for message in errors:
            add(message)
        bad = _kind_mismatches(kind, codes, handled)
        if bad:
            add(_mismatch_message(kind, bad))
        pairs.extend((pid, code) for code in codes)
    _raise(problems)
    return pd.DataFrame(pairs, columns=["point_id", "procedure_code"], dtype=object)


def catalogue_capabilities(points: pd.DataFrame, procedures: pd.DataFrame) -> pd.DataFrame:
    """Capabilities of the catalogue's procedures: every point of a kind its place rule names.

    Parameters
    ----------
    points
        Service points with ``id`` and ``kind``.
    procedures
        The index's procedures layer (`geo.catalogue.procedure_layer`): only rows of ``layer`` ``catalogue``
        count; the reviewed rows keep the capabilities their points list (`capabilities`).

    Returns
    -------
    pandas.DataFrame
        ``point_id`` and ``procedure_code``, in procedure then point order.
    """
    by_kind: dict[str, list[str]] = {}
    for pid, kind in zip(points["id"].astype(str), points["kind"].astype(str), strict=True):
        by_kind.setdefault(kind, []).append(pid)
    catalogue = procedures[procedures["layer"] == "catalogue"] if "layer" in procedures else procedures.iloc[:0]
    pairs: list[tuple[str, str]] = []
    for code, handled in zip(catalogue["code"].astype(str), catalogue["handled_at"].astype(str), strict=True):
        kinds = set(_split(handled))
        pairs.extend((pid, code) for kind in KINDS if kind in kinds for pid in by_kind.get(kind, ()))
    return pd.DataFrame(pairs, columns=["point_id", "procedure_code"], dtype=object)


# --------------------------------------------------------------------------- search


def search_procedures(q: str, procedures: pd.DataFrame, limit: int = 10) -> pd.DataFrame:
    """Search the catalogue by code or name, diacritics optional, best match first.

    Parameters
    ----------
    q
        A code (``1.001193``, or its start) or words of the name (``"dang ky khai sinh"``).
    procedures
        The catalogue.
    limit
        At most this many rows.

    Returns
    -------
    pandas.DataFrame
        The matching catalogue rows plus ``match`` (exact_code, exact_name, code_prefix, name_prefix,
        name_contains, all_words, field or fuzzy; see `geo.procedure_search`) and ``score`` (0–100).
    """
    columns = [*procedures.columns, "match", "score"]
    if not q or not q.strip() or limit <= 0:
        return pd.DataFrame(columns=columns)
    hits = search_of(procedures).search(q, limit=limit)
    out = procedures.iloc[[h.position for h in hits]].copy()
    out["match"] = [h.match for h in hits]
    out["score"] = [h.score for h in hits]
    return out.reset_index(drop=True)


def find_procedure(query: str, procedures: pd.DataFrame) -> pd.Series:
    """Return the catalogue row whose code or name (diacritics optional) is exactly ``query``.

    Parameters
    ----------
    query
        A code (``1.001193``) or a full name (``"Đăng ký khai sinh"``, ``"dang ky khai sinh"``); a
        leading "Thủ tục" is optional.
    procedures
        The catalogue.

    Returns
    -------
    pandas.Series
        The procedure's row.

    Raises
    ------
    UnknownProcedure
        No exact match (or a name shared by several codes); the message and ``extra["suggestions"]``
        carry up to 3 close matches.
    """
    return procedures.iloc[search_of(procedures).find(query)]
