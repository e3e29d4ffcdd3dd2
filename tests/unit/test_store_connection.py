"""Store connections: a checkpoint asked for soon is made later, once; and connections run without DuckDB's
row-group pruner, which answers "ORDER BY x DESC LIMIT 1" from stale statistics after rows were deleted and
the file reopened (DuckDB 2.0.1; see store/connection.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from cleanroom.coordinator.store.connection import Database, open_duckdb


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


def _wal(path: Path) -> int:
    wal = path.with_name(path.name + ".wal")
    return wal.stat().st_size if wal.exists() else 0


def _write(db: Database, key_id: str) -> None:
    with db.transaction() as con:
        con.execute("INSERT INTO api_keys VALUES (?, 'h', 'p', 'analyst', '', 'now', NULL)", [key_id])


def test_a_checkpoint_asked_for_soon_is_made_once_later_off_the_callers_path(tmp_path):
    """A continuous completion asks for its checkpoint and returns: the WAL is folded into the file a moment
    later, by one checkpoint for every request made meanwhile."""
    path = tmp_path / "store.duckdb"
    db = Database(path)
    try:
        _write(db, "a")
        assert _wal(path) > 0
        db.checkpoint_soon(delay=0.3)
        db.checkpoint_soon(delay=0.3)  # shares the one owed
        assert _wal(path) > 0, "asked for soon, not made on the caller's path"
        deadline = time.monotonic() + 10
        while _wal(path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _wal(path) == 0
        _write(db, "b")
        assert db.rows("SELECT count(*) AS n FROM api_keys")[0]["n"] == 2
    finally:
        db.close()


def test_closing_the_store_makes_the_checkpoint_it_owes_and_leaves_no_timer(tmp_path):
    path = tmp_path / "store.duckdb"
    db = Database(path)
    _write(db, "a")
    db.checkpoint_soon(delay=3600)
    timers = [t for t in threading.enumerate() if isinstance(t, threading.Timer)]
    assert timers, "the checkpoint is owed on a timer"
    db.close()
    for timer in timers:
        timer.join(timeout=5)
        assert not timer.is_alive()  # cancelled: it must not run on a closed connection
    assert _wal(path) == 0
    reopened = Database(path)
    try:
        assert reopened.rows("SELECT key_id FROM api_keys")[0]["key_id"] == "a"
    finally:
        reopened.close()


class _FailingCheckpoints:
    """A store connection whose CHECKPOINT fails (a full disk), all else passed through."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con, self.failed = con, 0

    def execute(self, sql: str, *args: object) -> duckdb.DuckDBPyConnection:
        if sql.strip().upper() == "CHECKPOINT":
            self.failed += 1
            raise duckdb.IOException("No space left on device")
        return self.con.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self.con, name)


def test_a_failed_checkpoint_is_logged_once_not_retried_in_a_loop_and_closing_still_closes(tmp_path, caplog):
    path = tmp_path / "store.duckdb"
    db = Database(path)
    _write(db, "a")
    failing = db._con = _FailingCheckpoints(db._con)  # type: ignore[assignment]
    db.checkpoint_soon(delay=0.05)
    time.sleep(1.0)
    assert failing.failed == 1 and db._checkpoint_due is None  # tried once; the next completion asks again
    db.checkpoint_soon(delay=3600)
    db.close()  # the owed checkpoint fails: the store is closed all the same
    assert failing.failed == 2
    assert sum("checkpoint" in r.getMessage() for r in caplog.records) == 2
    reopened = Database(path)  # the WAL is replayed: nothing written was lost
    try:
        assert reopened.rows("SELECT key_id FROM api_keys")[0]["key_id"] == "a"
    finally:
        reopened.close()
