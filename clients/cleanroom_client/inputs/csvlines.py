"""A clean CSV file as lines: a digest per data line, and only the lines asked for parsed into cells.

An incremental map re-reads a million-row export that changed in a few rows. Parsing its cells
(arrowcsv.py) and digesting them cost more than digesting its lines as bytes. The row cache
(rowcache.py) knows the lines it has seen by their digests; only the other lines are parsed, and the
read stands only if each of them is one clean row on its own:
- parsed together, and followed by a line of our own, the lines are as many rows as lines, each as
  wide as the header: rows end only at line ends, so each line is one row, and none of them (the
  last included: our line would run into its value) leaves a quoted value open;
- no parsed row is all empty or starts like a footer, every cell read is UTF-8 (Arrow checks);
- the file is UTF-8 with the header alone on line 1, and every CR in it ends a line (CRLF).
A line the cache knows was one clean row under the same header when it was cached (the cache's
line index is kept for one header only). So every line of the file starts a row, and each row is the
line it was before: the file parses as one row per line, as csvtext would read it. When a check fails
the caller reads the file the usual way (arrowcsv, or csvtext, which reports exactly what is wrong):
nothing here reports.

When most lines are new (a first read, a changed header) the whole file is parsed by arrowcsv from
the path, after its bytes here are let go (they would double the read's memory): ``unchanged`` then
tells whether the file stayed as its bytes were digested, by its size, inode and nanosecond mtime.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from cleanroom.errors import InputError
from cleanroom_client.inputs.arrowcsv import has_blank_or_footer_row
from cleanroom_client.inputs.csvtext import CsvRows
from cleanroom_client.inputs.duck import querying
from cleanroom_client.inputs.encoding import UTF8, detect_encoding, is_utf8
from cleanroom_client.inputs.readreport import ReadReport
from cleanroom_client.inputs.rowdigest import DIGEST_BYTES

# A line's digest: DuckDB's 64-bit hash of the line, and of the line without its first byte. The line index is
# a cache of the party's own file on its own disk, and a hit only spares parsing a line whose bytes were seen
# before. Two 64-bit hashes (two lines must collide in both, ~2^-128 by chance; a line made to collide can
# only be given another line of the file's cells) cost less than half of MD5's CPU: 0.17 against 0.38 CPU s
# for 1.2M lines (145 MB). DuckDB's hash is its own: its version is in the name, so the digests of another
# DuckDB never meet ours (the index is then unused, and rebuilt).
LINE_DIGEST = f"duckdb-hash-2x64/{duckdb.__version__}"

_LF, _CR = 10, 13
_DECODE_BYTES = 1 << 20  # decoded a MB at a time: a str of 16 MB a block cost 6 times the CPU (fresh pages)
_SCAN_BYTES = 4 << 20


class NotByLines(Exception):
    """The file cannot be read by lines (module docstring): read it the usual way."""


def _stat(path: Path) -> tuple[int, int, int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


@dataclass
class CsvLines:
    """A CSV file's header, parsed, and its data lines as bytes."""

    path: Path
    columns: list[str]
    delimiter: str
    header: bytes  # the header line as in the file, with its line end (and BOM)
    data: bytes  # the file (emptied once its lines are read: ``release``)
    starts: np.ndarray  # int64: where each data line starts in ``data``, then where the last one ends
    encoding: str  # the encoding's label, for the read report
    stat: tuple[int, int, int, int]  # the file as its bytes were read (``unchanged``)

    def __len__(self) -> int:
        return len(self.starts) - 1

    @property
    def header_digest(self) -> str:
        """What the cache's line index is kept for: lines mean the same cells only under the same header, and
        their digests are the same only by the same function (LINE_DIGEST)."""
        return hashlib.sha256(LINE_DIGEST.encode() + b"\x00" + self.header).hexdigest()

    def digests(self) -> np.ndarray:
        """(n, 16) uint8: each data line's digest (``LINE_DIGEST``), its line end included (DuckDB, every core)."""
        lines = pa.LargeBinaryArray.from_buffers(
            pa.large_binary(), len(self), [None, pa.py_buffer(self.starts), pa.py_buffer(self.data)]
        )
        with querying(lines=pa.table({"line": lines})) as con:
            found = con.execute("SELECT hash(line) AS h0, hash(line[2:]) AS h1 FROM lines").fetchnumpy()
        halves = np.stack([np.asarray(found["h0"], dtype="<u8"), np.asarray(found["h1"], dtype="<u8")], axis=1)
        return np.ascontiguousarray(halves).view(np.uint8).reshape(-1, DIGEST_BYTES)

    def release(self) -> None:
        """Let the file's bytes go: its lines are digested and the ones needed parsed."""
        self.data = b""

    def unchanged(self) -> bool:
        """Whether the file is still as it was when its bytes were read."""
        try:
            return _stat(self.path) == self.stat
        except OSError:
            return False

    def parse(self, at: np.ndarray, wanted: Collection[int]) -> pa.Table:
        """The data lines at ``at`` (ascending), parsed: the columns ``sorted({0, *wanted})`` (the first is where
        a footer starts), as strings; NotByLines unless each line is one clean row (module docstring)."""
        body = b"".join([self.data[s:e] for s, e in zip(self.starts[at].tolist(), self.starts[at + 1].tolist(), strict=True)])
        if not body.endswith(b"\n"):
            body += b"\n"  # the file's last line, without an LF
        names = self.columns
        sentinel = self.delimiter.join(["-"] * len(names)).encode() + b"\n"
        try:
            table = pacsv.read_csv(
                pa.BufferReader(self.header + body + sentinel),
                read_options=pacsv.ReadOptions(skip_rows=1, column_names=names, block_size=8 << 20),
                parse_options=pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True, ignore_empty_lines=False),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                    include_columns=[names[i] for i in sorted({0, *wanted})],
                ),
            )
        except (pa.ArrowException, OSError) as exc:
            raise NotByLines(f"a changed line is not one clean row ({exc})") from None
        if table.num_rows != len(at) + 1 or table.column(0)[-1].as_py() != "-":
            raise NotByLines("a changed line is more than one row, or opens a quoted value it does not close")
        table = table.slice(0, len(at))
        if has_blank_or_footer_row(table):
            raise NotByLines("a changed line is blank or a footer")
        return table

    def report(self) -> ReadReport:
        """What a read of every line as one row reports (as arrowcsv does)."""
        return ReadReport.one_row_a_line(self.encoding, len(self))


