"""Mapping accounts through the coordinator: blind, upload, re-blind, wait, read.

Everything here is resumable. Our points are a deterministic function of the
file and the agreement's secret (blinding is deterministic and the upload is
sorted by blinded value, which also hides the file's row order), so a re-run
after a crash produces the same chunks and digests, and the coordinator tells
us which chunks it already holds.
"""

from __future__ import annotations

import math
import os
import threading
import time
from array import array
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from cleanroom.attribution.recordio import split_rows
from cleanroom.protocol import MAX_CHUNK_POINTS, chunk_digest, upload_digest
from cleanroom.terminal.console import progress
from cleanroom.errors import CleanroomError, FailedPrecondition, ProtocolError
from cleanroom.psi import POINT_SIZE, blind, hash_and_blind
from cleanroom.crypto.sealed import pack_chunk
from cleanroom.terms import Terms, parse_terms, terms_hash
from typing import TYPE_CHECKING

from cleanroom_client.protocol.keystore import Keystore
from cleanroom_client.protocol.receipts import ReceiptLog
from cleanroom_client.remote import Agreement, Chunk, Remote, RunStatus, UploadKind, UploadReceipt, UploadRequest, UploadSession

if TYPE_CHECKING:
    from cleanroom_client.inputs.accounts import Account


def verified_terms(agreement: Agreement) -> Terms:
    """Parse terms after checking the coordinator did not alter them under their hash."""
    if terms_hash(agreement.terms_json) != agreement.terms_hash:
        raise ProtocolError(f"agreement {agreement.agreement_id}: the terms do not match their hash; refusing to use them")
    return parse_terms(agreement.terms_json)


def require_runnable(agreement: Agreement) -> None:
    """Fail before reading and blinding a file when the coordinator would refuse the run anyway.

    The coordinator stays the authority (it checks again); this only spares a
    user minutes of blinding and a second line of output.
    """
    if agreement.state == "revoked":
        raise FailedPrecondition(f"agreement {agreement.agreement_id} was revoked; no further runs")
    if agreement.state != "active":
        waiting = [p for p in (agreement.proposer, agreement.counterparty) if p not in agreement.approved_by]
        raise FailedPrecondition(f"agreement {agreement.agreement_id} is not approved yet (waiting for {', '.join(waiting)})")


def hash_context(agreement_id: str, kind: str) -> bytes:
    """Binds every point to one agreement and one key kind."""
    return f"{agreement_id}/{kind}".encode()


