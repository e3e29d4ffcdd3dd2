"""An overlap run's two sides, checked and joined where their tokens are stored.

Each side's tokens (the other party's re-blinding of its points) are joined in the store's DuckDB
(store.tokens), under its memory_limit and spilling to its temp_directory; Python holds only each side's
labels (an account and a population mask a point: 6 bytes, where a token is 32) and the matched positions.
The checks and results are those of gathering both sides into memory: the re-blinding is checked first
(no two tokens equal, every canary pair related), canary positions count nowhere, and the pairs are the
distinct (a_account, b_account) pairs ``overlap.match_pairs`` gives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cleanroom.coordinator.canaries import Canaries, joined_reblinding_problem
from cleanroom.coordinator.overlap import OverlapCounts, SideTokens, account_masks, counts_of_pairs, pairs_of_matches
from cleanroom.coordinator.store import Store, TokenJoin
from cleanroom.coordinator.store.records import UploadRow
from cleanroom.errors import ProtocolError


class ReblindingViolation(ProtocolError):
    """A party's re-blinding of the other's points is not the honest one: the run fails, the party is named."""

    def __init__(self, party: str, message: str) -> None:
        super().__init__(message)
        self.party = party


@dataclass(frozen=True)
class SideLabels:
    """One side's labels by point position, and which positions count (False: a canary)."""

    accounts: np.ndarray  # uint32
    populations: np.ndarray  # uint16 bit mask
    keep: np.ndarray  # bool
    total_accounts: int

    def masks(self) -> np.ndarray:
        """Each account's population mask (uint16, by account label), canaries left out."""
        kept = SideTokens(b"", self.accounts[self.keep], self.populations[self.keep], self.total_accounts)
        return account_masks(kept)


@dataclass(frozen=True)
class JoinedSides:
    counts: OverlapCounts
    masks: tuple[np.ndarray, np.ndarray]  # each side's population mask by account


def reblinding_checked(store: Store, join: TokenJoin, side: str, own: UploadRow, reblinded: UploadRow) -> None:
    """Load ``side``'s tokens (``reblinded``: the other party's re-blinding of ``own``) and check them, before
    anything is counted (canaries.py): a dishonest re-blinding raises ReblindingViolation naming the re-blinder."""
    join.load(side, reblinded.upload_id)
    canaries = Canaries.of_upload(store, own)
    # A re-blinded upload holds as many points as the one it re-blinds (uploads.py), so canary positions are inside.
    at = canaries.positions.ravel() if canaries is not None else np.zeros(0, dtype=np.uint32)
    problem = joined_reblinding_problem(canaries, join.has_duplicates(side), join.points_at(side, at))
    if problem is not None:
        raise ReblindingViolation(
            reblinded.party, f"{reblinded.party}'s re-blinding of {own.party}'s points fails the check: {problem}"
        )


def side_labels(store: Store, own: UploadRow) -> SideLabels:
    """The labels of an own upload's points, by position, and which of them are canaries."""
    accounts, populations = store.uploads.label_arrays(own.upload_id)
    canaries = Canaries.of_upload(store, own)
    keep = canaries.keep(len(accounts)) if canaries is not None else np.ones(len(accounts), dtype=bool)
    return SideLabels(accounts, populations, keep, int(own.total_accounts))


def joined_overlap(
    store: Store, uploads: tuple[tuple[UploadRow, UploadRow], tuple[UploadRow, UploadRow]], populations: tuple[int, int]
) -> JoinedSides:
    """The overlap of a run's sides, each given as (its own upload, the other party's re-blinding of it):
    what ``overlap.overlap_counts`` gives for the same tokens and labels."""
    with store.token_join() as join:
        for side, (own, reblinded) in zip(("a", "b"), uploads, strict=True):
            reblinding_checked(store, join, side, own, reblinded)
        matches = join.matches()
    a, b = side_labels(store, uploads[0][0]), side_labels(store, uploads[1][0])
    pairs = pairs_of_matches(matches, (a.accounts, b.accounts), (a.keep, b.keep))
    masks = (a.masks(), b.masks())
    return JoinedSides(counts_of_pairs(pairs, masks, (a.total_accounts, b.total_accounts), populations), masks)
