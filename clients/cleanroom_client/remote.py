"""The coordinator as the client sees it: typed calls, errors as one clear line."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import grpc

from cleanroom.errors import CleanroomError
from cleanroom.v1 import agreements_pb2, agreements_pb2_grpc, attribution_pb2, attribution_pb2_grpc, results_pb2, results_pb2_grpc, runs_pb2, runs_pb2_grpc
from cleanroom.wire.status import error_from_rpc
from cleanroom_client.profile import Profile

TIMEOUT = 60.0
STREAM_TIMEOUT = 3600.0


class CoordinatorUnavailable(CleanroomError):
    """The coordinator cannot be reached, or refused our TLS handshake."""


class Remote:
    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.channel = profile.channel()
        self.agreements = agreements_pb2_grpc.AgreementServiceStub(self.channel)
        self.runs = runs_pb2_grpc.RunServiceStub(self.channel)
        self.results = results_pb2_grpc.ResultServiceStub(self.channel)
        self.attribution = attribution_pb2_grpc.AttributionServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> "Remote":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def call(self, method, request, timeout: float = TIMEOUT):
        try:
            return method(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise self._translate(exc) from None

    def _translate(self, exc: grpc.RpcError) -> CleanroomError:
        domain = error_from_rpc(exc)
        if domain is not None:
            return domain
        code = exc.code()
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return CoordinatorUnavailable(
                f"cannot reach the coordinator at {self.profile.coordinator} ({code.name.lower()}: {exc.details()}); "
                "is it running, and was this profile issued by it?"
            )
        return CleanroomError(f"coordinator error {code.name}: {exc.details()}")

    # -- agreements
    def propose(self, counterparty: str, terms_json: bytes, encryption_public: bytes = b"") -> agreements_pb2.Agreement:
        request = agreements_pb2.ProposeAgreementRequest(counterparty=counterparty, terms_json=terms_json, encryption_public=encryption_public)
        return self.call(self.agreements.Propose, request)

    def get(self, agreement_id: str) -> agreements_pb2.Agreement:
        return self.call(self.agreements.Get, agreements_pb2.GetAgreementRequest(agreement_id=agreement_id))

    def approve(
        self, agreement_id: str, terms_hash: str, approver_terms_json: bytes = b"", amended_terms_hash: str = "", encryption_public: bytes = b""
    ) -> agreements_pb2.Agreement:
        request = agreements_pb2.ApproveAgreementRequest(
            agreement_id=agreement_id, terms_hash=terms_hash, approver_terms_json=approver_terms_json,
            amended_terms_hash=amended_terms_hash, encryption_public=encryption_public,
        )
        return self.call(self.agreements.Approve, request)

    def list(self) -> list[agreements_pb2.Agreement]:
        return list(self.call(self.agreements.List, agreements_pb2.ListAgreementsRequest()).agreements)

    def revoke(self, agreement_id: str, reason: str) -> agreements_pb2.Agreement:
        return self.call(self.agreements.Revoke, agreements_pb2.RevokeAgreementRequest(agreement_id=agreement_id, reason=reason))

    # -- runs
    def begin_upload(self, **fields: Any) -> runs_pb2.UploadSession:
        return self.call(self.runs.BeginUpload, runs_pb2.BeginUploadRequest(**fields))

    def upload_chunks(self, chunks: Iterable[runs_pb2.PointChunk]) -> runs_pb2.UploadProgress:
        return self.call(self.runs.UploadChunks, iter(chunks), timeout=STREAM_TIMEOUT)

    def commit(self, upload_id: str) -> runs_pb2.UploadReceipt:
        return self.call(self.runs.CommitUpload, runs_pb2.CommitUploadRequest(upload_id=upload_id), timeout=600.0)

    def peer_points(self, run_id: str) -> Iterator[runs_pb2.PointChunk]:
        try:
            yield from self.runs.FetchPeerPoints(runs_pb2.FetchPeerPointsRequest(run_id=run_id), timeout=STREAM_TIMEOUT)
        except grpc.RpcError as exc:
            raise self._translate(exc) from None

    def status(self, agreement_id: str, run_id: str = "", purpose: str = "") -> runs_pb2.RunStatus:
        return self.call(self.runs.Status, runs_pb2.RunStatusRequest(agreement_id=agreement_id, run_id=run_id, purpose=purpose))

    # -- results
    def overlap(self, agreement_id: str, run_id: str = "") -> results_pb2.OverlapRelease:
        return self.call(self.results.GetOverlap, results_pb2.GetOverlapRequest(agreement_id=agreement_id, run_id=run_id))

    def reveal(self, agreement_id: str, run_id: str = "") -> tuple[results_pb2.RevealRelease, list[results_pb2.RevealedAccount]]:
        """The account-level reveal released to us: the signed release and its rows (sealed)."""
        release, rows = None, []
        try:
            for part in self.results.GetReveal(results_pb2.GetRevealRequest(agreement_id=agreement_id, run_id=run_id), timeout=STREAM_TIMEOUT):
                if part.HasField("release"):
                    release = part.release
                rows.extend(part.rows)
        except grpc.RpcError as exc:
            raise self._translate(exc) from None
        if release is None:
            raise CleanroomError(f"the coordinator sent no release header for the reveal of {agreement_id}")
        return release, rows

    # -- attribution
    def run_attribution(self, run_ids: list[str], model: str = "", as_of: str = "") -> attribution_pb2.AttributionRelease:
        request = attribution_pb2.RunAttributionRequest(run_ids=run_ids, model=model, as_of=as_of)
        return self.call(self.attribution.Run, request, timeout=600.0)

    def show_attribution(self, agreement_id: str) -> attribution_pb2.AttributionRelease:
        return self.call(self.attribution.Show, attribution_pb2.ShowAttributionRequest(agreement_id=agreement_id))
