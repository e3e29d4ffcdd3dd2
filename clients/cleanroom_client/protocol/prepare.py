"""What we blind for an upload: our accounts' keys, hashed into the agreement's context, blinded, sorted, chunked.

Our points are a deterministic function of the file and the agreement's secret
(blinding is deterministic and the upload is sorted by blinded value, which also
hides the file's row order), so a re-run after a crash produces the same chunks
and digests (see ``protocol.upload``).
"""

from __future__ import annotations

import math
import struct
from array import array
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pyarrow as pa

from cleanroom.attribution.recordio import split_rows
from cleanroom.crypto.sealed import pack_chunk
from cleanroom.protocol import MAX_CHUNK_POINTS, chunk_digest
from cleanroom.psi import POINT_SIZE
from cleanroom.psi.engine import current as current_engine
from cleanroom.terminal.console import progress
from cleanroom.terms import Terms
from cleanroom_client.inputs.account_table import AccountTable
from cleanroom_client.protocol import hashed_keys
from cleanroom_client.protocol.canaries import Canaries, canary_pairs

if TYPE_CHECKING:
    from cleanroom_client.inputs.accounts import MatchKey
    from cleanroom_client.protocol.sent_state import SentState


@dataclass(frozen=True)
class UploadChange:
    """What an own upload to a continuous agreement changes, as the begin request carries it."""

    base_run_id: str  # "" : every account, replacing what stood
    secret_tag: str
    removed: bytes = b""  # little-endian uint32 labels
    changed_labels: bytes = b""  # little-endian uint32 labels ...
    changed_populations: bytes = b""  # ... and their new uint16 masks
    counts: tuple[int, int, int] = (0, 0, 0)  # accounts added, removed, moved to other populations (a change)
    reason: str = ""  # why every account was sent (a full upload)
    held_back: int = 0  # under DP: accounts not sent because they left the agreement's stream before

    def describe(self) -> dict[str, object]:
        """What was sent, for people and machines."""
        held = {"held_back": self.held_back} if self.held_back else {}
        if not self.base_run_id:
            return {"sent": "every account", "reason": self.reason, **held}
        added, removed, moved = self.counts
        return {"sent": "changes", "base_run_id": self.base_run_id, "added": added, "removed": removed, "moved": moved, **held}

    def summary(self) -> str:
        held = (
            f"; {self.held_back:,} accounts that left this agreement's DP stream before are held back" if self.held_back else ""
        )
        if not self.base_run_id:
            return f"sent every account ({self.reason}){held}"
        added, removed, moved = self.counts
        return f"sent changes to run {self.base_run_id}: {added:,} added, {removed:,} removed, {moved:,} moved{held}"


# One chunk as it is sent: points, account labels, population masks, digest, records, sealed fields, encrypted amounts.
ChunkParts = tuple[bytes, bytes, bytes, str, bytes, bytes, bytes]


class Blindable(Protocol):
    """An account as ``prepare`` needs it: its match keys and its populations (an ``inputs`` Account, or grouped records)."""

    @property
    def keys(self) -> tuple[MatchKey, ...]: ...

    @property
    def populations(self) -> tuple[str, ...]: ...


