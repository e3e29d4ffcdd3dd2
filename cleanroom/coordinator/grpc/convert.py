"""The only conversion between the coordinator's plain values and the generated ``cleanroom.v1`` types."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cleanroom.auditlog.heads import AuditHead
from cleanroom.coordinator.store.records import OWN, REBLINDED
from cleanroom.v1 import agreements_pb2, attribution_pb2, audit_pb2, greenfield_pb2, results_pb2, runs_pb2

_KINDS: dict[int, str] = {runs_pb2.UPLOAD_KIND_OWN: OWN, runs_pb2.UPLOAD_KIND_REBLINDED: REBLINDED}
_KIND_ENUM = {OWN: runs_pb2.UPLOAD_KIND_OWN, REBLINDED: runs_pb2.UPLOAD_KIND_REBLINDED}

# Rows of an account-level reveal per streamed message (each row carries its sealed fields).
REVEAL_ROWS_PER_PART = 2000


def upload_kind(kind: int) -> str:
    """The wire's upload kind as the domain names it ("" when unknown: the domain refuses it)."""
    return _KINDS.get(kind, "")


def agreement_message(agreement: dict[str, Any]) -> agreements_pb2.Agreement:
    return agreements_pb2.Agreement(
        agreement_id=agreement["agreement_id"],
        version=agreement["version"],
        terms_json=bytes(agreement["terms_json"]),
        terms_hash=agreement["terms_hash"],
        proposer=agreement["proposer"],
        counterparty=agreement["counterparty"],
        approved_by=agreement["approved_by"],
        state=agreement["state"],
        created_at=agreement["created_at"],
        encryption=[agreements_pb2.PartyEncryption(**k) for k in agreement.get("encryption", [])],
        signing=[agreements_pb2.PartySigning(**k) for k in agreement.get("signing", [])],
    )


def agreements_message(agreements: list[dict[str, Any]]) -> agreements_pb2.ListAgreementsResponse:
    return agreements_pb2.ListAgreementsResponse(agreements=[agreement_message(a) for a in agreements])


def session_message(session: dict[str, Any]) -> runs_pb2.UploadSession:
    return runs_pb2.UploadSession(**session)


def progress_message(upload_id: str, received: list[int]) -> runs_pb2.UploadProgress:
    return runs_pb2.UploadProgress(upload_id=upload_id, received_chunks=received)


def head_message(head: dict[str, Any] | AuditHead | None) -> audit_pb2.AuditHead | None:
    """A signed audit head (as the domain serves it beside a release or receipt: a dict; or a record)."""
    if head is None:
        return None
    value = head.to_dict() if isinstance(head, AuditHead) else head
    return audit_pb2.AuditHead(
        count=value["count"],
        head_hash=value["head_hash"],
        signed_at=value["signed_at"],
        signature=bytes.fromhex(value["signature"]),
    )


def empty_head() -> audit_pb2.AuditHead:
    """An empty log has no head to sign: count 0, nothing else."""
    return audit_pb2.AuditHead()


def entry_hashes_message(head: AuditHead | None, hashes: dict[int, str], positions: list[int]) -> audit_pb2.EntryHashesResponse:
    return audit_pb2.EntryHashesResponse(
        head=head_message(head),
        entries=[audit_pb2.EntryHash(position=p, entry_hash=hashes[p]) for p in positions if p in hashes],
    )


def receipt_message(receipt: dict[str, Any]) -> runs_pb2.UploadReceipt:
    fields = {k: v for k, v in receipt.items() if k not in ("kind", "audit_head")}
    return runs_pb2.UploadReceipt(kind=_KIND_ENUM[receipt["kind"]], audit_head=head_message(receipt.get("audit_head")), **fields)


def chunk_message(chunk: dict[str, Any]) -> runs_pb2.PointChunk:
    return runs_pb2.PointChunk(**chunk)


def status_message(status: dict[str, Any]) -> runs_pb2.RunStatus:
    parties = [runs_pb2.PartyProgress(**p) for p in status["parties"]]
    return runs_pb2.RunStatus(**{**status, "parties": parties})


def overlap_message(body: dict[str, Any]) -> results_pb2.OverlapRelease:
    return results_pb2.OverlapRelease(
        agreement_id=body["agreement_id"],
        run_id=body["run_id"],
        viewer=body["viewer"],
        other=body["other"],
        cells=[results_pb2.OverlapCell(**cell) for cell in body["cells"]],
        totals=results_pb2.OverlapTotals(**body["totals"]),
        terms_version=body["terms_version"],
        terms_hash=body["terms_hash"],
        released_at=body["released_at"],
        min_count=body["min_count"],
        signature=bytes.fromhex(body["signature"]),
        dp=results_pb2.DpSpend(**body["dp"]) if "dp" in body else None,
        audit_head=head_message(body.get("audit_head")),
        greenfield=[greenfield_pb2.GreenfieldCell(**cell) for cell in body.get("greenfield", [])],
    )


def reveal_parts(body: dict[str, Any], rows: list[dict[str, Any]]) -> Iterator[results_pb2.RevealPart]:
    """The reveal as a stream: the signed release in the first part, the rows in parts of REVEAL_ROWS_PER_PART."""
    release = results_pb2.RevealRelease(
        **{k: v for k, v in body.items() if k not in ("kind", "cells", "signature", "audit_head")},
        cells=[results_pb2.RevealCell(**c) for c in body["cells"]],
        signature=bytes.fromhex(body["signature"]),
        audit_head=head_message(body.get("audit_head")),
    )
    for start in range(0, max(len(rows), 1), REVEAL_ROWS_PER_PART):
        part = results_pb2.RevealPart(rows=[results_pb2.RevealedAccount(**r) for r in rows[start : start + REVEAL_ROWS_PER_PART]])
        if start == 0:
            part.release.CopyFrom(release)
        yield part


def attribution_message(release: dict[str, Any]) -> attribution_pb2.AttributionRelease:
    return attribution_pb2.AttributionRelease(
        release_id=release["release_id"],
        body_json=release["body_json"],
        signature=bytes.fromhex(release["signature"]),
        audit_head=head_message(release.get("audit_head")),
    )
