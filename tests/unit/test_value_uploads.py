"""The coordinator's checks of encrypted amounts (pipeline value), in-process: who may send them, their
framing, one per account at commit; a refused chunk stores nothing."""

from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.store import Store
from cleanroom.coordinator.store.records import OWN
from cleanroom.crypto.signing import Signer
from cleanroom.errors import InvalidArgument
from cleanroom.homomorphic import encrypt_many, generate
from cleanroom.protocol import chunk_digest, upload_digest
from cleanroom.psi import blind, hash_to_points, new_secret
from cleanroom.terms import build_terms, canonical_json
from cleanroom.terms_value import value_grant_json

V, P, N = "vendor", "partner", 20
KEY = generate()
PUBLIC = KEY.public.to_bytes()


@pytest.fixture
def coord(tmp_path):
    store = Store(tmp_path / "coordinator.duckdb", Signer(Ed25519PrivateKey.generate()))
    yield Coordinator(store)
    store.close()


def _agree(coord) -> dict:
    value = value_grant_json([("opportunity", "customer")], 1_000, dp=False)
    terms = build_terms(V, P, ["opportunity"], ["customer"], min_set_size=1, pipeline_value=value)
    agreement = coord.propose(V, P, canonical_json(terms))
    return coord.approve(P, agreement["agreement_id"], agreement["terms_hash"])


def _chunk():
    pts = blind(new_secret(), hash_to_points([f"a{i}.example" for i in range(N)], b"x"), workers=1)
    return pts, struct.pack(f"<{N}I", *range(N)), struct.pack(f"<{N}H", *([1] * N))


def _begin(coord, agreement, party=V, values=b"", public=PUBLIC):
    pts, acc, pops = _chunk()
    digest = chunk_digest(pts, acc, pops, b"", b"", values)
    session = coord.begin_upload(
        party, agreement["agreement_id"], agreement["terms_hash"], OWN, "", N, 1, N, upload_digest([digest]), value_public=public
    )
    return session, (pts, acc, pops, digest)


def _amounts(start: int, n: int) -> bytes:
    return struct.pack("<I", start) + encrypt_many(KEY.public, list(range(start, start + n)))


def _chunks_stored(coord) -> int:
    return coord.store.row("SELECT count(*) AS n FROM chunks")["n"]


def test_the_viewer_must_send_its_key_and_only_it_may(coord):
    agreement = _agree(coord)
    with pytest.raises(InvalidArgument, match="grant you pipeline value: your upload must carry"):
        _begin(coord, agreement, public=b"")
    with pytest.raises(InvalidArgument, match="only your own upload"):
        _begin(coord, agreement, party=P)
    with pytest.raises(InvalidArgument, match="value_public: not a point on P-256"):
        _begin(coord, agreement, public=PUBLIC[:-1] + bytes([PUBLIC[-1] ^ 1]))


def test_every_account_needs_an_amount_at_commit(coord):
    agreement = _agree(coord)
    values = _amounts(0, N // 2)
    session, (pts, acc, pops, digest) = _begin(coord, agreement, values=values)
    coord.put_chunk(V, session["upload_id"], 0, pts, acc, pops, digest, b"", b"", values)
    with pytest.raises(InvalidArgument, match=f"encrypted amounts for {N // 2:,} of its {N:,} accounts"):
        coord.commit_upload(V, session["upload_id"])


@pytest.mark.parametrize(
    "values, why",
    [
        (_amounts(5, N), "from label 5"),  # runs past the upload's accounts
        (struct.pack("<I", 0) + b"\x04" * 200, "got 204 bytes"),
        (struct.pack("<I", 0) + bytes(130), "account 0: expected a 65-byte uncompressed P-256 point"),
    ],
)
def test_a_bad_chunk_is_refused_and_nothing_is_stored(coord, values, why):
    agreement = _agree(coord)
    session, (pts, acc, pops, digest) = _begin(coord, agreement, values=values)
    with pytest.raises(InvalidArgument, match=why):
        coord.put_chunk(V, session["upload_id"], 0, pts, acc, pops, digest, b"", b"", values)
    assert _chunks_stored(coord) == 0


def test_amounts_are_refused_where_no_grant_asks_for_them(coord):
    terms = build_terms(V, P, ["opportunity"], ["customer"], min_set_size=1)
    proposed = coord.propose(V, P, canonical_json(terms))
    agreement = coord.approve(P, proposed["agreement_id"], proposed["terms_hash"])
    values = _amounts(0, N)
    session, (pts, acc, pops, digest) = _begin(coord, agreement, values=values, public=b"")
    with pytest.raises(InvalidArgument, match="only own uploads of overlap runs whose terms grant you pipeline value"):
        coord.put_chunk(V, session["upload_id"], 0, pts, acc, pops, digest, b"", b"", values)
    assert _chunks_stored(coord) == 0
