"""The gRPC servicers: read the request, call the Coordinator facade, convert the answer.

The caller's party is the common name of its client certificate, which the
TLS layer has already checked against this coordinator's CA; no request field
can name the caller. Refused requests are audited with their reason.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.grpc import convert
from cleanroom.coordinator.store.records import UploadChanges
from cleanroom.errors import CleanroomError, PermissionDenied, RequestError
from cleanroom.v1 import (
    agreements_pb2_grpc,
    attribution_pb2_grpc,
    audit_pb2_grpc,
    results_pb2_grpc,
    runs_pb2,
    runs_pb2_grpc,
    value_pb2_grpc,
)
from cleanroom.wire.status import grpc_code

log = logging.getLogger("cleanroom.coordinator.grpc")


def caller_of(context: grpc.ServicerContext) -> str:
    names = context.auth_context().get("x509_common_name") or []
    if len(names) != 1:
        raise PermissionDenied("no party certificate presented; connect with a profile issued by this coordinator")
    return str(names[0].decode("utf-8"))


def _agreements_named(coordinator: Coordinator, request: Any) -> list[str | None]:
    """The agreements a refused request concerns, for its audit entries: the one it names or, for a
    request naming runs (an attribution job), theirs; [None] when it names none that exists."""
    agreement_id = getattr(request, "agreement_id", None)
    if agreement_id:
        return [agreement_id]
    run_ids = list(getattr(request, "run_ids", None) or [])
    return [*coordinator.agreements_of_runs(run_ids)] or [None]


def _refuse(servicer: _Base, method: str, caller: str, request: Any, context: grpc.ServicerContext, exc: RequestError) -> None:
    """Audit a refusal under every agreement it concerns, then end the call with the error's status."""
    try:
        for agreement_id in _agreements_named(servicer.coordinator, request):
            servicer.coordinator.audit_denial(caller, method, agreement_id, exc.code, str(exc))
    except Exception:  # the store failed while auditing: the caller still gets its refusal, never the store's text
        log.exception("could not audit the refusal of %s to %s", method, caller)
    context.abort(grpc_code(exc), str(exc))


def _internal(method: str, context: grpc.ServicerContext) -> None:
    """An unexpected failure (a store error, a bug): logged here in full, answered as INTERNAL without
    details (a DuckDB message names server paths and internals)."""
    log.exception("internal error in %s", method)
    context.abort(grpc.StatusCode.INTERNAL, f"internal error at the coordinator in {method}; its log has the details")


def _fail(servicer: _Base, method: str, caller: str, request: Any, context: grpc.ServicerContext, exc: Exception) -> None:
    """End a failed call: a refusal audited with its status, our other errors as they are, anything else INTERNAL."""
    if isinstance(exc, RequestError):
        _refuse(servicer, method, caller, request, context, exc)
    elif isinstance(exc, grpc.RpcError) and not context.is_active():
        # The caller went away mid-stream (its process died, its network dropped): nothing to answer, and
        # nothing half-done to undo (chunks are stored one by one; a client resumes its upload).
        log.warning("%s from %s ended: the caller went away", method, caller)
    elif isinstance(exc, CleanroomError):
        raise exc
    else:
        _internal(method, context)


