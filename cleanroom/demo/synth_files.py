"""Writing synthetic rows as CSV, Parquet or XLSX, streamed (memory bounded by one batch)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from itertools import chain
from operator import itemgetter
from pathlib import Path

XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, minus the header


def write_rows(rows: Iterator[dict[str, str]], n_rows: int, headers: list[str], path: Path, fmt: str) -> None:
    """Stream rows to a file: memory stays bounded by one batch, not the file."""
    if fmt == "csv":
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)  # not DictWriter: its per-row key check costs ~20% of a big run
            writer.writerow(headers)
            writer.writerows(map(itemgetter(*headers), rows))
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema([(h, pa.string()) for h in headers])
        with pq.ParquetWriter(path, schema) as writer:
            batch: list[dict[str, str]] = []
            for row in chain(rows, [None]):
                if row is not None:
                    batch.append(row)
                if len(batch) >= 100_000 or (row is None and batch):
                    writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                    batch = []
    elif fmt == "xlsx":
        if n_rows > XLSX_MAX_ROWS:
            raise ValueError(f"{n_rows:,} rows do not fit in one Excel sheet (max {XLSX_MAX_ROWS:,}); use csv or parquet")
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("export")
        ws.append(headers)
        for row in rows:
            ws.append([row[h] for h in headers])
        wb.save(path)
    else:
        raise ValueError(f"unknown format {fmt!r} (csv, parquet or xlsx)")
