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
    """The upload's points at positions ``start`` up to ``stop`` (the end when None), packed in order."""
    until = "" if stop is None else " AND pos < ?"
    found = con.execute(
        f"SELECT {', '.join(WORDS)} FROM chunk_points WHERE upload_id = ? AND pos >= ?{until} ORDER BY pos",
        [upload_id, start] + ([] if stop is None else [stop]),
    ).fetchnumpy()
    if not len(found["t0"]):
        return b""
    return np.stack([np.asarray(found[w], dtype=np.uint64) for w in WORDS], axis=1).astype("<u8").tobytes()


def delete_points(con: duckdb.DuckDBPyConnection, chosen: str, params: list[object]) -> int:
    """Delete the points of the uploads ``upload_id IN (...)`` / ``upload_id = ?`` (``chosen``) picks; how many."""
    found = con.execute(f"DELETE FROM chunk_points WHERE {chosen}", params).fetchall()  # DuckDB answers the count
    return int(found[0][0]) if found else 0