def _line_ends(data: bytes) -> np.ndarray | None:
    """Where each line of ``data`` ends (after its LF); None when a CR does not end a line (CRLF). A block at a
    time, in one pass for both bytes: masks of the whole file would be 145 MB of fresh memory a read."""
    bytes_ = np.frombuffer(data, dtype=np.uint8)
    ends = []
    for at in range(0, len(bytes_), _SCAN_BYTES):
        block = bytes_[at : at + _SCAN_BYTES]
        low = np.flatnonzero(block <= _CR)  # LFs, CRs (and tabs)
        kind = block[low]
        carriage = low[kind == _CR] + at
        if len(carriage) and (carriage[-1] + 1 == len(data) or (bytes_[carriage + 1] != _LF).any()):
            return None
        ends.append(low[kind == _LF] + (at + 1))
    return np.concatenate(ends) if ends else np.zeros(0, np.int64)


def read_csv_lines(path: Path) -> CsvLines | None:
    """The file's lines when it can be read by lines (UTF-8, a one-line header of distinct names, CR only in
    CRLF, a data line at least); None to read it the usual way."""
    stat = _stat(path)  # the encoding, the header and the bytes must all be of one file (checked below)
    encoding = detect_encoding(path)
    if encoding.codec not in (UTF8.codec, "utf-8-sig"):
        return None
    try:
        header = CsvRows(path, encoding, ReadReport())
    except InputError:
        return None  # the usual read says what is wrong (or finds the file changed since its encoding was read)
    header.close()
    columns = list(header.columns)
    if not columns or header.header_lines != (1, 1) or len(set(columns)) != len(columns):
        return None
    data = path.read_bytes()
    if _stat(path) != stat:
        return None  # replaced or rewritten while its encoding and header were read: read it the usual way
    view = memoryview(data)
    if encoding.codec == "utf-8-sig" and not is_utf8(view[at : at + _DECODE_BYTES] for at in range(3, len(data), _DECODE_BYTES)):
        return None  # detect_encoding checks only the start of a file with a BOM: csvtext says what is wrong
    ends = _line_ends(data)
    if ends is None:
        return None  # a CR that does not end a line: csvtext says what it means
    if len(ends) == 0 or (len(ends) == 1 and ends[0] == len(data)):
        return None  # no data line
    starts = ends if ends[-1] == len(data) else np.append(ends, len(data))  # the last line may have no LF
    return CsvLines(path, columns, header.delimiter, data[: ends[0]], data, starts.astype(np.int64), encoding.label, stat)
