"""Re-blinding the peer's points: fetch them, multiply them by our secret, send them back; wait for a run.

The peer's points are re-blinded in the order they came (the coordinator joins
them by position), and only points the coordinator relays for a run of ours.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cleanroom.errors import CleanroomError, FailedPrecondition
from cleanroom.protocol import chunk_digest
from cleanroom.psi.engine import current as current_engine
from cleanroom.terminal.console import progress
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.agreements import pinned_peer_signer, verified_terms
from cleanroom_client.protocol.keystore import Keystore
from cleanroom_client.protocol.peer_points import fetch_signed_points
from cleanroom_client.protocol.pins import SIGNING, PeerPins
from cleanroom_client.protocol.prepare import ChunkParts
from cleanroom_client.protocol.receipts import ReceiptLog
from cleanroom_client.protocol.signing import UploadSigner
from cleanroom_client.protocol.upload import upload_reblinded
from cleanroom_client.remote import Agreement, Remote, RunStatus, UploadReceipt


def _same_terms(known: Agreement, fresh: Agreement) -> Agreement:
    if fresh.terms_hash != known.terms_hash:
        raise FailedPrecondition(f"agreement {known.agreement_id} changed meanwhile; show and approve it again")
    verified_terms(fresh)
    return fresh


@dataclass
class Reblinded:
    """The peer's points of a run, multiplied by our secret, not yet uploaded."""

    status: RunStatus  # the run's status when the points were fetched
    chunks: list[ChunkParts]
    peer: str
    peer_key: bytes  # the key the peer's signature over the points verified against


def reblind_points(
    remote: Remote,
    agreement: Agreement,
    status: RunStatus,
    secret: bytes,
    profile: Profile,
    show_progress: bool | None = None,
    stop: threading.Event | None = None,
    keep_pin: bool = True,
) -> Reblinded | None:
    """Fetch the peer's points of the run, check the peer signed them (against the key ``profile``
    pinned; pinned now on first use when ``keep_pin``), multiply them by our secret, in order; None if
    ``stop`` was set meanwhile."""
    peer = verified_terms(agreement).other(profile.party)
    if agreement.signing_key_of(peer) is None:  # the peer may have given its key since we read the agreement
        agreement = _same_terms(agreement, remote.get(agreement.agreement_id))
    peer_key = pinned_peer_signer(agreement, peer, profile, keep=keep_pin)
    fetched = fetch_signed_points(remote, agreement, status, peer, peer_key, stop)
    if fetched is None:
        return None
    chunks: list[ChunkParts] = []
    with progress("re-blinding partner points", status.peer_points, show_progress) as advance:
        for points in fetched:
            if stop is not None and stop.is_set():
                return None
            pts = current_engine().blind(secret, points, progress=advance)
            chunks.append((pts, b"", b"", chunk_digest(pts), b"", b"", b""))
    return Reblinded(status, chunks, peer, peer_key)


def _reblind_waiting(
    remote: Remote, agreements: Sequence[Agreement], keystore: Keystore, purpose: str, stop: threading.Event
) -> dict[str, Reblinded]:
    done: dict[str, Reblinded] = {}
    for agreement in agreements:
        if stop.is_set():
            break
        try:
            status = remote.status(agreement.agreement_id, purpose=purpose)
            points = (
                reblind_points(
                    remote, agreement, status, keystore.draft(agreement.agreement_id), keystore.owner(), stop=stop, keep_pin=False
                )
                if status.reblind_needed
                else None
            )
        except CleanroomError:  # e.g. the run moved on meanwhile: waiting for the result re-blinds what is due, or says why not
            continue
        if points is not None:
            done[agreement.agreement_id] = points
    return done


@contextmanager
def reblinding_waiting(
    remote: Remote, agreements: Sequence[Agreement], keystore: Keystore, purpose: str
) -> Iterator[dict[str, Reblinded]]:
    """While the body reads our file (one core, for seconds), re-blind the peer points that already wait
    in each agreement's latest run (the pool takes every core), on a helper thread.

    The dict yielded is filled, agreement id -> points, when the body ends without error. Nothing is
    uploaded and no new key is kept here (``Keystore.draft``): a body that fails leaves no trace.
    ``upload_waiting`` sends the points once our own upload has joined their run.
    """
    done: dict[str, Reblinded] = {}
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as helper:
        future = helper.submit(_reblind_waiting, remote, agreements, keystore, purpose, stop)
        try:
            yield done
        except BaseException:
            stop.set()
            raise
        done.update(future.result())


def upload_waiting(
    remote: Remote, agreement: Agreement, early: dict[str, Reblinded], run_id: str, receipts: ReceiptLog, signer: UploadSigner
) -> None:
    """Upload the points ``reblinding_waiting`` re-blinded for this agreement, if they belong to ``run_id``
    (the run our own upload joined: the peer may have uploaded again meanwhile)."""
    points = early.get(agreement.agreement_id)
    if points is not None and points.status.run_id == run_id:
        # Checked against the pin while we read, but not kept: kept now that we send.
        PeerPins(signer.profile.path, SIGNING).check(points.peer, points.peer_key, agreement.agreement_id)
        upload_reblinded(remote, agreement, points.status, points.chunks, receipts, signer)


def reblind_peer(
    remote: Remote,
    agreement: Agreement,
    status: RunStatus,
    secret: bytes,
    receipts: ReceiptLog,
    profile: Profile,
    show_progress: bool | None = None,
) -> UploadReceipt:
    """Fetch the peer's points of the run (checked to be what the peer signed), multiply them by our
    secret, upload them back in order, signed."""
    reblinded = reblind_points(remote, agreement, status, secret, profile, show_progress)
    assert reblinded is not None  # no stop event: it runs to the end
    signer = UploadSigner.of(profile)
    return upload_reblinded(remote, agreement, reblinded.status, reblinded.chunks, receipts, signer, show_progress)


