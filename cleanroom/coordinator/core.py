"""The coordinator's rules behind one facade: agreements, uploads, runs, releases, attribution jobs.

Wire-independent: methods take the caller's party name (from its mTLS
certificate, resolved by the wire layer) and plain values, return plain dicts
and raise the domain errors of ``cleanroom.errors``. Every refusal happens
before any write, so a refused request changes no state (apart from its audit
entry). Each concern lives in its own module; this class only wires them up
and delegates.
"""

from __future__ import annotations

import builtins
import datetime as dt
import functools
from collections.abc import Callable, Collection, Iterator
from typing import Any, ParamSpec

from cleanroom.auditlog.heads import AuditHead
from cleanroom.coordinator.abandoned import sweep_abandoned
from cleanroom.coordinator.agreements import Agreement, Agreements
from cleanroom.coordinator.announcement import UploadAnnouncement
from cleanroom.coordinator.attribution_jobs import AttributionJobs
from cleanroom.coordinator.chunks import Chunks
from cleanroom.coordinator.completion import Completion
from cleanroom.coordinator.limits import MAX_HEAD_POSITIONS, Limits, denial_details, named_agreement
from cleanroom.coordinator.registration_programs import Programs
from cleanroom.coordinator.registrations import Registrations
from cleanroom.coordinator.releases import Releases
from cleanroom.coordinator.runs import Runs
from cleanroom.coordinator.store import Store
from cleanroom.coordinator.store.records import UploadChanges
from cleanroom.coordinator.uploads import Uploads
from cleanroom.errors import InvalidArgument, NotFound

__all__ = ["Coordinator"]

_P = ParamSpec("_P")


def _as_dict(method: Callable[_P, Agreement]) -> Callable[_P, dict[str, Any]]:
    """``method``, answering with the agreement as a plain dict (what the facade returns)."""

    @functools.wraps(method)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> dict[str, Any]:
        return method(*args, **kwargs).to_dict()

    return call


