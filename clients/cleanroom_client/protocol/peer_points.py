"""The partner's points of a run, fetched and checked to be exactly what the partner signed.

A deviating coordinator could otherwise serve points of its own choosing --
guessed identifiers hashed to the curve -- and learn from our re-blinding
whether they match the partner's double-blinded tokens. We recompute every
chunk digest and the digest of the points from the bytes received (the
payload digest, over labels and sealed fields we never see, is taken as
relayed: the signature covers it, and the points digest covers what we
multiply) and re-blind nothing unless the partner's statement verifies
against the key we pinned for the partner (cleanroom.crypto.upload_signing).
"""

from __future__ import annotations

import threading

from cleanroom.crypto.upload_signing import UploadStatement, points_digest, statement_verifies
from cleanroom.errors import ProtocolError
from cleanroom.protocol import chunk_digest
from cleanroom.psi import POINT_SIZE
from cleanroom_client.remote import Agreement, Remote, RunStatus


def fetch_signed_points(
    remote: Remote, agreement: Agreement, status: RunStatus, peer: str, peer_key: bytes, stop: threading.Event | None = None
) -> list[bytes] | None:
    """The peer's chunks of ``status``'s run, in order, once its signature over them verifies; None if ``stop`` was set."""
    chunks: list[bytes] = []
    for seq, chunk in enumerate(remote.peer_points(status.run_id)):
        if stop is not None and stop.is_set():
            return None
        if seq >= status.peer_chunks:  # never buffer more than the run announced
            raise ProtocolError(f"the coordinator sent more than the {status.peer_chunks} peer chunks announced; run sync again")
        if chunk.seq != seq or chunk_digest(chunk.points) != chunk.digest:
            raise ProtocolError(f"the coordinator sent peer chunk {chunk.seq} out of order or corrupted; run sync again")
        chunks.append(chunk.points)
    if len(chunks) != status.peer_chunks:
        raise ProtocolError(f"expected {status.peer_chunks} peer chunks, received {len(chunks)}; run sync again")
    points = sum(len(c) for c in chunks) // POINT_SIZE
    statement = UploadStatement(
        agreement_id=agreement.agreement_id,
        terms_hash=agreement.terms_hash,
        party=peer,
        kind="own",
        purpose=status.purpose or "overlap",
        total_points=points,
        total_chunks=len(chunks),
        upload_digest=status.peer_upload_digest,
        points_digest=points_digest(chunks),
        canaries=status.peer_canaries,
        changes=status.peer_changes,
    )
    if points != status.peer_points or not statement_verifies(peer_key, statement, status.peer_signature):
        raise ProtocolError(
            f"the points the coordinator serves as {peer}'s upload to run {status.run_id} are not the ones {peer} signed "
            f"(agreement {agreement.agreement_id}); nothing was re-blinded or sent. A coordinator that serves points "
            f"{peer} never sent could test guesses against your accounts: tell its operator, and {peer}"
        )
    return chunks
