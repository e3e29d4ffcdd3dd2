"""Canary pairs: how the coordinator catches a dishonest re-blinding before anything is released.

An uploader hides m pairs (u, X(c, u)) among its own points: u random points on the curve, c a
scalar used for nothing else. To the partner who re-blinds them they are points like any other
(uniform on the curve, in sorted order). The uploader tells the coordinator, never the partner,
where the pairs are and c. Re-blinding with b must keep each pair related by c, because scalar
multiplication commutes:  X(c, X(b, u)) == X(b, X(c, u)).  A partner that rotates, swaps,
duplicates or replaces re-blinded points breaks that relation at any canary it touches, and it
cannot tell canaries from real points, so tampering with t of N + 2m positions goes unnoticed with
probability about (N / (N + 2m))^t. The coordinator checks every pair, and that no two re-blinded
points are equal, before it counts anything; canary positions are then left out of every count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cleanroom.coordinator.store import Store
from cleanroom.coordinator.store.records import UploadRow
from cleanroom.distinct import distinct_sorted
from cleanroom.errors import CleanroomError, InvalidArgument
from cleanroom.psi import POINT_SIZE, blind

MAX_CANARY_PAIRS = 1_000_000


@dataclass(frozen=True)
class Canaries:
    scalar: bytes  # c, 32 bytes
    positions: np.ndarray  # (m, 2) uint32: where u and X(c, u) stand in the upload

    @classmethod
    def parse(cls, scalar: bytes, positions: bytes, total_points: int) -> Canaries | None:
        """The canaries an OWN upload announces (None when it announces none); InvalidArgument when malformed."""
        if not scalar and not positions:
            return None
        if len(scalar) != 32:
            raise InvalidArgument(f"canary_scalar must be 32 bytes, not {len(scalar)}")
        if len(positions) == 0 or len(positions) % 8:
            raise InvalidArgument("canary_positions must be pairs of little-endian uint32 (8 bytes a pair)")
        pairs = np.frombuffer(positions, dtype="<u4").reshape(-1, 2)
        if len(pairs) > MAX_CANARY_PAIRS or 2 * len(pairs) >= total_points:
            raise InvalidArgument(f"{len(pairs):,} canary pairs do not fit an upload of {total_points:,} points")
        flat = pairs.ravel()
        if int(flat.max()) >= total_points or len(distinct_sorted(flat)) != len(flat):
            raise InvalidArgument("canary positions must be distinct and within the upload")
        return cls(bytes(scalar), pairs.astype(np.uint32))

    @classmethod
    def of_upload(cls, store: Store, upload: UploadRow) -> Canaries | None:
        """The canaries an own upload announced, as stored (None when it announced none)."""
        found = store.uploads.canaries(upload.upload_id)
        return cls.parse(found[0], found[1], int(upload.total_points)) if found else None

    def keep(self, n: int) -> np.ndarray:
        """A mask over the upload's n points: True for real points, False for canaries."""
        mask = np.ones(n, dtype=bool)
        mask[self.positions.ravel()] = False
        return mask


def own_upload_problem(canaries: Canaries | None, points: bytes, total_accounts: int, one_key_kind: bool) -> str | None:
    """Why an uploader's own points cannot be an honest upload (None when every check holds).

    The checks the partner's re-blinding is held to must hold for the uploader's own points first: its
    points distinct and its canary pairs related by c. Otherwise an uploader could make its honest
    partner's re-blinding fail and have the partner named as the violator. And with one key kind an
    honest account has exactly one point: more would let one label gather guessed keys, join many of the
    other side's accounts as one company, and reveal more accounts than the counts say.
    """
    n = len(points) // POINT_SIZE
    if has_duplicates(points):
        return "two of its points are equal (an honest upload's points are distinct)"
    if canaries is not None:
        broken = _broken_pairs(canaries, points)
        if broken is None:
            return "a canary point is not a valid curve point"
        if broken:
            return f"{broken} of its {len(canaries.positions)} canary pairs are not related by the canary scalar it announced"
    real = n - (0 if canaries is None else 2 * len(canaries.positions))
    if one_key_kind and real != total_accounts:
        return f"{real:,} points for {total_accounts:,} accounts, where one key kind gives each account exactly one"
    return None


def reblinding_problem(canaries: Canaries | None, reblinded: bytes) -> str | None:
    """Why the peer's re-blinding of an upload cannot be the honest one (None when every check holds)."""
    if has_duplicates(reblinded):
        return "two re-blinded points are equal, which honest re-blinding of distinct points never gives"
    if canaries is None:
        return None
    broken = _broken_pairs(canaries, reblinded)
    if broken is None:
        return "a re-blinded point is not a valid curve point"
    if broken:
        return (
            f"{broken} of {len(canaries.positions)} hidden canary pairs no longer match: the points were not re-blinded as served"
        )
    return None


def joined_reblinding_problem(canaries: Canaries | None, duplicated: bool, canary_points: bytes) -> str | None:
    """``reblinding_problem`` for tokens held in the store (store.tokens): ``duplicated`` says whether two are
    equal, ``canary_points`` holds the re-blinded points at ``canaries.positions`` (pair by pair), packed."""
    if duplicated:
        return "two re-blinded points are equal, which honest re-blinding of distinct points never gives"
    if canaries is None:
        return None
    pairs = np.arange(2 * len(canaries.positions), dtype=np.uint32).reshape(-1, 2)
    return reblinding_problem(Canaries(canaries.scalar, pairs), canary_points)


def has_duplicates(points: bytes) -> bool:
    """Whether two of the packed points are equal. Sorted by their first 8 bytes as integers (twenty times
    faster than sorting 32-byte strings: a second a million points, four times a run); only points that share
    those bytes -- none among honest points, but an uploader picks its own -- are then compared whole."""
    words = np.frombuffer(points, dtype="<u8").reshape(-1, POINT_SIZE // 8)
    firsts = np.sort(words[:, 0])
    shared = firsts[1:][firsts[1:] == firsts[:-1]]
    if not len(shared):
        return False
    suspects = np.ascontiguousarray(words[np.isin(words[:, 0], shared)]).view(f"S{POINT_SIZE}").reshape(-1)
    return len(distinct_sorted(suspects)) != len(suspects)


def _broken_pairs(canaries: Canaries, points: bytes) -> int | None:
    """How many canary pairs (u, v) of ``points`` have v != X(c, u); None when a u is not a valid point."""
    grid = np.frombuffer(points, dtype=np.uint8).reshape(-1, POINT_SIZE)
    firsts = grid[canaries.positions[:, 0]].tobytes()
    seconds = grid[canaries.positions[:, 1]]
    try:
        lifted = np.frombuffer(blind(canaries.scalar, firsts, workers=1), dtype=np.uint8).reshape(-1, POINT_SIZE)
    except CleanroomError:
        return None
    return int(np.count_nonzero((lifted != seconds).any(axis=1)))
