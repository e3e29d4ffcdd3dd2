"""Reading CRM exports (CSV, Parquet, XLSX) as text rows: the one reader of the client.

Every cell is read as text: type sniffing would turn "00123" into 123 or a
website column of "n/a" into an error. CSV goes through csvtext (any encoding,
footers and short lines skipped and reported), Parquet through DuckDB, XLSX
through openpyxl (xlsx.py), because DuckDB's excel extension is downloaded at
run time and clients may be offline. What was skipped, the encoding and the
formulas without a value are in ``TableStream.report`` (readreport.py).

``TableStream`` reads a file's rows a batch at a time (accounts files, up to
millions of rows); ``read_table`` is the same rows held in memory (deals and
touches files, which are read twice: once to settle the date order).

Row numbers are 1-based data rows (the header is not counted). Skipped lines
(blank, short, footer) are not data rows, so they are not counted either; they
are reported by their line in the file.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from cleanroom.errors import EmptyInput, InputError
from cleanroom_client.inputs.csvtext import CsvRows
from cleanroom_client.inputs.encoding import detect_encoding
from cleanroom_client.inputs.readreport import ReadReport
from cleanroom_client.inputs.xlsx import xlsx_rows

_KINDS = {"csv": "CSV", "parquet": "Parquet", "xlsx": "XLSX"}  # as named in messages
FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}

Row = tuple[str | None, ...]


@dataclass
class Table:
    path: Path
    columns: list[str]
    rows: list[Row]  # data rows, in file order (row 1 is rows[0])
    report: ReadReport = field(default_factory=ReadReport)


def file_format(path: Path) -> str:
    """'csv', 'parquet' or 'xlsx' by extension; InputError for anything else."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        shown = repr(path.suffix) if path.suffix else "(no extension)"
        raise InputError(f"{path}: unsupported format {shown}; use .csv, .tsv, .parquet or .xlsx")
    return fmt


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def check_file(path: Path) -> str:
    """The file's format; InputError when it is missing, not a file, of an unknown kind or empty."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    fmt = file_format(path)
    try:
        if path.stat().st_size == 0:
            raise EmptyInput(f"{path}: the file is empty")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    return fmt


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
        fmt = check_file(self.path)
        self._kind = _KINDS[fmt]
        self.report = ReadReport()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._result: duckdb.DuckDBPyConnection | None = None
        self._csv: CsvRows | None = None
        self._rest: Iterator[Row] = iter(())
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
            raise EmptyInput(f"{self.path}: the file is empty (no header row)")
        if not self._first:
            self.close()
            skipped = f"; {self.report.skipped_count:,} lines skipped ({self._skipped_summary()})" if self.report.skipped else ""
            raise EmptyInput(f"{self.path}: the file is empty (a header but no data rows{skipped})")
        self.columns = list(columns)

    def _skipped_summary(self) -> str:
        first = self.report.skipped[:3]
        return ", ".join(f"line {s.line}: {s.reason}" for s in first) + (", ..." if self.report.skipped_count > 3 else "")

    def _open(self, fmt: str) -> tuple[list[str], list[Row]]:
        """The header and the first batch of rows."""
        if fmt == "xlsx":  # openpyxl; spreadsheets are small
            return xlsx_rows(self.path, self.report)
        if fmt == "csv":
            encoding = detect_encoding(self.path)
            self.report.encoding = encoding.label
            self._csv = CsvRows(self.path, encoding, self.report)
            self._rest = self._csv.rows()
            return self._csv.columns, self._fetch() if self._csv.columns else []
        self._con = duckdb.connect(":memory:")
        try:
            self._result = self._con.execute("SELECT * FROM read_parquet(?)", [str(self.path)])
            return [d[0] for d in self._result.description or ()], self._fetch()
        except duckdb.Error as exc:
            raise self._error(exc) from None

    def _error(self, exc: Exception) -> InputError:
        return InputError(f"{self.path}: cannot be read as {self._kind}: {_first_line(exc)}")

    def _fetch(self) -> list[Row]:
        if self._csv is not None:
            return list(itertools.islice(self._rest, BATCH_ROWS))
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
        if self._csv is not None:
            self._csv.close()
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
        return Table(stream.path, stream.columns, list(stream.rows()), stream.report)
