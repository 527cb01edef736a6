r"""The one reader for the CSV files authored in this project, and the one way they report problems.

Every authored table (places, procedures, groups, calendar overrides, synonyms, place aliases, agency rules,
scenarios) is read here, so a hand-edited file always answers in the same format: file, row, column, what
is wrong (`geo.errors.DataProblem`). Row numbers are the file's line numbers as an editor shows them (the
header is row 1). Cells are NFC-normalised and stripped; a byte-order mark is accepted.

A reader of one table calls `read_table`, checks each `Row` and collects what is wrong in a `Problems`;
at the end `Problems.raise_if_any` raises one `DataValidationError` that lists every problem at once.

Examples
--------
>>> import io
>>> rows = read_table(io.StringIO("code,name\n1.001193, Đăng ký khai sinh \n"), ("code", "name"), label="p.csv")
>>> rows[0]["name"], rows[0].number
('Đăng ký khai sinh', 2)
>>> problems = Problems("p.csv")
>>> problems.add(rows[0], "code", "unknown code", id=rows[0]["code"])
>>> str(problems.items[0])
'p.csv:2 [1.001193] code: unknown code'
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from geo.errors import DataProblem, DataValidationError
from geo.text import nfc

__all__ = ["Problems", "Row", "read_table"]


class Row(Mapping[str, str]):
    """One data row of an authored table: its cells by column, and where it stands in the file."""

    __slots__ = ("_cells", "label", "number")

    def __init__(self, cells: dict[str, str], number: int, label: str) -> None:
        self._cells = cells
        self.number = number
        self.label = label

    def __getitem__(self, column: str) -> str:
        return self._cells[column]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cells)

    def __len__(self) -> int:
        return len(self._cells)

    def __repr__(self) -> str:
        return f"Row({self.label}:{self.number}, {self._cells!r})"


class Problems:
    """Problems found in one table, collected so that all of them are reported together."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.items: list[DataProblem] = []

    def add(self, row: Row | int | None, column: str | None, message: str, *, id: str | None = None) -> None:
        """Record that ``column`` of ``row`` (a `Row`, a row number, or None for the file) is wrong."""
        number = row.number if isinstance(row, Row) else row
        self.items.append(DataProblem(self.label, message, row=number, id=id or None, column=column))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        """Raise one `DataValidationError` listing every problem, if there is any."""
        if self.items:
            raise DataValidationError(list(self.items))


def read_table(
    source: Path | TextIO,
    columns: Sequence[str],
    *,
    optional: Sequence[str] = (),
    label: str | None = None,
) -> list[Row]:
    """Read an authored CSV file whose header holds exactly ``columns`` (``optional`` ones may be absent).

    Parameters
    ----------
    source
        The file, or an open text stream (tests).
    columns
        Every column the table may have, in any order in the file; each row is returned with all of them.
    optional
        Columns that may be missing from the header; read as empty cells.
    label
        How problems name the file (default: the file's name).

    Returns
    -------
    list of Row
        The data rows, cells NFC-normalised and stripped.

    Raises
    ------
    DataValidationError
        The file is missing or unreadable, its header lacks a required column or has an unknown or repeated
        one, or a row has more or fewer cells than the header (every such row is listed).
    """
    name = label or (source.name if isinstance(source, Path) else "<stream>")
    problems = Problems(name)
    try:
        text = source.read_text(encoding="utf-8-sig") if isinstance(source, Path) else source.read()
    except FileNotFoundError:
        problems.add(None, None, "file not found")
        problems.raise_if_any()
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(None, None, f"cannot read the file: {exc}")
        problems.raise_if_any()
    # newline="": the csv module reads \r, \n and \r\n line ends itself (a text sent over the API is not
    # translated the way a file opened in text mode is).
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    rows: list[Row] = []
    try:
        header = [nfc(c).strip() for c in next(reader, [])]
        _check_header(header, columns, optional, problems)
        problems.raise_if_any()
        for cells in reader:
            number = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # blank line
            if len(cells) != len(header):
                problems.add(number, None, f"{len(cells)} cells, but the header has {len(header)} columns")
                continue
            values = {column: "" for column in columns}
            values.update((column, nfc(cell).strip()) for column, cell in zip(header, cells, strict=True))
            rows.append(Row(values, number, name))
    except csv.Error as exc:  # e.g. a quote left open: the rest of the file cannot be split into cells
        problems.add(reader.line_num or None, None, f"not a CSV table: {exc}")
    problems.raise_if_any()
    return rows


def _check_header(header: list[str], columns: Sequence[str], optional: Sequence[str], problems: Problems) -> None:
    """Report required columns the header lacks, and columns it has twice or should not have."""
    if not header:
        problems.add(1, None, f"empty file; expected the header {','.join(columns)}")
        return
    missing = [c for c in columns if c not in header and c not in optional]
    if missing:
        problems.add(1, None, f"missing column(s): {', '.join(missing)}; expected {','.join(columns)}")
    unknown = [c for c in header if c not in columns]
    if unknown:
        problems.add(1, None, f"unexpected column(s): {', '.join(unknown)}; expected {','.join(columns)}")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        problems.add(1, None, f"repeated column(s): {', '.join(repeated)}")