def hash_context(agreement_id: str, kind: str, scope: str = "kind") -> bytes:
    """What a key's point binds besides the key, under the terms' ``hash_scope`` (cleanroom.terms.HASH_SCOPES):
    the key kind, or (terms proposed before hash scopes) the agreement and the key kind. Agreement ids never
    hold '*', so the two never meet."""
    if scope == "kind":
        return f"*/{kind}".encode()
    if scope == "agreement":
        return f"{agreement_id}/{kind}".encode()
    raise ValueError(f"unknown hash scope {scope!r}")


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
    # fields in label order, and the upload's ephemeral X25519 key (protocol/sealing.py, cleanroom/crypto/sealed.py).
    sealed: list[tuple[int, bytes]] = field(default_factory=list)
    sealed_ephemeral: bytes = b""
    # Pipeline value (protocol/value_upload.py): every account's amount encrypted to our own EC-ElGamal key,
    # packed in label order, and that key; spread over the chunks as contiguous runs of labels.
    value_ciphertexts: bytes = b""
    value_public: bytes = b""
    # The canary pairs hidden among the points (protocol/canaries.py): told to the coordinator only.
    canary_scalar: bytes = b""
    canary_positions: bytes = b""
    # Continuous agreements (protocol/continuous.py): what the upload changes at the coordinator, and what
    # stands once its run completes; None for one-off runs.
    change: UploadChange | None = None
    proposed: SentState | None = None

    def chunk_points_for(self, chunk_points: int = MAX_CHUNK_POINTS) -> int:
        """Points per chunk, smaller when sealed fields would make a chunk too big for one message."""
        if not self.sealed:
            return chunk_points
        sealed_bytes = sum(8 + len(c) for _, c in self.sealed)
        n = max(math.ceil(len(self.accounts) / chunk_points), math.ceil(sealed_bytes / SEALED_BYTES_PER_CHUNK))
        return max(1, math.ceil(len(self.accounts) / n))

    def chunks(self, chunk_points: int = MAX_CHUNK_POINTS) -> list[ChunkParts]:
        starts = range(0, len(self.accounts), chunk_points)
        records = split_rows(self.records, len(starts)) if self.records is not None else [b""] * len(starts)
        out: list[ChunkParts] = []
        for i, (start, recs) in enumerate(zip(starts, records, strict=True)):
            stop = min(start + chunk_points, len(self.accounts))
            pts = self.points[start * POINT_SIZE : stop * POINT_SIZE]
            acc = self.accounts[start:stop].astype("<u4").tobytes()
            pops = self.populations[start:stop].astype("<u2").tobytes()
            share = self.sealed[i * len(self.sealed) // len(starts) : (i + 1) * len(self.sealed) // len(starts)]
            seal = pack_chunk(self.sealed_ephemeral, share) if share else b""
            values = self._values_of_chunk(i, len(starts))
            out.append((pts, acc, pops, chunk_digest(pts, acc, pops, recs, seal, values), recs, seal, values))
        return out

    def _values_of_chunk(self, i: int, n_chunks: int) -> bytes:
        """Chunk i's share of the encrypted amounts: start label (u32 LE) and its labels' ciphertexts."""
        if not self.value_ciphertexts:
            return b""
        lo, hi = i * self.total_accounts // n_chunks, (i + 1) * self.total_accounts // n_chunks
        if hi == lo:
            return b""
        from cleanroom.homomorphic import CIPHERTEXT_SIZE  # here: every map imports this module, few carry amounts

        return struct.pack("<I", lo) + self.value_ciphertexts[lo * CIPHERTEXT_SIZE : hi * CIPHERTEXT_SIZE]


def prepare(
    accounts: Sequence[Blindable], terms: Terms, party: str, agreement_id: str, secret: bytes, show_progress: bool | None = None
) -> PreparedUpload:
    """Blind every key of our accounts in the agreement's populations, sorted by blinded value, with account labels."""
    selected = _select(accounts, terms, party)
    sorted_points, owner_sorted, canaries = _blind_sorted(selected, (agreement_id, terms.hash_scope), secret, show_progress)
    kept = selected.kept
    # Account labels in order of first appearance: they carry no row order.
    _, first = np.unique(owner_sorted, return_index=True)
    slot_by_rank = owner_sorted[np.sort(first)]
    label_of_slot = np.empty(len(kept), dtype=np.int64)
    label_of_slot[slot_by_rank] = np.arange(len(slot_by_rank))
    masks_arr = np.asarray(selected.masks, dtype=np.uint16)
    return PreparedUpload(
        points=sorted_points,
        accounts=label_of_slot[owner_sorted].astype(np.uint32),
        populations=masks_arr[owner_sorted],
        total_accounts=len(kept),
        excluded=len(accounts) - len(kept),
        label_to_account=np.frombuffer(kept, dtype=np.int64)[slot_by_rank].tolist() if len(kept) else [],
        canary_scalar=canaries.scalar,
        canary_positions=canaries.positions,
    )


@dataclass
class _Selected:
    """The keys to blind, by kind, each with its account's slot; the accounts kept and their population masks."""

    keys_by_kind: dict[str, list[str]]
    owners: dict[str, array[int]]  # kind -> slot of each key's account
    masks: list[int]  # slot -> population mask
    kept: array[int]  # slot -> index into the accounts list


def membership(account: Blindable, index: dict[str, int], kinds: Container[str]) -> tuple[int, list[MatchKey]]:
    """An account's population mask under the agreement (bit i: its i-th population of ours) and its keys of
    the agreed kinds; it takes part when both are non-empty."""
    mask = 0
    for pop in account.populations:
        if pop in index:
            mask |= 1 << index[pop]
    return mask, [k for k in account.keys if k.kind in kinds]


def _select(accounts: Sequence[Blindable], terms: Terms, party: str) -> _Selected:
    """Our accounts in at least one agreement population that have a key of an agreed kind."""
    index = {pop: i for i, pop in enumerate(terms.populations[party])}
    if isinstance(accounts, AccountTable):
        return _select_columns(accounts, index, terms.key_kinds)
    # Machine integers, not lists of Python ints: a million accounts must map in well under 1 GB.
    selected = _Selected({k: [] for k in terms.key_kinds}, {k: array("q") for k in terms.key_kinds}, [], array("q"))
    for i, account in enumerate(accounts):
        mask, keys = membership(account, index, selected.keys_by_kind)
        if mask == 0 or not keys:
            continue
        slot = len(selected.kept)
        selected.kept.append(i)
        selected.masks.append(mask)
        for key in keys:
            selected.keys_by_kind[key.kind].append(key.value)
            selected.owners[key.kind].append(slot)
    return selected


def _select_columns(table: AccountTable, index: dict[str, int], kinds: Sequence[str]) -> _Selected:
    """``_select`` over an AccountTable's columns: the same selection, keys and order, without an object per account."""
    masks = table.masks(index)
    pairs = {kind: table.keys_of(kind) for kind in kinds}
    has_key = np.zeros(len(table), dtype=bool)
    for positions, _ in pairs.values():
        has_key[positions] = True
    kept = np.flatnonzero((masks != 0) & has_key)
    slot = np.full(len(table), -1, dtype=np.int64)
    slot[kept] = np.arange(len(kept))
    selected = _Selected({}, {}, masks[kept].tolist(), _int64s(kept))
    for kind, (positions, values) in pairs.items():
        taking = slot[positions] >= 0
        selected.keys_by_kind[kind] = values.filter(pa.array(taking)).to_pylist()
        selected.owners[kind] = _int64s(slot[positions[taking]])
    return selected


def _int64s(values: np.ndarray) -> array[int]:
    out = array("q")
    out.frombytes(values.astype(np.int64).tobytes())
    return out


def _blind_sorted(
    selected: _Selected, scope: tuple[str, str], secret: bytes, show_progress: bool | None
) -> tuple[bytes, np.ndarray, Canaries]:
    """The blinded points, canary pairs among them, sorted by value; the slot of each sorted point's account
    (a canary takes the first account's: the coordinator drops canaries before counting); the canaries."""
    agreement_id, hash_scope = scope
    total = sum(len(v) for v in selected.keys_by_kind.values())
    blinded, owner = [], array("q")
    with progress("blinding", total, show_progress) as advance:
        for kind, values in selected.keys_by_kind.items():
            if values:
                context = hash_context(agreement_id, kind, hash_scope)
                shared = hashed_keys.current() if hash_scope == "kind" else None
                if shared is not None:  # map --all: each key hashed once for every agreement (hashed_keys.py)
                    blinded.append(
                        current_engine().blind(secret, shared.points(values, context), progress=advance, own_hashes=True)
                    )
                else:
                    blinded.append(current_engine().hash_and_blind(values, context, secret, progress=advance))
                owner.extend(selected.owners[kind])
    selected.keys_by_kind.clear()  # the intermediates go as soon as they are used (peak memory)
    selected.owners.clear()
    real = len(owner)
    canary_points, canary_scalar = canary_pairs(secret, agreement_id, blinded, real) if real else (b"", b"")
    blinded.append(canary_points)
    owner.extend([0] * (len(canary_points) // POINT_SIZE))
    points = b"".join(blinded)
    del blinded
    words = np.frombuffer(points, dtype=">u8").reshape(-1, 4)
    order = np.lexsort((words[:, 3], words[:, 2], words[:, 1], words[:, 0])) if len(words) else np.zeros(0, dtype=np.int64)
    del words
    sorted_points = np.frombuffer(points, dtype="V32")[order].tobytes()
    del points
    owner_sorted = np.frombuffer(owner, dtype=np.int64)[order] if len(owner) else np.zeros(0, dtype=np.int64)
    return sorted_points, owner_sorted, Canaries.placed(canary_points, canary_scalar, order, real)


# Sealed fields per chunk stay well under the 8 MiB message limit, beside up to 1.2 MiB of points and labels.
SEALED_BYTES_PER_CHUNK = 3 * 1024 * 1024
