"""Write located coordinates back into a registry CSV in place, touching nothing else.

The registry (``data/service_points.csv``) is authored by hand and reviewed as a diff, so the write-back
changes only the location fields that changed: every other byte (column order, quoting, line endings,
a UTF-8 BOM, number spelling such as ``105.80``) stays. That is why the file is patched as text rather
than rewritten with pandas.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from geo.errors import DataProblem, DataValidationError
from geo.text import nfc

__all__ = ["LOCATION_COLUMNS", "cell_text", "write_locations"]

LOCATION_COLUMNS = ["lon", "lat", "location_precision", "location_method", "location_detail"]
"""The registry columns the geocoder fills (`geo.geocode.locate_points`) and `write_locations` writes."""

_Record = tuple[list[str], str]


def cell_text(value: Any) -> str:
    """Return a table cell's value as NFC text; missing values (None, NaN, NA) as ``""``."""
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return ""
    return nfc(str(value))


# --------------------------------------------------------------------------------------------------
# CSV text, field by field


def _scan_csv(text: str) -> list[_Record]:
    """Split CSV text into records of raw field texts (quotes kept) and each record's line ending."""
    records: list[_Record] = []
    fields: list[str] = []
    start, i, n, quoted = 0, 0, len(text), False
    while i < n:
        char = text[i]
        if quoted:
            if char == '"':
                if text.startswith('""', i):
                    i += 2
                    continue
                quoted = False
            i += 1
        elif char == '"':
            quoted = True
            i += 1
        elif char == ",":
            fields.append(text[start:i])
            i += 1
            start = i
        elif char in "\r\n":
            ending = "\r\n" if text.startswith("\r\n", i) else char
            fields.append(text[start:i])
            records.append((fields, ending))
            fields = []
            i += len(ending)
            start = i
        else:
            i += 1
    if start < n or fields:
        fields.append(text[start:])
        records.append((fields, ""))
    return records


def _decode(raw: str) -> str:
    stripped = raw.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] == '"':
        return stripped[1:-1].replace('""', '"')
    return raw


def _encode(value: str, quote_all: bool) -> str:
    if quote_all or any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _cell(column: str, value: Any) -> str:
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return ""
    if column in ("lon", "lat"):
        return repr(float(value))
    return str(value)


def _same_value(column: str, old_text: str, value: str) -> bool:
    """Whether a field's old text already says ``value`` (``105.80`` says ``105.8``)."""
    if old_text == value:
        return True
    if column in ("lon", "lat") and old_text and value:
        try:
            return float(old_text) == float(value)
        except ValueError:
            return False
    return False


def _patched(fields: list[str], header: list[str], update: dict[str, Any] | None, quote_all: bool) -> list[str]:
    """A record padded to the header, with the location fields of ``update`` that changed re-encoded."""
    new = list(fields) + [""] * (len(header) - len(fields))
    if update is None:
        return new
    for column in LOCATION_COLUMNS:
        pos = header.index(column)
        old_text = _decode(new[pos]) if pos < len(fields) else ""
        value = _cell(column, update.get(column))
        if not _same_value(column, old_text, value):
            new[pos] = _encode(value, quote_all)
    return new


def _id_problems(
    records: list[_Record], id_col: int, updates: dict[str, dict[str, Any]], source: str
) -> list[DataProblem]:
    """Repeated ids in the file, and located ids that are not in it."""
    problems: list[DataProblem] = []
    seen: dict[str, int] = {}
    for line, (fields, _end) in enumerate(records[1:], start=2):
        if fields == [""]:
            continue
        pid = _decode(fields[id_col]) if id_col < len(fields) else ""
        if pid in seen:
            problems.append(DataProblem(source, f"id repeated (line {seen[pid]})", row=line, id=pid))
        seen[pid] = line
    for pid in sorted(set(updates) - set(seen)):
        problems.append(DataProblem(source, "located row not in the file", id=pid))
    return problems


def _replace_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` aside, flush it to disk and rename it over ``path`` (keeping its permissions)."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------------
# Writing back


def write_locations(csv_path: Path, located_df: pd.DataFrame) -> int:
    """Write the location columns of ``located_df`` into the CSV at ``csv_path`` in place, by ``id``.

    Every other column, the row order, line endings, a UTF-8 BOM and the quoting of untouched fields are
    kept byte for byte; a location field whose value did not change keeps its text too (so ``105.80``
    stays ``105.80``). Location columns missing from the file are appended. Rows absent from
    ``located_df`` are left alone. The file is written aside and renamed over the original, so a failure
    never leaves it half-written.

    Parameters
    ----------
    csv_path
        The registry CSV (header row, comma-separated, an ``id`` column).
    located_df
        Output of `geo.geocode.locate_points` (columns ``id`` and `LOCATION_COLUMNS`).

    Returns
    -------
    int
        Number of rows whose text changed.

    Raises
    ------
    DataValidationError
        The CSV has no ``id`` column or repeated ids, or ``located_df`` has ids not in the CSV.
    """
    path = Path(csv_path)
    source = str(path)
    raw = path.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    records = _scan_csv(raw.decode("utf-8-sig"))
    if not records:
        raise DataValidationError([DataProblem(source, "empty file")])
    header_raw, header_ending = records[0]
    header = [_decode(h) for h in header_raw]
    quote_all = all(h.strip().startswith('"') for h in header_raw)
    if "id" not in header:
        raise DataValidationError([DataProblem(source, "no id column")])
    id_col = header.index("id")
    updates = {cell_text(r["id"]): r for r in located_df.to_dict("records")}
    problems = _id_problems(records, id_col, updates, source)
    if problems:
        raise DataValidationError(problems)

    added = [c for c in LOCATION_COLUMNS if c not in header]
    if added:
        header_raw = [*header_raw, *(_encode(c, quote_all) for c in added)]
        header = [*header, *added]
    out_records: list[_Record] = [(header_raw, header_ending)]
    changed = 0
    for fields, end in records[1:]:
        if fields == [""]:
            out_records.append((fields, end))
            continue
        new = _patched(fields, header, updates.get(_decode(fields[id_col])), quote_all)
        if new != fields:
            changed += 1
        out_records.append((new, end))
    # Every record keeps its own line ending; only a last line without one stays without.
    text = "".join(",".join(fields) + end for fields, end in out_records)
    _replace_atomically(path, (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return changed
