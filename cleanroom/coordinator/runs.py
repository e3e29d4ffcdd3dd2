"""Runs: where one stands (status), serving the peer's points, and deleting points when retention says so."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import astuple
from typing import Any

from cleanroom.coordinator.agreements import Agreement, Agreements
from cleanroom.coordinator.standing import Standing
from cleanroom.coordinator.store import Store, Tx
from cleanroom.coordinator.store.records import OWN, REBLINDED, RunRow, UploadRow
from cleanroom.crypto.upload_signing import canary_commitment, changes_digest
from cleanroom.errors import FailedPrecondition, NotFound, PermissionDenied
from cleanroom.protocol import chunk_digest
from cleanroom.terms import Terms


class Runs:
    def __init__(self, store: Store, agreements: Agreements) -> None:
        self._store = store
        self._agreements = agreements
        self._standing = Standing(store)

    # -- lookups shared by uploads, chunks and releases ------------------------------------------

    def get(self, run_id: str) -> RunRow:
        run = self._store.runs.get(run_id)
        if run is None:
            raise NotFound(f"run {run_id!r} does not exist")
        return run

    def complete_overlap(self, agreement_id: str, run_id: str = "") -> RunRow | None:
        """The complete overlap run a release is read from: the one named (NotFound when it is not one of the
        agreement's complete overlap runs), else the newest (None: none yet)."""
        if not run_id:
            return self._store.runs.latest_complete(agreement_id, "overlap")
        run = self._store.runs.get(run_id)
        if run is None or run.agreement_id != agreement_id or run.purpose != "overlap" or run.state != "complete":
            raise NotFound(f"run {run_id!r} of agreement {agreement_id} is not a complete overlap run")
        return run

    def own_upload(self, caller: str, upload_id: str) -> UploadRow:
        """The caller's upload (another party's is refused)."""
        upload = self._store.uploads.get(upload_id)
        if upload is None:
            raise NotFound(f"upload {upload_id!r} does not exist (begin the upload again)")
        if upload.party != caller:
            raise PermissionDenied(f"upload {upload_id} belongs to another party")
        return upload

    def collecting(self, upload: UploadRow) -> RunRow:
        """The upload's run, refusing once it takes no more uploads."""
        run = self.get(upload.run_id)
        if run.state != "collecting":
            raise FailedPrecondition(f"run {run.run_id} is {run.state}; it takes no more uploads")
        return run

    # -- status ------------------------------------------------------------------------------

    def status(self, caller: str, agreement_id: str, run_id: str = "", purpose: str = "overlap") -> dict[str, Any]:
        agreement = self._agreements.load(caller, agreement_id)
        purpose = purpose or "overlap"
        if run_id:
            run = self._store.runs.get(run_id)
            if run is None or run.agreement_id != agreement_id:
                raise NotFound(f"run {run_id!r} does not exist in agreement {agreement_id}")
        else:
            run = self._store.runs.latest(agreement_id, purpose)
        continuous = self._continuous(caller, agreement) if purpose == "overlap" else {}
        if run is None:
            return {
                "run_id": "",
                "agreement_id": agreement_id,
                "state": "none",
                "parties": [],
                "waiting_for": ["no upload yet"],
                "reblind_needed": False,
                "purpose": purpose,
                **continuous,
            }
        status = _run_status(caller, agreement.terms, run, self._store.uploads.all_of_run(run.run_id))
        if status["reblind_needed"]:
            # What the re-blinder needs to check the points are its partner's own: the partner's signature
            # over its upload statement, and the commitments to the canaries and the changes that statement names.
            peer_upload = status["peer_upload_id"]
            canaries = self._store.uploads.canaries(peer_upload)
            status["peer_signature"] = self._store.uploads.signature(peer_upload)[0]
            status["peer_canaries"] = canary_commitment(*canaries) if canaries else ""
            changes = self._store.standing.changes(peer_upload)
            status["peer_changes"] = changes_digest(*astuple(changes)) if changes is not None else ""
        return {**status, **continuous}

    def _continuous(self, caller: str, agreement: Agreement) -> dict[str, str]:
        """A continuous agreement's standing for the caller: the run its tokens stand on, and when a new run may start."""
        if not agreement.terms.continuous:
            return {}
        side = self._standing.side(agreement, caller)
        return {
            "standing_run_id": side.run_id if side else "",
            "standing_upload_id": side.upload_id if side else "",
            "next_run_at": self._standing.next_run_at(agreement),
        }

    # -- the peer's points -------------------------------------------------------------------

    def peer_chunks(self, caller: str, run_id: str) -> Iterator[dict[str, Any]]:
        run = self.get(run_id)
        agreement = self._agreements.load(caller, run.agreement_id)
        if run.state != "collecting":
            raise FailedPrecondition(f"run {run_id} is {run.state}; its points are gone")
        peer = self._store.uploads.of_run(run_id, agreement.terms.other(caller), OWN)
        if peer is None or not peer.committed:
            raise FailedPrecondition(f"the peer has not finished uploading to run {run_id}")
        return self._chunks_of(peer)

    def _chunks_of(self, upload: UploadRow) -> Iterator[dict[str, Any]]:
        for seq in range(upload.total_chunks):
            points = self._store.uploads.chunk_points(upload.upload_id, seq)
            yield {"upload_id": upload.upload_id, "seq": seq, "points": points, "digest": chunk_digest(points)}

    # -- retention ---------------------------------------------------------------------------

    def delete_points(self, con: Tx, run_id: str, agreement_id: str, cause: str, **details: object) -> None:
        """Delete every point of a run, on the audit record with the cause and what went."""
        deleted = self._store.uploads.purge_points(con, run_id=run_id)
        self._store.audit(
            con, "coordinator", "points.deleted", agreement_id, {"cause": cause, "run_id": run_id, **details, **deleted}
        )

    def retain(self, con: Tx, run: RunRow, terms: Terms) -> None:
        """Delete a finished run's points at once when the terms keep them for 0 seconds."""
        if terms.retention_seconds == 0:
            self.delete_points(con, run.run_id, run.agreement_id, "retention", retention_seconds=0)

    def purge_expired(self, at: dt.datetime | None = None) -> int:
        """Delete the points of finished runs whose retention period has passed; returns runs purged."""
        at = at or dt.datetime.now(dt.UTC)
        purged = 0
        for run in self._store.runs.expired_candidates():
            retention = self._agreements.terms_by_id(run.agreement_id).retention_seconds  # cached: the sweep runs every second
            if dt.datetime.fromisoformat(run.completed_at) + dt.timedelta(seconds=retention) > at:
                continue
            with self._store.transaction() as con:
                self.delete_points(con, run.run_id, run.agreement_id, "retention", retention_seconds=retention)
            purged += 1
        if purged:
            self._store.checkpoint()
        return purged


def _run_status(me: str, terms: Terms, run: RunRow, uploads: list[UploadRow]) -> dict[str, Any]:
    """What each party has done in a run, and what the caller is waiting for."""
    by = {(u.party, u.kind): u for u in uploads}
    peer = terms.other(me)

    def done(party: str, kind: str) -> bool:
        u = by.get((party, kind))
        return bool(u and u.committed)

    parties = [
        {
            "party": p,
            "uploaded": done(p, OWN),
            "points": int(by[(p, OWN)].total_points) if (p, OWN) in by else 0,
            "reblinded": done(p, REBLINDED),
        }
        for p in terms.parties
    ]
    waiting: list[str] = []
    if run.state == "collecting":
        if not done(me, OWN):
            waiting.append("your upload")
        if not done(peer, OWN):
            waiting.append(f"{peer}'s upload")
        elif not done(me, REBLINDED):
            waiting.append(f"your re-blinding of {peer}'s points")
        if done(me, OWN) and not done(peer, REBLINDED):
            waiting.append(f"{peer}'s re-blinding of your points")
    reblind_needed = run.state == "collecting" and done(peer, OWN) and not done(me, REBLINDED)
    status: dict[str, Any] = {
        "run_id": run.run_id,
        "agreement_id": run.agreement_id,
        "state": run.state,
        "parties": parties,
        "waiting_for": waiting,
        "reblind_needed": reblind_needed,
        "purpose": run.purpose,
    }
    if run.failure:
        status["failure"] = run.failure
    if reblind_needed:
        peer_own = by[(peer, OWN)]
        status.update(
            peer_upload_id=peer_own.upload_id,
            peer_points=int(peer_own.total_points),
            peer_chunks=int(peer_own.total_chunks),
            peer_upload_digest=peer_own.upload_digest,
        )
    return status
