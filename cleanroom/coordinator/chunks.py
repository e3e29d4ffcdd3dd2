"""Receiving one chunk of an upload: every check before the single insert.

A repeated chunk (same digest) is a no-op, so a client resumes by sending
again; anything else out of place is refused before a byte is written.
"""

from __future__ import annotations

import numpy as np

from cleanroom.coordinator import linkage
from cleanroom.coordinator.agreements import Agreements
from cleanroom.coordinator.limits import Limits
from cleanroom.coordinator.runs import Runs
from cleanroom.coordinator.sealing import check_sealed_chunk
from cleanroom.coordinator.store import Store, now
from cleanroom.coordinator.store.records import OWN, NewChunk, RunRow, UploadRow
from cleanroom.coordinator.value_sums import check_value_chunk
from cleanroom.errors import FailedPrecondition, InvalidArgument, NotFound
from cleanroom.protocol import chunk_digest
from cleanroom.psi import POINT_SIZE, InvalidPoint, check_points
from cleanroom.terms import Terms


class Chunks:
    def __init__(self, store: Store, agreements: Agreements, runs: Runs, limits: Limits) -> None:
        self._store = store
        self._agreements = agreements
        self._runs = runs
        self._limits = limits

    def put(
        self,
        caller: str,
        upload_id: str,
        seq: int,
        points: bytes,
        accounts: bytes,
        populations: bytes,
        digest: str,
        records: bytes = b"",
        sealed: bytes = b"",
        value_ciphertexts: bytes = b"",
    ) -> list[int]:
        """Store chunk ``seq``; returns the sequence numbers received so far."""
        upload = self._runs.own_upload(caller, upload_id)
        run = self._runs.collecting(upload)
        received = self._store.uploads.received(upload_id)
        if seq in received:
            if self._store.uploads.chunk_digest(upload_id, seq) != digest:
                raise InvalidArgument(f"chunk {seq} of upload {upload_id} was already received with different content")
            return received  # a repeated chunk is a no-op
        n = self._check_framing(
            upload, received, seq, points, accounts, populations, digest, records + sealed + value_ciphertexts
        )
        terms = self._agreements.terms_by_id(run.agreement_id)
        if records and not (upload.kind == OWN and run.purpose == "attribution"):
            raise InvalidArgument("only own uploads of attribution runs carry records")
        if sealed:
            check_sealed_chunk(terms, upload, run, seq, sealed, self._limits.max_sealed_chunk_bytes)
        if value_ciphertexts:
            check_value_chunk(terms, upload, run, seq, value_ciphertexts)
        if upload.kind == OWN:
            self._check_own(terms, upload, run, seq, n, accounts, populations, records)
        else:
            self._check_reblinded(upload, seq, n, accounts, populations)
        chunk = NewChunk(
            upload_id,
            seq,
            n,
            points,
            accounts or None,
            populations or None,
            digest,
            records or None,
            sealed or None,
            value_ciphertexts or None,
        )
        with self._store.transaction() as con:
            if not self._store.uploads.insert_chunk(con, chunk, now()):
                raise NotFound(f"upload {upload_id!r} was closed while this chunk arrived (begin the upload again)")
        return [*received, seq]

    def _check_framing(
        self,
        upload: UploadRow,
        received: list[int],
        seq: int,
        points: bytes,
        accounts: bytes,
        populations: bytes,
        digest: str,
        payload: bytes,
    ) -> int:
        """In order, intact, valid points, within limits; returns the number of points."""
        if upload.committed:
            raise FailedPrecondition(f"upload {upload.upload_id} is already committed")
        if seq >= upload.total_chunks:
            raise InvalidArgument(f"chunk {seq} is out of range: upload {upload.upload_id} has {upload.total_chunks} chunks")
        if seq != len(received):
            raise InvalidArgument(f"chunk {seq} is out of order: expected chunk {len(received)}")
        # ``payload``: records, sealed fields and encrypted amounts, in the order the digest appends them.
        if chunk_digest(points, accounts, populations, payload) != digest:
            raise InvalidArgument(f"chunk {seq} does not match its digest (corrupted in transit?)")
        try:
            check_points(points)
        except InvalidPoint as exc:
            raise InvalidArgument(f"chunk {seq}: {exc}") from None
        n = len(points) // POINT_SIZE
        if n == 0 or n > self._limits.max_chunk_points:
            raise InvalidArgument(f"chunk {seq} holds {n} points; a chunk holds 1 to {self._limits.max_chunk_points}")
        return n

    def _check_own(
        self, terms: Terms, upload: UploadRow, run: RunRow, seq: int, n: int, accounts: bytes, populations: bytes, records: bytes
    ) -> None:
        """Labels of an own chunk: one account and one population mask per point; an attribution run's records."""
        if len(accounts) != 4 * n or len(populations) != 2 * n:
            raise InvalidArgument(f"chunk {seq}: need one 4-byte account label and one 2-byte population mask per point")
        acc = np.frombuffer(accounts, dtype="<u4")
        changes = self._store.standing.changes(upload.upload_id)
        # A change to a continuous agreement's standing accounts adds accounts under new labels, above the
        # ones it keeps (checked at commit: new, and as many as announced); any other upload labels 0..n-1.
        adds_to_standing = changes is not None and changes.base_run_id != ""
        if not adds_to_standing and int(acc.max()) >= upload.total_accounts:
            raise InvalidArgument(f"chunk {seq}: account label {int(acc.max())} >= total_accounts {upload.total_accounts}")
        # Attribution runs carry one pseudo-population: every point's mask is 1.
        n_pops = 1 if run.purpose == "attribution" else len(terms.populations[upload.party])
        masks = np.frombuffer(populations, dtype="<u2")
        if np.any(masks == 0) or np.any(masks >> n_pops):
            raise InvalidArgument(f"chunk {seq}: population masks must name 1 to {n_pops} of your populations")
        if run.purpose == "attribution":
            linkage.check_records(
                records, vendor=upload.party == terms.vendor, total_accounts=int(upload.total_accounts), where=f"chunk {seq}"
            )

    def _check_reblinded(self, upload: UploadRow, seq: int, n: int, accounts: bytes, populations: bytes) -> None:
        """A re-blinded chunk: no labels, as many points as the peer's chunk of the same number."""
        if accounts or populations:
            raise InvalidArgument("re-blinded chunks carry no labels")
        peer_n = self._store.uploads.peer_chunk_points(upload.run_id, upload.party, seq)
        if peer_n is None:
            raise InvalidArgument(f"the peer's upload has no chunk {seq}")
        if n != peer_n:
            raise InvalidArgument(f"re-blinded chunk {seq} holds {n} points; the peer's chunk {seq} holds {peer_n}")
