"""Our upload to a continuous agreement: only what changed since the run that stands, or everything, and why.

An account is known by a digest of its match keys of the agreed kinds; its label (what the coordinator
knows it by) is kept in the profile's sent state (``sent_state``). Against what stands we send:
accounts removed (labels), accounts whose populations changed (labels and new masks), accounts added
(points under new labels, re-blinded by the partner as any points are). An account whose keys changed
is removed and added anew. Everything is sent instead -- a full upload, replacing what stood -- when
there is nothing to build on: the first run, a coordinator that no longer holds our tokens (revoked,
terms or secret changed, a run we have no record of), a changed secret, terms version or normaliser.
Deterministic: the same file against the same state gives the same upload, so a re-run after a crash
resumes it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from cleanroom.errors import InputError
from cleanroom.terms import Terms
from cleanroom_client.inputs.account import key_text
from cleanroom_client.inputs.account_ids import ID_SIZE, IDENTITY_VERSION, account_ids, id_words
from cleanroom_client.inputs.account_table import AccountTable
from cleanroom_client.inputs.rowcache import search_sorted
from cleanroom_client.inputs.version import NORMALISER_VERSION
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.prepare import Blindable, PreparedUpload, UploadChange, membership, prepare
from cleanroom_client.protocol.sent_state import SentState, SentStates
from cleanroom_client.remote import Agreement, Remote


def secret_tag(agreement_id: str, secret: bytes) -> str:
    """A tag of the agreement secret (it changes when the secret does, and reveals nothing of it)."""
    return hashlib.sha256(b"cleanroom/secret-tag/v1\x00" + agreement_id.encode() + b"\x00" + secret).hexdigest()


@dataclasses.dataclass(frozen=True)
class Identities:
    """Our accounts taking part in the agreement: their key digests, population masks, and places in the file's list."""

    ids: np.ndarray  # S16
    masks: np.ndarray  # uint16
    index: np.ndarray  # int64 into the accounts list, ascending
    order: np.ndarray | None = None  # when known: the permutation that sorts ``ids`` by their first 8 bytes


def identities(accounts: Sequence[Blindable], terms: Terms, party: str) -> Identities:
    """Every account in one of our agreement populations with a key of an agreed kind (as ``prepare`` selects)."""
    pops = {pop: i for i, pop in enumerate(terms.populations[party])}
    kinds = sorted(set(terms.key_kinds))
    if isinstance(accounts, AccountTable) and kinds == ["domain"]:  # read through the row cache, matched on domains
        return _domain_identities(accounts, accounts.masks(pops))
    if isinstance(accounts, AccountTable):  # a file read through the row cache: by columns
        masks, texts = accounts.masks(pops), accounts.key_texts(kinds)
    else:
        found = [membership(account, pops, kinds) for account in accounts]
        masks = np.fromiter((mask for mask, _ in found), dtype=np.uint16, count=len(found))
        # An account's keys are sorted (inputs.accounts), so the same keys always give the same text.
        texts = pa.array([key_text(keys) if keys else None for _, keys in found], pa.string())
    has_text = texts.is_valid().to_numpy(zero_copy_only=False)
    index = np.flatnonzero((masks != 0) & has_text)
    ids = account_ids(texts.take(pa.array(index, type=pa.int64())))
    return Identities(ids, masks[index], index.astype(np.int64))


