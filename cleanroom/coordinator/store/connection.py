"""Opening the coordinator's DuckDB file and running units of work on it.

One connection behind a lock: DuckDB serialises writers anyway, and the hot
path (chunk inserts) is one small transaction per chunk. Repositories read and
write through a ``Database``; they never open connections of their own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, TypeVar, cast

import duckdb

from cleanroom.coordinator.store.schema import migrate

# DuckDB's file: a main header and two database headers (4 KiB each), then the blocks.
_HEADERS = 3 * 4096
_MAGIC_AT = slice(8, 12)

Tx = duckdb.DuckDBPyConnection  # the connection of an open transaction, handed to repositories' writes
Row = TypeVar("Row")


def time_text(moment: dt.datetime) -> str:
    """A time as the store writes it: UTC ISO 8601 text with microseconds (sortable; TEXT keeps the store
    self-describing). A naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def now() -> str:
    """The current time as the store writes times (``time_text``)."""
    return time_text(dt.datetime.now(dt.UTC))


@cache
def columns(record: type, alias: str = "") -> str:
    """The SELECT list of a row record: its field names, in order (qualified by a table alias in joins)."""
    return ", ".join(f"{alias}.{f.name}" if alias else f.name for f in dataclasses.fields(record))


def insert(con: Tx, table: str, record: Any) -> None:
    """``INSERT INTO table`` one row record, naming its columns (the record's fields, in order)."""
    fields = dataclasses.fields(record)
    marks = ", ".join("?" for _ in fields)
    names = ", ".join(f.name for f in fields)
    con.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", [getattr(record, f.name) for f in fields])


# DuckDB 2.0.1's row-group pruner answers "ORDER BY x DESC LIMIT 1" from stale row-group statistics once
# rows were deleted and the file reopened: a row inserted afterwards is missed (LIMIT 2 still sees it; the
# audit append collided on its key after a rollback). Our stores delete rows (replaced and swept uploads,
# purged points, a rolled-back log), so every connection to one runs without that optimizer.
# tests/unit/test_store_connection.py reproduces the bug on a plain connection and checks ours.
DISABLED_OPTIMIZERS = "row_group_pruner"
# DuckDB checkpoints inside a commit once its WAL passes this size (16 MB by default). A continuous
# agreement's completion alone logs more than 16 MB at a million accounts a side (its removals and mask
# changes touch every row group of the standing tables), so its commit rewrote the file while both
# parties waited for the release. The store checkpoints after such writes itself (``checkpoint_soon``).
CHECKPOINT_THRESHOLD = "64MB"
# A completion's checkpoint (its deleted points leave the file) waits this long, off the request path:
# the parties' status and release calls come in the meantime instead of queueing behind the rewrite.
CHECKPOINT_DELAY = 1.0

log = logging.getLogger(__name__)


