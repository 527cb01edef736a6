"""The one reader for authored CSV files: rows, cells and problems with file, row and column."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from geo.errors import DataValidationError
from geo.tables import Problems, read_table

COLUMNS = ("code", "name", "source")


def _problems(text: str, **kwargs) -> list[str]:
    with pytest.raises(DataValidationError) as info:
        read_table(io.StringIO(text), COLUMNS, label="t.csv", **kwargs)
    return [str(p) for p in info.value.problems]


def test_rows_are_nfc_stripped_and_numbered_like_an_editor() -> None:
    # "Đ" + decomposed "ă" (a + combining breve): NFC composes it.
    text = "code,name,source\n\n1.001193,  Đa\u0306ng ký ,https://x\n2.000001,B,\n"
    rows = read_table(io.StringIO(text), COLUMNS, label="t.csv")
    assert [r.number for r in rows] == [3, 4]
    assert rows[0]["name"] == "Đăng ký"
    assert dict(rows[1]) == {"code": "2.000001", "name": "B", "source": ""}


def test_bom_and_any_column_order(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("\ufeffname,source,code\nA,s,1\n", encoding="utf-8")
    (row,) = read_table(path, COLUMNS)
    assert (row["code"], row["name"], row.label) == ("1", "A", "t.csv")


def test_optional_columns_read_as_empty() -> None:
    (row,) = read_table(io.StringIO("code,name\n1,A\n"), COLUMNS, optional=("source",))
    assert row["source"] == ""


def test_header_problems_are_all_listed() -> None:
    found = _problems("code,code,extra\n1,2,3\n")
    assert found == [
        "t.csv:1: missing column(s): name, source; expected code,name,source",
        "t.csv:1: unexpected column(s): extra; expected code,name,source",
        "t.csv:1: repeated column(s): code",
    ]


def test_ragged_rows_are_listed_with_their_line() -> None:
    found = _problems("code,name,source\n1,A\n2,B,s\n3,C,s,extra\n")
    assert found == ["t.csv:2: 2 cells, but the header has 3 columns", "t.csv:4: 4 cells, but the header has 3 columns"]


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="file not found"):
        read_table(tmp_path / "none.csv", COLUMNS)
    assert _problems("") == ["t.csv:1: empty file; expected the header code,name,source"]


def test_problems_name_file_row_column_and_id() -> None:
    (row,) = read_table(io.StringIO("code,name,source\n1,A,\n"), COLUMNS, label="t.csv")
    problems = Problems("t.csv")
    assert not problems
    problems.add(row, "source", "source is empty", id="1")
    problems.add(None, None, "3 rows expected")
    with pytest.raises(DataValidationError) as info:
        problems.raise_if_any()
    assert [str(p) for p in info.value.problems] == ["t.csv:2 [1] source: source is empty", "t.csv: 3 rows expected"]
    assert info.value.problems[0].column == "source"


def test_any_line_end_splits_rows() -> None:
    # A text sent over the API keeps its line ends; old Mac (\r) and Windows (\r\n) files read like Unix ones.
    for end in ("\r", "\r\n", "\n"):
        text = end.join(["code,name,source", "1.001193,A,", "2.000001,B,"]) + end
        rows = read_table(io.StringIO(text), COLUMNS, label="t.csv")
        assert [(r.number, r["code"]) for r in rows] == [(2, "1.001193"), (3, "2.000001")], repr(end)


def test_a_text_the_csv_module_cannot_split_is_a_problem_not_a_crash() -> None:
    # A cell longer than the csv module's field limit (131,072 characters).
    problems = _problems("code,name,source\n1.001193," + "x" * 200_000 + ",\n")
    assert len(problems) == 1 and "not a CSV table" in problems[0] and "t.csv" in problems[0]
