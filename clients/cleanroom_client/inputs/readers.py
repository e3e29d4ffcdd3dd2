"""Reading CRM exports (CSV, Parquet, XLSX) as text rows, through DuckDB: the one reader of the client.

Every cell is read as text: type sniffing would turn "00123" into 123 or a
website column of "n/a" into an error. XLSX goes through openpyxl, because
DuckDB's excel extension is downloaded at run time and clients may be offline.

``TableStream`` reads a file's rows a batch at a time (accounts files, up to
millions of rows); ``read_table`` is the same rows held in memory (deals and
touches files, which are read twice: once to settle the date order).

Row numbers are 1-based data rows (the header is not counted). Blank lines
(CSV) and blank rows (XLSX) are not data rows, so they are not counted either.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from cleanroom.errors import InputError

_KINDS = {"csv": "CSV", "parquet": "Parquet", "xlsx": "XLSX"}  # as named in messages
FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}

Row = tuple[str | None, ...]


@dataclass
class Table:
    path: Path
    columns: list[str]
    rows: list[Row]  # data rows, in file order (row 1 is rows[0])


def file_format(path: Path) -> str:
    """'csv', 'parquet' or 'xlsx' by extension; InputError for anything else."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        shown = repr(path.suffix) if path.suffix else "(no extension)"
        raise InputError(f"{path}: unsupported format {shown}; use .csv, .tsv, .parquet or .xlsx")
    return fmt


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _cell(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores 42 as 42.0
    return str(value)


def _xlsx_rows(path: Path) -> tuple[list[str], list[Row]]:
    from openpyxl import load_workbook  # only when a spreadsheet is read: a slow import most runs never need

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise InputError(f"{path}: cannot be read as XLSX: {_first_line(exc)}") from None
    try:
        if not book.worksheets:  # a workbook of chart sheets only, or one whose sheet list is broken
            raise InputError(f"{path}: cannot be read as XLSX: it has no worksheet")
        values = book.worksheets[0].iter_rows(values_only=True)
        header = next(values, None)
        if header is None:
            return [], []
        width = max((i + 1 for i, h in enumerate(header) if h not in (None, "")), default=0)
        columns = [_cell(h) or f"column{i + 1}" for i, h in enumerate(header[:width])]
        rows = []
        for raw in values:
            cells = tuple(_cell(v) for v in raw[:width])
            if any(c not in (None, "") for c in cells):
                rows.append(cells + (None,) * (width - len(cells)))
        return [c.strip() for c in columns], rows
    finally:
        book.close()  # read-only workbooks keep the file open until closed


def _check_file(path: Path) -> str:
    """The file's format; InputError when it is missing, not a file, of an unknown kind or empty."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    fmt = file_format(path)
    try:
        if path.stat().st_size == 0:
            raise InputError(f"{path}: the file is empty")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    return fmt


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as fh:
        try:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _csv_source(path: Path) -> str:
    """The DuckDB table function that reads ``path`` as CSV, every cell as text."""
    with path.open("rb") as fh:
        if b"\x00" in fh.read(8192):  # DuckDB would happily read a binary file as one odd column
            raise InputError(f"{path}: cannot be read as CSV: it is a binary file (wrong extension?)")
    # Excel on Windows writes CP-1252/Latin-1 CSVs; every byte is valid Latin-1
    encoding = "" if _is_utf8(path) else ", encoding = 'latin-1'"
    return f"read_csv(?, all_varchar = true, header = true, auto_detect = true, sample_size = -1{encoding})"


BATCH_ROWS = 65_536


class TableStream:
    """A table's header now and its rows once, a batch at a time: the rows read_table returns.

    ``read_table`` holds every cell of every row as a Python string (about 800
    bytes a row for a typical CRM export, a gigabyte for a million rows); a
    reader that keeps only a few fields of each row streams instead. Use as a
    context manager; ``rows()`` can be iterated once.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        fmt = _check_file(self.path)
        self._kind = _KINDS[fmt]
        self._con: duckdb.DuckDBPyConnection | None = None
        self._result: duckdb.DuckDBPyConnection | None = None
        try:
            columns, self._first = self._open(fmt)
        except OSError as exc:
            self.close()
            raise InputError(f"{self.path}: cannot be read: {exc.strerror or exc}") from None
        except BaseException:
            self.close()
            raise
        if not columns:
            self.close()
            raise InputError(f"{self.path}: the file is empty (no header row)")
        if not self._first:
            self.close()
            raise InputError(f"{self.path}: the file is empty (a header but no data rows)")
        self.columns = list(columns)

    def _open(self, fmt: str) -> tuple[list[str], list[Row]]:
        """The header and the first batch of rows."""
        if fmt == "xlsx":  # openpyxl; spreadsheets are small
            return _xlsx_rows(self.path)
        source = _csv_source(self.path) if fmt == "csv" else "read_parquet(?)"
        self._con = duckdb.connect(":memory:")
        try:
            self._result = self._con.execute(f"SELECT * FROM {source}", [str(self.path)])
            return [d[0] for d in self._result.description or ()], self._fetch()
        except duckdb.Error as exc:
            raise self._error(exc) from None

    def _error(self, exc: Exception) -> InputError:
        return InputError(f"{self.path}: cannot be read as {self._kind}: {_first_line(exc)}")

    def _fetch(self) -> list[Row]:
        batch = self._result.fetchmany(BATCH_ROWS) if self._result is not None else []
        if self._kind == "Parquet":  # typed columns: every cell as text, as for CSV
            return [tuple(None if v is None else str(v) for v in row) for row in batch]
        return batch

    def rows(self) -> Iterator[Row]:
        """Every data row, in file order (once)."""
        batch, self._first = self._first, []
        try:
            while batch:
                yield from batch
                batch = self._fetch()
        except duckdb.Error as exc:
            raise self._error(exc) from None
        finally:
            self.close()

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = self._result = None

    def __enter__(self) -> TableStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_table(path: Path | str) -> Table:
    """All data rows of a CSV, Parquet or XLSX file, every cell as text (or None)."""
    with TableStream(path) as stream:
        return Table(stream.path, stream.columns, list(stream.rows()))
