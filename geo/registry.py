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
from rapidfuzz import fuzz

from geo.errors import DataProblem, DataValidationError, UnknownProcedure
from geo.settings import PROJECT_ROOT, get_settings
from geo.text import fold, nfc

__all__ = [
    "BOUNDARY_FREE_VALUES",
    "CONFIDENCE_VALUES",
    "DERIVED_LOCATION_METHODS",
    "GROUPS_FILE",
    "GROUP_COLUMNS",
    "HANOI_BBOX",
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
HANOI_BBOX = (104.9, 20.5, 106.1, 21.5)
"""(min lon, min lat, max lon, max lat) that every service point must fall in."""

_CODE = re.compile(r"^\d\.\d{6}$")
_COMMUNE_CODE = re.compile(r"^\d{5}$")
_GROUP = re.compile(r"^[a-z][a-z0-9_]*$")
_POINT_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CODE_LIKE = re.compile(r"^[\d.]+$")
_WORDS = re.compile(r"[0-9a-z]+")
_NAME_PREFIX = "thu tuc "
_FUZZY_CUTOFF = 80.0
_SUGGEST_CUTOFF = 55.0
_CODE_LENGTH = 8
_MATCH_ORDER = (
    "exact_code", "exact_name", "code_prefix", "name_prefix", "name_contains", "all_words", "fuzzy",
)  # fmt: skip
_FUZZY_TIER = len(_MATCH_ORDER) - 1


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
    """Read a CSV as NFC text with exactly ``columns`` (``optional`` ones may be absent: read as empty).

    On a file or header problem, append it to ``problems`` and return None.
    """
    file = _label(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8")
    except FileNotFoundError:
        problems.append(DataProblem(file, "file not found"))
        return None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        problems.append(DataProblem(file, f"cannot read CSV: {exc}"))
        return None
    header = [str(c) for c in frame.columns]
    missing = [c for c in columns if c not in header and c not in optional]
    extra = [c for c in header if c not in columns]
    if missing:
        problems.append(DataProblem(file, f"missing column(s): {', '.join(missing)}", row=1))
    if extra:
        problems.append(DataProblem(file, f"unexpected column(s): {', '.join(extra)}", row=1))
    if missing or extra:
        return None
    for column in optional:
        if column not in header:
            frame[column] = ""
    frame = frame[list(columns)].astype(object)
    for column in columns:
        frame[column] = [nfc(str(v)) for v in frame[column]]
    return frame.reset_index(drop=True)


def _split(value: str) -> list[str]:
    """Split a ``|``-separated cell into stripped parts (empty cell → no parts)."""
    return [part.strip() for part in value.split("|")] if value.strip() else []


def _check_enum(value: str, allowed: Collection[str], column: str, add: _Adder, *, required: bool = True) -> None:
    """Report an empty (when ``required``) or unlisted enumerated value."""
    if not value:
        if required:
            add(f"empty {column}")
        return
    if value not in allowed:
        add(f"{column} {value!r} is not one of {', '.join(sorted(allowed))}")


class _Adder:
    """Append problems for one row of one file."""

    def __init__(self, problems: list[DataProblem], file: str, row: int, id: str | None) -> None:
        self.problems, self.file, self.row, self.id = problems, file, row, id

    def __call__(self, message: str) -> None:
        """Record ``message`` as a problem of this row."""
        self.problems.append(DataProblem(self.file, message, row=self.row, id=self.id or None))


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
    for i, rec in enumerate(frame.to_dict("records")):
        row = i + 2
        code = rec["code"]
        add = _Adder(problems, file, row, code)
        if not code:
            add("empty code")
        elif not _CODE.match(code):
            add(f"malformed procedure code {code!r} (expected d.dddddd, e.g. 1.001193)")
        elif code in first_row:
            add(f"duplicate procedure code {code} (first at row {first_row[code]})")
        else:
            first_row[code] = row
        for column in ("name", "field", "agency", "source"):
            if not rec[column]:
                add(f"empty {column}")
        for level in _split(rec["level"]):
            if level not in LEVELS:
                add(f"level {level!r} is not one of {', '.join(sorted(LEVELS))}")
        kinds = _split(rec["handled_at"])
        for kind in kinds:
            if kind not in KINDS:
                add(f"handled_at kind {kind!r} is not one of {', '.join(KINDS)}")
        if len(set(kinds)) != len(kinds):
            add("handled_at lists a kind twice")
        _check_enum(rec["boundary_free"], BOUNDARY_FREE_VALUES, "boundary_free", add)
        _check_enum(rec["online_full"], YES_NO_UNKNOWN, "online_full", add)
        _check_enum(rec["in_person"], YES_NO_UNKNOWN, "in_person", add)
        _check_enum(rec["confidence"], CONFIDENCE_VALUES, "confidence", add)
        if kinds and rec["in_person"] == "no":
            add("handled_at lists in-person locations but in_person is 'no'")
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
    for i, rec in enumerate(frame.to_dict("records")):
        group, code = rec["group"], rec["code"]
        add = _Adder(problems, file, i + 2, f"{group}:{code}")
        if not _GROUP.match(group):
            add(f"malformed group name {group!r} (lower-case letters, digits and _)")
        if not _CODE.match(code):
            add(f"malformed procedure code {code!r} (expected d.dddddd)")
        elif code not in known:
            add(f"unknown procedure code {code}")
        elif code in groups.get(group, []):
            add(f"{code} is listed twice in group {group}")
        if not rec["source"]:
            add("empty source")
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
    for i, rec in enumerate(frame.to_dict("records")):
        row = i + 2
        pid = rec["id"]
        add = _Adder(problems, file, row, pid)
        if not pid:
            add("empty id")
        elif not _POINT_ID.match(pid):
            add(f"malformed id {pid!r} (lower-case letters, digits and single hyphens)")
        elif pid in first_row:
            add(f"duplicate point id {pid} (first at row {first_row[pid]})")
        else:
            first_row[pid] = row
        kind = rec["kind"]
        if kind not in KINDS:
            add(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
        for column in ("name", "address", "opening_hours", "source"):
            if not rec[column]:
                add(f"empty {column}")
        code = rec["commune_code"]
        if not _COMMUNE_CODE.match(code):
            add(f"commune_code {code!r} is not 5 digits")
        elif communes is not None and code not in communes:
            add(f"unknown commune_code {code}")
        _check_enum(rec["hours_source"], HOURS_SOURCES, "hours_source", add)
        _check_enum(rec["confidence"], CONFIDENCE_VALUES, "confidence", add)
        lon, lat = _check_location(rec, add, require_coordinates)
        lons.append(lon)
        lats.append(lat)
        codes, errors = expand_services(rec["services"], groups, known)
        for message in errors:
            add(message)
        if kind in KINDS:
            bad = _kind_mismatches(kind, codes, handled)
            if bad:
                add(_mismatch_message(kind, bad))
        expanded.append(codes)
    _raise(problems)
    frame["lon"] = pd.Series(lons, dtype="float64")
    frame["lat"] = pd.Series(lats, dtype="float64")
    frame["name_ascii"] = [fold(name) for name in frame["name"]]
    frame["procedure_codes"] = pd.Series(expanded, dtype=object)
    frame.attrs["source_file"] = file
    return frame


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


# --------------------------------------------------------------------------- search


def _key(text: str) -> str:
    """Folded words of a name or query, without a leading "Thủ tục" (the portal uses it inconsistently)."""
    key = " ".join(_WORDS.findall(fold(text)))
    return key[len(_NAME_PREFIX) :] if key.startswith(_NAME_PREFIX) else key


def _fuzzy(query: str, key: str) -> float:
    """Similarity 0–100 of a folded query to a folded name; a typo in a prefix of a long name still scores."""
    score = fuzz.ratio(query, key)
    if len(key) > len(query):
        score = max(score, 0.9 * fuzz.partial_ratio(query, key))
    return float(max(score, 0.95 * fuzz.token_sort_ratio(query, key)))


def _ranked(query: str, procedures: pd.DataFrame) -> list[tuple[int, float, int, str, int]]:
    """Rank every procedure against ``query``: (tier, -score, name length, code, position), best first."""
    text = nfc(query)
    qkey = _key(text)
    qwords = qkey.split()
    code_like = bool(_CODE_LIKE.match(text))
    ranked: list[tuple[int, float, int, str, int]] = []
    for pos, (code, name) in enumerate(
        zip(procedures["code"].astype(str), procedures["name"].astype(str), strict=True)
    ):
        key = _key(name)
        if text == code:
            tier, score = 0, 100.0
        elif qkey and qkey == key:
            tier, score = 1, 100.0
        elif code_like and code.startswith(text):
            tier, score = 2, float(fuzz.ratio(text, code))
        elif qkey and key.startswith(qkey):
            tier, score = 3, _fuzzy(qkey, key)
        elif qkey and qkey in key:
            tier, score = 4, _fuzzy(qkey, key)
        elif qwords and all(any(w.startswith(q) for w in key.split()) for q in qwords):
            tier, score = 5, _fuzzy(qkey, key)
        elif code_like:
            tier, score = _FUZZY_TIER, float(fuzz.ratio(text, code)) if len(text) == _CODE_LENGTH else 0.0
        else:
            tier, score = _FUZZY_TIER, _fuzzy(qkey, key) if qkey else 0.0
        ranked.append((tier, -score, len(name), code, pos))
    ranked.sort()
    return ranked


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
        name_contains, all_words or fuzzy) and ``score`` (0–100): exact code first, then exact name,
        code prefix, name prefix, substring and all-words on folded text, then fuzzy (score >= 80).
    """
    columns = [*procedures.columns, "match", "score"]
    if not q or not q.strip() or limit <= 0:
        return pd.DataFrame(columns=columns)
    hits = [r for r in _ranked(q, procedures) if r[0] < _FUZZY_TIER or -r[1] >= _FUZZY_CUTOFF][:limit]
    out = procedures.iloc[[r[4] for r in hits]].copy()
    out["match"] = [_MATCH_ORDER[r[0]] for r in hits]
    out["score"] = [round(-r[1], 1) for r in hits]
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
    text = nfc(query or "")
    if not text:
        raise UnknownProcedure("empty procedure code or name", suggestions=[])
    ranked = _ranked(text, procedures)
    exact = [r for r in ranked if r[0] <= 1]
    if exact and (exact[0][0] == 0 or len(exact) == 1):
        return procedures.iloc[exact[0][4]]
    if exact:
        codes = [r[3] for r in exact]
        raise UnknownProcedure(
            f"procedure name {text!r} is ambiguous: codes {', '.join(codes)}; give the code",
            suggestions=codes,
        )
    close = [r for r in ranked if -r[1] >= _SUGGEST_CUTOFF][:3]
    names = procedures["name"].astype(str).to_numpy()
    if close:
        hint = "; did you mean: " + "; ".join(f"{r[3]} {names[r[4]]}" for r in close) + "?"
    else:
        hint = "; no close match in the catalogue"
    raise UnknownProcedure(f"unknown procedure {text!r}{hint}", suggestions=[r[3] for r in close])