def _domain_identities(accounts: AccountTable, masks: np.ndarray) -> Identities:
    """``identities`` of accounts matched on domains alone: an account is known by the identity its first row's
    record holds (account_ids.domain_ids, kept in the row cache) when its rows are of that one domain. Only
    the accounts of several rows merged by a name key, whose domains are their rows' domains together, are
    digested here."""
    ids = accounts.first.domain_ids.copy()
    has_key = ids != b""  # zeros: the row has no domain
    if len(accounts.merged) and accounts.name_keyed:
        texts = accounts.merged_key_texts(["domain"])
        keyed = np.array([t is not None for t in texts], dtype=bool)
        has_key[accounts.merged] = keyed
        ids[accounts.merged[keyed]] = account_ids([t for t in texts if t is not None])
    chosen = (masks != 0) & has_key
    index = np.flatnonzero(chosen)
    order = None
    if accounts.id_order is not None and not accounts.name_keyed:  # the grouping sorted them by identity
        sorted_accounts = accounts.id_order[chosen[accounts.id_order]]
        slot = np.full(len(accounts), -1, dtype=np.int64)
        slot[index] = np.arange(len(index))
        order = slot[sorted_accounts]
    return Identities(ids[index], masks[index], index.astype(np.int64), order)


def full_reason(state: SentState | None, standing_run_id: str, terms_hash: str, tag: str) -> str:
    """Why we must send every account ("" when a change to what stands will do)."""
    if state is None:
        if standing_run_id:
            return f"this profile has no record of what it sent to run {standing_run_id}"
        return "first run of this continuous agreement"
    if not standing_run_id:
        return "the coordinator holds no standing tokens of ours (revoked, terms or a secret changed, or never completed)"
    if state.run_id != standing_run_id:
        return f"the coordinator's standing tokens come from run {standing_run_id}, this profile's from run {state.run_id}"
    if state.terms_hash != terms_hash:
        return "the agreement's terms changed"
    if state.secret_tag != tag:
        return "the agreement secret changed"
    if state.normaliser_version != NORMALISER_VERSION:
        return f"the normaliser changed (version {state.normaliser_version} -> {NORMALISER_VERSION})"
    if state.identity != IDENTITY_VERSION:
        return f"this client tells accounts apart by another digest than the one that sent them ({state.identity} -> {IDENTITY_VERSION})"
    return ""


def prepare_continuous(
    accounts: Sequence[Blindable],
    terms: Terms,
    party: str,
    agreement: tuple[str, str],
    secret: bytes,
    standing: tuple[str, str],
    states: SentStates,
    max_removed: float | None = None,
) -> PreparedUpload:
    """Our upload under a continuous agreement (``agreement``: its id and terms hash): the change against
    what stands (``standing``: the run and our upload the coordinator stands on), or every account;
    ``proposed`` is what stands once its run completes."""
    agreement_id, terms_hash = agreement
    standing_run_id = standing[0]
    tag = secret_tag(agreement_id, secret)
    state = states.settle(agreement_id, *standing)
    found = identities(accounts, terms, party)
    # Under DP an account enters and leaves the agreement's stream once (the coordinator refuses a return).
    left = state.left if state is not None and terms.dp_epsilon is not None else np.zeros(0, dtype=f"S{ID_SIZE}")
    returning = locate(left, found.ids)[0] if len(left) else np.zeros(len(found.ids), dtype=bool)
    if returning.any():
        found = Identities(found.ids[~returning], found.masks[~returning], found.index[~returning])
    reason = full_reason(state, standing_run_id, terms_hash, tag)
    if not reason and _has_repeats(found.ids, found.order):
        reason = "two accounts share the same match keys"  # grouping merges such rows: never expected
    if reason or state is None:
        prepared = _full(accounts, terms, party, (agreement_id, terms_hash), secret, tag, found, reason)
    else:
        prepared = _delta(accounts, terms, party, secret, tag, found, state)
        _check_removals(agreement_id, prepared, state, max_removed)
    assert prepared.change is not None and prepared.proposed is not None
    prepared.change = dataclasses.replace(prepared.change, held_back=int(returning.sum()))
    prepared.excluded = len(accounts) - len(found.ids)
    if terms.dp_epsilon is not None:
        gone = state.ids[~locate(prepared.proposed.ids, state.ids)[0]] if state is not None else np.zeros(0, dtype=f"S{ID_SIZE}")
        prepared.proposed = dataclasses.replace(prepared.proposed, left=np.union1d(left, gone).astype(f"S{ID_SIZE}"))
    return prepared


