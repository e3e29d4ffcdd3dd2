"""``map --all FILE``: read and normalise our file once, and bring every active agreement up to date.

Each agreement gets a full run of its own, exactly as ``map`` would make it:
its own secret (tokens stay unlinkable across agreements), its own populations,
key kinds, sealed columns and signed uploads. The reading is shared, and so is
hashing keys to the curve for agreements whose terms hash by key kind
(protocol/hashed_keys.py); the upload of one agreement overlaps the blinding of
the next (one uploader thread, as attribution's vendor path does).

One agreement's trouble is its own: a column its terms share that the file
lacks, a partner key that changed, an upload refused, a run that fails at the
coordinator -- that agreement is reported failed with the reason and the
others go on. Agreements not active (proposed, revoked) are reported skipped.

The file is read once per distinct set of match keys: name+country keys merge
rows into accounts differently (two rows sharing a name and country become one
account), so agreements with ``--name-key`` need a read of their own when
others have domain keys only; the summary says how many reads there were.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cleanroom.crypto.sealed import SealContext
from cleanroom.errors import CleanroomError
from cleanroom.protocol import MAX_CHUNK_POINTS
from cleanroom.terms import Terms
from cleanroom.terms_value import value_grant
from cleanroom_client.features.map_workflow import DealsLoader, Loader, released
from cleanroom_client.features.reveal import RevealPlan, peer_public_key, save_account_map, shared_headers
from cleanroom_client.inputs.accounts import LoadResult
from cleanroom_client.inputs.custom_populations import for_agreement
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.agreements import verified_terms
from cleanroom_client.protocol.continuous import prepare_own
from cleanroom_client.protocol.encryption import EncryptionKeys
from cleanroom_client.protocol.hashed_keys import hashing_once
from cleanroom_client.protocol.keystore import Keystore
from cleanroom_client.protocol.prepare import PreparedUpload
from cleanroom_client.protocol.reblind import Reblinded, reblinding_waiting, run_failure, upload_waiting, wait_for_each
from cleanroom_client.protocol.receipts import ReceiptLog
from cleanroom_client.protocol.sealing import seal_upload
from cleanroom_client.protocol.signing import UploadSigner
from cleanroom_client.protocol.upload import upload_own
from cleanroom_client.remote import Agreement, Remote, RunStatus


@dataclass
class Outcome:
    """One agreement's line of the summary."""

    agreement_id: str
    partner: str
    state: str  # complete | collecting | skipped | failed
    reason: str = ""  # why skipped or failed
    run_id: str = ""
    waiting_for: tuple[str, ...] = ()
    accounts: int = 0  # our accounts blinded and uploaded under this agreement
    view: dict[str, Any] | None = None  # the overlap released to us, when complete
    upload: dict[str, Any] | None = None  # continuous agreements: the change sent, or why every account was

    def fail(self, reason: str) -> None:
        self.state, self.reason = "failed", reason

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"agreement_id": self.agreement_id, "partner": self.partner, "state": self.state}
        if self.reason:
            body["reason"] = self.reason
        if self.run_id:
            body.update(run_id=self.run_id, accounts=self.accounts, waiting_for=list(self.waiting_for))
        if self.upload is not None:
            body["upload"] = self.upload
        if self.view is not None:
            body["overlap"] = self.view
        return body


@dataclass
class Job:
    """An active agreement we run: its terms and what they mean for our file."""

    agreement: Agreement
    terms: Terms
    plan: RevealPlan
    outcome: Outcome
    headers: dict[str, str] = field(default_factory=dict)  # terms column -> our file's header, when we seal
    peer_public: bytes = b""

    @property
    def name_key(self) -> bool:
        return "name" in self.terms.key_kinds


@dataclass
class Read:
    """One read of the file, and the agreements it serves."""

    name_key: bool
    loaded: LoadResult | None  # None when the read failed (its agreements failed with the reason)
    agreements: list[str]


@dataclass
class MapAllResult:
    reads: list[Read]
    outcomes: list[Outcome]

    @property
    def failed(self) -> bool:
        return any(o.state == "failed" for o in self.outcomes)


