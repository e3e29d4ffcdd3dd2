"""CRM files as bytes on disk, read by the client's public loaders (CSV, XLSX, Parquet).

The first byte chooses the file's extension (bits 0-1), the loader (bits 2-3: the table reader, accounts,
deals, touches) and the name key (bit 4). With bit 5 clear the rest is the file's bytes. With it set the
rest is a table as text (lines of comma-separated cells) that the harness writes as a real workbook or
Parquet file, so mutations reach the cells behind the container: numbers, formulas without a cached
value, duplicate or blank headers. A loader either returns or refuses with one of our errors
(``CleanroomError``: the CLI prints its message naming the file); anything else escaping is a crash (a
traceback where the user needed a message).
"""

from __future__ import annotations

import atexit
import contextlib
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook

from cleanroom.errors import CleanroomError
from cleanroom_client.inputs.accounts import load_accounts
from cleanroom_client.inputs.deals import load_deals
from cleanroom_client.inputs.readers import read_table
from cleanroom_client.inputs.touches import load_touches

SUFFIXES = (".csv", ".xlsx", ".parquet", ".tsv")
LOADERS: tuple[Callable[..., Any], ...] = (
    lambda path, name_key: read_table(path),
    lambda path, name_key: load_accounts(path, name_key=name_key),
    lambda path, name_key: load_deals(path, name_key=name_key),
    lambda path, name_key: load_touches(path, name_key=name_key),
)
_NUMBER = re.compile(r"-?\d+(\.\d+)?(e-?\d+)?")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # characters a worksheet cannot hold

_scratch = Path(tempfile.mkdtemp(prefix="cleanroom-fuzz-readers-"))
atexit.register(shutil.rmtree, _scratch, ignore_errors=True)


def _value(text: str) -> object:
    """A cell as a spreadsheet would hold it: a number, a formula (no cached value), or text."""
    if _NUMBER.fullmatch(text):
        return float(text)
    return text


def _write_table(path: Path, text: str) -> None:
    rows = [line.split(",") for line in _CONTROL.sub("", text).split("\n")]
    if path.suffix == ".xlsx":
        book = Workbook()
        for row in rows:
            book.active.append([_value(cell) for cell in row])
        book.save(path)
    elif path.suffix == ".parquet":
        width = len(rows[0])
        columns = [[(r[i] if i < len(r) else None) for r in rows[1:]] for i in range(width)]
        pq.write_table(pa.Table.from_arrays([pa.array(c, pa.string()) for c in columns], names=rows[0]), path)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogateescape")


def check(data: bytes) -> None:
    if not data:
        return
    choice, content = data[0], data[1:]
    path = _scratch / f"export{SUFFIXES[choice & 3]}"
    if choice & 32:
        _write_table(path, content.decode("utf-8", "replace"))
    else:
        path.write_bytes(content)
    with contextlib.suppress(CleanroomError):  # refused with a message: what bad input must get
        LOADERS[(choice >> 2) & 3](path, bool(choice & 16))
