"""Reading CRM exports (CSV, Parquet, XLSX) as text rows, through DuckDB.

Every cell is read as text: type sniffing would turn "00123" into 123 or a
website column of "n/a" into an error. XLSX goes through openpyxl, because
DuckDB's excel extension is downloaded at run time and clients may be offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from cleanroom.errors import InputError

FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}


@dataclass
class Table:
    path: Path
    columns: list[str]
    rows: list[tuple[str | None, ...]]  # data rows, in file order (row 1 is rows[0])


def _format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: unsupported format {path.suffix or '(no extension)'!r}; use CSV, Parquet or XLSX")
    return fmt


def _duckdb_rows(path: Path, fmt: str) -> tuple[list[str], list[tuple]]:
    con = duckdb.connect(":memory:")
    try:
        if fmt == "csv":
            rel = con.execute(
                "SELECT * FROM read_csv(?, all_varchar = true, header = true, auto_detect = true, sample_size = -1)", [str(path)]
            )
        else:
            rel = con.execute("SELECT * FROM read_parquet(?)", [str(path)])
        columns = [d[0] for d in rel.description]
        rows = rel.fetchall()
    except duckdb.Error as exc:
        message = str(exc).splitlines()[0]
        raise InputError(f"{path}: cannot be read as {fmt.upper()}: {message}") from None
    finally:
        con.close()
    if fmt == "parquet":
        rows = [tuple(None if v is None else str(v) for v in row) for row in rows]
    return columns, rows


def _xlsx_rows(path: Path) -> tuple[list[str], list[tuple]]:
    from openpyxl import load_workbook

    try:
        sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise InputError(f"{path}: cannot be read as XLSX: {exc}") from None
    it = sheet.iter_rows(values_only=True)
    header = next(it, None)
    if header is None:
        return [], []
    columns = ["" if h is None else str(h).strip() for h in header]
    rows = []
    for row in it:
        cells = tuple(None if v is None else str(v) for v in row[: len(columns)])
        if any(c not in (None, "") for c in cells):
            rows.append(cells + (None,) * (len(columns) - len(cells)))
    return columns, rows


def read_table(path: Path) -> Table:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    fmt = _format(path)
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")
    columns, rows = _xlsx_rows(path) if fmt == "xlsx" else _duckdb_rows(path, fmt)
    if not columns:
        raise InputError(f"{path}: the file has no header row")
    if not rows:
        raise InputError(f"{path}: the file has a header but no data rows")
    return Table(path, columns, rows)
