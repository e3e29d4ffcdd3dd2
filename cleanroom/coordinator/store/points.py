"""Blinded points stored one row a point (the chunk_points table, migration 19).

A point is 32 bytes, kept as four little-endian 64-bit words (t0..t3) with its position in its upload. Rows
of fixed width: DuckDB scans them 2,048 at a time in bounded vectors that spill past memory_limit, where a
chunk's points as one BLOB (up to 1 MiB) were pinned whole with every other BLOB of their vector. The join
(store.tokens) reads these rows where they lie. Chunk metadata (digest, labels, sizes) stays in ``chunks``.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from cleanroom.psi import POINT_SIZE

WORDS = ("t0", "t1", "t2", "t3")
READ_BATCH_ROWS = 1 << 17  # rows a batch when reading points back into Python (4 MiB)

TABLE_SQL = """
CREATE TABLE IF NOT EXISTS chunk_points (
    upload_id TEXT NOT NULL,
    pos UINTEGER NOT NULL,
    t0 UBIGINT NOT NULL,
    t1 UBIGINT NOT NULL,
    t2 UBIGINT NOT NULL,
    t3 UBIGINT NOT NULL
);
"""


def point_rows(start: int, points: bytes) -> pa.Table:
    """The rows (without their upload) of packed ``points``, the first at position ``start`` of the upload."""
    words = np.frombuffer(points, dtype="<u8").reshape(-1, POINT_SIZE // 8)
    return pa.table(
        {"pos": np.arange(start, start + len(words), dtype=np.uint32), **{w: words[:, i] for i, w in enumerate(WORDS)}}
    )


def insert_points(con: duckdb.DuckDBPyConnection, upload_id: str, start: int, points: bytes) -> int:
    """Store ``points`` (packed) as the upload's points from position ``start`` on; how many."""
    rows = point_rows(start, points)
    con.register("new_point_rows", rows)
    try:
        con.execute(f"INSERT INTO chunk_points SELECT ?, pos, {', '.join(WORDS)} FROM new_point_rows", [upload_id])
    finally:
        con.unregister("new_point_rows")
    return rows.num_rows


def read_points(con: duckdb.DuckDBPyConnection, upload_id: str, start: int = 0, stop: int | None = None) -> bytes:
    """The upload's points at positions ``start`` up to ``stop`` (the end when None), packed in order.
    Streamed a batch at a time into one array: an upload of millions of points is held twice (the array and
    the bytes returned), not four times over as a whole fetched result, stacked and packed."""
    until, params = ("", [upload_id, start]) if stop is None else (" AND pos < $3", [upload_id, start, stop])
    where = f"WHERE upload_id = $1 AND pos >= $2{until}"
    counted = con.execute(f"SELECT count(*) FROM chunk_points {where}", params).fetchall()
    out = np.empty((int(counted[0][0]), POINT_SIZE // 8), dtype="<u8")
    at = 0
    for batch in con.sql(f"SELECT {', '.join(WORDS)} FROM chunk_points {where} ORDER BY pos", params=params).to_arrow_reader(
        READ_BATCH_ROWS
    ):
        for i, column in enumerate(batch.columns):
            out[at : at + batch.num_rows, i] = column.to_numpy()
        at += batch.num_rows
    return out[:at].tobytes()


def delete_points(con: duckdb.DuckDBPyConnection, chosen: str, params: list[object]) -> int:
    """Delete the points of the uploads ``upload_id IN (...)`` / ``upload_id = ?`` (``chosen``) picks; how many."""
    found = con.execute(f"DELETE FROM chunk_points WHERE {chosen}", params).fetchall()  # DuckDB answers the count
    return int(found[0][0]) if found else 0