def classify(agreements: Sequence[Agreement], party: str) -> tuple[list[Job], list[Outcome]]:
    """The active agreements to run, and an outcome (skipped, or failed when the terms do not check) for every other."""
    jobs, others = [], []
    for agreement in sorted(agreements, key=lambda a: a.agreement_id):
        peer = agreement.counterparty if agreement.proposer == party else agreement.proposer
        outcome = Outcome(agreement.agreement_id, peer, "skipped")
        if agreement.state == "revoked":
            outcome.reason = "revoked: no further runs"
        elif agreement.state != "active":
            waiting = [p for p in (agreement.proposer, agreement.counterparty) if p not in agreement.approved_by]
            outcome.reason = f"{agreement.state}: not approved yet (waiting for {', '.join(waiting) or 'approval'})"
        else:
            try:
                terms = verified_terms(agreement)
                jobs.append(Job(agreement, terms, RevealPlan.of(terms, party), outcome))
                continue
            except CleanroomError as exc:
                outcome.fail(str(exc))
        others.append(outcome)
    return jobs, others


def read_plan(jobs: Sequence[Job]) -> dict[bool, list[Job]]:
    """The reads the jobs need, by whether they match on names too: one read unless both kinds are wanted."""
    plan: dict[bool, list[Job]] = {}
    for job in jobs:
        plan.setdefault(job.name_key, []).append(job)
    return dict(sorted(plan.items()))


def map_all(
    remote: Remote,
    profile: Profile,
    load: Loader,
    chunk_points: int = MAX_CHUNK_POINTS,
    wait: float = 0.0,
    max_removed: float | None = None,
    load_deals: DealsLoader | None = None,
) -> MapAllResult:
    """``max_removed``: refuse (per agreement) a continuous change that removes more than this share of what
    stands (the agent's guard against a broken export); None allows any. ``load_deals``: our deals file,
    for the agreements that grant us pipeline value."""
    jobs, others = classify(remote.list(), profile.party)
    keys = Keystore.of(profile)
    # The partners' points already waiting are re-blinded while the file is read (see reblinding_waiting).
    with reblinding_waiting(remote, [j.agreement for j in jobs], keys, "overlap") as early:
        reads = _read(jobs, load)
    loaded_for = {j.agreement.agreement_id: r.loaded for r in reads for j in jobs if j.agreement.agreement_id in r.agreements}
    ready = [j for j in jobs if j.outcome.state != "failed" and _checked(j, profile, loaded_for)]
    uploaded = _blind_and_upload(remote, profile, keys, ready, loaded_for, early, (chunk_points, max_removed), load_deals)
    log = ReceiptLog.of(profile)
    results = wait_for_each(remote, [(j.agreement, j.outcome.run_id) for j in uploaded], keys, log, wait)
    for job, result in zip(uploaded, results, strict=True):
        _settle(remote, profile, job, result, log)
    return MapAllResult(reads, sorted([j.outcome for j in jobs] + others, key=lambda o: o.agreement_id))


def _read(jobs: Sequence[Job], load: Loader) -> list[Read]:
    """Read the file once per key set needed; a read that fails fails its agreements (all of them: raise)."""
    keep_fields = any(j.plan.seals or j.plan.views for j in jobs)  # rows kept only when some agreement reveals
    reads, first_error = [], None
    for name_key, group in read_plan(jobs).items():
        ids = [j.agreement.agreement_id for j in group]
        try:
            reads.append(Read(name_key, load(name_key, keep_fields), ids))
        except CleanroomError as exc:
            first_error = first_error or exc
            reads.append(Read(name_key, None, ids))
            for job in group:
                job.outcome.fail(str(exc))
    if first_error is not None and all(r.loaded is None for r in reads):
        raise first_error  # the file serves no agreement: one error, not one line per agreement
    return reads


def _checked(job: Job, profile: Profile, loaded_for: dict[str, LoadResult | None]) -> bool:
    """What the terms need of our file (the columns of populations they define by a filter, custom populations
    at least the minimum set size, the shared columns, the partner's pinned key), checked before anything is
    blinded; False, with the agreement failed and why, when the file cannot serve its terms."""
    agreement_id = job.agreement.agreement_id
    loaded = loaded_for[agreement_id]
    assert loaded is not None  # a failed read failed its jobs
    try:
        loaded = loaded_for[agreement_id] = for_agreement(loaded, job.terms, profile.party, agreement_id)
    except CleanroomError as exc:
        job.outcome.fail(str(exc))
        return False
    if not job.plan.seals:
        return True
    try:
        job.headers = shared_headers(job.plan, loaded, job.agreement.agreement_id)
        # Pinned here on the main thread, before the uploader thread starts writing pins of its own.
        job.peer_public = peer_public_key(profile, job.agreement, job.plan)
    except CleanroomError as exc:
        job.outcome.fail(str(exc))
        return False
    return True


