"""The gRPC face of the coordinator: proto <-> domain, identity, status codes.

The caller's party is the common name of its client certificate, which the
TLS layer has already checked against this coordinator's CA; no request field
can name the caller. Refused requests are audited with their reason.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from cleanroom.coordinator.attribution_jobs import run_attribution, show_attribution
from cleanroom.coordinator.core import OWN, REBLINDED, Coordinator
from cleanroom.errors import PermissionDenied, RequestError
from cleanroom.v1 import agreements_pb2, agreements_pb2_grpc, attribution_pb2, attribution_pb2_grpc, results_pb2, results_pb2_grpc, runs_pb2, runs_pb2_grpc
from cleanroom.wire.status import grpc_code

_KINDS = {runs_pb2.UPLOAD_KIND_OWN: OWN, runs_pb2.UPLOAD_KIND_REBLINDED: REBLINDED}
_KIND_ENUM = {OWN: runs_pb2.UPLOAD_KIND_OWN, REBLINDED: runs_pb2.UPLOAD_KIND_REBLINDED}


def caller_of(context: grpc.ServicerContext) -> str:
    names = context.auth_context().get("x509_common_name") or []
    if len(names) != 1:
        raise PermissionDenied("no party certificate presented; connect with a profile issued by this coordinator")
    return names[0].decode("utf-8")


def _agreements_named(coordinator: Coordinator, request: Any) -> list[str | None]:
    """The agreements a refused request concerns, for its audit entries: the one it names or, for a
    request naming runs (an attribution job), theirs; [None] when it names none that exists."""
    agreement_id = getattr(request, "agreement_id", None)
    if agreement_id:
        return [agreement_id]
    run_ids = list(getattr(request, "run_ids", None) or [])
    return coordinator.agreements_of_runs(run_ids) or [None]


def rpc(method: Callable) -> Callable:
    """Resolve the caller, run the method, turn domain errors into statuses (and audit them)."""

    @functools.wraps(method)
    def wrapper(self: "_Base", request: Any, context: grpc.ServicerContext):
        caller = "unknown"
        try:
            caller = caller_of(context)
            return method(self, caller, request, context)
        except RequestError as exc:
            for agreement_id in _agreements_named(self.coordinator, request):
                self.coordinator.audit_denial(caller, method.__name__, agreement_id, exc.code, str(exc))
            context.abort(grpc_code(exc), str(exc))

    return wrapper


def stream_rpc(method: Callable) -> Callable:
    """Like ``rpc`` for server-streaming methods (errors may come mid-stream)."""

    @functools.wraps(method)
    def wrapper(self: "_Base", request: Any, context: grpc.ServicerContext):
        caller = "unknown"
        try:
            caller = caller_of(context)
            yield from method(self, caller, request, context)
        except RequestError as exc:
            for agreement_id in _agreements_named(self.coordinator, request):
                self.coordinator.audit_denial(caller, method.__name__, agreement_id, exc.code, str(exc))
            context.abort(grpc_code(exc), str(exc))

    return wrapper


class _Base:
    def __init__(self, coordinator: Coordinator) -> None:
        self.coordinator = coordinator


def agreement_message(row: dict[str, Any]) -> agreements_pb2.Agreement:
    return agreements_pb2.Agreement(
        agreement_id=row["agreement_id"],
        version=row["version"],
        terms_json=bytes(row["terms_json"]),
        terms_hash=row["terms_hash"],
        proposer=row["proposer"],
        counterparty=row["counterparty"],
        approved_by=row["approved_by"],
        state=row["state"],
        created_at=row["created_at"],
        encryption=[agreements_pb2.PartyEncryption(**k) for k in row.get("encryption", [])],
    )


class AgreementService(_Base, agreements_pb2_grpc.AgreementServiceServicer):
    @rpc
    def Propose(self, caller, request, context):
        return agreement_message(self.coordinator.propose(caller, request.counterparty, request.terms_json, request.encryption_public))

    @rpc
    def Get(self, caller, request, context):
        return agreement_message(self.coordinator.get(caller, request.agreement_id))

    @rpc
    def Approve(self, caller, request, context):
        return agreement_message(
            self.coordinator.approve(
                caller, request.agreement_id, request.terms_hash,
                request.approver_terms_json, request.amended_terms_hash, request.encryption_public,
            )
        )

    @rpc
    def List(self, caller, request, context):
        return agreements_pb2.ListAgreementsResponse(agreements=[agreement_message(r) for r in self.coordinator.list(caller)])

    @rpc
    def Revoke(self, caller, request, context):
        return agreement_message(self.coordinator.revoke(caller, request.agreement_id, request.reason))


def receipt_message(receipt: dict[str, Any]) -> runs_pb2.UploadReceipt:
    fields = {k: v for k, v in receipt.items() if k != "kind"}
    return runs_pb2.UploadReceipt(kind=_KIND_ENUM[receipt["kind"]], **fields)


class RunService(_Base, runs_pb2_grpc.RunServiceServicer):
    @rpc
    def BeginUpload(self, caller, request, context):
        session = self.coordinator.begin_upload(
            caller,
            request.agreement_id,
            request.terms_hash,
            _KINDS.get(request.kind, ""),
            request.run_id,
            request.total_points,
            request.total_chunks,
            request.total_accounts,
            request.upload_digest,
            request.of_upload_id,
            request.purpose,
        )
        return runs_pb2.UploadSession(**session)

    @rpc
    def UploadChunks(self, caller, request_iterator: Iterator[runs_pb2.PointChunk], context):
        received: list[int] = []
        upload_id = ""
        for chunk in request_iterator:
            upload_id = chunk.upload_id
            received = self.coordinator.put_chunk(
                caller, chunk.upload_id, chunk.seq, chunk.points, chunk.accounts, chunk.populations, chunk.digest, chunk.records,
                chunk.sealed,
            )
        return runs_pb2.UploadProgress(upload_id=upload_id, received_chunks=received)

    @rpc
    def CommitUpload(self, caller, request, context):
        return receipt_message(self.coordinator.commit_upload(caller, request.upload_id))

    @stream_rpc
    def FetchPeerPoints(self, caller, request, context):
        for chunk in self.coordinator.peer_chunks(caller, request.run_id):
            yield runs_pb2.PointChunk(**chunk)

    @rpc
    def Status(self, caller, request, context):
        status = self.coordinator.status(caller, request.agreement_id, request.run_id, request.purpose)
        status["parties"] = [runs_pb2.PartyProgress(**p) for p in status["parties"]]
        return runs_pb2.RunStatus(**status)


def release_message(body: dict[str, Any]) -> results_pb2.OverlapRelease:
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
    )


REVEAL_ROWS_PER_PART = 2000


def reveal_parts(body: dict[str, Any], rows: list[dict[str, Any]]) -> Iterator[results_pb2.RevealPart]:
    release = results_pb2.RevealRelease(
        **{k: v for k, v in body.items() if k not in ("kind", "cells", "signature")},
        cells=[results_pb2.RevealCell(**c) for c in body["cells"]],
        signature=bytes.fromhex(body["signature"]),
    )
    for start in range(0, max(len(rows), 1), REVEAL_ROWS_PER_PART):
        part = results_pb2.RevealPart(rows=[results_pb2.RevealedAccount(**r) for r in rows[start : start + REVEAL_ROWS_PER_PART]])
        if start == 0:
            part.release.CopyFrom(release)
        yield part


class ResultService(_Base, results_pb2_grpc.ResultServiceServicer):
    @rpc
    def GetOverlap(self, caller, request, context):
        return release_message(self.coordinator.overlap(caller, request.agreement_id, request.run_id))

    @stream_rpc
    def GetReveal(self, caller, request, context):
        body, rows = self.coordinator.reveal(caller, request.agreement_id, request.run_id)
        yield from reveal_parts(body, rows)


def attribution_message(release: dict[str, Any]) -> attribution_pb2.AttributionRelease:
    return attribution_pb2.AttributionRelease(
        release_id=release["release_id"], body_json=release["body_json"], signature=bytes.fromhex(release["signature"])
    )


class AttributionService(_Base, attribution_pb2_grpc.AttributionServiceServicer):
    @rpc
    def Run(self, caller, request, context):
        return attribution_message(run_attribution(self.coordinator, caller, list(request.run_ids), request.model, request.as_of))

    @rpc
    def Show(self, caller, request, context):
        return attribution_message(show_attribution(self.coordinator, caller, request.agreement_id))
