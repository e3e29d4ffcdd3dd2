"""Uploads: beginning one (own points, or the peer's re-blinded), and committing it.

An upload is resumable: beginning again with the same digest returns the
session as it stands. Committing the last of a run's four uploads completes
the run (``completion``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from typing import Any

import numpy as np

from cleanroom.coordinator.agreements import Agreement, Agreements, new_id
from cleanroom.coordinator.announcement import UploadAnnouncement, check_signature
from cleanroom.coordinator.canaries import Canaries, own_upload_problem
from cleanroom.coordinator.completion import Completion
from cleanroom.coordinator.limits import Limits
from cleanroom.coordinator.runs import Runs
from cleanroom.coordinator.sealing import check_sealed_upload
from cleanroom.coordinator.standing import Changes, Standing
from cleanroom.coordinator.store import Store, now
from cleanroom.coordinator.store.records import OWN, PURPOSES, REBLINDED, RunRow, UploadRow
from cleanroom.coordinator.value_sums import check_value_public, check_value_upload
from cleanroom.crypto.upload_signing import (
    points_digest,
)
from cleanroom.distinct import distinct_sorted
from cleanroom.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from cleanroom.protocol import upload_digest

# Fault injection for the crash-recovery tests (tests/e2e/test_e2e_hardening.py).
FAULT_EXIT_BEFORE_COMPLETION = "CLEANROOM_FAULT_EXIT_BEFORE_COMPLETION"


class Uploads:
    def __init__(self, store: Store, agreements: Agreements, runs: Runs, completion: Completion, limits: Limits) -> None:
        self._store = store
        self._agreements = agreements
        self._runs = runs
        self._completion = completion
        self._limits = limits
        self._standing = Standing(store)
        # Both parties may begin at the same instant: deciding which run an upload joins (or opening
        # one) and recording the upload must be one step, or each side opens its own run and waits forever.
        self._beginning = threading.Lock()

    def session(self, upload: UploadRow) -> dict[str, Any]:
        return {
            "run_id": upload.run_id,
            "upload_id": upload.upload_id,
            "received_chunks": self._store.uploads.received(upload.upload_id),
            "max_chunk_points": self._limits.max_chunk_points,
            "committed": upload.committed,
        }

    # -- begin -------------------------------------------------------------------------------

    def begin(self, caller: str, announced: UploadAnnouncement) -> dict[str, Any]:
        agreement = self._agreements.active(caller, announced.agreement_id, announced.terms_hash)
        a = dataclasses.replace(announced, purpose=announced.purpose or "overlap")
        if a.kind not in (OWN, REBLINDED):
            raise InvalidArgument("upload kind must be OWN or REBLINDED")
        self._check_purpose(agreement, a.purpose)
        changes = self._changes(caller, agreement, a)
        empty_change = changes is not None and not changes.full and a.total_points == 0
        self._check_sizes(a.total_points, a.total_chunks, a.digest, may_be_empty=empty_change or a.kind == REBLINDED)
        canaries = Canaries.parse(a.canary_scalar, a.canary_positions, a.total_points) if a.kind == OWN else None
        if a.kind == REBLINDED and (a.canary_scalar or a.canary_positions):
            raise InvalidArgument("only an upload of your own points carries canaries")
        check_value_public(agreement.terms, caller, a.kind, a.purpose, a.value_public)
        check_signature(caller, agreement, a)
        with self._beginning:
            if a.kind == OWN:
                return self._begin_own(caller, agreement, a, canaries, changes)
            return self._begin_reblinded(caller, agreement, a)

    @staticmethod
    def _changes(caller: str, agreement: Agreement, a: UploadAnnouncement) -> Changes | None:
        """What an own upload to a continuous agreement's overlap run changes (None for any other upload)."""
        continuous = agreement.terms.continuous and a.purpose == "overlap" and a.kind == OWN
        if not continuous:
            if a.names_changes():
                raise InvalidArgument(
                    "base_run_id, secret_tag and removed or changed labels belong to own overlap uploads of a continuous agreement"
                )
            return None
        return Changes.parse(a.changes, len(agreement.terms.populations[caller]))

    @staticmethod
    def _check_purpose(agreement: Agreement, purpose: str) -> None:
        terms = agreement.terms
        if purpose not in PURPOSES:
            raise InvalidArgument(f"run purpose must be one of {', '.join(PURPOSES)}, not {purpose!r}")
        if purpose == "attribution" and terms.attribution is None:
            raise FailedPrecondition(
                f"agreement {agreement.agreement_id} does not include attribution; propose terms with --attribution"
            )
        if purpose == "overlap" and terms.reveals():
            missing = [p for p in terms.parties if not agreement.has_key(p)]
            if missing:
                raise FailedPrecondition(
                    f"agreement {agreement.agreement_id} grants account-level reveal but {', '.join(missing)} gave no encryption key; "
                    "approve it again with a current cleanroom-client"
                )

    def _check_sizes(self, total_points: int, total_chunks: int, digest: str, may_be_empty: bool = False) -> None:
        """Within the limits; at least one point unless ``may_be_empty`` (a change that only removes or moves
        accounts, or the re-blinding of one: checked against the peer's upload), which then has no chunk."""
        if len(digest) != 64:
            raise InvalidArgument("upload_digest must be a hex SHA-256")
        if may_be_empty and total_points == 0:
            if total_chunks != 0:
                raise InvalidArgument(f"an upload of no points has no chunks (got {total_chunks})")
            return
        if total_points > self._limits.max_points:
            raise ResourceExhausted(
                f"upload of {total_points:,} points exceeds this coordinator's limit of {self._limits.max_points:,} points"
            )
        if total_points < 1 or total_chunks < 1 or total_chunks > total_points:
            raise InvalidArgument(
                f"an upload needs at least one point and one chunk (got {total_points} points in {total_chunks} chunks)"
            )
        if -(-total_points // self._limits.max_chunk_points) > total_chunks:
            raise InvalidArgument(
                f"chunks hold at most {self._limits.max_chunk_points} points; {total_chunks} chunks cannot hold {total_points}"
            )
        if total_chunks > self._limits.max_chunks:
            raise ResourceExhausted(
                f"upload announces {total_chunks:,} chunks, over this coordinator's limit of {self._limits.max_chunks:,}"
            )

    def _begin_own(
        self, caller: str, agreement: Agreement, a: UploadAnnouncement, canaries: Canaries | None, changes: Changes | None
    ) -> dict[str, Any]:
        total_points, total_accounts, digest, purpose = a.total_points, a.total_accounts, a.digest, a.purpose
        terms = agreement.terms
        if total_accounts < 1 or (total_accounts > total_points and (changes is None or changes.full)):
            raise InvalidArgument(f"total_accounts ({total_accounts}) must be between 1 and total_points ({total_points})")
        if total_accounts < terms.min_set_size:
            raise FailedPrecondition(
                f"your set has {total_accounts} accounts, below the agreement's minimum set size of {terms.min_set_size}"
            )
        if changes is not None:
            # Every refusal comes before anything changes: a begin refused leaves the store as it was.
            opening = self._store.runs.open_run(agreement.agreement_id, purpose) is None
            if opening or self._standing.secret_changed(caller, agreement, changes):
                self._standing.check_opening(agreement)
            self._standing_ready(caller, agreement, changes, total_accounts)
        run = self._store.runs.open_run(agreement.agreement_id, purpose)
        if run is None and purpose == "attribution":
            # The same file again after its run completed: that run stands (a job may re-run its model on it).
            done = self._store.uploads.completed_attribution_upload(agreement.agreement_id, caller, digest)
            if done is not None:
                return self.session(done)
        existing = self._store.uploads.of_run(run.run_id, caller, OWN) if run is not None else None
        if run is not None and existing is not None:
            same_changes = changes is None or self._store.standing.changes(existing.upload_id) == a.changes
            if existing.upload_digest == digest and same_changes:
                return self.session(existing)  # resume
            if self._store.uploads.is_committed(run.run_id, terms.other(caller), REBLINDED):
                raise FailedPrecondition(
                    f"run {run.run_id} already uses your earlier upload and {terms.other(caller)} is re-blinding it; "
                    "wait for the run to complete, then map again"
                )
        upload = UploadRow(
            new_id("upl"), "", caller, OWN, total_points, a.total_chunks, total_accounts, digest, None, False, now(), None
        )
        return self.session(self._record_own(caller, agreement, run, existing, upload, a, canaries, changes))

    def _standing_ready(self, caller: str, agreement: Agreement, changes: Changes, total_accounts: int) -> None:
        """A change builds on the caller's standing side; a full upload blinded with a new secret first voids
        the agreement's standing state (the partner's tokens carry the old secret) and fails a run that
        collects changes on it: both parties then send everything in a new run."""
        self._standing.check_changes(caller, agreement, changes, total_accounts)
        if not self._standing.secret_changed(caller, agreement, changes):
            return
        run = self._store.runs.open_run(agreement.agreement_id, "overlap")
        if run is not None:
            self._completion.fail_collecting(
                run.run_id, f"{caller}'s agreement secret changed: both parties send every account in a new run"
            )
        with self._store.transaction() as con:
            self._standing.purge(con, caller, agreement.agreement_id, f"{caller}'s agreement secret changed")

    def _record_own(
        self,
        caller: str,
        agreement: Agreement,
        run: RunRow | None,
        replaced: UploadRow | None,
        upload: UploadRow,
        a: UploadAnnouncement,
        canaries: Canaries | None,
        changes: Changes | None,
    ) -> UploadRow:
        """Open a run if none collects, drop the caller's earlier upload to it, record this one."""
        agreement_id, purpose = agreement.agreement_id, a.purpose
        with self._store.transaction() as con:
            if run is None:
                run = RunRow(
                    new_id("run"), agreement_id, agreement.version, agreement.terms_hash, "collecting", now(), None, purpose
                )
                self._store.runs.insert(con, run)
                self._store.audit(
                    con,
                    caller,
                    "run.started",
                    agreement_id,
                    {"run_id": run.run_id, "purpose": purpose, "terms_hash": agreement.terms_hash},
                )
            elif replaced is not None:
                self._store.uploads.delete(con, replaced.upload_id)
                self._store.audit(
                    con, caller, "upload.replaced", agreement_id, {"run_id": run.run_id, "upload_id": replaced.upload_id}
                )
            recorded = dataclasses.replace(upload, run_id=run.run_id)
            self._store.uploads.insert(con, recorded)
            if a.party_signature:
                self._store.uploads.insert_signature(con, recorded.upload_id, a.party_signature, a.points_digest)
            if canaries is not None:
                self._store.uploads.insert_canaries(
                    con, recorded.upload_id, canaries.scalar, canaries.positions.astype("<u4").tobytes()
                )
            if changes is not None:
                self._store.standing.insert_changes(con, recorded.upload_id, a.changes)
            if a.value_public:
                self._store.uploads.set_value_public(con, recorded.upload_id, a.value_public)
        return recorded

    def _begin_reblinded(self, caller: str, agreement: Agreement, a: UploadAnnouncement) -> dict[str, Any]:
        run_id, of_upload_id, total_points, total_chunks, digest = (
            a.run_id,
            a.of_upload_id,
            a.total_points,
            a.total_chunks,
            a.digest,
        )
        other = agreement.terms.other(caller)
        run = self._store.runs.get(run_id)
        if run is None or run.agreement_id != agreement.agreement_id:
            raise NotFound(f"run {run_id!r} does not exist in agreement {agreement.agreement_id}")
        if run.state != "collecting":
            raise FailedPrecondition(f"run {run_id} is {run.state}; nothing to re-blind")
        peer = self._store.uploads.of_run(run_id, other, OWN)
        if peer is None or not peer.committed:
            raise FailedPrecondition(f"{other} has not finished uploading to run {run_id}; nothing to re-blind yet")
        if of_upload_id != peer.upload_id:
            raise FailedPrecondition(f"{other} replaced its upload to run {run_id}; fetch its points again and re-blind those")
        if (total_points, total_chunks) != (peer.total_points, peer.total_chunks):
            raise InvalidArgument(
                f"re-blinded upload must match the peer's: {peer.total_points} points in {peer.total_chunks} chunks "
                f"(got {total_points} in {total_chunks})"
            )
        existing = self._store.uploads.of_run(run_id, caller, REBLINDED)
        if existing is not None:
            if existing.upload_digest == digest:
                return self.session(existing)
            if existing.committed:
                raise FailedPrecondition(f"you already re-blinded the peer's points of run {run_id}")
        upload = UploadRow(
            new_id("upl"), run_id, caller, REBLINDED, total_points, total_chunks, 0, digest, of_upload_id, False, now(), None
        )
        with self._store.transaction() as con:
            if existing is not None:
                self._store.uploads.delete(con, existing.upload_id)
            self._store.uploads.insert(con, upload)
            if a.party_signature:
                self._store.uploads.insert_signature(con, upload.upload_id, a.party_signature, a.points_digest)
        return self.session(upload)

    # -- commit ------------------------------------------------------------------------------

    def commit(self, caller: str, upload_id: str) -> dict[str, Any]:
        upload = self._runs.own_upload(caller, upload_id)
        run = self._runs.get(upload.run_id)
        if upload.committed:
            # A repeated commit (the client lost the first answer, or the coordinator stopped before the
            # run completed): the completion may still be due.
            self._completion.complete_if_ready(run.run_id)
            return self.receipt(upload, run)
        self._runs.collecting(upload)
        digests = self._check_complete(caller, upload, run)
        with self._store.transaction() as con:
            entry = self._store.audit(
                con,
                caller,
                "upload.committed",
                run.agreement_id,
                {
                    "run_id": run.run_id,
                    "upload_id": upload_id,
                    "kind": upload.kind,
                    "points": upload.total_points,
                    "accounts": upload.total_accounts,
                    "chunks": upload.total_chunks,
                    "upload_digest": upload.upload_digest,
                    "chunk_digests": digests,
                },
            )
            self._store.uploads.commit(con, upload_id, now(), json.dumps(self._store.signed_head(entry).to_dict()))
            if upload.kind == REBLINDED and upload.of_upload and self._agreements.terms_by_id(run.agreement_id).continuous:
                # A continuous agreement keeps no single-blinded point past its re-blinding: the peer's points go
                # now (their labels stay for the completion), not when the run completes.
                blanked = self._store.uploads.blank_points(con, upload.of_upload)
                self._store.audit(
                    con,
                    "coordinator",
                    "points.deleted",
                    run.agreement_id,
                    {"cause": "re-blinded", "run_id": run.run_id, "upload_id": upload.of_upload, "points": blanked},
                )
        upload = self._runs.own_upload(caller, upload_id)
        if os.environ.get(FAULT_EXIT_BEFORE_COMPLETION) and len(self._store.uploads.all_of_run(run.run_id, True)) == 4:
            os._exit(137)  # the crash-recovery tests: die like SIGKILL between the run's last commit and its completion
        self._completion.complete_if_ready(run.run_id)
        return self.receipt(upload, run)

    def _check_complete(self, caller: str, upload: UploadRow, run: RunRow) -> list[str]:
        """Every chunk there, as announced; returns the chunk digests."""
        upload_id = upload.upload_id
        chunks = self._store.uploads.digests(upload_id)
        missing = sorted(set(range(upload.total_chunks)) - {c.seq for c in chunks})
        if missing:
            raise FailedPrecondition(
                f"upload {upload_id} is missing {len(missing)} chunk(s), first {missing[0]}; send them and commit again"
            )
        points = sum(c.n_points for c in chunks)
        if points != upload.total_points:
            raise InvalidArgument(f"upload {upload_id} announced {upload.total_points} points but its chunks hold {points}")
        digests = [c.digest for c in chunks]
        if upload_digest(digests) != upload.upload_digest:
            raise InvalidArgument(f"upload {upload_id}: the chunks do not match the announced upload digest")
        signed_points = self._store.uploads.signature(upload_id)[1]
        # Read once: the signed digest and the own-upload checks below both need every point.
        stored_points = self._store.uploads.points(upload_id) if signed_points or upload.kind == OWN else b""
        if signed_points and points_digest([stored_points]) != signed_points:
            raise InvalidArgument(f"upload {upload_id}: the chunks' points do not match the points digest you signed")
        terms = self._agreements.terms_by_id(run.agreement_id)
        if upload.kind == REBLINDED:
            peer = self._store.uploads.of_run(run.run_id, terms.other(caller), OWN)
            if peer is None or peer.upload_id != upload.of_upload:
                raise FailedPrecondition("the peer replaced its upload while you re-blinded it; run sync again")
        else:
            labels = self._store.uploads.labels(upload_id)
            distinct = distinct_sorted(
                np.concatenate([np.zeros(0, "<u4")] + [np.frombuffer(bytes(c.accounts or b""), dtype="<u4") for c in labels])
            )
            stored = self._store.standing.changes(upload_id)
            changes = Changes.parse(stored, len(terms.populations[caller])) if stored is not None else None
            if changes is not None and not changes.full:
                agreement = self._agreements.load(caller, run.agreement_id)
                problem = self._standing.added_problem(caller, agreement, changes, distinct, int(upload.total_accounts))
                if problem is not None:
                    raise InvalidArgument(f"upload {upload_id} cannot be committed: {problem}")
            elif len(distinct) != upload.total_accounts:
                raise InvalidArgument(
                    f"upload {upload_id} announced {upload.total_accounts} accounts but labels {len(distinct)} distinct ones"
                )
            check_sealed_upload(self._store, terms, upload, run)
            check_value_upload(self._store, terms, upload, run)
            canaries = Canaries.of_upload(self._store, upload)
            problem = own_upload_problem(canaries, stored_points, len(distinct), len(terms.key_kinds) == 1)
            if problem is not None:
                raise InvalidArgument(f"upload {upload_id} cannot be committed: {problem}")
        return digests

    def receipt(self, upload: UploadRow, run: RunRow) -> dict[str, Any]:
        """The signed receipt a client keeps of what it sent."""
        body = {
            "upload_id": upload.upload_id,
            "run_id": run.run_id,
            "agreement_id": run.agreement_id,
            "terms_hash": run.terms_hash,
            "kind": upload.kind,
            "party": upload.party,
            "total_points": int(upload.total_points),
            "total_chunks": int(upload.total_chunks),
            "upload_digest": upload.upload_digest,
            "received_at": upload.committed_at or "",
        }
        head = self._store.uploads.audit_head(upload.upload_id)
        return {**body, "signature": self._store.signer.sign_json(body), **({"audit_head": json.loads(head)} if head else {})}