class Coordinator:
    def __init__(self, store: Store, limits: Limits | None = None, parties: Callable[[], Collection[str]] | None = None) -> None:
        """``parties``: the names enrolled at this coordinator (its data dir's registry), read at each proposal;
        without one (a store driven in-process) any counterparty name is taken."""
        self.store = store
        self.limits = limits or Limits()
        self._parties = parties
        self.agreements = Agreements(store, self.limits.max_open_proposals, self.limits.max_proposals_per_day)
        self.runs = Runs(store, self.agreements)
        self.completion = Completion(store, self.agreements, self.runs)
        self.uploads = Uploads(store, self.agreements, self.runs, self.completion, self.limits)
        self.chunks = Chunks(store, self.agreements, self.runs, self.limits)
        self.releases = Releases(store, self.agreements, self.runs)
        self.attribution = AttributionJobs(store, self.agreements, self.runs)
        # Deal registration: its own service (grpc/registrations.py) calls these two directly.
        self.programs = Programs(store, parties)
        self.registrations = Registrations(store, self.programs)
        # Calls that only pass their arguments on take the domain method's own signature (one definition of it).
        self.approve = _as_dict(self.agreements.approve)
        self.put_chunk = self.chunks.put

    # -- agreements (approve: Agreements.approve, set in __init__) ------------

    def propose(
        self, caller: str, counterparty: str, terms_json: bytes, encryption_public: bytes = b"", signing_public: bytes = b""
    ) -> dict[str, Any]:
        if self._parties is not None and counterparty not in self._parties():
            raise NotFound(
                f"no party named {counterparty!r} is enrolled at this coordinator; check the name with its operator "
                "(nothing was proposed)"
            )
        return self.agreements.propose(caller, counterparty, terms_json, encryption_public, signing_public).to_dict()

    def get(self, caller: str, agreement_id: str) -> dict[str, Any]:
        return self.agreements.load(caller, agreement_id).to_dict()

    def list(self, caller: str) -> builtins.list[dict[str, Any]]:
        return [a.to_dict() for a in self.agreements.list(caller)]

    def revoke(self, caller: str, agreement_id: str, reason: str) -> dict[str, Any]:
        return self.agreements.revoke(caller, agreement_id, reason).to_dict()

    # -- uploads (put_chunk: Chunks.put, set in __init__) ---------------------

    def begin_upload(
        self,
        caller: str,
        agreement_id: str,
        terms_hash_seen: str,
        kind: str,
        run_id: str,
        total_points: int,
        total_chunks: int,
        total_accounts: int,
        digest: str,
        of_upload_id: str = "",
        purpose: str = "overlap",
        canary_scalar: bytes = b"",
        canary_positions: bytes = b"",
        party_signature: bytes = b"",
        points_digest: str = "",
        changes: UploadChanges | None = None,
    ) -> dict[str, Any]:
        change = changes or UploadChanges("", "", b"", b"", b"")
        announced = UploadAnnouncement(
            agreement_id=agreement_id,
            terms_hash=terms_hash_seen,
            kind=kind,
            total_points=total_points,
            total_chunks=total_chunks,
            digest=digest,
            total_accounts=total_accounts,
            run_id=run_id,
            of_upload_id=of_upload_id,
            purpose=purpose,
            canary_scalar=canary_scalar,
            canary_positions=canary_positions,
            party_signature=party_signature,
            points_digest=points_digest,
            base_run_id=change.base_run_id,
            secret_tag=change.secret_tag,
            removed_labels=change.removed,
            changed_labels=change.changed_labels,
            changed_populations=change.changed_populations,
        )
        return self.uploads.begin(caller, announced)

    def commit_upload(self, caller: str, upload_id: str) -> dict[str, Any]:
        return self.uploads.commit(caller, upload_id)

    # -- runs ----------------------------------------------------------------

    def peer_chunks(self, caller: str, run_id: str) -> Iterator[dict[str, Any]]:
        return self.runs.peer_chunks(caller, run_id)

    def status(self, caller: str, agreement_id: str, run_id: str = "", purpose: str = "overlap") -> dict[str, Any]:
        return self.runs.status(caller, agreement_id, run_id, purpose)

    def purge_expired(self, at: dt.datetime | None = None) -> int:
        return self.runs.purge_expired(at)

    def sweep_abandoned(self, at: dt.datetime | None = None) -> builtins.list[str]:
        """Delete uploads begun and left uncommitted for ``limits.upload_idle_seconds``; returns their ids."""
        return sweep_abandoned(self.store, self.limits.upload_idle_seconds, at)

    def agreements_of_runs(self, run_ids: builtins.list[str]) -> builtins.list[str]:
        """The distinct agreements of the runs that exist among ``run_ids``, in the order first named."""
        if not run_ids:
            return []
        found = self.store.runs.agreements_of(run_ids)
        return list(dict.fromkeys(found[r] for r in run_ids if r in found))

    # -- releases ------------------------------------------------------------

    def overlap(self, caller: str, agreement_id: str, run_id: str = "") -> dict[str, Any]:
        return self.releases.overlap(caller, agreement_id, run_id)

    def reveal(self, caller: str, agreement_id: str, run_id: str = "") -> tuple[dict[str, Any], builtins.list[dict[str, Any]]]:
        return self.releases.reveal(caller, agreement_id, run_id)

    def run_attribution(self, caller: str, run_ids: builtins.list[str], model: str = "", as_of: str = "") -> dict[str, Any]:
        return self.attribution.run(caller, run_ids, model, as_of)

    def show_attribution(self, caller: str, agreement_id: str) -> dict[str, Any]:
        return self.attribution.show(caller, agreement_id)

    def resume(self) -> builtins.list[str]:
        """At start-up: complete the runs whose uploads all arrived before the coordinator stopped."""
        return self.completion.resume()

    # -- audit ---------------------------------------------------------------

    def audit_denial(self, caller: str, method: str, agreement_id: str | None, code: str, reason: str) -> None:
        """A refused call's permanent entry, bounded whatever the caller sent (a junk agreement id is not kept)."""
        self.store.audit_now(caller, "request.denied", named_agreement(agreement_id), denial_details(method, code, reason))

    def audit_heads(self, positions: builtins.list[int]) -> tuple[AuditHead | None, dict[int, str]]:
        """The current audit head signed now, and the entry hashes at the positions a party holds heads for
        (hashes only: a party checks its heads against the log without reading other parties' entries)."""
        if len(positions) > MAX_HEAD_POSITIONS:
            raise InvalidArgument(f"at most {MAX_HEAD_POSITIONS} positions per request (got {len(positions)}); ask in parts")
        return self.store.heads_at(sorted(set(positions)))
