"""A sound store is never reported truncated: after a crash, the next two opens of the file (the first
replays the WAL and checkpoints) can leave free blocks counted past the file's end. ``file_problem``
said "truncated" then, so a coordinator restarted after a kill -9 turned NOT_SERVING on a sound store.
The file is the real thing: written by separate processes, one of them killed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cleanroom.coordinator.store.connection import Database
from cleanroom.coordinator.store.integrity import check_store

WRITE = """
import os, sys
from pathlib import Path
from cleanroom.coordinator.store.connection import Database
db = Database(Path(sys.argv[1]))
with db.transaction() as con:
    con.execute("INSERT INTO api_keys VALUES (?, 'h', 'p', 'analyst', '', 'now', NULL)", [sys.argv[2]])
if sys.argv[3] == "kill":
    os._exit(9)  # as kill -9: no checkpoint, the WAL stays
db.close()
"""


def _sizes(path: Path) -> tuple[int, int, int, str | None]:
    db = Database(path)
    try:
        found = db.rows("SELECT block_size, total_blocks, free_blocks FROM pragma_database_size()")[0]
        return int(found["block_size"]), int(found["total_blocks"]), int(found["free_blocks"]), db.file_problem()
    finally:
        db.close()


def test_free_blocks_past_the_end_after_a_crash_are_not_truncation(tmp_path: Path):
    path = tmp_path / "store.duckdb"
    for key_id, end in (("a", "close"), ("b", "close"), ("c", "kill")):
        subprocess.run([sys.executable, "-c", WRITE, str(path), key_id, end], check=False, timeout=120)
    assert _sizes(path)[3] is None  # the first open replays the WAL
    block_size, total, free, problem = _sizes(path)
    counted = 3 * 4096 + block_size * total
    assert free > 0 and path.stat().st_size < counted, "the state this test is about did not arise"
    assert problem is None
    assert check_store(path)["rows"] > 0  # every block of every table reads back: the file is sound
    db = Database(path)  # a real truncation under an open database is still seen
    try:
        os.truncate(path, 3 * 4096 + block_size)
        assert "truncated" in (db.file_problem() or "")
    finally:
        db.close()
