"""Attribution as workflows: the partner uploads touches; the vendor uploads deals under every agreement,
waits for the partners' re-blinding and asks for one crediting over all of them.

Every release is checked against the coordinator's signature before it is
parsed, and kept in the receipts exactly as signed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from cleanroom.crypto.signing import verify_bytes
from cleanroom.errors import FailedPrecondition, PermissionDenied, ProtocolError
from cleanroom.terminal.console import working
from cleanroom.terms import Terms
from cleanroom_client.inputs.deals import DealsResult
from cleanroom_client.inputs.touches import TouchesResult
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.agreements import require_runnable, verified_terms
from cleanroom_client.protocol.attribution_upload import deal_records, prepare_records, touch_records
from cleanroom_client.protocol.heads import verified_head
from cleanroom_client.protocol.keystore import Keystore
from cleanroom_client.protocol.prepare import PreparedUpload
from cleanroom_client.protocol.reblind import reblinding_waiting, upload_waiting, wait_for_result, wait_for_results
from cleanroom_client.protocol.receipts import ReceiptLog
from cleanroom_client.protocol.signing import UploadSigner
from cleanroom_client.protocol.upload import upload_own
from cleanroom_client.remote import Agreement, AttributionRelease, Remote, RunStatus, UploadReceipt

PURPOSE = "attribution"


def attribution_terms(agreement: Agreement, party: str, role: str) -> Terms:
    """The agreement's terms, if it includes attribution and ``party`` plays ``role`` (vendor or partner) in it."""
    terms = verified_terms(agreement)
    require_runnable(agreement)
    if terms.attribution is None:
        raise FailedPrecondition(
            f"agreement {agreement.agreement_id} does not include attribution; propose terms with --attribution"
        )
    if role == "vendor" and terms.vendor != party:
        raise PermissionDenied(
            f"in agreement {agreement.agreement_id} {terms.vendor} is the vendor; you upload touches with `attribution touches`"
        )
    if role == "partner" and terms.vendor == party:
        raise PermissionDenied(f"you are the vendor in agreement {agreement.agreement_id}; run `attribution run --deals FILE`")
    return terms


def received(release: AttributionRelease, public_pem: bytes, log: ReceiptLog) -> dict[str, Any]:
    """Check a release's signature, keep it in the receipts exactly as signed, and parse it."""
    # The coordinator signs the exact bytes of body_json: check those, before parsing anything.
    if not verify_bytes(public_pem, release.body_json.encode("utf-8"), release.signature):
        raise ProtocolError("the attribution release's signature does not verify against the coordinator's key; refusing it")
    head = verified_head(release.audit_head, public_pem, f"the attribution release {release.release_id}")
    log.record_signed_release(release.body_json, release.signature, head)
    body = json.loads(release.body_json)
    return {**body, "signature": release.signature.hex()}


def show(remote: Remote, profile: Profile, agreement_id: str) -> dict[str, Any]:
    """What attribution released to us under an agreement, checked and kept."""
    return received(remote.show_attribution(agreement_id), profile.signing_key(), ReceiptLog.of(profile))


# -- partner ---------------------------------------------------------------------


@dataclass
class TouchesReady:
    agreement: Agreement
    terms: Terms
    prepared: PreparedUpload
    sent: np.ndarray  # indexes of the touches sent (their account has a key of an agreed kind)
    keys: Keystore


def ready_touches(remote: Remote, profile: Profile, agreement_id: str, loaded: TouchesResult) -> TouchesReady:
    agreement = remote.get(agreement_id)
    terms = attribution_terms(agreement, profile.party, "partner")
    keys = Keystore.of(profile)
    prepared, sent = prepare_records(
        touch_records(loaded.touches), terms, profile.party, agreement.agreement_id, keys.secret(agreement.agreement_id)
    )
    return TouchesReady(agreement, terms, prepared, sent, keys)


def send_touches(remote: Remote, profile: Profile, ready: TouchesReady, wait: float) -> RunStatus:
    log = ReceiptLog.of(profile)
    receipt = upload_own(remote, ready.agreement, ready.prepared, log, UploadSigner.of(profile), purpose=PURPOSE)
    return wait_for_result(remote, ready.agreement, ready.keys, log, receipt.run_id, wait)


