"""Counts and sizes of a store, for `cleanroom coordinator status`."""

from __future__ import annotations

import os
from typing import Any

from cleanroom.coordinator.store.connection import Database


def _by_state(db: Database, sql: str) -> dict[str, int]:
    with db.reading() as con:
        return {str(state): int(count) for state, count in con.execute(sql).fetchall()}


def store_stats(db: Database) -> dict[str, Any]:
    """Agreements and runs by state, uploads, API keys, audit entries, and the file's size and free blocks."""
    agreements = _by_state(db, "SELECT state, count(*) FROM agreements GROUP BY state ORDER BY state")
    runs = _by_state(db, "SELECT state, count(*) FROM runs GROUP BY state ORDER BY state")
    uploads = _by_state(
        db, "SELECT CASE WHEN committed THEN 'committed' ELSE 'open' END, count(*) FROM uploads GROUP BY 1 ORDER BY 1"
    )
    with db.reading() as con:
        keys = con.execute("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL").fetchone()
        audit = con.execute("SELECT count(*) FROM audit_log").fetchone()
        size = con.execute("SELECT block_size, total_blocks, free_blocks FROM pragma_database_size()").fetchone()
    wal = db.path.with_name(db.path.name + ".wal")
    block_size, total, free = (int(v) for v in size) if size else (0, 0, 0)
    return {
        "agreements": {"total": sum(agreements.values()), **agreements},
        "runs": {"total": sum(runs.values()), **runs},
        "uploads": {"total": sum(uploads.values()), **uploads},
        "api_keys_active": int(keys[0]) if keys else 0,
        "audit_entries": int(audit[0]) if audit else 0,
        "store": {
            "path": str(db.path.resolve()),
            "file_bytes": os.stat(db.path).st_size,
            "wal_bytes": wal.stat().st_size if wal.exists() else 0,
            "block_bytes": block_size,
            "blocks": total,
            "free_blocks": free,
            "problem": db.file_problem(),  # None when the file holds the open database whole
        },
    }
