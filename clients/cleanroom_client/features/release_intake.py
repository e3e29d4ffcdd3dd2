"""Overlap releases received outside ``map`` (the ``overlap`` and ``sync`` commands): verified, kept in the
receipts, and, where alerts are set, compared with the agreement's previous release and alerted on."""

from __future__ import annotations

from typing import Any

from cleanroom.errors import InputError
from cleanroom_client.features import alerts
from cleanroom_client.features.overlap_view import verified_overlap
from cleanroom_client.features.reveal import RevealError, RevealPlan, fetch_revealed
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.agreements import verified_terms
from cleanroom_client.protocol.receipts import ReceiptLog
from cleanroom_client.remote import Remote


def receive_overlap(remote: Remote, profile: Profile, agreement_id: str, run_id: str = "") -> dict[str, Any]:
    """The overlap released to us, checked and kept; with alerts set, ``view["alerts"]`` says what was sent."""
    release = remote.overlap(agreement_id, run_id)
    view = verified_overlap(release, profile.signing_key())
    log = ReceiptLog.of(profile)
    watched = alerts.configured(profile)
    changes = alerts.overlap_changes(log.entries(), view) if watched else None  # before this one is kept
    log.record_release(view, release.audit_head)
    if watched:
        view["alerts"] = alerts.send(profile, log, changes)
    return view


def sync_alerts(remote: Remote, profile: Profile, report: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """With alerts set: receive the release of every overlap run ``sync`` found complete that the receipts do not
    hold yet (with our reveal, where we are granted one and mapped from this profile), and alert on what changed.
    Without alerts, nothing: ``sync`` then never asks for a release (under DP the first ask spends budget)."""
    if not alerts.configured(profile):
        return []
    log = ReceiptLog.of(profile)
    sent: list[dict[str, Any]] = []
    for row in report:
        agreement_id, run_id = row["agreement_id"], row["run_id"]
        if row["purpose"] != "overlap" or row["state"] != "complete" or alerts.received(log.entries(), agreement_id, run_id):
            continue
        agreement = remote.get(agreement_id)
        release = remote.overlap(agreement_id, run_id)
        view = verified_overlap(release, profile.signing_key())
        changes = alerts.overlap_changes(log.entries(), view)
        log.record_release(view, release.audit_head)
        terms = verified_terms(agreement)
        if RevealPlan.of(terms, profile.party).views:
            try:
                revealed = fetch_revealed(remote, profile, agreement, terms, log, run_id)
                alerts.note_revealed(profile, changes, agreement_id, run_id, revealed.rows)
            except (RevealError, InputError):
                pass  # not shown here (`targets` says why); the counts are still alerted on
        sent += alerts.send(profile, log, changes)
    return sent