def open_duckdb(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to a store file, configured as every store connection must be."""
    config: dict[str, str | bool | int | float | list[str]] = {"disabled_optimizers": DISABLED_OPTIMIZERS}
    if not read_only:
        config["checkpoint_threshold"] = CHECKPOINT_THRESHOLD
    return duckdb.connect(str(path), read_only=read_only, config=config)


def settle(con: duckdb.DuckDBPyConnection) -> None:
    """Run to its end a result an earlier statement left on the connection. Since DuckDB 2.0 a result fetched
    only in part (``fetchone`` reads one row and leaves the result open) makes ``register``, ``sql`` and
    ``from_arrow`` refuse with ResourceInUse until it is finished; the store's one connection serves every
    gRPC thread, so whichever request ran before decided that, and a request that registers an Arrow table
    failed now and then (a continuous agreement's BeginUpload, in CI). ``complete``, not ``abort``: aborting
    a statement that may write fails the open transaction. Older DuckDB has neither and needs neither."""
    complete = getattr(con, "complete", None)
    if complete is not None:
        complete()


class Database:
    """The open DuckDB file, migrated to the current schema on opening."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._con = open_duckdb(self.path)
        os.chmod(self.path, 0o600)  # tokens, releases and the audit log: not for other local users
        # Our own descriptor on the file, open as long as the database, for file_problem. DuckDB locks the
        # file with fcntl, and closing ANY descriptor of a file drops the process's fcntl locks on it: a
        # check that opened and closed the file would let a second coordinator open the same store.
        self._fd = os.open(self.path, os.O_RDONLY)
        self._lock = threading.RLock()
        self._checkpoint_due: threading.Timer | None = None
        self._closed = False
        try:
            with self._lock:
                migrate(self._con)
        except BaseException:  # a store this code cannot use (a newer one): let it go, lock and all
            self._con.close()
            os.close(self._fd)
            raise
        self.generation = 0  # bumped by every committed transaction: readers' caches compare it (cleanroom.coordinator.web)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            try:
                if self._checkpoint_due is not None:  # owed: made now, before the file is let go
                    self._checkpoint_due.cancel()
                    self._checkpoint_due = None
                    self._con.execute("CHECKPOINT")
            except duckdb.Error as exc:  # closing checkpoints too, or the next open replays the WAL
                log.warning("store checkpoint at close failed: %s", exc, extra={"event": "store.checkpoint_failed"})
            finally:
                self._con.close()
            if self._fd >= 0:
                os.close(self._fd)  # after DuckDB's: its lock goes with it, not before
                self._fd = -1

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One atomic unit of work: every write of a request, or none of them."""
        with self._lock:
            settle(self._con)
            self._con.execute("BEGIN TRANSACTION")
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            else:
                self._con.execute("COMMIT")
                self.generation += 1

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            settle(self._con)
            yield self._con

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection of its own to the same database (its buffer pool and settings), for long work such as a
        join that must not hold the store's lock meanwhile; closed, with its temporary tables, on leaving."""
        with self._lock:
            con = self._con.cursor()
        try:
            yield con
        finally:
            con.close()

    def file_problem(self) -> str | None:
        """Why the file on disk cannot hold the database this connection has open (None: it can). An open
        connection answers from its cache, so a file truncated or overwritten under it reads fine until a
        block is evicted; its size and header say so at once."""
        try:
            with self._lock:  # a checkpoint may shrink the file: read both sides with no statement between
                found = self._con.execute(
                    "SELECT block_size, total_blocks - free_blocks FROM pragma_database_size() WHERE database_name = current_database()"
                ).fetchone()
                on_path, ours = os.stat(self.path), os.fstat(self._fd)
                head = os.pread(self._fd, _HEADERS, 0)
        except (OSError, duckdb.Error) as exc:
            return f"the store file {self.path.name} cannot be read: {type(exc).__name__}"
        if (on_path.st_dev, on_path.st_ino) != (ours.st_dev, ours.st_ino):
            return f"the store file {self.path.name} was replaced under the running coordinator"
        size = ours.st_size
        # Only blocks in use must be in the file: after a WAL replay DuckDB may cut free blocks off the file's end
        # and still count them (tests/unit/test_store_file_size.py), so a sound file can be shorter than all of them.
        block_size, blocks = found if found else (0, 0)
        if head[_MAGIC_AT] != b"DUCK":
            return f"the store file {self.path.name} is not a DuckDB file any more (its header was overwritten)"
        needed = _HEADERS + int(block_size) * int(blocks)
        if size < needed:
            return f"the store file {self.path.name} holds {size:,} bytes of the {needed:,} its database needs (truncated)"
        return None

    def checkpoint(self) -> None:
        """Flush the WAL into the file and drop deleted rows' blocks from it."""
        with self._lock:
            self._con.execute("CHECKPOINT")

    def checkpoint_soon(self, delay: float = CHECKPOINT_DELAY) -> None:
        """``checkpoint`` in ``delay`` seconds, on a thread of its own (see CHECKPOINT_DELAY). Requests made
        meanwhile share that one checkpoint; closing the store makes it at once."""
        with self._lock:
            if self._closed or self._checkpoint_due is not None:
                return
            self._checkpoint_due = threading.Timer(delay, self._deferred_checkpoint)
            self._checkpoint_due.daemon = True
            self._checkpoint_due.start()

    def _deferred_checkpoint(self) -> None:
        with self._lock:
            if self._closed or self._checkpoint_due is None:
                return
            self._checkpoint_due = None
            try:
                self._con.execute("CHECKPOINT")
            except duckdb.Error as exc:  # a full disk, say: not retried in a loop; the next write's checkpoint,
                # the WAL threshold or closing the store makes it (the deleted rows are gone for readers already)
                log.warning("store checkpoint failed: %s", exc, extra={"event": "store.checkpoint_failed"})

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts, for ad-hoc reads by tests only (``Store.rows``); code reads through ``records``/``values``."""
        with self.reading() as con:
            cur = con.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def records(self, record: type[Row], tail: str, params: Sequence[Any] = (), alias: str = "") -> list[Row]:
        """``SELECT <record's fields> <tail>`` as typed records."""
        with self.reading() as con:
            found = con.execute(f"SELECT {columns(cast(type, record), alias)} {tail}", params).fetchall()
        return [record(*row) for row in found]

    def record(self, record: type[Row], tail: str, params: Sequence[Any] = (), alias: str = "") -> Row | None:
        found = self.records(record, tail, params, alias)
        return found[0] if found else None

    def values(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The first column of every row."""
        with self.reading() as con:
            return [row[0] for row in con.execute(sql, params).fetchall()]

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row (None when there is none)."""
        found = self.values(sql, params)
        return found[0] if found else None

    def text(self, sql: str, params: Sequence[Any] = ()) -> str | None:
        """A single TEXT value (None when there is no row)."""
        found = self.value(sql, params)
        return None if found is None else str(found)
