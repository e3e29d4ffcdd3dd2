"""Checking a stopped coordinator's store file whole (`cleanroom coordinator check`).

Opening the file reads its headers and catalogue; reading every row of every table makes DuckDB
verify each block's checksum. A file truncated, overwritten or with a flipped byte anywhere in its
data fails one of the two. A running coordinator holds the file's lock: ask it (``GET /healthz``).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from cleanroom.coordinator.store.connection import open_duckdb
from cleanroom.errors import InputError


class StoreDamaged(InputError):
    """The store file does not read back whole."""


def check_store(path: Path) -> dict[str, int]:
    """Tables, rows and bytes of a sound store file; StoreDamaged naming the problem, InputError if in use."""
    if not path.exists():
        raise InputError(f"no store at {path}")
    try:
        con = open_duckdb(path, read_only=True)
    except duckdb.Error as exc:
        if "could not set lock" in str(exc).lower():
            raise InputError(f"{path} is in use by a running coordinator: ask it instead (GET /healthz)") from None
        raise StoreDamaged(f"the store {path} does not open: {exc}. Restore it from a backup") from None
    try:
        tables = [t for (t,) in con.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()]
        rows = 0
        for table in tables:
            try:  # hashing whole rows reads every column, so every block is checksummed
                found = con.execute(f'SELECT count(*), bit_xor(hash("{table}")) FROM "{table}"').fetchone()
            except duckdb.Error as exc:
                raise StoreDamaged(f"the store {path} is damaged in table {table}: {exc}. Restore it from a backup") from None
            rows += int(found[0]) if found else 0
    finally:
        con.close()
    return {"tables": len(tables), "rows": rows, "bytes": path.stat().st_size}
