"""Store connections run without DuckDB's row-group pruner, which answers "ORDER BY x DESC LIMIT 1" from
stale statistics after rows were deleted and the file reopened (DuckDB 2.0.1; see store/connection.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from cleanroom.coordinator.store.connection import open_duckdb


def _newest_after_delete_and_reopen(path: Path, connect: Callable[[Path], duckdb.DuckDBPyConnection]) -> str:
    con = connect(path)
    con.execute("CREATE TABLE runs (run_id TEXT, created_at TEXT)")
    con.executemany("INSERT INTO runs VALUES (?, ?)", [(f"run{i}", f"2026-01-{i:02d}") for i in range(1, 29)])
    con.execute("CHECKPOINT")
    con.close()
    con = connect(path)
    con.execute("DELETE FROM runs WHERE created_at > '2026-01-20'")
    con.execute("CHECKPOINT")
    con.close()
    con = connect(path)
    con.execute("INSERT INTO runs VALUES ('newest', '2026-01-21')")
    (newest,) = con.execute("SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()
    con.close()
    return str(newest)


def test_a_plain_connection_misses_the_newest_row_and_ours_does_not(tmp_path):
    # The control shows the bug is there to guard against (if a DuckDB upgrade fixes it, this line says so).
    assert _newest_after_delete_and_reopen(tmp_path / "plain.duckdb", lambda p: duckdb.connect(str(p))) == "run20"
    assert _newest_after_delete_and_reopen(tmp_path / "store.duckdb", open_duckdb) == "newest"
