"""Sealed fields (account-level reveal): which uploads carry them, and for exactly which accounts.

The coordinator never opens a sealed field; it checks that a party seals
fields only for the accounts the terms may reveal to the other side, each once,
and hands them over with the reveal.
"""

from __future__ import annotations

import itertools

import numpy as np

from cleanroom.coordinator.overlap import SideTokens, account_masks
from cleanroom.coordinator.store import Store
from cleanroom.coordinator.store.records import OWN, ChunkLabels, RunRow, UploadRow
from cleanroom.crypto.sealed import CHUNK_OVERHEAD, RECORD_OVERHEAD, record_bound, unpack_chunk
from cleanroom.errors import InvalidArgument
from cleanroom.terms import Terms


def seals(terms: Terms, party: str) -> tuple[str, ...]:
    """The populations of ``party`` whose accounts it seals its shared columns for (empty: it seals nothing)."""
    if not terms.shared_columns(party):
        return ()
    revealed = {t for _, t in terms.reveal_granted(terms.other(party))}
    return tuple(p for p in terms.populations[party] if p in revealed)


def labelled_side(chunks: list[ChunkLabels], total_accounts: int) -> SideTokens:
    """An own upload's account labels and population masks, without tokens."""
    return SideTokens(
        tokens=b"",
        accounts=np.frombuffer(b"".join(bytes(c.accounts or b"") for c in chunks), dtype="<u4"),
        populations=np.frombuffer(b"".join(bytes(c.populations or b"") for c in chunks), dtype="<u2"),
        total_accounts=total_accounts,
    )


def check_sealed_chunk(terms: Terms, upload: UploadRow, run: RunRow, seq: int, sealed: bytes, max_bytes: int) -> None:
    """One chunk's sealed fields: allowed here, within their bounds, well formed, labels within the upload's accounts."""
    if not (upload.kind == OWN and run.purpose == "overlap" and seals(terms, upload.party)):
        raise InvalidArgument(
            "only own uploads of overlap runs carry sealed fields, and only when the terms grant the other side "
            "account-level reveal of columns you share"
        )
    record = record_bound(terms.shared_columns(upload.party))
    # A client spreads an upload's records evenly over its chunks, one per account at most (cleanroom_client
    # .protocol.prepare): no chunk needs more records than that, each at most the size its columns allow.
    most = -(-int(upload.total_accounts) // int(upload.total_chunks))
    allowed = min(max_bytes, CHUNK_OVERHEAD + most * (RECORD_OVERHEAD + record))
    if len(sealed) > allowed:
        raise InvalidArgument(
            f"chunk {seq}: {len(sealed):,} bytes of sealed fields, over the {allowed:,} this upload's chunks may carry "
            f"({most:,} accounts a chunk, {record:,} bytes a record for columns {', '.join(terms.shared_columns(upload.party))}, "
            f"at most {max_bytes:,} a chunk)"
        )
    try:
        _, rows = unpack_chunk(sealed, f"chunk {seq}")
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    oversize = next((i for i, (_, c) in enumerate(rows) if len(c) > record), None)
    if oversize is not None:
        raise InvalidArgument(
            f"chunk {seq}: sealed record {oversize + 1} has {len(rows[oversize][1]):,} bytes; sealed values of the shared "
            f"columns fit in {record:,}"
        )
    if rows and rows[-1][0] >= upload.total_accounts:
        raise InvalidArgument(
            f"chunk {seq}: sealed fields for account label {rows[-1][0]} >= total_accounts {upload.total_accounts}"
        )


def check_sealed_upload(store: Store, terms: Terms, upload: UploadRow, run: RunRow) -> None:
    """At commit: sealed fields for exactly the accounts the terms may reveal to the other side, each once."""
    if run.purpose != "overlap" or upload.kind != OWN:
        return
    sealing = seals(terms, upload.party)
    if not sealing:
        return
    chunks = store.uploads.labels(upload.upload_id)
    labels: list[int] = []
    for c in chunks:
        if c.sealed is not None:
            labels += [label for label, _ in unpack_chunk(bytes(c.sealed), f"chunk {c.seq}")[1]]
    if any(b <= a for a, b in itertools.pairwise(labels)):
        raise InvalidArgument(f"upload {upload.upload_id}: sealed account labels must strictly increase across the chunks")
    bits = 0
    for i, pop in enumerate(terms.populations[upload.party]):
        if pop in sealing:
            bits |= 1 << i
    expected = np.flatnonzero(account_masks(labelled_side(chunks, int(upload.total_accounts))) & bits)
    got = np.asarray(labels, dtype=np.int64)
    extra, missing = np.setdiff1d(got, expected), np.setdiff1d(expected, got)
    if len(extra):
        raise InvalidArgument(
            f"upload {upload.upload_id} seals fields for {len(extra)} account(s) outside the populations the terms may reveal "
            f"({', '.join(sealing)}), e.g. label {int(extra[0])}; nothing of theirs may be sent"
        )
    if len(missing):
        raise InvalidArgument(
            f"upload {upload.upload_id} lacks sealed fields for {len(missing)} account(s) in {', '.join(sealing)}, e.g. label {int(missing[0])}"
        )


def sealed_fields(store: Store, upload: UploadRow) -> dict[int, bytes]:
    """Label -> ephemeral || ciphertext of one own upload's sealed fields."""
    found: dict[int, bytes] = {}
    for seq, sealed in store.uploads.sealed(upload.upload_id):
        ephemeral, rows = unpack_chunk(sealed, f"chunk {seq}")
        for label, ciphertext in rows:
            found[label] = ephemeral + ciphertext
    return found
