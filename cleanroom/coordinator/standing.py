"""Continuous agreements: the standing tokens a run changes instead of starting over.

A continuous agreement keeps, between runs, each party's accounts as double-blinded tokens (its points
as the other party re-blinded them: never single-blinded points, which are deleted when the run that
carried them completes), their population masks and the pairs that match. Each own upload either holds
every account (a *full* upload, replacing the party's standing side) or changes the standing side of a
named run: accounts removed by label, population masks changed by label, accounts added as new points
with new labels. A run joins only what was added against what stands, and releases the new full matrix
under the same guardrails. The standing state goes when the agreement is revoked or its terms change,
and both sides' go when a party's secret changes (the partner's standing tokens carry the old one).

At most one release per epoch: a new run opens only in an epoch later than the last completion's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from cleanroom.coordinator.agreements import Agreement
from cleanroom.coordinator.overlap import OverlapCounts, SideTokens, counts_of_pairs
from cleanroom.coordinator.store import Store, Tx, dp_events, now
from cleanroom.coordinator.store.records import RunRow, UploadChanges
from cleanroom.coordinator.store.standing import StandingSide, token_table
from cleanroom.distinct import distinct_sorted
from cleanroom.errors import FailedPrecondition, InvalidArgument, ProtocolError
from cleanroom.terms import Terms

SECRET_TAG = re.compile(r"^[0-9a-f]{64}$")
# Under DP, the events one key may cause over a continuous agreement's stream: entering it, two moves (its
# account to other populations, or the key to another account), leaving it. The noise is calibrated for
# this many per key kind (completion.py), so epsilon bounds what the releases say about one account.
EVENTS_PER_KEY = 4


class RepeatedTokens(ProtocolError):
    """A change added tokens that already stand. Either the uploader added accounts it had (an honest change
    adds only new ones) or its partner re-blinded a new point as an old one it kept: the coordinator cannot
    tell which, so the run fails naming neither."""


@dataclass(frozen=True)
class Changes:
    """What one own upload to a continuous agreement does to its party's standing side."""

    base_run_id: str  # "" : a full upload
    secret_tag: str
    removed: np.ndarray  # uint32 labels
    changed_labels: np.ndarray  # uint32 labels
    changed_masks: np.ndarray  # uint16 masks

    @property
    def full(self) -> bool:
        return not self.base_run_id

    @classmethod
    def parse(cls, row: UploadChanges, n_populations: int) -> Changes:
        """Checked shapes: a 64-hex secret tag, packed labels and masks, no label both removed and changed,
        masks naming only the party's populations; InvalidArgument naming the problem otherwise."""
        if not SECRET_TAG.match(row.secret_tag):
            raise InvalidArgument("secret_tag must be the hex SHA-256 tag of the agreement secret (64 lowercase hex digits)")
        for name, data, width in (
            ("removed_labels", row.removed, 4),
            ("changed_labels", row.changed_labels, 4),
            ("changed_populations", row.changed_populations, 2),
        ):
            if len(data) % width:
                raise InvalidArgument(f"{name} must be packed little-endian {8 * width}-bit integers")
        removed = np.frombuffer(row.removed, dtype="<u4").astype(np.uint32)
        labels = np.frombuffer(row.changed_labels, dtype="<u4").astype(np.uint32)
        masks = np.frombuffer(row.changed_populations, dtype="<u2").astype(np.uint16)
        if row.base_run_id == "" and (len(removed) or len(labels) or len(masks)):
            raise InvalidArgument("a full upload (no base_run_id) holds every account: it removes or changes nothing")
        if len(labels) != len(masks):
            raise InvalidArgument(f"{len(labels)} changed labels but {len(masks)} population masks")
        if len(distinct_sorted(removed)) != len(removed) or len(distinct_sorted(labels)) != len(labels):
            raise InvalidArgument("a label is removed or changed twice")
        if np.intersect1d(removed, labels).size:
            raise InvalidArgument("a label is both removed and changed")
        if len(masks) and (int(masks.min()) == 0 or int(masks.max()) >= 1 << n_populations):
            raise InvalidArgument(f"a changed population mask must name at least one of your {n_populations} populations")
        return cls(row.base_run_id, row.secret_tag, removed, labels, masks)


