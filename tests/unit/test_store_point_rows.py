"""Chunk points kept one row a point (migration 19, cleanroom/coordinator/store/points.py).

A store of the previous version (migrations 1-18, each chunk's points one BLOB) holding points opens, moves
every point to its row at its position in the upload, drops the BLOBs, and serves the same bytes; the
coordinator's deletions take the rows with them. Ground truth: the random bytes written into the old store.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cleanroom.coordinator.store import Store
from cleanroom.coordinator.store.points import delete_points, insert_points
from cleanroom.coordinator.store.records import NewChunk
from cleanroom.coordinator.store.schema import MIGRATIONS
from cleanroom.crypto.signing import Signer

# upload -> the sizes of its chunks, in order (a blanked chunk holds n_points but no bytes: a continuous
# agreement's points went when their re-blinding was committed).
UPLOADS = {"up_a": [5, 7, 3], "up_b": [4], "up_blank": [6, 2]}


@pytest.fixture
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


def _store_at_version_18(tmp_path, rng) -> tuple[object, dict[str, list[bytes]]]:
    """A store file as the previous code left it, holding points; and each upload's chunks' points."""
    path = tmp_path / "v18.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
    for step in MIGRATIONS:
        if step.version < 19:
            con.execute(step.sql)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)", [step.version, step.name, dt.datetime.now(dt.UTC).isoformat()]
            )
    written: dict[str, list[bytes]] = {}
    for upload_id, sizes in UPLOADS.items():
        con.execute(
            "INSERT INTO uploads (upload_id, run_id, party, kind, total_points, total_chunks, total_accounts, upload_digest, "
            "committed, created_at) VALUES (?, 'run1', 'vendor', 'own', ?, ?, 0, 'd', true, 't')",
            [upload_id, sum(sizes), len(sizes)],
        )
        written[upload_id] = []
        for seq, n in enumerate(sizes):
            points = b"" if upload_id == "up_blank" else rng.integers(0, 256, 32 * n, dtype=np.uint8).tobytes()
            con.execute(
                "INSERT INTO chunks (upload_id, seq, n_points, points, digest) VALUES (?, ?, ?, ?, ?)",
                [upload_id, seq, n, points, f"digest{seq}"],
            )
            written[upload_id].append(points)
    con.close()
    return path, written


@contextmanager
def _migrated(tmp_path, signer, seed: int) -> Iterator[tuple[Store, dict[str, list[bytes]]]]:
    """The version-18 store opened (so migrated) by today's Store, and what each upload's chunks held."""
    path, written = _store_at_version_18(tmp_path, np.random.default_rng(seed))
    store = Store(path, signer)
    try:
        yield store, written
    finally:
        store.close()


def test_a_store_of_the_previous_version_moves_its_points_into_rows(tmp_path, signer):
    with _migrated(tmp_path, signer, 19) as (store, written):
        assert store.row("SELECT max(version) AS v FROM schema_migrations")["v"] == MIGRATIONS[-1].version
        columns = {r["column_name"] for r in store.rows("SELECT column_name FROM duckdb_columns() WHERE table_name = 'chunks'")}
        assert "points" not in columns and {"digest", "n_points", "accounts"} <= columns
        for upload_id, chunks in written.items():
            assert store.uploads.points(upload_id) == b"".join(chunks)
            for seq, points in enumerate(chunks):
                assert store.uploads.chunk_points(upload_id, seq) == points
            assert store.uploads.chunk_digest(upload_id, 0) == "digest0"  # the metadata stayed
        # Each point's row: its position in the upload and its bytes as four little-endian words.
        rows = store.rows("SELECT pos, t0, t1, t2, t3 FROM chunk_points WHERE upload_id = 'up_a' ORDER BY pos")
        assert [r["pos"] for r in rows] == list(range(15))
        third = b"".join(written["up_a"])[2 * 32 : 3 * 32]
        assert [rows[2][w] for w in ("t0", "t1", "t2", "t3")] == [
            int.from_bytes(third[i : i + 8], "little") for i in (0, 8, 16, 24)
        ]
        assert store.row("SELECT count(*) AS n FROM chunk_points WHERE upload_id = 'up_blank'")["n"] == 0
        assert store.uploads.chunk_points("up_a", 3) == b""  # no such chunk


def test_deleting_points_deletes_their_rows(tmp_path, signer):
    with _migrated(tmp_path, signer, 7) as (store, _):
        with store.transaction() as con:
            assert store.uploads.blank_points(con, "up_b") == 4
        assert store.uploads.points("up_b") == b"" and store.uploads.labels("up_b")  # the chunk's row stays
        with store.transaction() as con:
            store.uploads.delete(con, "up_a")
        assert store.row("SELECT count(*) AS n FROM chunk_points")["n"] == 0


def test_a_purge_counts_the_points_it_deletes_not_those_deleted_before(tmp_path, signer):
    # A continuous run's points go when their re-blinding is committed (audited then); the purge at its
    # completion takes the labels left and must not count those points a second time.
    with _migrated(tmp_path, signer, 3) as (store, written):
        with store.transaction() as con:
            store.uploads.blank_points(con, "up_b")
            went = store.uploads.purge_points(con, run_id="run1")
        held = sum(len(b"".join(chunks)) // 32 for chunks in written.values()) - 4  # up_a's 15; up_blank has none
        assert went == {"chunks": 6, "points": held}
        assert store.row("SELECT count(*) AS n FROM chunk_points")["n"] == 0


def test_a_chunk_stored_out_of_order_is_refused_before_a_point_is_written(tmp_path, signer):
    with _migrated(tmp_path, signer, 5) as (store, _):
        with store.transaction() as con:
            con.execute("UPDATE uploads SET committed = false WHERE upload_id = 'up_b'")
        chunk = NewChunk("up_b", 3, 2, bytes(64), None, None, "d3", None, None)  # up_b holds one chunk: seq 1 is next
        with pytest.raises(ValueError, match="out of order"), store.transaction() as con:
            store.uploads.insert_chunk(con, chunk, "t")
        assert store.row("SELECT count(*) AS n FROM chunk_points WHERE upload_id = 'up_b'")["n"] == 4
        with store.transaction() as con:
            assert store.uploads.insert_chunk(con, dataclasses.replace(chunk, seq=1), "t")
        assert store.uploads.chunk_points("up_b", 1) == bytes(64)


def _words(*points: tuple[int, int, int, int]) -> bytes:
    return np.array(points, dtype="<u8").tobytes()


@pytest.mark.parametrize(
    ("points", "duplicated"),
    [
        (_words((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12)), False),
        (_words((1, 2, 3, 4), (1, 2, 3, 5), (1, 9, 3, 4)), False),  # first words shared, tokens distinct
        (_words((1, 2, 3, 4), (5, 6, 7, 8), (1, 2, 3, 4)), True),
        (_words((7, 2**64 - 1, 0, 3), (2, 0, 0, 0), (7, 2**64 - 1, 0, 3)), True),
    ],
    ids=["distinct", "first-words-shared", "a-duplicate", "a-duplicate-with-high-bits"],
)
def test_the_duplicate_check_compares_whole_tokens(tmp_path, signer, points, duplicated):
    from cleanroom.coordinator.store.points import insert_points

    store = Store(tmp_path / "s.duckdb", signer)
    try:
        with store.transaction() as con:
            insert_points(con, "up", 0, points)
            insert_points(con, "other", 0, points[:32])  # another upload's token equal to one of these counts nowhere
        with store.token_join() as join:
            assert join.load("a", "up") == 3
            assert join.has_duplicates("a") is duplicated
            assert join.points_at("a", np.array([2, 0], dtype=np.uint32)) == points[64:96] + points[:32]
    finally:
        store.close()


def test_points_read_back_in_position_order_across_batches(tmp_path, signer, monkeypatch):
    from cleanroom.coordinator.store import points as point_rows

    monkeypatch.setattr(point_rows, "READ_BATCH_ROWS", 64)  # many batches
    packed = np.random.default_rng(5).integers(0, 256, 32 * 1000, dtype=np.uint8).tobytes()
    store = Store(tmp_path / "s.duckdb", signer)
    try:
        with store.transaction() as con:  # stored out of order: positions 600.., then 0.., then 300..
            for first, last in ((600, 1000), (0, 300), (300, 600)):
                point_rows.insert_points(con, "up", first, packed[32 * first : 32 * last])
        assert store.uploads.points("up") == packed
        with store.reading() as con:
            assert point_rows.read_points(con, "up", 250, 700) == packed[32 * 250 : 32 * 700]
            assert point_rows.read_points(con, "up", 1000) == b""
    finally:
        store.close()


def test_the_join_reads_one_snapshot_whatever_is_deleted_meanwhile(tmp_path, signer):
    # The join holds no store lock: a revocation may delete the points while it runs. Every read of the join
    # must see the points as they were when it began (the revoked run is then not completed: runs.complete).
    store = Store(tmp_path / "s.duckdb", signer)
    points = np.random.default_rng(0).integers(0, 256, 32 * 4, dtype=np.uint8).tobytes()
    try:
        with store.transaction() as con:
            insert_points(con, "ra", 0, points)
            insert_points(con, "rb", 0, points)
        with store.token_join() as join:
            assert (join.load("a", "ra"), join.load("b", "rb")) == (4, 4)
            with store.transaction() as con:
                delete_points(con, "upload_id IN ('ra', 'rb')", [])
            assert join.points_at("a", np.array([1, 3], dtype=np.uint32)) == points[32:64] + points[96:128]
            assert len(join.matches()) == 4 and not join.has_duplicates("a")
        assert store.row("SELECT count(*) AS n FROM chunk_points")["n"] == 0  # the deletion stands
    finally:
        store.close()
