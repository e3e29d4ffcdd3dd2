"""``map`` as a workflow: read our file under an agreement, blind and seal it, upload, wait, read the overlap.

Two steps, so that the command can say what was read before anything is sent:
``ready_map`` reads and blinds (re-blinding the partner's waiting points
meanwhile) and ``send_map`` uploads, waits and reads what was released.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cleanroom.crypto.sealed import SealContext
from cleanroom.errors import CleanroomError
from cleanroom.protocol import MAX_CHUNK_POINTS
from cleanroom.terms import Terms
from cleanroom.terms_value import value_grant
from cleanroom_client.features import alerts
from cleanroom_client.features.overlap_view import verified_overlap
from cleanroom_client.features.reveal import (
    RevealError,
    RevealPlan,
    fetch_revealed,
    peer_public_key,
    save_account_map,
    shared_headers,
)
from cleanroom_client.inputs.accounts import LoadResult
from cleanroom_client.inputs.custom_populations import for_agreement
from cleanroom_client.inputs.deals import DealsResult
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.agreements import require_runnable, verified_terms
from cleanroom_client.protocol.continuous import prepare_own
from cleanroom_client.protocol.encryption import EncryptionKeys
from cleanroom_client.protocol.keystore import Keystore
from cleanroom_client.protocol.prepare import PreparedUpload
from cleanroom_client.protocol.reblind import Reblinded, reblinding_waiting, upload_waiting, wait_for_result
from cleanroom_client.protocol.receipts import ReceiptLog
from cleanroom_client.protocol.sealing import seal_upload
from cleanroom_client.protocol.sent_state import SentStates
from cleanroom_client.protocol.signing import UploadSigner
from cleanroom_client.protocol.upload import upload_own
from cleanroom_client.remote import Agreement, Remote, RunStatus

# Reads our file: (whether the terms match on names too, whether to keep every column).
Loader = Callable[[bool, bool], LoadResult]
# Reads our deals file (pipeline value): whether the terms match on names too.
DealsLoader = Callable[[bool], DealsResult]


@dataclass
class MapReady:
    """Our file read, blinded and (where the terms reveal to the partner) sealed; nothing sent yet."""

    agreement: Agreement
    terms: Terms
    plan: RevealPlan
    loaded: LoadResult
    prepared: PreparedUpload
    cut: int  # shared values cut to the length limit before sealing
    early: dict[str, Reblinded]  # the partner's points re-blinded while we read
    keys: Keystore  # the one that handed out the secret (and its drafts)
    value: dict[str, Any] | None = None  # pipeline value: what our amounts came to (clamped, unmatched deals)


@dataclass
class MapResult:
    status: RunStatus
    view: dict[str, Any] | None = None  # the overlap released to us; None while the run waits
    problem: str | None = None  # why the reveal could not be shown (the overlap still is)


def ready_map(
    remote: Remote,
    profile: Profile,
    agreement_id: str,
    load: Loader,
    peer_fingerprint: str | None = None,
    load_deals: DealsLoader | None = None,
) -> MapReady:
    agreement = remote.get(agreement_id)
    terms = verified_terms(agreement)
    require_runnable(agreement)
    plan = RevealPlan.of(terms, profile.party)
    keys = Keystore.of(profile)
    # The partner's points already waiting are re-blinded while our file is read (see reblinding_waiting).
    with reblinding_waiting(remote, [agreement], keys, "overlap") as early:
        # map sends keys only, unless the terms reveal accounts: then it seals the shared columns and
        # keeps our own rows (locally) for the accounts that may be revealed to us.
        loaded = load("name" in terms.key_kinds, plan.seals or plan.views)
        loaded = for_agreement(loaded, terms, profile.party, agreement.agreement_id)
        # Everything the sealed fields need is checked before anything is blinded or sent.
        headers = shared_headers(plan, loaded, agreement.agreement_id) if plan.seals else {}
        peer_public = peer_public_key(profile, agreement, plan, peer_fingerprint) if plan.seals else b""
    prepared = prepare_own(remote, profile, agreement, terms, loaded.accounts, keys.secret(agreement.agreement_id))
    cut = (
        seal_upload(
            prepared,
            loaded.accounts,
            plan.seal_populations,
            headers,
            SealContext(agreement.agreement_id, agreement.terms_hash, plan.party, plan.peer),
            EncryptionKeys(profile.path),
            peer_public,
        )
        if plan.seals
        else 0
    )
    value = None
    if value_grant(terms.release, profile.party) is not None:
        # Imported only under a grant: the homomorphic scheme and the deals readers cost every other map ~0.1 s.
        from cleanroom_client.features.pipeline_value import add_values

        deals = load_deals("name" in terms.key_kinds) if load_deals is not None else None
        value = add_values(profile, agreement, terms, prepared, loaded.accounts, deals)
    return MapReady(agreement, terms, plan, loaded, prepared, cut, early, keys, value)


def send_map(
    remote: Remote, profile: Profile, ready: MapReady, chunk_points: int = MAX_CHUNK_POINTS, wait: float = 0.0
) -> MapResult:
    """Upload, re-blind what waits, wait up to ``wait`` seconds; then read the overlap (and our reveal) if complete."""
    agreement, plan = ready.agreement, ready.plan
    keys, log = ready.keys, ReceiptLog.of(profile)
    signer = UploadSigner.of(profile)
    receipt = upload_own(remote, agreement, ready.prepared, log, signer, chunk_points=chunk_points)
    upload_waiting(remote, agreement, ready.early, receipt.run_id, log, signer)
    if plan.views:
        save_account_map(profile.path, agreement, receipt.run_id, ready.prepared, ready.loaded, plan)
    status = wait_for_result(remote, agreement, keys, log, receipt.run_id, wait)
    return released(remote, profile, agreement, ready.terms, status, log)


def released(
    remote: Remote, profile: Profile, agreement: Agreement, terms: Terms, status: RunStatus, log: ReceiptLog
) -> MapResult:
    """The overlap released to us from a complete run (checked and kept), and our reveal where granted;
    just the status while the run is not complete."""
    if status.state != "complete":
        return MapResult(status)
    if terms.continuous:  # what we sent to this run now stands at the coordinator
        SentStates(profile).promote(agreement.agreement_id, status.standing_upload_id)
    release = remote.overlap(agreement.agreement_id, status.run_id)
    view = verified_overlap(release, profile.signing_key())
    watched = alerts.configured(profile)  # compared with the receipts as they were before this release
    changes = alerts.overlap_changes(log.entries(), view) if watched else None
    log.record_release(view, release.audit_head)
    result = MapResult(status, view)
    if RevealPlan.of(terms, profile.party).views:
        try:
            revealed = fetch_revealed(remote, profile, agreement, terms, log, status.run_id)
            view["revealed_accounts"] = len(revealed.rows)
            if watched:
                alerts.note_revealed(profile, changes, agreement.agreement_id, status.run_id, revealed.rows)
        except RevealError as exc:
            result.problem = view["reveal_error"] = str(exc)
    if value_grant(terms.release, profile.party) is not None:
        from cleanroom_client.features.pipeline_value import read_value

        try:
            view["pipeline_value"] = read_value(remote, profile, agreement, log, status.run_id)
        except CleanroomError as exc:
            view["pipeline_value_error"] = str(exc)
    if watched:
        view["alerts"] = alerts.send(profile, log, changes)
    return result
