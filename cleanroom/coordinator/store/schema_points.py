"""Migration 19 of schema.MIGRATIONS: each chunk's points move from its ``points`` BLOB to rows of chunk_points.

The BLOB column goes (a store of the earlier layout keeps no copy); digests, sizes and labels stay in chunks.
Reading the old BLOBs pins them as DuckDB reads them (why they move), so a store holding many points needs
the memory for them once, here; retention leaves most stores with few or none.
"""

from __future__ import annotations

import duckdb

from cleanroom.coordinator.store.points import TABLE_SQL, insert_points

MIGRATION_SQL = TABLE_SQL


def move_points(con: duckdb.DuckDBPyConnection) -> None:
    """Copy every chunk's points into chunk_points at their positions in the upload, then drop the BLOBs."""
    columns = {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'chunks'").fetchall()}
    if "points" not in columns:
        return
    # Where each chunk's first point lies in its upload: the points of the chunks before it.
    starts = {
        (str(u), int(seq)): int(first)
        for u, seq, first in con.execute(
            "SELECT upload_id, seq, coalesce(sum(n_points) OVER (PARTITION BY upload_id ORDER BY seq "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) FROM chunks"
        ).fetchall()
    }
    # One streamed scan (a scan per chunk would read every BLOB of its vector each time), on a cursor of its
    # own: the stream stays open while this connection inserts. It reads the committed chunks, which this
    # transaction has not touched yet.
    reader = con.cursor()
    try:
        for batch in reader.sql("SELECT upload_id, seq, points FROM chunks").to_arrow_reader(8):
            for upload_id, seq, points in zip(*(batch.column(i).to_pylist() for i in range(3)), strict=True):
                if points:  # a continuous agreement's re-blinded-away points were blanked to b""
                    insert_points(con, upload_id, starts[(upload_id, seq)], points)
    finally:
        reader.close()
    con.execute("ALTER TABLE chunks DROP COLUMN points")
