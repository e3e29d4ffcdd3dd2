"""Uploads and their chunks (the blinded points, labels, records and sealed fields).

A chunk's points are rows of chunk_points (store.points), by position in the upload; the rest of it is a row
of chunks.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa

from cleanroom.coordinator.store.connection import Database, Tx
from cleanroom.coordinator.store.points import delete_points, insert_points, read_points
from cleanroom.coordinator.store.records import ChunkDigest, ChunkLabels, NewChunk, UploadRow

# A chunk's row in chunks: every field of NewChunk but its points (those go to chunk_points).
_CHUNK_COLUMNS = tuple(f.name for f in dataclasses.fields(NewChunk) if f.name != "points")


def _packed(column: pa.ChunkedArray, dtype: str) -> np.ndarray:
    """The values of a BLOB column end to end, as ``dtype`` (the data buffer of one contiguous binary array)."""
    values = pa.concat_arrays(column.chunks).cast(pa.large_binary()) if column.num_chunks else pa.array([], pa.large_binary())
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)[values.offset : values.offset + len(values) + 1]
    data = values.buffers()[2]
    if data is None or len(offsets) < 2:
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]].view(dtype)


class UploadRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- uploads -----------------------------------------------------------------------------

    def get(self, upload_id: str) -> UploadRow | None:
        return self._db.record(UploadRow, "FROM uploads WHERE upload_id = ?", [upload_id])

    def of_run(self, run_id: str, party: str, kind: str) -> UploadRow | None:
        return self._db.record(UploadRow, "FROM uploads WHERE run_id = ? AND party = ? AND kind = ?", [run_id, party, kind])

    def all_of_run(self, run_id: str, committed_only: bool = False) -> list[UploadRow]:
        return self._db.records(
            UploadRow, "FROM uploads WHERE run_id = ?" + (" AND committed" if committed_only else ""), [run_id]
        )

    def is_committed(self, run_id: str, party: str, kind: str) -> bool:
        return bool(
            self._db.values(
                "SELECT 1 FROM uploads WHERE run_id = ? AND party = ? AND kind = ? AND committed", [run_id, party, kind]
            )
        )

    def completed_attribution_upload(self, agreement_id: str, party: str, digest: str) -> UploadRow | None:
        """The party's own upload of this digest to an attribution run that completed, newest first."""
        return self._db.record(
            UploadRow,
            """FROM uploads u JOIN runs r USING (run_id)
               WHERE r.agreement_id = ? AND r.purpose = 'attribution' AND r.state = 'complete'
                 AND u.party = ? AND u.kind = 'own' AND u.upload_digest = ?
               ORDER BY r.created_at DESC LIMIT 1""",
            [agreement_id, party, digest],
            alias="u",
        )

    @staticmethod
    def insert(con: Tx, upload: UploadRow) -> None:
        con.execute(
            "INSERT INTO uploads (upload_id, run_id, party, kind, total_points, total_chunks, total_accounts, upload_digest, "
            "of_upload, committed, created_at, committed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                upload.upload_id,
                upload.run_id,
                upload.party,
                upload.kind,
                upload.total_points,
                upload.total_chunks,
                upload.total_accounts,
                upload.upload_digest,
                upload.of_upload,
                upload.committed,
                upload.created_at,
                upload.committed_at,
            ],
        )

    @staticmethod
    def delete(con: Tx, upload_id: str) -> None:
        """An upload and its chunks (replaced by a new one)."""
        delete_points(con, "upload_id = ?", [upload_id])
        con.execute("DELETE FROM chunks WHERE upload_id = ?", [upload_id])
        con.execute("DELETE FROM upload_canaries WHERE upload_id = ?", [upload_id])
        con.execute("DELETE FROM upload_signatures WHERE upload_id = ?", [upload_id])
        con.execute("DELETE FROM uploads WHERE upload_id = ?", [upload_id])

    @staticmethod
    def insert_signature(con: Tx, upload_id: str, signature: bytes, points_digest: str) -> None:
        con.execute(
            "INSERT INTO upload_signatures (upload_id, signature, points_digest) VALUES (?, ?, ?)",
            [upload_id, signature, points_digest],
        )

    def signature(self, upload_id: str) -> tuple[bytes, str]:
        """The party's signature over the upload's statement and the points digest it names
        ((b"", "") for an upload made before uploads were signed)."""
        with self._db.reading() as con:
            found = con.execute(
                "SELECT signature, points_digest FROM upload_signatures WHERE upload_id = ?", [upload_id]
            ).fetchone()
        return (bytes(found[0]), str(found[1])) if found else (b"", "")

    @staticmethod
    def insert_canaries(con: Tx, upload_id: str, scalar: bytes, positions: bytes) -> None:
        con.execute("INSERT INTO upload_canaries (upload_id, scalar, positions) VALUES (?, ?, ?)", [upload_id, scalar, positions])

    def canaries(self, upload_id: str) -> tuple[bytes, bytes] | None:
        """(scalar, positions) of the canary pairs an OWN upload hid among its points, if any."""
        with self._db.reading() as con:
            found = con.execute("SELECT scalar, positions FROM upload_canaries WHERE upload_id = ?", [upload_id]).fetchone()
        return (bytes(found[0]), bytes(found[1])) if found else None

    @staticmethod
    def commit(con: Tx, upload_id: str, at: str, audit_head: str) -> None:
        """Committed at ``at``; ``audit_head`` is the signed head (JSON) its receipt carries."""
        con.execute(
            "UPDATE uploads SET committed = true, committed_at = ?, audit_head = ? WHERE upload_id = ?",
            [at, audit_head, upload_id],
        )

    def audit_head(self, upload_id: str) -> str | None:
        """The signed head (JSON) the upload's receipt carries; None for one committed before migration 9."""
        return self._db.text("SELECT audit_head FROM uploads WHERE upload_id = ?", [upload_id])

    # -- chunks ------------------------------------------------------------------------------

    def received(self, upload_id: str) -> list[int]:
        return self._db.values("SELECT seq FROM chunks WHERE upload_id = ? ORDER BY seq", [upload_id])

    def chunk_digest(self, upload_id: str, seq: int) -> str | None:
        return self._db.text("SELECT digest FROM chunks WHERE upload_id = ? AND seq = ?", [upload_id, seq])

    def digests(self, upload_id: str) -> list[ChunkDigest]:
        return self._db.records(ChunkDigest, "FROM chunks WHERE upload_id = ? ORDER BY seq", [upload_id])

    def labels(self, upload_id: str) -> list[ChunkLabels]:
        return self._db.records(ChunkLabels, "FROM chunks WHERE upload_id = ? ORDER BY seq", [upload_id])

    def label_arrays(self, upload_id: str) -> tuple[np.ndarray, np.ndarray]:
        """An own upload's account labels (uint32) and population masks (uint16) by point position, each one
        array over Arrow's buffer of the chunks' BLOBs (no Python object a chunk, no second copy)."""
        with self._db.reading() as con:
            found = con.sql(  # not execute(): Arrow from a DB-API result copies the rows once more
                "SELECT coalesce(accounts, ''::BLOB) AS accounts, coalesce(populations, ''::BLOB) AS populations "
                "FROM chunks WHERE upload_id = $1 ORDER BY seq",
                params=[upload_id],
            ).to_arrow_table()
        return _packed(found.column("accounts"), "<u4"), _packed(found.column("populations"), "<u2")

    def value_ciphertexts(self, upload_id: str) -> list[tuple[int, bytes]]:
        """(seq, encrypted amounts) of the chunks that carry them (pipeline value), in order."""
        with self._db.reading() as con:
            found = con.execute(
                "SELECT seq, value_ciphertexts FROM chunks WHERE upload_id = ? AND value_ciphertexts IS NOT NULL ORDER BY seq",
                [upload_id],
            ).fetchall()
        return [(int(seq), bytes(data)) for seq, data in found]

    @staticmethod
    def set_value_public(con: Tx, upload_id: str, public: bytes) -> None:
        con.execute("UPDATE uploads SET value_public = ? WHERE upload_id = ?", [public, upload_id])

    def value_public(self, upload_id: str) -> bytes | None:
        with self._db.reading() as con:
            found = con.execute("SELECT value_public FROM uploads WHERE upload_id = ?", [upload_id]).fetchone()
        return bytes(found[0]) if found and found[0] is not None else None

    def sealed(self, upload_id: str) -> list[tuple[int, bytes]]:
        """(seq, sealed) of the chunks that carry sealed fields."""
        with self._db.reading() as con:
            found = con.execute(
                "SELECT seq, sealed FROM chunks WHERE upload_id = ? AND sealed IS NOT NULL ORDER BY seq", [upload_id]
            ).fetchall()
        return [(int(seq), bytes(sealed)) for seq, sealed in found]

    def points(self, upload_id: str) -> bytes:
        """Every point of an upload, in order (packed)."""
        with self._db.reading() as con:
            return read_points(con, upload_id)

    def chunk_points(self, upload_id: str, seq: int) -> bytes:
        """The points of chunk ``seq`` (packed; b"" when there is no such chunk or its points are gone)."""
        with self._db.reading() as con:
            found = con.execute(
                "SELECT coalesce(sum(n_points) FILTER (WHERE seq < $2), 0), max(n_points) FILTER (WHERE seq = $2) "
                "FROM chunks WHERE upload_id = $1",
                [upload_id, seq],
            ).fetchall()
            if not found or found[0][1] is None:
                return b""
            start = int(found[0][0])
            return read_points(con, upload_id, start, start + int(found[0][1]))

    def records(self, upload_id: str) -> bytes:
        """An attribution upload's records, in chunk order."""
        found = self._db.values("SELECT records FROM chunks WHERE upload_id = ? ORDER BY seq", [upload_id])
        return b"".join(bytes(r) for r in found if r is not None)

    def peer_chunk_points(self, run_id: str, party: str, seq: int) -> int | None:
        """How many points chunk ``seq`` of the other party's own upload holds (None: no such chunk)."""
        found = self._db.value(
            """SELECT c.n_points FROM chunks c JOIN uploads u USING (upload_id)
               WHERE u.run_id = ? AND u.kind = 'own' AND u.party <> ? AND c.seq = ?""",
            [run_id, party, seq],
        )
        return None if found is None else int(found)

    @staticmethod
    def insert_chunk(con: Tx, chunk: NewChunk, at: str) -> bool:
        """Store a chunk of an upload still open, marking the upload active at ``at``; False (nothing
        written) when the upload is gone or committed meanwhile (the sweep took it)."""
        touched = con.execute(
            "UPDATE uploads SET touched_at = ? WHERE upload_id = ? AND NOT committed RETURNING upload_id", [at, chunk.upload_id]
        ).fetchall()
        if not touched:
            return False
        # A chunk's first point follows every point of the chunks before it: only true when they all came first.
        # chunks.py refuses chunks out of order; checked again here, where the positions are written, because a
        # chunk stored out of order would put two points at one position and the join would read the wrong one.
        held = con.execute(
            "SELECT count(*), coalesce(sum(n_points), 0) FROM chunks WHERE upload_id = ?", [chunk.upload_id]
        ).fetchall()
        n_before, start = int(held[0][0]), int(held[0][1])
        if n_before != chunk.seq:
            raise ValueError(f"chunk {chunk.seq} of upload {chunk.upload_id} stored after {n_before} chunks: out of order")
        marks = ", ".join("?" for _ in _CHUNK_COLUMNS)
        con.execute(
            f"INSERT INTO chunks ({', '.join(_CHUNK_COLUMNS)}) VALUES ({marks})", [getattr(chunk, c) for c in _CHUNK_COLUMNS]
        )
        insert_points(con, chunk.upload_id, start, chunk.points)
        return True

    def idle(self, before: str) -> list[UploadRow]:
        """Uploads begun and not committed whose last activity (begin, or the latest chunk) is before ``before``."""
        return self._db.records(
            UploadRow, "FROM uploads WHERE NOT committed AND coalesce(touched_at, created_at) < ? ORDER BY created_at", [before]
        )

    @staticmethod
    def sweep(con: Tx, upload_id: str, before: str) -> dict[str, int] | None:
        """Delete an upload still idle since before ``before`` and its chunks; what went, or None if it moved meanwhile."""
        still = con.execute(
            "SELECT 1 FROM uploads WHERE upload_id = ? AND NOT committed AND coalesce(touched_at, created_at) < ?",
            [upload_id, before],
        ).fetchone()
        if still is None:
            return None
        found = con.execute("SELECT count(*), coalesce(sum(n_points), 0) FROM chunks WHERE upload_id = ?", [upload_id]).fetchone()
        n_chunks, n_points = found if found else (0, 0)
        UploadRepository.delete(con, upload_id)
        return {"chunks": int(n_chunks), "points": int(n_points)}

    @staticmethod
    def blank_points(con: Tx, upload_id: str) -> int:
        """Delete the points of an upload's chunks, keeping their labels; returns how many points went."""
        return delete_points(con, "upload_id = ?", [upload_id])

    @staticmethod
    def purge_points(con: Tx, *, run_id: str | None = None, agreement_id: str | None = None) -> dict[str, int]:
        """Delete every blinded point of a run (or of all runs of an agreement); returns what went."""
        if run_id is not None:
            where, param = "run_id = ?", run_id
        elif agreement_id is not None:
            where, param = "run_id IN (SELECT run_id FROM runs WHERE agreement_id = ?)", agreement_id
        else:
            raise ValueError("purge_points needs a run_id or an agreement_id")
        chosen = f"upload_id IN (SELECT upload_id FROM uploads WHERE {where})"
        found = con.execute(f"SELECT count(*) FROM chunks WHERE {chosen}", [param]).fetchone()
        n_chunks = int(found[0]) if found else 0
        # The points counted are the rows deleted: a continuous run's were deleted (and audited) when their
        # re-blinding was committed, and must not be counted again here with the labels that remained.
        n_points = delete_points(con, chosen, [param])
        con.execute(f"DELETE FROM chunks WHERE {chosen}", [param])
        con.execute(f"DELETE FROM upload_canaries WHERE {chosen}", [param])  # meaningless without the points
        return {"chunks": n_chunks, "points": n_points}