def _full(
    accounts: Sequence[Blindable],
    terms: Terms,
    party: str,
    agreement: tuple[str, str],
    secret: bytes,
    tag: str,
    found: Identities,
    reason: str,
) -> PreparedUpload:
    agreement_id, terms_hash = agreement
    # Only the accounts found (those held back under DP left out); label_to_account then gives their places.
    prepared = prepare(_subset(accounts, found.index), terms, party, agreement_id, secret)
    slots = np.asarray(prepared.label_to_account, dtype=np.int64)
    prepared.label_to_account = found.index[slots].tolist()  # back to places in the file's list (reveal reads them)
    labels = np.arange(len(slots), dtype=np.uint32)
    proposed = _sorted_state(
        SentState(agreement_id, "", terms_hash, tag, NORMALISER_VERSION, len(slots), found.ids[slots], labels, found.masks[slots])
    )
    prepared.change = UploadChange("", tag, reason=reason)
    prepared.proposed = proposed
    return prepared


def _delta(
    accounts: Sequence[Blindable], terms: Terms, party: str, secret: bytes, tag: str, found: Identities, state: SentState
) -> PreparedUpload:
    present, where = locate(state.ids, found.ids, found.order)
    at = where[present]
    moved = found.masks[present] != state.masks[at]
    changed_labels, changed_masks = state.labels[at][moved], found.masks[present][moved]
    kept = np.zeros(len(state.ids), dtype=bool)
    kept[at] = True
    removed = state.labels[~kept]
    added = np.flatnonzero(~present)
    prepared = _prepare_added(_subset(accounts, found.index[added]), terms, party, state.agreement_id, secret)
    prepared.accounts = (prepared.accounts.astype(np.int64) + state.next_label).astype(np.uint32)
    new_labels = np.arange(state.next_label, state.next_label + len(added), dtype=np.uint32)
    added_ids = found.ids[added][np.asarray(prepared.label_to_account, dtype=np.int64)]
    masks = state.masks.copy()
    masks[at[moved]] = changed_masks
    proposed = _sorted_state(
        dataclasses.replace(
            state,
            run_id="",
            next_label=state.next_label + len(added),
            ids=np.concatenate([state.ids[kept], added_ids]).astype(f"S{ID_SIZE}"),
            labels=np.concatenate([state.labels[kept], new_labels]),
            masks=np.concatenate([masks[kept], found.masks[added][np.asarray(prepared.label_to_account, dtype=np.int64)]]),
        )
    )
    prepared.total_accounts = proposed.accounts
    prepared.label_to_account = []  # labels of a change are not 0..n-1: nothing may read them as list positions
    prepared.change = UploadChange(
        state.run_id,
        tag,
        np.sort(removed).astype("<u4").tobytes(),
        changed_labels.astype("<u4").tobytes(),
        changed_masks.astype("<u2").tobytes(),
        counts=(len(added), len(removed), len(changed_labels)),
    )
    prepared.proposed = proposed
    return prepared


class TooManyRemoved(InputError):
    """A change would remove more of the standing accounts than the caller allows (a broken export, most likely)."""


def _check_removals(agreement_id: str, prepared: PreparedUpload, state: SentState, max_removed: float | None) -> None:
    """Refuse a change that removes more than ``max_removed`` of what stands (None: any share)."""
    assert prepared.change is not None
    removed = prepared.change.counts[1]
    if max_removed is None or not state.accounts or removed / state.accounts <= max_removed:
        return
    raise TooManyRemoved(
        f"agreement {agreement_id}: the change would remove {removed:,} of the {state.accounts:,} accounts that stand "
        f"({removed / state.accounts:.0%}, more than --max-shrink {max_removed:g}); nothing was sent. If they really "
        "are gone, run with --allow-shrink (or raise --max-shrink)."
    )


