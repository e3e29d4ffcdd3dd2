"""Alerts on a new release: diff it against the previous release of the agreement, send, log.

The previous release is the last one of the same agreement in the receipts log
(another run). The first release of an agreement sends no alert: there is
nothing to compare it with, and ``map`` prints its numbers anyway. A release
already in the receipts (``overlap`` asked twice) sends none either: one alert
per change set. Nothing here may fail the command that received the release:
delivery errors become ``pending`` deliveries, tried again (first) the next time
alerts are sent, and every attempt's outcome is logged in the receipts.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cleanroom.errors import CleanroomError
from cleanroom_client.features import alert_messages
from cleanroom_client.features.alert_store import AlertStore
from cleanroom_client.features.alerts_diff import ChangeSet, diff_counts, diff_revealed, revealed_snapshot
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.receipts import ReceiptLog, release_of

if TYPE_CHECKING:  # the webhook client is imported when there is something to send (every map imports this module)
    from cleanroom_client.features.alert_delivery import Outcome, RetryPolicy


def _overlaps(entries: Iterable[dict[str, Any]], agreement_id: str) -> list[dict[str, Any]]:
    releases = (release_of(e) for e in entries if e.get("type") == "release")
    return [r for r in releases if r.get("agreement_id") == agreement_id and r.get("kind") in (None, "overlap") and "cells" in r]


def received(entries: list[dict[str, Any]], agreement_id: str, run_id: str) -> bool:
    """Whether the receipts hold the overlap release of that run already."""
    return any(r.get("run_id") == run_id for r in _overlaps(entries, agreement_id))


def overlap_changes(entries: list[dict[str, Any]], view: dict[str, Any]) -> ChangeSet | None:
    """What changed since the previous release of ``view``'s agreement, from the receipts as they were before
    ``view`` was recorded; None for the agreement's first release and for a release already received."""
    if received(entries, view["agreement_id"], view["run_id"]):
        return None
    kept = _overlaps(entries, view["agreement_id"])
    previous = next((r for r in reversed(kept)), None)
    if previous is None:
        return None
    cells, totals = diff_counts(previous, view)
    return ChangeSet(view["agreement_id"], view["other"], previous["run_id"], view["run_id"], cells, totals)


def configured(profile: Profile) -> bool:
    """Whether any receiver is set (else nothing is compared, kept or sent)."""
    try:
        return bool(AlertStore.of(profile.path).receivers)
    except CleanroomError:
        return True  # a broken alerts.json is reported by send(), not silently skipped


def note_revealed(
    profile: Profile, changes: ChangeSet | None, agreement_id: str, run_id: str, rows: list[dict[str, Any]]
) -> None:
    """Add account events (against the accounts last revealed under the agreement) to ``changes``, and remember
    these. The first reveal of an agreement is the baseline: no events."""
    try:
        store = AlertStore.of(profile.path)
    except CleanroomError:
        return  # send() reports the broken file; the reveal itself is shown
    if not store.receivers:
        return
    current = revealed_snapshot(rows)
    before = store.revealed.get(agreement_id)
    if changes is not None and before is not None and before.get("run_id") != run_id:
        changes.accounts = diff_revealed(before["accounts"], current)
    store.revealed[agreement_id] = {"run_id": run_id, "accounts": current}
    store.save()


def send(profile: Profile, log: ReceiptLog, changes: ChangeSet | None, policy: RetryPolicy | None = None) -> list[dict[str, Any]]:
    """Deliver the pending alerts, then ``changes`` (if any) to every receiver; each outcome logged in the receipts.
    Returns one summary per delivery attempted; never raises (a problem is reported as a summary)."""
    try:
        return _send(profile, log, changes, policy)
    except (CleanroomError, OSError, ValueError) as exc:
        return [{"status": "error", "error": f"alerts not sent: {exc}"}]


def _send(profile: Profile, log: ReceiptLog, changes: ChangeSet | None, policy: RetryPolicy | None) -> list[dict[str, Any]]:
    store = AlertStore.of(profile.path)
    if not store.receivers:
        return []
    import httpx

    from cleanroom_client.features.alert_delivery import DEFAULT_POLICY, deliver

    policy = policy or DEFAULT_POLICY
    fresh = _deliveries(store, changes) if changes is not None and not changes.empty else []
    queue, store.pending = [*store.pending, *fresh], []  # the oldest first
    deadline = time.monotonic() + policy.budget
    summaries = []
    with httpx.Client(follow_redirects=False) as client:
        for delivery in queue:
            target = store.receiver(delivery["receiver_id"])
            if target is None:
                continue  # removed since
            outcome = deliver(client, target, delivery["delivery_id"], delivery["body"].encode("utf-8"), deadline, policy)
            delivery["attempts"] += outcome.attempts
            if outcome.status == "pending":
                store.pending.append(delivery)
            record = _record(delivery, target, outcome)
            log.record_alert(record)
            summaries.append(record)
    store.save()
    return summaries


def _deliveries(store: AlertStore, changes: ChangeSet) -> list[dict[str, Any]]:
    """One delivery of ``changes`` per receiver, in its format, with its own id."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    fresh = []
    for receiver in store.receivers:
        delivery_id = "msg_" + secrets.token_hex(12)
        fresh.append(
            {
                "delivery_id": delivery_id,
                "receiver_id": receiver["id"],
                "agreement_id": changes.agreement_id,
                "run_id": changes.run_id,
                "changes": len(changes.cells) + len(changes.totals) + len(changes.accounts),
                "body": alert_messages.body(changes, delivery_id, receiver["format"]).decode("utf-8"),
                "created_at": now,
                "attempts": 0,
            }
        )
    return fresh


def _record(delivery: dict[str, Any], receiver: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    """What the receipts keep of one delivery: where, what and how it went; never the secret."""
    return {
        "delivery_id": delivery["delivery_id"],
        "receiver_id": receiver["id"],
        "host": urlsplit(receiver["url"]).hostname or "",  # not the URL: a Slack webhook's path is its credential
        "agreement_id": delivery["agreement_id"],
        "run_id": delivery["run_id"],
        "changes": delivery["changes"],
        **outcome.to_dict(),
        "total_attempts": delivery["attempts"],
    }
