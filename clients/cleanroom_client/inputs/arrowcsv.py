"""A clean CSV file read by Arrow's multi-threaded parser: the same rows csvtext gives, ~10x faster, or None.

csvtext's Python reader is the reference: it skips and reports blank, short
and footer lines and names the line of any error. Arrow reads only files
where none of that can happen, checked, and says None otherwise (the caller
then reads with csvtext, which reports or refuses exactly as before):
- UTF-8 (with or without BOM), the header alone on line 1;
- every line is one data row: as many lines as rows (so no value runs over
  several lines, no blank line), no CR but in CRLF line ends;
- Arrow found every row exactly as wide as the header (it raises otherwise);
- no row is all empty and none starts like a footer ("Grand Totals", ...).
Cells are text, an empty cell "" (csvtext gives None: callers treat both as empty).
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from cleanroom_client.inputs.csvtext import FOOTER_STARTS, CsvRows
from cleanroom_client.inputs.encoding import UTF8, blocks_of, detect_encoding, is_utf8
from cleanroom_client.inputs.readreport import ReadReport

_CHUNK = 16 << 20


@dataclass
class ArrowCsv:
    columns: list[str]
    table: pa.Table  # data rows, every column a string column without nulls
    report: ReadReport


def _line_ends(path: Path) -> tuple[int, int, int, bool]:
    """(LF count, CR count, CRLF count, ends with LF) of the file's bytes (counted by NumPy: twice as fast
    as ``bytes.count`` on a 150 MB export, which the incremental map reads every cycle)."""
    lf = cr = crlf = 0
    last = b""
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            data = np.frombuffer(chunk, dtype=np.uint8)
            lf += int(np.count_nonzero(data == 10))
            at = np.flatnonzero(data == 13)  # a CR ends a line only followed by an LF (and CRs are few)
            cr += len(at)
            inside = at[at + 1 < len(data)]
            crlf += int(np.count_nonzero(data[inside + 1] == 10)) + (last == b"\r" and chunk[:1] == b"\n")
            last = chunk[-1:]
    return lf, cr, crlf, last == b"\n"


def read_clean_csv(path: Path, keep: Callable[[list[str]], Collection[int]] | None = None) -> ArrowCsv | None:
    """The file's header and rows when it is a clean CSV file (module docstring); None to read it with csvtext.

    ``keep``: from the header, the columns the caller reads; the others come back as empty cells, never
    held in memory (a million rows' notes and owners are hundreds of MB). The first column is always read:
    a footer starts there.
    """
    encoding = detect_encoding(path)
    if encoding.codec not in (UTF8.codec, "utf-8-sig"):
        return None
    if encoding.codec == "utf-8-sig" and not is_utf8(blocks_of(path, len(codecs.BOM_UTF8))):
        return None  # detect_encoding checks only a BOM file's start; Arrow, only the columns it reads
    header = CsvRows(path, encoding, ReadReport())
    header.close()
    if not header.columns or header.header_lines != (1, 1):
        return None
    columns, delimiter = header.columns, header.delimiter
    wanted = sorted({0, *keep(list(columns))}) if keep is not None and len(set(columns)) == len(columns) else None
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(skip_rows=1, column_names=columns, block_size=8 << 20),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(columns, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                include_columns=None if wanted is None else [columns[i] for i in wanted],
            ),
        )
    except (pa.ArrowException, OSError):  # csvtext reads it again and says exactly what is wrong
        return None
    if wanted is not None:
        table = _widened(table, list(columns), set(wanted))
    lf, cr, crlf, final = _line_ends(path)
    if cr != crlf or lf + (0 if final else 1) != table.num_rows + 1 or not table.num_rows:
        return None
    if has_blank_or_footer_row(table):
        return None
    return ArrowCsv(list(columns), table, ReadReport.one_row_a_line(encoding.label, table.num_rows))


def _widened(table: pa.Table, columns: list[str], read: set[int]) -> pa.Table:
    """The table with every column of the header again, in order; those not read are one shared empty column."""
    n = table.num_rows
    empty = pa.StringArray.from_buffers(n, pa.py_buffer(np.zeros(n + 1, dtype=np.int32)), pa.py_buffer(b""))
    return pa.table([table.column(name) if i in read else empty for i, name in enumerate(columns)], names=columns)


def has_blank_or_footer_row(table: pa.Table) -> bool:
    """A row csvtext would skip: every cell empty, or a first cell that may start a footer."""
    empty = None
    for column in table.columns:
        blank = pc.equal(pc.binary_length(column), 0)
        empty = blank if empty is None else pc.and_(empty, blank)
    if empty is not None and pc.any(empty).as_py():
        return True
    starts = pc.utf8_lower(pc.utf8_slice_codeunits(table.column(0), 0, 5))
    return bool(pc.any(pc.is_in(starts, value_set=pa.array(sorted(FOOTER_STARTS)))).as_py())