# -- vendor ----------------------------------------------------------------------


@dataclass
class VendorRun:
    """The vendor's deals uploaded under each agreement: (agreement, its terms, the run the upload joined)."""

    loaded: DealsResult
    sent: np.ndarray  # indexes of the deals sent
    runs: list[tuple[Agreement, Terms, str]]


def checked_agreements(
    remote: Remote, profile: Profile, ids: Sequence[str], model: str | None
) -> tuple[list[tuple[Agreement, Terms]], str]:
    """Every agreement checked (party, attribution, model) before anything is uploaded to any of them; and the model."""
    checked = [(agreement, attribution_terms(agreement, profile.party, "vendor")) for agreement in map(remote.get, ids)]
    first = checked[0][1].attribution
    assert first is not None  # attribution_terms refused agreements without it
    chosen = model or first.model
    refused = {a.agreement_id: t.attribution_models for a, t in checked if chosen not in t.attribution_models}
    if refused:
        allowed = "; ".join(f"{a} allows {', '.join(models)}" for a, models in refused.items())
        raise FailedPrecondition(f"model {chosen!r} is not allowed by the terms of {', '.join(refused)} ({allowed})")
    return checked, chosen


def upload_deals(
    remote: Remote, profile: Profile, checked: list[tuple[Agreement, Terms]], load: Callable[[], DealsResult]
) -> VendorRun:
    """Read the deals (re-blinding the partners' waiting touches meanwhile) and upload them under every agreement."""
    keys, log, signer = Keystore.of(profile), ReceiptLog.of(profile), UploadSigner.of(profile)
    # Partners' touches already waiting are re-blinded while the deals file is read (see reblinding_waiting).
    with reblinding_waiting(remote, [agreement for agreement, _ in checked], keys, PURPOSE) as early:
        loaded = load()
        record_set = deal_records(loaded.deals)  # the same accounts and records under every agreement; only the blinding differs
    # Each upload goes out on a thread while the next agreement's points are blinded (the pool uses every core).
    sent: np.ndarray = np.zeros(0, dtype=np.int64)
    with ThreadPoolExecutor(max_workers=1) as uploader:
        pending: list[tuple[Agreement, Terms, Future[UploadReceipt]]] = []
        for agreement, terms in checked:
            for *_, upload in pending:  # an upload that failed stops the run before more blinding
                failure = upload.exception() if upload.done() else None
                if failure is not None:
                    raise failure
            prepared, sent = prepare_records(
                record_set, terms, profile.party, agreement.agreement_id, keys.secret(agreement.agreement_id)
            )
            pending.append(
                (agreement, terms, uploader.submit(upload_own, remote, agreement, prepared, log, signer, purpose=PURPOSE))
            )
            del prepared
        runs = [(agreement, terms, upload.result().run_id) for agreement, terms, upload in pending]
    for agreement, _, run_id in runs:
        upload_waiting(remote, agreement, early, run_id, log, signer)
    return VendorRun(loaded, sent, runs)


def still_waiting(remote: Remote, profile: Profile, run: VendorRun, wait: float) -> list[dict[str, Any]]:
    """Wait up to ``wait`` seconds for every partner's re-blinding; the runs still waiting after that."""
    statuses = wait_for_results(
        remote, [(agreement, run_id) for agreement, _, run_id in run.runs], Keystore.of(profile), ReceiptLog.of(profile), wait
    )
    return [
        {
            "agreement_id": agreement.agreement_id,
            "partner": terms.partner(),
            "run_id": run_id,
            "waiting_for": list(status.waiting_for),
        }
        for (agreement, terms, run_id), status in zip(run.runs, statuses, strict=True)
        if status.state != "complete"
    ]


def credit(remote: Remote, profile: Profile, run: VendorRun, model: str | None, as_of: str | None) -> dict[str, Any]:
    """One attribution job over every run; the release, checked and kept."""
    with working(f"the coordinator credits {len(run.sent):,} deals against {len(run.runs)} partner(s)' touches"):
        signed = remote.run_attribution([r for *_, r in run.runs], model or "", as_of or "")
    return received(signed, profile.signing_key(), ReceiptLog.of(profile))