def _blind_and_upload(
    remote: Remote,
    profile: Profile,
    keys: Keystore,
    jobs: Sequence[Job],
    loaded_for: dict[str, LoadResult | None],
    early: dict[str, Reblinded],
    limits: tuple[int, float | None],
    load_deals: DealsLoader | None = None,
) -> list[Job]:
    """Blind (and seal) each agreement's points on every core while the previous agreement uploads on a
    thread; the jobs whose upload joined a run (their outcome holds it)."""
    log, signer = ReceiptLog.of(profile), UploadSigner.of(profile)
    chunk_points, max_removed = limits
    pending: list[tuple[Job, Future[str]]] = []
    with ThreadPoolExecutor(max_workers=1) as uploader, hashing_once():
        for job in jobs:
            loaded = loaded_for[job.agreement.agreement_id]
            assert loaded is not None
            try:
                prepared = _prepared(remote, job, profile, keys, loaded, max_removed)
                if value_grant(job.terms.release, profile.party) is not None:
                    from cleanroom_client.features.pipeline_value import add_values  # only under a grant (map_workflow)

                    deals = load_deals(job.name_key) if load_deals is not None else None
                    add_values(profile, job.agreement, job.terms, prepared, loaded.accounts, deals)
            except CleanroomError as exc:
                job.outcome.fail(str(exc))
                continue
            job.outcome.accounts = prepared.total_accounts
            job.outcome.upload = prepared.change.describe() if prepared.change is not None else None
            pending.append(
                (job, uploader.submit(_send, remote, profile, job, prepared, loaded, early, log, signer, chunk_points))
            )
            del prepared  # the uploader holds it until sent: at most two agreements' points in memory
        uploaded = []
        for job, upload in pending:
            try:
                job.outcome.run_id = upload.result()
                job.outcome.state = "collecting"
                uploaded.append(job)
            except CleanroomError as exc:
                job.outcome.fail(str(exc))
    return uploaded


def _prepared(
    remote: Remote, job: Job, profile: Profile, keys: Keystore, loaded: LoadResult, max_removed: float | None
) -> PreparedUpload:
    """Our points under this agreement: its own secret and hash context, its populations and key kinds; sealed where granted."""
    agreement, plan = job.agreement, job.plan
    prepared = prepare_own(
        remote, profile, agreement, job.terms, loaded.accounts, keys.secret(agreement.agreement_id), max_removed
    )
    if plan.seals:
        seal_upload(
            prepared,
            loaded.accounts,
            plan.seal_populations,
            job.headers,
            SealContext(agreement.agreement_id, agreement.terms_hash, plan.party, plan.peer),
            EncryptionKeys(profile.path),
            job.peer_public,
        )
    return prepared


def _send(
    remote: Remote,
    profile: Profile,
    job: Job,
    prepared: PreparedUpload,
    loaded: LoadResult,
    early: dict[str, Reblinded],
    log: ReceiptLog,
    signer: UploadSigner,
    chunk_points: int,
) -> str:
    """On the uploader thread: our signed upload, the partner's points re-blinded while we read, our side of
    the reveal join; the run our upload joined."""
    receipt = upload_own(remote, job.agreement, prepared, log, signer, chunk_points=chunk_points)
    upload_waiting(remote, job.agreement, early, receipt.run_id, log, signer)
    if job.plan.views:
        save_account_map(profile.path, job.agreement, receipt.run_id, prepared, loaded, job.plan)
    return receipt.run_id


def _settle(remote: Remote, profile: Profile, job: Job, result: RunStatus | CleanroomError, log: ReceiptLog) -> None:
    """The agreement's outcome from its run's status: the overlap when complete, checked and kept."""
    outcome = job.outcome
    if isinstance(result, CleanroomError):
        outcome.fail(str(result))
        return
    outcome.state, outcome.waiting_for = result.state, tuple(result.waiting_for)
    if result.state == "failed":
        outcome.fail(run_failure(result))
        return
    try:
        shown = released(remote, profile, job.agreement, job.terms, result, log)
    except CleanroomError as exc:
        outcome.fail(str(exc))
        return
    outcome.view = shown.view
    if shown.problem:
        outcome.fail(shown.problem)