def sync(
    remote: Remote,
    agreement: Agreement,
    keystore: Keystore,
    receipts: ReceiptLog,
    show_progress: bool | None = None,
    purpose: str = "",
) -> RunStatus:
    """Re-blind the peer's points of the latest run of ``purpose`` if they wait for us; return the run's status."""
    status = remote.status(agreement.agreement_id, purpose=purpose)
    return _reblind_if_due(remote, agreement, status, keystore, receipts, show_progress)


def _reblind_if_due(
    remote: Remote, agreement: Agreement, status: RunStatus, keystore: Keystore, receipts: ReceiptLog, show_progress: bool | None
) -> RunStatus:
    """The run's status after re-blinding the peer's points, if ``status`` says they wait for us."""
    if not status.reblind_needed:
        return status
    secret = keystore.secret(agreement.agreement_id)
    reblind_peer(remote, agreement, status, secret, receipts, keystore.owner(), show_progress)
    return remote.status(agreement.agreement_id, status.run_id)


def sync_agreements(remote: Remote, profile: Profile, agreement_id: str | None, wait: float) -> list[dict[str, Any]]:
    """``sync`` over one agreement (or every active one) and each purpose its terms run; with ``wait``, keep
    re-blinding what arrives until each run completes or time is up. One report per agreement and purpose."""
    keystore, receipts = Keystore.of(profile), ReceiptLog.of(profile)
    agreements = [remote.get(agreement_id)] if agreement_id else [a for a in remote.list() if a.state == "active"]
    report = []
    for agreement in agreements:
        terms = verified_terms(agreement)
        for purpose in ("overlap", "attribution") if terms.attribution else ("overlap",):
            status = sync(remote, agreement, keystore, receipts, purpose=purpose)
            if status.state == "none" and purpose == "attribution":
                continue
            if wait > 0 and status.state == "collecting":
                status = wait_for_result(remote, agreement, keystore, receipts, status.run_id, wait)
            report.append(
                {
                    "agreement_id": agreement.agreement_id,
                    "purpose": purpose,
                    "run_id": status.run_id,
                    "state": status.state,
                    "waiting_for": list(status.waiting_for),
                    **({"failure": status.failure} if status.failure else {}),
                }
            )
    return report


class RunFailed(FailedPrecondition):
    """The coordinator could not complete a run (input only it could check was bad): it says why."""


def wait_for_result(
    remote: Remote,
    agreement: Agreement,
    keystore: Keystore,
    receipts: ReceiptLog,
    run_id: str,
    seconds: float,
    show_progress: bool | None = None,
) -> RunStatus:
    """Poll until the run completes or ``seconds`` pass, re-blinding the peer's points when they arrive."""
    return wait_for_results(remote, [(agreement, run_id)], keystore, receipts, seconds, show_progress)[0]


def wait_for_results(
    remote: Remote,
    runs: Sequence[tuple[Agreement, str]],
    keystore: Keystore,
    receipts: ReceiptLog,
    seconds: float,
    show_progress: bool | None = None,
    poll: float = 0.1,
) -> list[RunStatus]:
    """``wait_for_result`` over several runs at once: whichever peer's points arrive first are
    re-blinded first, so no run waits behind another. Statuses in the order of ``runs``; the first
    run that fails (or cannot be re-blinded) stops the wait with its error."""
    results = wait_for_each(remote, runs, keystore, receipts, seconds, show_progress, poll, stop_on_failure=True)
    for result in results:
        if isinstance(result, CleanroomError):
            raise result
    statuses = [r for r in results if isinstance(r, RunStatus)]
    for status in statuses:
        if status.state == "failed":
            raise RunFailed(run_failure(status))
    return statuses


def run_failure(status: RunStatus) -> str:
    """Why a run failed at the coordinator, and what to do, for people."""
    return (
        f"run {status.run_id} of agreement {status.agreement_id} failed at the coordinator: {status.failure} "
        "Nothing was released from it and its points are deleted; fix the input and map again (a new run)."
    )


def wait_for_each(
    remote: Remote,
    runs: Sequence[tuple[Agreement, str]],
    keystore: Keystore,
    receipts: ReceiptLog,
    seconds: float,
    show_progress: bool | None = None,
    poll: float = 0.1,
    stop_on_failure: bool = False,
) -> list[RunStatus | CleanroomError]:
    """Each run's status, or the error that stopped it (a re-blinding refused, say), in the order of
    ``runs``: one run's trouble does not stop the others (``map --all``) unless ``stop_on_failure``."""
    deadline = time.monotonic() + seconds
    results: list[RunStatus | CleanroomError | None] = [None] * len(runs)

    def settled(r: RunStatus | CleanroomError | None) -> bool:
        return r is not None and (isinstance(r, CleanroomError) or r.state != "collecting")

    while True:
        for i, (agreement, run_id) in enumerate(runs):
            if settled(results[i]):
                continue
            try:
                results[i] = _reblind_if_due(
                    remote, agreement, remote.status(agreement.agreement_id, run_id), keystore, receipts, show_progress
                )
            except CleanroomError as exc:
                results[i] = exc
        current = [r for r in results if r is not None]  # every run has a result after the first pass
        failed = any(isinstance(r, CleanroomError) or r.state == "failed" for r in current)
        if (stop_on_failure and failed) or all(map(settled, current)) or time.monotonic() >= deadline:
            return current
        time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