def rpc(method: Callable[..., Any]) -> Callable[..., Any]:
    """Resolve the caller, run the method, turn domain errors into statuses (and audit them).
    One decorator for unary and server-streaming methods (a streaming one may fail mid-stream)."""

    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def streaming(self: _Base, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            caller = "unknown"
            try:
                caller = caller_of(context)
                yield from method(self, caller, request, context)
            except Exception as exc:
                _fail(self, method.__name__, caller, request, context, exc)

        return streaming

    @functools.wraps(method)
    def unary(self: _Base, request: Any, context: grpc.ServicerContext) -> Any:
        caller = "unknown"
        try:
            caller = caller_of(context)
            return method(self, caller, request, context)
        except Exception as exc:
            _fail(self, method.__name__, caller, request, context, exc)

    return unary


class _Base:
    def __init__(self, coordinator: Coordinator) -> None:
        self.coordinator = coordinator


class AgreementService(_Base, agreements_pb2_grpc.AgreementServiceServicer):
    @rpc
    def Propose(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        return convert.agreement_message(
            self.coordinator.propose(
                caller, request.counterparty, request.terms_json, request.encryption_public, request.signing_public
            )
        )

    @rpc
    def Get(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        return convert.agreement_message(self.coordinator.get(caller, request.agreement_id))

    @rpc
    def Approve(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        return convert.agreement_message(
            self.coordinator.approve(
                caller,
                request.agreement_id,
                request.terms_hash,
                request.approver_terms_json,
                request.amended_terms_hash,
                request.encryption_public,
                request.signing_public,
            )
        )

    @rpc
    def List(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        return convert.agreements_message(self.coordinator.list(caller))

    @rpc
    def Revoke(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        return convert.agreement_message(self.coordinator.revoke(caller, request.agreement_id, request.reason))


class RunService(_Base, runs_pb2_grpc.RunServiceServicer):
    @rpc
    def BeginUpload(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        return convert.session_message(
            self.coordinator.begin_upload(
                caller,
                request.agreement_id,
                request.terms_hash,
                convert.upload_kind(request.kind),
                request.run_id,
                request.total_points,
                request.total_chunks,
                request.total_accounts,
                request.upload_digest,
                request.of_upload_id,
                request.purpose,
                request.canary_scalar,
                request.canary_positions,
                request.party_signature,
                request.points_digest,
                UploadChanges(
                    request.base_run_id,
                    request.secret_tag,
                    request.removed_labels,
                    request.changed_labels,
                    request.changed_populations,
                ),
                request.value_public,
            )
        )

    @rpc
    def UploadChunks(self, caller: str, request_iterator: Iterator[runs_pb2.PointChunk], context: grpc.ServicerContext) -> Any:
        received: list[int] = []
        upload_id = ""
        for chunk in request_iterator:
            upload_id = chunk.upload_id
            received = self.coordinator.put_chunk(
                caller,
                chunk.upload_id,
                chunk.seq,
                chunk.points,
                chunk.accounts,
                chunk.populations,
                chunk.digest,
                chunk.records,
                chunk.sealed,
                chunk.value_ciphertexts,
            )
        return convert.progress_message(upload_id, received)

    @rpc
    def CommitUpload(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        return convert.receipt_message(self.coordinator.commit_upload(caller, request.upload_id))

    @rpc
    def FetchPeerPoints(self, caller: str, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        for chunk in self.coordinator.peer_chunks(caller, request.run_id):
            yield convert.chunk_message(chunk)

    @rpc
    def Status(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        return convert.status_message(self.coordinator.status(caller, request.agreement_id, request.run_id, request.purpose))


class ResultService(_Base, results_pb2_grpc.ResultServiceServicer):
    @rpc
    def GetOverlap(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        return convert.overlap_message(self.coordinator.overlap(caller, request.agreement_id, request.run_id))

    @rpc
    def GetReveal(self, caller: str, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        body, rows = self.coordinator.reveal(caller, request.agreement_id, request.run_id)
        yield from convert.reveal_parts(body, rows)


class AttributionService(_Base, attribution_pb2_grpc.AttributionServiceServicer):
    @rpc
    def Run(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        return convert.attribution_message(
            self.coordinator.run_attribution(caller, list(request.run_ids), request.model, request.as_of)
        )

    @rpc
    def Show(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        return convert.attribution_message(self.coordinator.show_attribution(caller, request.agreement_id))


class AuditService(_Base, audit_pb2_grpc.AuditServiceServicer):
    @rpc
    def CurrentHead(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        head, _ = self.coordinator.audit_heads([])
        return convert.head_message(head) or convert.empty_head()

    @rpc
    def EntryHashes(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        positions = [int(p) for p in request.positions]
        head, hashes = self.coordinator.audit_heads(positions)
        return convert.entry_hashes_message(head, hashes, positions)


class ValueService(_Base, value_pb2_grpc.ValueServiceServicer):
    @rpc
    def GetPipelineValue(self, caller: str, request: Any, context: grpc.ServicerContext) -> Any:
        return convert.value_message(self.coordinator.pipeline_value(caller, request.agreement_id, request.run_id))