@dataclass
class PreparedUpload:
    points: bytes  # sorted blinded points
    accounts: np.ndarray  # uint32 account label per point
    populations: np.ndarray  # uint16 mask per point
    total_accounts: int
    excluded: int  # accounts in none of our agreement populations
    label_to_account: list[int]  # account label -> index into the accounts list
    # Attribution runs only: deal or touch records (cleanroom.attribution.recordio), spread over the chunks.
    records: np.ndarray | None = None
    # Overlap runs that reveal accounts to the peer: (label, ciphertext) of our shared
    # fields in label order, and the upload's ephemeral X25519 key (cleanroom/sealed.py).
    sealed: list[tuple[int, bytes]] = field(default_factory=list)
    sealed_ephemeral: bytes = b""

    def chunk_points_for(self, chunk_points: int = MAX_CHUNK_POINTS) -> int:
        """Points per chunk, smaller when sealed fields would make a chunk too big for one message."""
        if not self.sealed:
            return chunk_points
        sealed_bytes = sum(8 + len(c) for _, c in self.sealed)
        n = max(math.ceil(len(self.accounts) / chunk_points), math.ceil(sealed_bytes / SEALED_BYTES_PER_CHUNK))
        return max(1, math.ceil(len(self.accounts) / n))

    def chunks(self, chunk_points: int = MAX_CHUNK_POINTS) -> list[tuple[bytes, bytes, bytes, str, bytes, bytes]]:
        starts = range(0, len(self.accounts), chunk_points)
        records = split_rows(self.records, len(starts)) if self.records is not None else [b""] * len(starts)
        out = []
        for i, (start, recs) in enumerate(zip(starts, records)):
            stop = min(start + chunk_points, len(self.accounts))
            pts = self.points[start * POINT_SIZE : stop * POINT_SIZE]
            acc = self.accounts[start:stop].astype("<u4").tobytes()
            pops = self.populations[start:stop].astype("<u2").tobytes()
            share = self.sealed[i * len(self.sealed) // len(starts) : (i + 1) * len(self.sealed) // len(starts)]
            seal = pack_chunk(self.sealed_ephemeral, share) if share else b""
            out.append((pts, acc, pops, chunk_digest(pts, acc, pops, recs, seal), recs, seal))
        return out


def prepare(accounts: "list[Account]", terms: Terms, party: str, agreement_id: str, secret: bytes, show_progress: bool | None = None) -> PreparedUpload:
    index = {pop: i for i, pop in enumerate(terms.populations[party])}
    keys_by_kind: dict[str, list[str]] = {k: [] for k in terms.key_kinds}
    # Machine integers, not lists of Python ints: a million accounts must map in well under 1 GB.
    owners: dict[str, array] = {k: array("q") for k in terms.key_kinds}
    masks: list[int] = []
    kept = array("q")
    for i, account in enumerate(accounts):
        mask = 0
        for pop in account.populations:
            if pop in index:
                mask |= 1 << index[pop]
        keys = [k for k in account.keys if k.kind in keys_by_kind]
        if mask == 0 or not keys:
            continue
        slot = len(kept)
        kept.append(i)
        masks.append(mask)
        for key in keys:
            keys_by_kind[key.kind].append(key.value)
            owners[key.kind].append(slot)
    total = sum(len(v) for v in keys_by_kind.values())
    blinded, owner = [], array("q")
    with progress("blinding", total, show_progress) as advance:
        for kind, values in keys_by_kind.items():
            if values:
                blinded.append(hash_and_blind(values, hash_context(agreement_id, kind), secret, progress=advance))
                owner.extend(owners[kind])
    del keys_by_kind, owners  # the intermediates go as soon as they are used (peak memory)
    points = b"".join(blinded)
    del blinded
    words = np.frombuffer(points, dtype=">u8").reshape(-1, 4)
    order = np.lexsort((words[:, 3], words[:, 2], words[:, 1], words[:, 0])) if len(words) else np.zeros(0, dtype=np.int64)
    del words
    sorted_points = np.frombuffer(points, dtype="V32")[order].tobytes()
    del points
    owner_sorted = np.frombuffer(owner, dtype=np.int64)[order] if len(owner) else np.zeros(0, dtype=np.int64)
    del owner
    # Account labels in order of first appearance: they carry no row order.
    _, first = np.unique(owner_sorted, return_index=True)
    slot_by_rank = owner_sorted[np.sort(first)]
    label_of_slot = np.empty(len(kept), dtype=np.int64)
    label_of_slot[slot_by_rank] = np.arange(len(slot_by_rank))
    masks_arr = np.asarray(masks, dtype=np.uint16)
    return PreparedUpload(
        points=sorted_points,
        accounts=label_of_slot[owner_sorted].astype(np.uint32),
        populations=masks_arr[owner_sorted],
        total_accounts=len(kept),
        excluded=len(accounts) - len(kept),
        label_to_account=np.frombuffer(kept, dtype=np.int64)[slot_by_rank].tolist() if len(kept) else [],
    )


# Sealed fields per chunk stay well under the 8 MiB message limit, beside up to 1.2 MiB of points and labels.
SEALED_BYTES_PER_CHUNK = 3 * 1024 * 1024

# Fault injection for the crash-recovery tests: the process dies (no cleanup,
# like SIGKILL) right after handing this many chunks to gRPC.
FAULT_EXIT_AFTER_CHUNKS = "CLEANROOM_FAULT_EXIT_AFTER_CHUNKS"


def _fault_exit_after() -> int | None:
    value = os.environ.get(FAULT_EXIT_AFTER_CHUNKS)
    return int(value) if value else None


def _send(remote: Remote, session: UploadSession, chunks: list[tuple[bytes, ...]], show_progress: bool | None, label: str) -> None:
    have = set(session.received_chunks)
    die_after = _fault_exit_after()
    todo = [seq for seq in range(len(chunks)) if seq not in have]
    if not todo or session.committed:
        return
    total = sum(len(chunks[s][0]) // POINT_SIZE for s in todo)
    with progress(label, total, show_progress) as advance:

        def stream() -> Iterator[Chunk]:
            for sent, seq in enumerate(todo, start=1):
                pts, acc, pops, digest, recs, seal = chunks[seq]
                yield Chunk(upload_id=session.upload_id, seq=seq, points=pts, digest=digest, accounts=acc, populations=pops,
                            records=recs, sealed=seal)
                advance(len(pts) // POINT_SIZE)
                if die_after is not None and sent >= die_after:
                    time.sleep(0.5)  # let gRPC put the chunks on the wire, then die mid-upload
                    os._exit(137)

        remote.upload_chunks(stream())


def upload_own(
    remote: Remote,
    agreement: Agreement,
    prepared: PreparedUpload,
    receipts: ReceiptLog,
    show_progress: bool | None = None,
    chunk_points: int = MAX_CHUNK_POINTS,
    purpose: str = "",
) -> UploadReceipt:
    chunks = prepared.chunks(prepared.chunk_points_for(chunk_points))
    digests = [c[3] for c in chunks]
    session = remote.begin_upload(UploadRequest(
        agreement_id=agreement.agreement_id,
        terms_hash=agreement.terms_hash,
        kind=UploadKind.OWN,
        total_points=len(prepared.accounts),
        total_chunks=len(chunks),
        total_accounts=prepared.total_accounts,
        upload_digest=upload_digest(digests),
        purpose=purpose,
    ))
    _send(remote, session, chunks, show_progress, "uploading")
    receipt = remote.commit(session.upload_id)
    receipts.record_upload(receipt, digests)
    return receipt


@dataclass
class Reblinded:
    """The peer's points of a run, multiplied by our secret, not yet uploaded."""

    status: RunStatus  # the run's status when the points were fetched
    chunks: list[tuple[bytes, ...]]


def reblind_points(remote: Remote, status: RunStatus, secret: bytes, show_progress: bool | None = None,
                   stop: threading.Event | None = None) -> Reblinded | None:
    """Fetch the peer's points of the run and multiply them by our secret, in order; None if ``stop`` was set meanwhile."""
    chunks = []
    with progress("re-blinding partner points", status.peer_points, show_progress) as advance:
        for seq, chunk in enumerate(remote.peer_points(status.run_id)):
            if stop is not None and stop.is_set():
                return None
            if chunk.seq != seq or chunk_digest(chunk.points) != chunk.digest:
                raise ProtocolError(f"the coordinator sent peer chunk {chunk.seq} out of order or corrupted; run sync again")
            pts = blind(secret, chunk.points, progress=advance)
            chunks.append((pts, b"", b"", chunk_digest(pts), b"", b""))
    if len(chunks) != status.peer_chunks:
        raise ProtocolError(f"expected {status.peer_chunks} peer chunks, received {len(chunks)}; run sync again")
    return Reblinded(status, chunks)


def upload_reblinded(remote: Remote, agreement: Agreement, reblinded: Reblinded, receipts: ReceiptLog,
                     show_progress: bool | None = None) -> UploadReceipt:
    status, chunks = reblinded.status, reblinded.chunks
    digests = [c[3] for c in chunks]
    session = remote.begin_upload(UploadRequest(
        agreement_id=agreement.agreement_id,
        terms_hash=agreement.terms_hash,
        kind=UploadKind.REBLINDED,
        run_id=status.run_id,
        of_upload_id=status.peer_upload_id,
        total_points=status.peer_points,
        total_chunks=status.peer_chunks,
        upload_digest=upload_digest(digests),
    ))
    _send(remote, session, chunks, show_progress, "uploading re-blinded points")
    receipt = remote.commit(session.upload_id)
    receipts.record_upload(receipt, digests)
    return receipt


def _reblind_waiting(remote: Remote, agreements: Sequence[Agreement], keystore: Keystore, purpose: str,
                     stop: threading.Event) -> dict[str, Reblinded]:
    done: dict[str, Reblinded] = {}
    for agreement in agreements:
        if stop.is_set():
            break
        try:
            status = remote.status(agreement.agreement_id, purpose=purpose)
            points = reblind_points(remote, status, keystore.draft(agreement.agreement_id), stop=stop) if status.reblind_needed else None
        except CleanroomError:  # e.g. the run moved on meanwhile: waiting for the result re-blinds what is due, or says why not
            continue
        if points is not None:
            done[agreement.agreement_id] = points
    return done


@contextmanager
def reblinding_waiting(remote: Remote, agreements: Sequence[Agreement], keystore: Keystore,
                       purpose: str) -> Iterator[dict[str, Reblinded]]:
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


def upload_waiting(remote: Remote, agreement: Agreement, early: dict[str, Reblinded], run_id: str,
                   receipts: ReceiptLog) -> None:
    """Upload the points ``reblinding_waiting`` re-blinded for this agreement, if they belong to ``run_id``
    (the run our own upload joined: the peer may have uploaded again meanwhile)."""
    points = early.get(agreement.agreement_id)
    if points is not None and points.status.run_id == run_id:
        upload_reblinded(remote, agreement, points, receipts)


def reblind_peer(remote: Remote, agreement: Agreement, status: RunStatus, secret: bytes, receipts: ReceiptLog, show_progress: bool | None = None) -> UploadReceipt:
    """Fetch the peer's points of the run, multiply them by our secret, upload them back in order."""
    reblinded = reblind_points(remote, status, secret, show_progress)
    assert reblinded is not None  # no stop event: it runs to the end
    return upload_reblinded(remote, agreement, reblinded, receipts, show_progress)


def sync(
    remote: Remote, agreement: Agreement, keystore: Keystore, receipts: ReceiptLog,
    show_progress: bool | None = None, purpose: str = "",
) -> RunStatus:
    """Re-blind the peer's points of the latest run of ``purpose`` if they wait for us; return the run's status."""
    status = remote.status(agreement.agreement_id, purpose=purpose)
    if status.reblind_needed:
        reblind_peer(remote, agreement, status, keystore.secret(agreement.agreement_id), receipts, show_progress)
        status = remote.status(agreement.agreement_id, status.run_id)
    return status


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
    poll: float = 0.25,
) -> list[RunStatus]:
    """``wait_for_result`` over several runs at once: whichever peer's points arrive first are
    re-blinded first, so no run waits behind another. Statuses in the order of ``runs``."""
    deadline = time.monotonic() + seconds
    statuses: list[RunStatus | None] = [None] * len(runs)
    while True:
        for i, (agreement, run_id) in enumerate(runs):
            if statuses[i] is not None and statuses[i].state != "collecting":
                continue
            status = remote.status(agreement.agreement_id, run_id)
            if status.reblind_needed:
                reblind_peer(remote, agreement, status, keystore.secret(agreement.agreement_id), receipts, show_progress)
                status = remote.status(agreement.agreement_id, run_id)
            statuses[i] = status
        if all(s.state != "collecting" for s in statuses) or time.monotonic() >= deadline:
            return statuses  # type: ignore[return-value]
        time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