def locate(sorted_ids: np.ndarray, ids: np.ndarray, order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``ids``: whether it is in ``sorted_ids`` (S16, sorted), and where. Searched on the first 8
    bytes as integers (several times faster than on 16-byte strings), in their sorted order (``order``, when
    the caller has it, else sorted here), then checked whole; the rare id that shares its first 8 bytes with
    another is searched again on all 16."""
    n = len(sorted_ids)
    where = np.zeros(len(ids), dtype=np.int64)
    if n and order is not None:
        where[order] = np.searchsorted(_prefix(sorted_ids), _prefix(ids)[order])
    elif n:
        where = search_sorted(_prefix(sorted_ids), _prefix(ids))
    inside = where < n
    same_prefix = np.zeros(len(ids), dtype=bool)
    same_prefix[inside] = _prefix(sorted_ids)[where[inside]] == _prefix(ids)[inside]
    present = same_prefix.copy()
    present[same_prefix] = sorted_ids[where[same_prefix]] == ids[same_prefix]
    ambiguous = same_prefix & ~present
    if ambiguous.any():
        where[ambiguous] = np.searchsorted(sorted_ids, ids[ambiguous])
        fits = where[ambiguous] < n
        again = np.zeros(int(ambiguous.sum()), dtype=bool)
        again[fits] = sorted_ids[where[ambiguous][fits]] == ids[ambiguous][fits]
        present[ambiguous] = again
    return present, where


def _has_repeats(ids: np.ndarray, order: np.ndarray | None = None) -> bool:
    """Whether an id occurs twice. Sorted on the first 8 bytes as integers (a sort of 16-byte strings costs
    three times as much; ``order``, when the caller has it, sorts them); only ids whose prefix repeats, almost
    never any, are compared whole."""
    if len(ids) < 2:
        return False
    prefix = _prefix(ids)[order] if order is not None else np.sort(_prefix(ids))
    repeated = prefix[1:][prefix[1:] == prefix[:-1]]
    if not len(repeated):
        return False
    candidates = ids[np.isin(_prefix(ids), repeated)]
    return len(np.unique(candidates)) < len(candidates)


def _prefix(ids: np.ndarray) -> np.ndarray:
    """The first 8 bytes of each 16-byte id, as big-endian integers (they sort as the ids do)."""
    return id_words(ids)[:, 0]


def _prepare_added(added: Sequence[Blindable], terms: Terms, party: str, agreement_id: str, secret: bytes) -> PreparedUpload:
    if added:
        return prepare(added, terms, party, agreement_id, secret)
    return PreparedUpload(
        points=b"",
        accounts=np.zeros(0, np.uint32),
        populations=np.zeros(0, np.uint16),
        total_accounts=0,
        excluded=0,
        label_to_account=[],
    )


def _subset(accounts: Sequence[Blindable], index: np.ndarray) -> Sequence[Blindable]:
    """The accounts at ``index`` (ascending): an AccountTable stays columns."""
    if isinstance(accounts, AccountTable):
        return accounts.subset(index)
    return [accounts[int(i)] for i in index]


def _sorted_state(state: SentState) -> SentState:
    order = np.argsort(state.ids, kind="stable")
    return dataclasses.replace(state, ids=state.ids[order], labels=state.labels[order], masks=state.masks[order])


def prepare_own(
    remote: Remote,
    profile: Profile,
    agreement: Agreement,
    terms: Terms,
    accounts: Sequence[Blindable],
    secret: bytes,
    max_removed: float | None = None,
) -> PreparedUpload:
    """Our overlap upload under an agreement: every account for a one-off run; for a continuous agreement,
    the change against what the coordinator says stands for us (or every account, and why)."""
    if not terms.continuous:
        return prepare(accounts, terms, profile.party, agreement.agreement_id, secret)
    status = remote.status(agreement.agreement_id, purpose="overlap")
    return prepare_continuous(
        accounts,
        terms,
        profile.party,
        (agreement.agreement_id, agreement.terms_hash),
        secret,
        (status.standing_run_id, status.standing_upload_id),
        SentStates(profile),
        max_removed,
    )
