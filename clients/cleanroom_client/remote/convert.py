"""The only place that turns generated wire messages into our records (``remote.types``) and back."""

from __future__ import annotations

from typing import Any

from google.protobuf.json_format import MessageToDict

from cleanroom.v1 import agreements_pb2, attribution_pb2, results_pb2, runs_pb2
from cleanroom_client.remote.types import (
    Agreement,
    AttributionRelease,
    Cell,
    Chunk,
    DpSpend,
    OverlapRelease,
    OverlapTotals,
    PartyKey,
    PartyProgress,
    RevealedAccount,
    RevealRelease,
    RunStatus,
    UploadKind,
    UploadProgress,
    UploadReceipt,
    UploadRequest,
    UploadSession,
)

_KIND_TO_WIRE = {UploadKind.OWN: runs_pb2.UPLOAD_KIND_OWN, UploadKind.REBLINDED: runs_pb2.UPLOAD_KIND_REBLINDED}
_KIND_FROM_WIRE = {wire: kind for kind, wire in _KIND_TO_WIRE.items()}


# -- agreements -----------------------------------------------------------------------


def agreement(message: agreements_pb2.Agreement) -> Agreement:
    return Agreement(
        agreement_id=message.agreement_id,
        version=message.version,
        terms_json=bytes(message.terms_json),
        terms_hash=message.terms_hash,
        proposer=message.proposer,
        counterparty=message.counterparty,
        approved_by=tuple(message.approved_by),
        state=message.state,
        created_at=message.created_at,
        encryption=tuple(PartyKey(e.party, bytes(e.public_x25519), e.fingerprint) for e in message.encryption),
    )


# -- runs and uploads -----------------------------------------------------------------


def begin_upload_request(request: UploadRequest) -> runs_pb2.BeginUploadRequest:
    return runs_pb2.BeginUploadRequest(
        agreement_id=request.agreement_id,
        terms_hash=request.terms_hash,
        kind=_KIND_TO_WIRE[request.kind],
        run_id=request.run_id,
        total_points=request.total_points,
        total_chunks=request.total_chunks,
        total_accounts=request.total_accounts,
        upload_digest=request.upload_digest,
        of_upload_id=request.of_upload_id,
        purpose=request.purpose,
    )


def upload_session(message: runs_pb2.UploadSession) -> UploadSession:
    return UploadSession(
        run_id=message.run_id,
        upload_id=message.upload_id,
        received_chunks=tuple(message.received_chunks),
        max_chunk_points=message.max_chunk_points,
        committed=message.committed,
    )


def chunk_to_wire(chunk: Chunk) -> runs_pb2.PointChunk:
    return runs_pb2.PointChunk(
        upload_id=chunk.upload_id, seq=chunk.seq, points=chunk.points, accounts=chunk.accounts, populations=chunk.populations,
        digest=chunk.digest, records=chunk.records, sealed=chunk.sealed,
    )


def chunk(message: runs_pb2.PointChunk) -> Chunk:
    return Chunk(
        upload_id=message.upload_id, seq=message.seq, points=bytes(message.points), digest=message.digest,
        accounts=bytes(message.accounts), populations=bytes(message.populations), records=bytes(message.records),
        sealed=bytes(message.sealed),
    )


def upload_progress(message: runs_pb2.UploadProgress) -> UploadProgress:
    return UploadProgress(upload_id=message.upload_id, received_chunks=tuple(message.received_chunks))


def upload_receipt(message: runs_pb2.UploadReceipt) -> UploadReceipt:
    return UploadReceipt(
        upload_id=message.upload_id,
        run_id=message.run_id,
        agreement_id=message.agreement_id,
        terms_hash=message.terms_hash,
        kind=_KIND_FROM_WIRE.get(message.kind),
        party=message.party,
        total_points=message.total_points,
        total_chunks=message.total_chunks,
        upload_digest=message.upload_digest,
        received_at=message.received_at,
        signature=bytes(message.signature),
    )


def receipt_record(receipt: UploadReceipt) -> dict[str, Any]:
    """An upload receipt as the receipts log keeps it: the message's proto3 JSON form (names as in
    runs.proto, 64-bit numbers as strings, bytes in base64), so the file format stays what it always was."""
    message = runs_pb2.UploadReceipt(
        upload_id=receipt.upload_id,
        run_id=receipt.run_id,
        agreement_id=receipt.agreement_id,
        terms_hash=receipt.terms_hash,
        kind=_KIND_TO_WIRE[receipt.kind] if receipt.kind is not None else runs_pb2.UPLOAD_KIND_UNSPECIFIED,
        party=receipt.party,
        total_points=receipt.total_points,
        total_chunks=receipt.total_chunks,
        upload_digest=receipt.upload_digest,
        received_at=receipt.received_at,
        signature=receipt.signature,
    )
    return MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def run_status(message: runs_pb2.RunStatus) -> RunStatus:
    return RunStatus(
        run_id=message.run_id,
        agreement_id=message.agreement_id,
        state=message.state,
        parties=tuple(PartyProgress(p.party, p.uploaded, p.points, p.reblinded) for p in message.parties),
        waiting_for=tuple(message.waiting_for),
        reblind_needed=message.reblind_needed,
        peer_upload_id=message.peer_upload_id,
        peer_points=message.peer_points,
        peer_chunks=message.peer_chunks,
        purpose=message.purpose,
    )


# -- releases -------------------------------------------------------------------------


def _cells(cells: Any) -> tuple[Cell, ...]:
    """Overlap and reveal cells share their shape; ``count`` is absent (not 0) when it is not released."""
    return tuple(Cell(c.mine, c.theirs, c.count if c.HasField("count") else None, c.suppressed) for c in cells)


def overlap_release(message: results_pb2.OverlapRelease) -> OverlapRelease:
    totals = message.totals
    dp = message.dp
    return OverlapRelease(
        agreement_id=message.agreement_id,
        run_id=message.run_id,
        viewer=message.viewer,
        other=message.other,
        cells=_cells(message.cells),
        totals=OverlapTotals(
            mine=totals.mine,
            theirs=totals.theirs,
            overlap=totals.overlap if totals.HasField("overlap") else None,
            overlap_suppressed=totals.overlap_suppressed,
        ),
        terms_version=message.terms_version,
        terms_hash=message.terms_hash,
        released_at=message.released_at,
        min_count=message.min_count,
        signature=bytes(message.signature),
        dp=DpSpend(dp.epsilon_spent, dp.budget, dp.budget_remaining) if message.HasField("dp") else None,
    )


def reveal_release(message: results_pb2.RevealRelease) -> RevealRelease:
    return RevealRelease(
        agreement_id=message.agreement_id,
        run_id=message.run_id,
        viewer=message.viewer,
        other=message.other,
        terms_version=message.terms_version,
        terms_hash=message.terms_hash,
        released_at=message.released_at,
        min_count=message.min_count,
        cells=_cells(message.cells),
        rows=message.rows,
        rows_digest=message.rows_digest,
        signature=bytes(message.signature),
    )


def revealed_account(message: results_pb2.RevealedAccount) -> RevealedAccount:
    return RevealedAccount(message.account, message.their_account, tuple(message.theirs), bytes(message.sealed))


def attribution_release(message: attribution_pb2.AttributionRelease) -> AttributionRelease:
    return AttributionRelease(release_id=message.release_id, body_json=message.body_json, signature=bytes(message.signature))
