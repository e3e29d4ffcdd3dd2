"""Pipeline value at the coordinator: the viewer's encrypted amounts, checked as they arrive, summed per cell.

The viewer uploads, beside its blinded points, each account's amount encrypted to its own EC-ElGamal key
(cleanroom.homomorphic). The coordinator never holds that key's secret: it checks the ciphertexts are
points on P-256, one per account, and at completion adds up those of the viewer's accounts matched in each
granted cell that the release policy shows (at least min_count, not a complement), adds discrete Laplace
noise under the viewer's key when the grant asks for DP (sensitivity: one partner account moves each cell
by at most cap per matched account of the viewer, one per key kind), re-randomises, and keeps only that
ciphertext. Nothing here can read an amount.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from cleanroom.coordinator.noise import noisy, scale_for
from cleanroom.coordinator.overlap import OverlapCounts
from cleanroom.coordinator.release_policy import overlap_release
from cleanroom.coordinator.store import Store
from cleanroom.coordinator.store.records import OWN, RunRow, UploadRow
from cleanroom.distinct import distinct_sorted
from cleanroom.errors import InvalidArgument
from cleanroom.homomorphic import CIPHERTEXT_SIZE, Ciphertext, PublicKey, add, encrypt, sum_ciphertexts
from cleanroom.terms import Terms
from cleanroom.terms_value import ValueGrant, value_grant

_START = struct.Struct("<I")


def grant_of(terms: Terms, party: str) -> ValueGrant | None:
    return value_grant(terms.release, party)


def carries_values(terms: Terms, upload: UploadRow, run: RunRow) -> bool:
    """Whether this upload must carry encrypted amounts: the uploader's own points, in an overlap run, granted value."""
    return upload.kind == OWN and run.purpose == "overlap" and grant_of(terms, upload.party) is not None


def check_value_public(terms: Terms, caller: str, kind: str, purpose: str, public: bytes) -> None:
    """At begin: a value key exactly when the caller's own overlap upload is granted pipeline value."""
    wanted = kind == OWN and purpose == "overlap" and grant_of(terms, caller) is not None
    if not wanted and public:
        raise InvalidArgument("only your own upload to an overlap run whose terms grant you pipeline value carries a value key")
    if wanted and not public:
        raise InvalidArgument(
            "the terms grant you pipeline value: your upload must carry your value public key and encrypted amounts "
            "(map with --deals FILE, with a client that supports pipeline value)"
        )
    if public:
        PublicKey.from_bytes(public, "value_public")


