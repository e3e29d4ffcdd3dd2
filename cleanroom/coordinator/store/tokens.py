"""A run's double-blinded tokens, joined inside the store's own DuckDB database.

The tokens go from the chunks table into a temporary table of the same database, a few chunks at a time,
and the join, the duplicate check and the canary reads run there in SQL. So the configured memory_limit
bounds them and DuckDB spills to its temp_directory past it; Python never holds a side's tokens, only
the positions of the matches. Each token is four 64-bit words (fixed-size keys hash and compare faster
than 32-byte BLOBs); the join compares all four, so two tokens match only when all 32 bytes are equal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import numpy as np
import pyarrow as pa

from cleanroom.coordinator.store.connection import Database
from cleanroom.psi import POINT_SIZE

# Chunks read into Python at a time while loading a side: 32 chunks of up to 32,768 points is 32 MiB.
LOAD_BATCH_CHUNKS = 32
_WORDS = ("t0", "t1", "t2", "t3")
SIDES = ("a", "b")


class TokenJoin:
    """Both sides' tokens on one connection of their own (temporary tables live and die with it)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        for side in SIDES:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE join_{side} "
                "(pos UINTEGER NOT NULL, t0 UBIGINT NOT NULL, t1 UBIGINT NOT NULL, t2 UBIGINT NOT NULL, t3 UBIGINT NOT NULL)"
            )

    def load(self, side: str, upload_id: str) -> int:
        """Copy an upload's points into ``side``'s table, each with its position in the upload; how many.
        One streamed scan of the chunks (a scan per batch would read every chunk's BLOB each time: DuckDB
        reads a column 2,048 rows at a time), a few chunks at a time into Python and on into the table."""
        table = _table(side)
        sizes = self._con.execute("SELECT seq, n_points FROM chunks WHERE upload_id = ? ORDER BY seq", [upload_id]).fetchall()
        starts = dict(zip((int(seq) for seq, _ in sizes), np.cumsum([0] + [int(n) for _, n in sizes]).tolist(), strict=False))
        reader = self._con.cursor()  # the stream stays open while this connection inserts
        try:
            stream = reader.sql("SELECT seq, points FROM chunks WHERE upload_id = $1", params=[upload_id])
            for batch in stream.to_arrow_reader(LOAD_BATCH_CHUNKS):
                seqs, blobs = batch.column(0).to_pylist(), batch.column(1).to_pylist()
                words = np.frombuffer(b"".join(blobs), dtype="<u8").reshape(-1, POINT_SIZE // 8)
                pos = np.concatenate(
                    [
                        np.arange(starts[seq], starts[seq] + len(b) // POINT_SIZE, dtype=np.uint32)
                        for seq, b in zip(seqs, blobs, strict=True)
                    ]
                )
                self._insert(table, pa.table({"pos": pos, **{w: words[:, i] for i, w in enumerate(_WORDS)}}))
        finally:
            reader.close()
        return sum(int(n) for _, n in sizes)

    def _insert(self, table: str, batch: pa.Table) -> None:
        self._con.register("token_batch", batch)
        try:
            self._con.execute(f"INSERT INTO {table} SELECT * FROM token_batch")
        finally:
            self._con.unregister("token_batch")

    def has_duplicates(self, side: str) -> bool:
        """Whether two of the side's tokens are equal."""
        found = self._con.execute(
            f"SELECT EXISTS (SELECT 1 FROM {_table(side)} GROUP BY t0, t1, t2, t3 HAVING count(*) > 1)"
        ).fetchall()
        return bool(found[0][0])

    def points_at(self, side: str, positions: np.ndarray) -> bytes:
        """The side's tokens at ``positions`` (each within the upload), packed in that order."""
        wanted = pa.table({"i": np.arange(len(positions), dtype=np.uint32), "pos": positions.astype(np.uint32)})
        self._con.register("wanted_positions", wanted)
        try:
            found = self._con.execute(
                f"SELECT t0, t1, t2, t3 FROM wanted_positions w JOIN {_table(side)} t USING (pos) ORDER BY w.i"
            ).fetchnumpy()
        finally:
            self._con.unregister("wanted_positions")
        return np.stack([found[w] for w in _WORDS], axis=1).astype("<u8").tobytes()

    def matches(self) -> np.ndarray:
        """(a position, b position) of every pair of equal tokens, as int64 rows in no particular order."""
        found = self._con.execute(
            "SELECT a.pos AS a_pos, b.pos AS b_pos FROM join_a a JOIN join_b b "
            "ON a.t0 = b.t0 AND a.t1 = b.t1 AND a.t2 = b.t2 AND a.t3 = b.t3"
        ).fetchnumpy()
        return np.stack([found["a_pos"].astype(np.int64), found["b_pos"].astype(np.int64)], axis=1)

    def spill_files(self) -> list[str]:
        """The temporary files DuckDB holds blocks in now (past memory_limit), for checks and diagnostics."""
        return [str(row[0]) for row in self._con.execute("SELECT path FROM duckdb_temporary_files()").fetchall()]


@contextmanager
def token_join(db: Database) -> Iterator[TokenJoin]:
    """A TokenJoin on a connection of its own to the store's database: the same buffer pool and settings
    (memory_limit, temp_directory, threads), without holding the store's lock while it joins."""
    with db.cursor() as con:
        yield TokenJoin(con)


def _table(side: str) -> str:
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, not {side!r}")
    return f"join_{side}"
