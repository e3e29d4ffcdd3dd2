"""The coordinator as the client sees it: typed calls that take and return our own records."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator
from types import TracebackType

from cleanroom.errors import CleanroomError
from cleanroom.v1 import agreements_pb2, attribution_pb2, audit_pb2, results_pb2, runs_pb2
from cleanroom_client.profile import Profile
from cleanroom_client.remote import convert
from cleanroom_client.remote.channel import STREAM_TIMEOUT, Channel
from cleanroom_client.remote.registrations import RegistrationRemote
from cleanroom_client.remote.types import (
    Agreement,
    AttributionRelease,
    Chunk,
    HeadProof,
    OverlapRelease,
    RevealedAccount,
    RevealRelease,
    RunStatus,
    UploadProgress,
    UploadReceipt,
    UploadRequest,
    UploadSession,
)

COMMIT_TIMEOUT = 600.0  # committing checks every chunk of a large upload
ATTRIBUTION_TIMEOUT = 600.0  # the coordinator credits every deal before it answers


class Remote:
    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self._wire = Channel(profile)

    def close(self) -> None:
        self._wire.close()

    @property
    def registrations(self) -> RegistrationRemote:
        """The deal-registration service, on the same connection."""
        return RegistrationRemote(self._wire)

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- agreements
    def propose(
        self, counterparty: str, terms_json: bytes, encryption_public: bytes = b"", signing_public: bytes = b""
    ) -> Agreement:
        request = agreements_pb2.ProposeAgreementRequest(
            counterparty=counterparty, terms_json=terms_json, encryption_public=encryption_public, signing_public=signing_public
        )
        return convert.agreement(self._wire.call(self._wire.agreements.Propose, request))

    def get(self, agreement_id: str) -> Agreement:
        return convert.agreement(
            self._wire.call(self._wire.agreements.Get, agreements_pb2.GetAgreementRequest(agreement_id=agreement_id))
        )

    def approve(
        self,
        agreement_id: str,
        terms_hash: str,
        approver_terms_json: bytes = b"",
        amended_terms_hash: str = "",
        encryption_public: bytes = b"",
        signing_public: bytes = b"",
    ) -> Agreement:
        request = agreements_pb2.ApproveAgreementRequest(
            agreement_id=agreement_id,
            terms_hash=terms_hash,
            approver_terms_json=approver_terms_json,
            amended_terms_hash=amended_terms_hash,
            encryption_public=encryption_public,
            signing_public=signing_public,
        )
        return convert.agreement(self._wire.call(self._wire.agreements.Approve, request))

    def list(self) -> list[Agreement]:
        response = self._wire.call(self._wire.agreements.List, agreements_pb2.ListAgreementsRequest())
        return [convert.agreement(a) for a in response.agreements]

    def revoke(self, agreement_id: str, reason: str) -> Agreement:
        request = agreements_pb2.RevokeAgreementRequest(agreement_id=agreement_id, reason=reason)
        return convert.agreement(self._wire.call(self._wire.agreements.Revoke, request))

    # -- runs
    def begin_upload(self, request: UploadRequest) -> UploadSession:
        return convert.upload_session(self._wire.call(self._wire.runs.BeginUpload, convert.begin_upload_request(request)))

    def upload_chunks(self, chunks: Iterable[Chunk]) -> UploadProgress:
        """Stream the chunks (read lazily: a generator's chunks are built as gRPC sends them)."""
        wire = (convert.chunk_to_wire(c) for c in chunks)
        return convert.upload_progress(self._wire.call(self._wire.runs.UploadChunks, wire, timeout=STREAM_TIMEOUT))

    def commit(self, upload_id: str) -> UploadReceipt:
        request = runs_pb2.CommitUploadRequest(upload_id=upload_id)
        return convert.upload_receipt(self._wire.call(self._wire.runs.CommitUpload, request, timeout=COMMIT_TIMEOUT))

    def peer_points(self, run_id: str) -> Iterator[Chunk]:
        for message in self._wire.stream(self._wire.runs.FetchPeerPoints, runs_pb2.FetchPeerPointsRequest(run_id=run_id)):
            yield convert.chunk(message)

    def status(self, agreement_id: str, run_id: str = "", purpose: str = "") -> RunStatus:
        request = runs_pb2.RunStatusRequest(agreement_id=agreement_id, run_id=run_id, purpose=purpose)
        return convert.run_status(self._wire.call(self._wire.runs.Status, request))

    # -- results
    def overlap(self, agreement_id: str, run_id: str = "") -> OverlapRelease:
        request = results_pb2.GetOverlapRequest(agreement_id=agreement_id, run_id=run_id)
        return convert.overlap_release(self._wire.call(self._wire.results.GetOverlap, request))

    # ``builtins.list``: inside this class ``list`` names the method ``list``.
    def reveal(self, agreement_id: str, run_id: str = "") -> tuple[RevealRelease, builtins.list[RevealedAccount]]:
        """The account-level reveal released to us: the signed release and its rows (sealed)."""
        release: RevealRelease | None = None
        rows: builtins.list[RevealedAccount] = []
        request = results_pb2.GetRevealRequest(agreement_id=agreement_id, run_id=run_id)
        for part in self._wire.stream(self._wire.results.GetReveal, request):
            if part.HasField("release"):
                release = convert.reveal_release(part.release)
            rows.extend(convert.revealed_account(r) for r in part.rows)
        if release is None:
            raise CleanroomError(f"the coordinator sent no release header for the reveal of {agreement_id}")
        return release, rows

    # -- attribution
    def run_attribution(self, run_ids: builtins.list[str], model: str = "", as_of: str = "") -> AttributionRelease:
        request = attribution_pb2.RunAttributionRequest(run_ids=run_ids, model=model, as_of=as_of)
        return convert.attribution_release(self._wire.call(self._wire.attribution.Run, request, timeout=ATTRIBUTION_TIMEOUT))

    def show_attribution(self, agreement_id: str) -> AttributionRelease:
        request = attribution_pb2.ShowAttributionRequest(agreement_id=agreement_id)
        return convert.attribution_release(self._wire.call(self._wire.attribution.Show, request))

    # -- audit
    def head_proof(self, positions: builtins.list[int]) -> HeadProof:
        """The coordinator's current signed head and its entry hashes at ``positions`` (those of heads we hold)."""
        request = audit_pb2.EntryHashesRequest(positions=positions)
        return convert.head_proof(self._wire.call(self._wire.audit.EntryHashes, request))


class ScopedRemote(Remote):
    """The same connection, listing only some agreements: a workflow that runs "every active agreement"
    (``map_all``) then runs these alone. The connection stays the wrapped remote's to close."""

    def __init__(self, remote: Remote, agreement_ids: Iterable[str]) -> None:
        self.profile = remote.profile
        self._wire = remote._wire
        self._only = frozenset(agreement_ids)

    def close(self) -> None:
        pass

    def list(self) -> builtins.list[Agreement]:
        return [a for a in super().list() if a.agreement_id in self._only]