def check_value_chunk(terms: Terms, upload: UploadRow, run: RunRow, seq: int, data: bytes) -> None:
    """One chunk's encrypted amounts: allowed here, well framed, at most the chunk's share, every point on P-256."""
    if not carries_values(terms, upload, run):
        raise InvalidArgument("only own uploads of overlap runs whose terms grant you pipeline value carry value_ciphertexts")
    if len(data) < _START.size or (len(data) - _START.size) % CIPHERTEXT_SIZE:
        raise InvalidArgument(
            f"chunk {seq}: value_ciphertexts must be a 4-byte start label then {CIPHERTEXT_SIZE}-byte ciphertexts, "
            f"got {len(data):,} bytes"
        )
    (start,) = _START.unpack_from(data)
    count = (len(data) - _START.size) // CIPHERTEXT_SIZE
    most = -(-int(upload.total_accounts) // int(upload.total_chunks)) + 1
    if count == 0 or count > most or start + count > upload.total_accounts:
        raise InvalidArgument(
            f"chunk {seq}: {count:,} encrypted amounts from label {start:,}; a chunk carries 1 to {most:,}, "
            f"within the upload's {int(upload.total_accounts):,} accounts"
        )
    for i in range(count):
        offset = _START.size + i * CIPHERTEXT_SIZE
        Ciphertext.from_bytes(data[offset : offset + CIPHERTEXT_SIZE], f"chunk {seq}: encrypted amount of account {start + i}")


def check_value_upload(store: Store, terms: Terms, upload: UploadRow, run: RunRow) -> None:
    """At commit: one encrypted amount for every account label 0..total_accounts-1, in order."""
    if not carries_values(terms, upload, run):
        return
    expected = 0
    for seq, data in store.uploads.value_ciphertexts(upload.upload_id):
        (start,) = _START.unpack_from(data)
        if start != expected:
            raise InvalidArgument(
                f"upload {upload.upload_id}: chunk {seq}'s encrypted amounts start at label {start}, not {expected}"
            )
        expected += (len(data) - _START.size) // CIPHERTEXT_SIZE
    if expected != upload.total_accounts:
        raise InvalidArgument(
            f"upload {upload.upload_id} carries encrypted amounts for {expected:,} of its {int(upload.total_accounts):,} "
            "accounts; every account needs one (0 for an account without deals)"
        )


def _ciphertexts(store: Store, upload: UploadRow) -> bytes:
    """Every account's ciphertext, packed in label order (checked contiguous at commit)."""
    return b"".join(data[_START.size :] for _, data in store.uploads.value_ciphertexts(upload.upload_id))


def value_sensitivity(grant: ValueGrant, key_kinds: int) -> int:
    """L1 sensitivity of the released sums to one partner account: it matches at most one of the viewer's
    accounts per key kind, each worth at most cap, in every granted cell at once."""
    return grant.cap * key_kinds * len(grant.cells)


def value_result(
    store: Store,
    terms: Terms,
    own: dict[str, UploadRow],
    masks: dict[str, np.ndarray],
    counts: OverlapCounts,
    result: dict[str, Any],
) -> dict[str, Any]:
    """Per viewer granted pipeline value: its shown cells with the noisy, re-randomised ciphertext of their sums."""
    out: dict[str, Any] = {}
    a, _ = terms.parties
    for viewer in terms.parties:
        grant = grant_of(terms, viewer)
        if grant is None:
            continue
        other = terms.other(viewer)
        public = PublicKey.from_bytes(store.uploads.value_public(own[viewer].upload_id) or b"", "stored value key")
        packed = _ciphertexts(store, own[viewer])
        pairs = counts.pairs if viewer == a else counts.pairs[:, ::-1]
        shown = {(c["mine"], c["theirs"]) for c in overlap_release(terms, viewer, result)["cells"] if not c["suppressed"]}
        cells = [c for c in grant.cells if c in shown]
        scale = (
            scale_for(terms.dp_epsilon, value_sensitivity(grant, len(terms.key_kinds))) if grant.dp and terms.dp_epsilon else None
        )
        noise = noisy([0] * len(cells), scale) if scale is not None and cells else [0] * len(cells)
        released = []
        for (mine, theirs), z in zip(cells, noise, strict=True):
            i, j = terms.populations[viewer].index(mine), terms.populations[other].index(theirs)
            on = (masks[viewer][pairs[:, 0]] >> i & 1 == 1) & (masks[other][pairs[:, 1]] >> j & 1 == 1) if len(pairs) else []
            accounts = distinct_sorted(pairs[on, 0]) if len(pairs) else np.zeros(0, dtype=np.int64)
            total = sum_ciphertexts(
                Ciphertext.from_bytes(packed[k * CIPHERTEXT_SIZE : (k + 1) * CIPHERTEXT_SIZE], f"stored amount {k}")
                for k in accounts.tolist()
            )
            total = add(total, encrypt(public, int(z)))  # the noise, with fresh randomness: re-randomises too
            released.append({"mine": mine, "theirs": theirs, "ciphertext": total.to_bytes().hex()})
        out[viewer] = {"cells": released, "cap": grant.cap, "kind": grant.kind}
        if scale is not None:
            out[viewer]["dp"] = {"epsilon": terms.dp_epsilon, "scale": scale}
    return out
