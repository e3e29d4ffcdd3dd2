"""Sending points to the coordinator: announce the upload, stream the chunks it lacks, commit, keep the receipt.

Resumable: the chunks are a deterministic function of what we send, so a
re-run after a crash announces the same upload, and the coordinator tells us
which chunks it already holds.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator, Sequence

from cleanroom.crypto.upload_signing import points_digest
from cleanroom.errors import ProtocolError
from cleanroom.protocol import MAX_CHUNK_POINTS, upload_digest
from cleanroom.psi import POINT_SIZE
from cleanroom.terminal.console import progress
from cleanroom_client.protocol.heads import verified_head
from cleanroom_client.protocol.prepare import ChunkParts, PreparedUpload
from cleanroom_client.protocol.receipts import ReceiptLog
from cleanroom_client.protocol.sent_state import SentStates
from cleanroom_client.protocol.signing import UploadSigner
from cleanroom_client.remote import Agreement, Chunk, Remote, RunStatus, UploadKind, UploadReceipt, UploadRequest, UploadSession

# Fault injection for the crash-recovery tests: the process dies (no cleanup,
# like SIGKILL) right after handing this many chunks to gRPC.
FAULT_EXIT_AFTER_CHUNKS = "CLEANROOM_FAULT_EXIT_AFTER_CHUNKS"
# For the graceful-shutdown test: each chunk's seq is appended to this file as it is handed to gRPC, and
# after FAULT_PAUSE_AFTER_CHUNKS chunks the stream pauses, open, until the file PATH.paused is deleted.
FAULT_SEND_LOG = "CLEANROOM_FAULT_SEND_LOG"
FAULT_PAUSE_AFTER_CHUNKS = "CLEANROOM_FAULT_PAUSE_AFTER_CHUNKS"


def _fault_exit_after() -> int | None:
    value = os.environ.get(FAULT_EXIT_AFTER_CHUNKS)
    return int(value) if value else None


def _fault_sent(upload_id: str, sent: int, seq: int) -> None:
    """The send log and the pause of the graceful-shutdown test (nothing unless its variables are set)."""
    log = os.environ.get(FAULT_SEND_LOG)
    if not log:
        return
    with open(log, "a") as f:
        f.write(f"{upload_id} {seq}\n")
    if sent == int(os.environ.get(FAULT_PAUSE_AFTER_CHUNKS) or 0):
        paused = log + ".paused"
        open(paused, "w").close()  # a marker file: the test waits for it
        while os.path.exists(paused):
            time.sleep(0.05)


def _send(remote: Remote, session: UploadSession, chunks: Sequence[ChunkParts], show_progress: bool | None, label: str) -> None:
    have = set(session.received_chunks)
    die_after = _fault_exit_after()
    todo = [seq for seq in range(len(chunks)) if seq not in have]
    if not todo or session.committed:
        return
    total = sum(len(chunks[s][0]) // POINT_SIZE for s in todo)
    with progress(label, total, show_progress) as advance:

        def stream() -> Iterator[Chunk]:
            for sent, seq in enumerate(todo, start=1):
                pts, acc, pops, digest, recs, seal, values = chunks[seq]
                yield Chunk(
                    upload_id=session.upload_id,
                    seq=seq,
                    points=pts,
                    digest=digest,
                    accounts=acc,
                    populations=pops,
                    records=recs,
                    sealed=seal,
                    value_ciphertexts=values,
                )
                advance(len(pts) // POINT_SIZE)
                _fault_sent(session.upload_id, sent, seq)
                if die_after is not None and sent >= die_after:
                    time.sleep(0.5)  # let gRPC put the chunks on the wire, then die mid-upload
                    os._exit(137)

        remote.upload_chunks(stream())


def _give_signing_key(remote: Remote, agreement: Agreement, signer: UploadSigner) -> None:
    """An agreement approved by an older client holds no signing key of ours: give it now, so the
    partner can check our uploads (approving an agreement we approved already only adds keys)."""
    mine = signer.keys.public()
    if agreement.signing_key_of(signer.party) is not None or signer.party not in agreement.approved_by:
        return  # given already; or not ours to run yet (the coordinator refuses the upload and says why)
    updated = remote.approve(agreement.agreement_id, agreement.terms_hash, signing_public=mine)
    if updated.signing_key_of(signer.party) != mine:
        raise ProtocolError(
            f"agreement {agreement.agreement_id}: the coordinator did not record this profile's upload-signing key; nothing was sent"
        )


def _upload(
    remote: Remote,
    request: UploadRequest,
    chunks: Sequence[ChunkParts],
    receipts: ReceiptLog,
    signer: UploadSigner,
    show_progress: bool | None,
    label: str,
) -> UploadReceipt:
    """Announce (signed), send what the coordinator lacks, commit, and record the countersigned receipt."""
    session = remote.begin_upload(signer.sign(request))
    _send(remote, session, chunks, show_progress, label)
    receipt = remote.commit(session.upload_id)
    verified_head(receipt.audit_head, remote.profile.signing_key(), f"the receipt of upload {session.upload_id}")
    receipts.record_upload(receipt, [c[3] for c in chunks])
    return receipt


def upload_own(
    remote: Remote,
    agreement: Agreement,
    prepared: PreparedUpload,
    receipts: ReceiptLog,
    signer: UploadSigner,
    show_progress: bool | None = None,
    chunk_points: int = MAX_CHUNK_POINTS,
    purpose: str = "",
) -> UploadReceipt:
    _give_signing_key(remote, agreement, signer)
    chunks = prepared.chunks(prepared.chunk_points_for(chunk_points))
    request = UploadRequest(
        agreement_id=agreement.agreement_id,
        terms_hash=agreement.terms_hash,
        kind=UploadKind.OWN,
        total_points=len(prepared.accounts),
        total_chunks=len(chunks),
        total_accounts=prepared.total_accounts,
        upload_digest=upload_digest([c[3] for c in chunks]),
        points_digest=points_digest(c[0] for c in chunks),
        purpose=purpose,
        canary_scalar=prepared.canary_scalar,
        canary_positions=prepared.canary_positions,
        value_public=prepared.value_public,
    )
    change = prepared.change
    if change is not None:
        request = dataclasses.replace(
            request,
            base_run_id=change.base_run_id,
            secret_tag=change.secret_tag,
            removed_labels=change.removed,
            changed_labels=change.changed_labels,
            changed_populations=change.changed_populations,
        )
    receipt = _upload(remote, request, chunks, receipts, signer, show_progress, "uploading")
    if prepared.proposed is not None:  # what stands at the coordinator once this run completes
        SentStates(signer.profile).propose(
            dataclasses.replace(prepared.proposed, run_id=receipt.run_id, upload_id=receipt.upload_id)
        )
    return receipt


def upload_reblinded(
    remote: Remote,
    agreement: Agreement,
    status: RunStatus,
    chunks: Sequence[ChunkParts],
    receipts: ReceiptLog,
    signer: UploadSigner,
    show_progress: bool | None = None,
) -> UploadReceipt:
    """Send the peer's points of ``status``'s run back, multiplied by our secret, in the order they came."""
    _give_signing_key(remote, agreement, signer)
    request = UploadRequest(
        agreement_id=agreement.agreement_id,
        terms_hash=agreement.terms_hash,
        kind=UploadKind.REBLINDED,
        run_id=status.run_id,
        of_upload_id=status.peer_upload_id,
        total_points=status.peer_points,
        total_chunks=status.peer_chunks,
        upload_digest=upload_digest([c[3] for c in chunks]),
        points_digest=points_digest(c[0] for c in chunks),
    )
    return _upload(remote, request, chunks, receipts, signer, show_progress, "uploading re-blinded points")
