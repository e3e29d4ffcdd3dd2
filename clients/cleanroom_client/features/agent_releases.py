"""The agent's sync step: re-blind what partners uploaded (``sync``), and receive the releases of completed runs
that the receipts do not hold yet, alerting on what changed (the same test and code as ``sync`` and ``map``).

A partner whose CRM changed maps again on its own schedule: its new run waits for our re-blinding (done
here), and, until the coordinator keeps continuous agreements' tokens (incremental runs), for our own
upload too, which the map step sends (``waiting_for_us``).
"""

from __future__ import annotations

import time
from typing import Any

from cleanroom.errors import CleanroomError, ResourceExhausted
from cleanroom_client.features import alerts
from cleanroom_client.features.agent_log import ActionLog
from cleanroom_client.features.agent_mapping import log_alert
from cleanroom_client.features.agent_stop import StopFlag
from cleanroom_client.features.alert_store import AlertStore
from cleanroom_client.features.release_intake import receive_overlap, sync_alerts
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.reblind import sync_agreements
from cleanroom_client.protocol.receipts import ReceiptLog, release_of
from cleanroom_client.remote import CoordinatorUnavailable, Remote

POLL = 0.5  # seconds between looks at runs we wait for
# Worth waiting out with backoff: the coordinator down or unreachable, or asking us to slow down.
TRANSIENT = (CoordinatorUnavailable, ResourceExhausted)


class Syncer:
    def __init__(self, profile: Profile, log: ActionLog) -> None:
        self.profile, self.log = profile, log
        self._last: dict[tuple[str, str], tuple[Any, ...]] = {}  # per agreement and purpose: what was last logged

    def sync(self, remote: Remote, active: list[str]) -> list[dict[str, Any]]:
        """Re-blind every partner point that waits for us under the ``active`` agreements; one line per run whose
        state moved since last logged. One agreement's trouble (terms that do not check) is logged, not raised:
        the others are synced; the coordinator unreachable is raised (the cycle backs off)."""
        started = time.monotonic()
        report = []
        for agreement_id in active:
            try:
                report += sync_agreements(remote, self.profile, agreement_id, 0.0)
            except TRANSIENT:
                raise
            except CleanroomError as exc:
                self.log.emit("sync", "error", agreement_id=agreement_id, error=str(exc))
        took = round(time.monotonic() - started, 3)
        for row in report:
            key = (row["agreement_id"], row["purpose"])
            seen = (row["run_id"], row["state"], tuple(row["waiting_for"]))
            if self._last.get(key) != seen:
                self._last[key] = seen
                self.log.emit(
                    "sync", row["state"], agreement_id=row["agreement_id"], purpose=row["purpose"], run_id=row["run_id"],
                    waiting_for=row["waiting_for"], failure=row.get("failure"), duration_s=took,
                )  # fmt: skip
        return report

    def wait_for_runs(
        self, remote: Remote, active: list[str], run_ids: set[str], seconds: float, stop: StopFlag
    ) -> list[dict[str, Any]]:
        """Sync until none of ``run_ids`` collects any more, ``seconds`` pass or a stop is asked; the last report."""
        deadline = time.monotonic() + seconds
        while True:
            report = self.sync(remote, active)
            pending = any(r["run_id"] in run_ids and r["state"] == "collecting" for r in report)
            left = deadline - time.monotonic()
            if not pending or left <= 0 or stop.wait(min(POLL, left)):
                return report

    def waiting_for_us(self, remote: Remote, report: list[dict[str, Any]]) -> list[str]:
        """The agreements whose latest overlap run collects and lacks our own upload (a partner mapped again)."""
        waiting = []
        for row in report:
            if row["purpose"] != "overlap" or row["state"] != "collecting":
                continue
            status = remote.status(row["agreement_id"], row["run_id"])
            if any(p.party == self.profile.party and not p.uploaded for p in status.parties):
                waiting.append(row["agreement_id"])
        return sorted(waiting)

    def receive_releases(self, remote: Remote, report: list[dict[str, Any]]) -> bool:
        """Receive the overlap of every complete run not in the receipts yet (``map`` may have received it
        meanwhile: the receipts are read now), with the alerts it causes."""
        entries = ReceiptLog.of(self.profile).entries()
        fresh = [
            r
            for r in report
            if r["purpose"] == "overlap"
            and r["state"] == "complete"
            and not alerts.received(entries, r["agreement_id"], r["run_id"])
        ]
        if not fresh:
            return False
        started = time.monotonic()
        sent: list[dict[str, Any]] = []
        if alerts.configured(self.profile):
            sent = sync_alerts(remote, self.profile, fresh)  # receives each, with the reveal where granted, and alerts
        else:
            for row in fresh:
                receive_overlap(remote, self.profile, row["agreement_id"], row["run_id"])
        took = round(time.monotonic() - started, 3)
        totals = _overlap_totals(ReceiptLog.of(self.profile).entries())
        for row in fresh:
            self.log.emit(
                "release", "received", agreement_id=row["agreement_id"], run_id=row["run_id"],
                overlap=totals.get(row["run_id"]), duration_s=took,
            )  # fmt: skip
        for delivery in sent:
            log_alert(self.log, delivery)
        return bool(sent)

    def retry_alerts(self) -> None:
        """Send the deliveries still pending (their receiver was down): every cycle, not only when a release
        comes, so a receiver that is back hears of the change within an interval."""
        try:
            pending = AlertStore.of(self.profile.path).pending
        except CleanroomError:
            return  # a broken alerts.json is reported when a release comes (alerts.send)
        if pending:
            for delivery in alerts.send(self.profile, ReceiptLog.of(self.profile), None):
                log_alert(self.log, delivery)


def _overlap_totals(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Run id -> the overlap total of its release, from the receipts (None where withheld)."""
    releases = (release_of(e) for e in entries if e.get("type") == "release")
    return {r["run_id"]: r.get("totals", {}).get("overlap") for r in releases if "cells" in r and "run_id" in r}