@dataclass(frozen=True)
class SideChange:
    """What one party's own upload to a run does to its standing side: its changes, the tokens it brings
    (the partner's re-blinding of its points, labelled), and the upload's id."""

    changes: Changes
    tokens: SideTokens
    upload_id: str


def epoch_of(at: str, epoch_seconds: int) -> int:
    """The epoch a time falls in: epochs are aligned to the Unix epoch, so 1d epochs turn at midnight UTC."""
    return int(dt.datetime.fromisoformat(at).timestamp()) // epoch_seconds


class Standing:
    def __init__(self, store: Store) -> None:
        self._store = store

    # -- reads -------------------------------------------------------------------------------

    def side(self, agreement: Agreement, party: str) -> StandingSide | None:
        """The party's standing side under the agreement's current terms (one from older terms is void)."""
        side = self._store.standing.side(agreement.agreement_id, party)
        return side if side is not None and side.terms_hash == agreement.terms_hash else None

    def next_run_at(self, agreement: Agreement) -> str:
        """When a new run may open ("" now): the start of the epoch after the last completion's."""
        terms = agreement.terms
        if not terms.continuous or terms.epoch_seconds is None:
            return ""
        last = self._store.runs.latest_complete(agreement.agreement_id, "overlap")
        if last is None or last.completed_at is None:
            return ""
        start = (epoch_of(last.completed_at, terms.epoch_seconds) + 1) * terms.epoch_seconds
        if _clock() >= start:
            return ""
        return dt.datetime.fromtimestamp(start, dt.UTC).isoformat(timespec="seconds")

    # -- begin -------------------------------------------------------------------------------

    def check_opening(self, agreement: Agreement) -> None:
        """A new run may open: its epoch has no release yet, and under DP the tree counter has room."""
        terms = agreement.terms
        due = self.next_run_at(agreement)
        if due:
            raise FailedPrecondition(
                f"agreement {agreement.agreement_id} released a run in this epoch (one release per {terms.epoch_seconds:,} s); "
                f"the next run can start at {due}"
            )
        if terms.dp_epsilon is not None and terms.dp_horizon is not None:
            done = self._store.runs.completed_count(agreement.agreement_id, "overlap")
            if done >= terms.dp_horizon:
                raise FailedPrecondition(
                    f"agreement {agreement.agreement_id} has made the {terms.dp_horizon:,} releases its differential privacy "
                    "covers (dp horizon); propose a new agreement to go on"
                )

    def check_changes(self, caller: str, agreement: Agreement, changes: Changes, total_accounts: int) -> None:
        """A change must build on the caller's standing side as it is; a full upload may always replace it."""
        if changes.full:
            return
        side = self.side(agreement, caller)
        if side is None or side.run_id != changes.base_run_id:
            held = f"come from run {side.run_id}" if side is not None else "are gone (revoked terms, or a secret changed)"
            raise FailedPrecondition(
                f"your upload changes the tokens of run {changes.base_run_id}, but your standing tokens in agreement "
                f"{agreement.agreement_id} {held}; map again: your client then sends every account"
            )
        if side.secret_tag != changes.secret_tag:
            raise FailedPrecondition(
                "your agreement secret changed since your standing tokens were made: map again to send every account"
            )
        repo, agreement_id = self._store.standing, agreement.agreement_id
        named = np.concatenate([changes.removed, changes.changed_labels])
        unknown = np.setdiff1d(named, repo.held_labels(agreement_id, caller, named))
        if unknown.size:
            raise InvalidArgument(
                f"{unknown.size:,} removed or changed labels (first {int(unknown[0])}) are not among your standing accounts"
            )
        standing = repo.account_count(agreement_id, caller)
        if total_accounts < standing - len(changes.removed):
            raise InvalidArgument(
                f"total_accounts {total_accounts:,} is fewer than the {standing - len(changes.removed):,} accounts that stand"
            )

    def secret_changed(self, caller: str, agreement: Agreement, changes: Changes) -> bool:
        """Whether the caller blinds with another secret than its standing tokens were made with. Refused under
        DP: new tokens for the same accounts would let a party bring back accounts that left the stream."""
        side = self.side(agreement, caller)
        changed = side is not None and side.secret_tag != changes.secret_tag
        if changed and agreement.terms.dp_epsilon is not None:
            raise FailedPrecondition(
                f"your agreement secret changed, and agreement {agreement.agreement_id} releases under differential "
                "privacy, whose stream binds each party to one secret: propose a new agreement"
            )
        return changed

    def added_problem(
        self, caller: str, agreement: Agreement, changes: Changes, added: np.ndarray, total_accounts: int
    ) -> str | None:
        """Why a committed change's added labels cannot be right (None when they are): new labels only, and
        standing - removed + added == the accounts announced."""
        if changes.full:
            return None
        repo, agreement_id = self._store.standing, agreement.agreement_id
        if repo.held_labels(agreement_id, caller, added).size:
            return "it adds points under labels of accounts that already stand (a changed account is removed and added anew)"
        standing = repo.account_count(agreement_id, caller)
        expected = standing - len(changes.removed) + len(added)
        if expected != total_accounts:
            return f"{standing:,} standing - {len(changes.removed):,} removed + {len(added):,} added is not the {total_accounts:,} accounts announced"
        return None

    # -- completion --------------------------------------------------------------------------

    def apply(self, con: Tx, run: RunRow, terms: Terms, sides: dict[str, SideChange]) -> OverlapCounts:
        """Change both standing sides as their uploads say, match what was added, count the overlap of
        everything that now stands, and record the run both sides now stand on; inside the completion's
        transaction."""
        repo = self._store.standing
        agreement_id = run.agreement_id
        a, b = terms.parties
        new: dict[str, pa.Table] = {}
        for party, change in sides.items():
            changes, side = change.changes, change.tokens
            tokens = token_table(side.tokens, side.accounts)
            if terms.dp_epsilon is not None:
                tokens, changes = self._dp_budget(con, agreement_id, party, changes, side)
            if changes.full:
                repo.clear_side(con, agreement_id, party)
            else:
                repo.remove_labels(con, agreement_id, party, changes.removed, party == a)
                repo.set_masks(con, agreement_id, party, changes.changed_labels, changes.changed_masks, party == a)
                repeated = repo.repeated_tokens(con, agreement_id, party, tokens)
                if repeated:
                    raise RepeatedTokens(
                        f"{repeated:,} of the tokens {party}'s change adds already stand for its accounts: either {party} "
                        f"added accounts it had, or {terms.other(party)} re-blinded new points as old ones; nothing is released"
                    )
                new[party] = tokens
            repo.add(con, agreement_id, party, tokens, _account_masks(side))
        if len(new) == 2:
            repo.match_new(con, agreement_id, (a, b), new[a], new[b])
        else:  # a side was replaced: every pair is new
            repo.match_new(con, agreement_id, (a, b), None, None)
        # Labels are any uint32 a party chose: count over the ranks of the matched accounts' labels, so nothing
        # is sized by a label's value, nor by the side (the counts' pairs are those ranks).
        found = repo.pair_masks(con, agreement_id, (a, b))
        ranked, masks = np.zeros((len(found["a_label"]), 2), dtype=np.int64), []
        for column, key in enumerate(("a", "b")):
            labels, ranked[:, column] = np.unique(found[f"{key}_label"], return_inverse=True)
            side_masks = np.zeros(len(labels), dtype=np.uint16)
            side_masks[ranked[:, column]] = found[f"{key}_mask"]
            masks.append(side_masks)
        accounts = int(found["accounts"][0]), int(found["accounts"][1])
        for party, n_accounts in zip((a, b), accounts, strict=True):
            change = sides[party]
            stamp = StandingSide(
                agreement_id, party, run.run_id, run.terms_hash, change.changes.secret_tag, n_accounts, now(), change.upload_id
            )
            repo.put_side(con, stamp)
        return counts_of_pairs(ranked, (masks[0], masks[1]), accounts, _sizes(terms))

    def _dp_budget(self, con: Tx, agreement_id: str, party: str, changes: Changes, side: SideTokens) -> tuple[pa.Table, Changes]:
        """Under DP every event of a key -- entering the stream, its account moving to other populations (or
        the key to another account), leaving -- spends the partner's protection, so each token has a budget
        of EVENTS_PER_KEY over the stream: an entry, up to two moves, an exit (the noise is calibrated for
        that many). A token that left never comes back, and a move past the budget does not happen: such
        tokens are dropped (their account stands and counts in the set size but no longer matches) and such
        population changes kept as they stood, audited. Otherwise a party could add and remove, or flip,
        its own guess epoch after epoch and learn whether the partner holds it. Returns the tokens to add and
        the changes to apply."""
        tokens = token_table(side.tokens, side.accounts)
        arriving = tokens.append_column("mask", pa.array(side.populations.astype(np.uint16)))
        seen = dp_events.arriving_events(con, agreement_id, party, arriving)
        stood = seen["old_label"] >= 0
        moved = stood & ((seen["old_label"] != side.accounts.astype(np.int64)) | (seen["old_mask"] != side.populations))
        fresh = ~stood & ~seen["spent"]
        # One event stays for the exit. A token dropped over its budget keeps its count: it never enters again.
        over = (moved | fresh) & (seen["events"] + 1 > EVENTS_PER_KEY - 1)
        dropped = seen["spent"] | over
        stay = ~changes.full and len(changes.changed_labels)
        blocked = np.zeros(len(changes.changed_labels), dtype=bool)
        if stay:
            blocked = dp_events.label_events(con, agreement_id, party, changes.changed_labels) + 1 > EVENTS_PER_KEY - 1
        dp_events.spend_leaving(con, agreement_id, party, None if changes.full else changes.removed, tokens)
        kept = dataclasses.replace(
            changes, changed_labels=changes.changed_labels[~blocked], changed_masks=changes.changed_masks[~blocked]
        )
        dp_events.count_events(con, agreement_id, party, tokens.filter(pa.array(fresh | (moved & ~over))), kept.changed_labels)
        if dropped.any() or blocked.any():
            self._store.audit(
                con,
                "coordinator",
                "dp.events_refused",
                agreement_id,
                {
                    "party": party,
                    "tokens_returning": int(seen["spent"].sum()),
                    "tokens_over_budget": int(over.sum()),
                    "moves_over_budget": int(blocked.sum()),
                    "events_per_key": EVENTS_PER_KEY,
                },
            )
        return tokens.filter(pa.array(~dropped)), kept

    # -- deletion ----------------------------------------------------------------------------

    def purge(self, con: Tx, actor: str, agreement_id: str, cause: str) -> dict[str, int]:
        """Delete the agreement's standing state, on the audit record with what went (nothing: no entry)."""
        deleted = self._store.standing.purge(con, agreement_id)
        if any(deleted.values()):
            self._store.audit(con, actor, "tokens.deleted", agreement_id, {"cause": cause, **deleted})
        return deleted


def _clock() -> float:
    """Now, as a Unix time (one place, so tests can run 30 epochs without waiting 30 of them)."""
    return dt.datetime.now(dt.UTC).timestamp()


def _account_masks(side: SideTokens) -> pa.Table:
    """One row per account label of the side's points, its population mask (every point of an account has it)."""
    labels, first = np.unique(side.accounts, return_index=True)
    return pa.table({"label": labels.astype(np.uint32), "populations": side.populations[first].astype(np.uint16)})


def _sizes(terms: Terms) -> tuple[int, int]:
    a, b = terms.parties
    return len(terms.populations[a]), len(terms.populations[b])
