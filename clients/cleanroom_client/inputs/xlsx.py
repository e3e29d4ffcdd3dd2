"""XLSX workbooks (first sheet) as text rows, through openpyxl, formulas read from their cached values.

A formula cell holds its formula and, when the program that saved the file
calculated it, the value it had then (Excel and LibreOffice always save it;
scripts writing XLSX often do not). Cells are read from those cached values;
a formula without one cannot be computed here, so it reads as empty and is
reported with its sheet and cell reference (C17). A Salesforce report footer
(trailing one-cell rows) is skipped and reported by row number; blank rows are
skipped without a report (a sheet's formatting can reach thousands of them).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cleanroom.errors import InputError
from cleanroom_client.inputs.readreport import FOOTER_REASON, ReadReport, UncachedFormula, is_footer_text, is_totals_row

if TYPE_CHECKING:
    from pathlib import Path

Row = tuple[str | None, ...]


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _cell(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores 42 as 42.0
    return str(value)


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index + 1))


def _open(path: Path, data_only: bool) -> Any:
    from openpyxl import load_workbook  # only when a spreadsheet is read: a slow import most runs never need

    try:
        return load_workbook(path, read_only=True, data_only=data_only)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise InputError(f"{path}: cannot be read as XLSX: {_first_line(exc)}; save it again from Excel or export CSV") from None


def has_formulas(path: Path) -> bool:
    """Whether any worksheet of the workbook holds a formula (an <f> element), read from the zip without parsing."""
    try:
        with zipfile.ZipFile(path) as book:
            for name in book.namelist():
                if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                    with book.open(name) as part:
                        tail = b""
                        while chunk := part.read(1 << 20):
                            if re.search(rb"<(\w+:)?f[ >/]", tail + chunk):
                                return True
                            tail = chunk[-16:]
    except (OSError, zipfile.BadZipFile, RuntimeError):
        return True  # unreadable here: let openpyxl say what is wrong
    return False


def _no_formulas() -> Iterator[tuple[None, ...]]:
    while True:
        yield ()


def _is_formula(value: object) -> bool:
    return isinstance(value, str) and value.startswith("=")


def xlsx_rows(path: Path, report: ReadReport) -> tuple[list[str], list[Row]]:
    """The first sheet's header and data rows; uncached formulas and skipped rows go to ``report``."""
    try:
        return _xlsx_rows(path, report)
    except InputError:
        raise
    except Exception as exc:  # openpyxl parses cells lazily: a broken cell or sheet XML fails mid-read, in many ways
        raise InputError(f"{path}: cannot be read as XLSX: {_first_line(exc)}; save it again from Excel or export CSV") from None


def _xlsx_rows(path: Path, report: ReadReport) -> tuple[list[str], list[Row]]:
    values_book = _open(path, data_only=True)
    # The same cells with their formulas, to find those without a value: read only when the workbook has formulas
    # (a second pass doubles the time: 5.5 s instead of 2.8 s for 50,000 rows).
    formulas_book = _open(path, data_only=False) if has_formulas(path) else None
    try:
        if not values_book.worksheets:  # a workbook of chart sheets only, or one whose sheet list is broken (found by fuzzing)
            raise InputError(f"{path}: cannot be read as XLSX: it has no worksheet")
        sheet = values_book.worksheets[0]
        formulas = formulas_book.worksheets[0].iter_rows(values_only=True) if formulas_book is not None else _no_formulas()
        pairs = zip(sheet.iter_rows(values_only=True), formulas, strict=False)
        header: list[str] = []
        rows: list[Row] = []
        numbers: list[int] = []  # each data row's row in the sheet
        width = 0
        for number, (raw, formulas) in enumerate(pairs, start=1):
            cells = [_cell(v) for v in raw]
            for i, (value, formula) in enumerate(zip(raw, formulas, strict=False)):
                if value is None and _is_formula(formula) and (not header or i < width):
                    report.uncached.append(UncachedFormula(sheet.title, f"{_column_letter(i)}{number}", str(formula)))
            if not header:
                width = max((i + 1 for i, h in enumerate(cells) if h not in (None, "")), default=0)
                if width:
                    header = [(c or f"column{i + 1}").strip() for i, c in enumerate(cells[:width])]
                continue
            row = tuple(cells[:width]) + (None,) * (width - len(cells[:width]))
            if any(c not in (None, "") for c in row):  # blank rows are not reported: sheets have thousands of them
                rows.append(row)
                numbers.append(number)
        _drop_footer(rows, numbers, report)
        return header, rows
    finally:
        values_book.close()  # read-only workbooks keep the file open until closed
        if formulas_book is not None:
            formulas_book.close()


def _one_text(row: Row) -> str | None:
    """The first cell's text when it is the only filled cell of the row (as footer lines are)."""
    first = row[0] if row else None
    return first if first and not any(c not in (None, "") for c in row[1:]) else None


def _drop_footer(rows: list[Row], numbers: list[int], report: ReadReport) -> None:
    """Move a trailing Salesforce report footer (rows of one first cell, one of them a footer line) to the skipped."""
    tail = len(rows)
    one_column = bool(rows) and len(rows[0]) == 1  # then every row is one cell: only footer lines themselves go
    while tail and (text := _one_text(rows[tail - 1])) is not None and (not one_column or is_footer_text(text)):
        tail -= 1
    if not any(is_footer_text(_one_text(r) or "") or is_totals_row(r) for r in rows[tail:]):
        tail = len(rows)
    for row, number in zip(rows[tail:], numbers[tail:], strict=True):
        report.skip(number, FOOTER_REASON, row)
    del rows[tail:], numbers[tail:]
    for data_row, number in enumerate(numbers, start=1):
        report.data_row(data_row, number)
