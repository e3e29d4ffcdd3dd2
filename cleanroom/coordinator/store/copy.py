"""A consistent copy of the open store into a fresh DuckDB file (for backups).

``COPY FROM DATABASE`` runs as one statement under the store's lock, so it sees one committed state and
no request writes meanwhile. It writes every table anew, so the copy holds live rows only: blocks freed
by deleted points in the store's own file are not carried over (the copy is compact).
"""

from __future__ import annotations

from pathlib import Path

from cleanroom.coordinator.store.connection import Database

_ALIAS = "cleanroom_backup_copy"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def copy_database(db: Database, target: Path) -> dict[str, int]:
    """Write the whole store into ``target`` (which must not exist); its audit entries and file size."""
    if target.exists():
        raise FileExistsError(target)
    with db.reading() as con:
        found = con.execute("SELECT current_database()").fetchone()
        source = str(found[0]) if found else ""
        con.execute(f"ATTACH {_literal(str(target))} AS {_ALIAS}")
        try:
            con.execute(f'COPY FROM DATABASE "{source.replace(chr(34), chr(34) * 2)}" TO {_ALIAS}')
            counted = con.execute(f"SELECT count(*) FROM {_ALIAS}.audit_log").fetchone()
        finally:
            con.execute(f"DETACH {_ALIAS}")
    return {"audit_entries": int(counted[0]) if counted else 0, "bytes": target.stat().st_size}
