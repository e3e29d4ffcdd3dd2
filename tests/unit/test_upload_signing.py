"""Uploads signed end to end (issue 13, item 2): the statement binds every fact of an upload, the
coordinator refuses an upload whose signature does not verify before storing anything, and a
statement cannot be replayed into another agreement or another party's name."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cleanroom.coordinator.store.records import OWN
from cleanroom.crypto.upload_signing import (
    STATEMENT_CONTEXT,
    UploadStatement,
    canary_commitment,
    points_digest,
    statement_verifies,
)
from cleanroom.errors import FailedPrecondition, InvalidArgument
from cleanroom.protocol import chunk_digest, upload_digest
from cleanroom.psi import blind, hash_to_points, new_secret
from cleanroom.terms import build_terms, canonical_json

from inprocess import coordinator, snapshot


def _key() -> tuple[Ed25519PrivateKey, bytes]:
    private = Ed25519PrivateKey.generate()
    return private, private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


STATEMENT = UploadStatement(
    agreement_id="agr_1",
    terms_hash="ab" * 32,
    party="vendor",
    kind="own",
    purpose="overlap",
    total_points=1000,
    total_chunks=2,
    upload_digest="cd" * 32,
    points_digest="ef" * 32,
    canaries="01" * 32,
)


def test_the_statement_is_canonical_json_under_its_context():
    message = STATEMENT.message()
    assert message.startswith(b'{"agreement_id":"agr_1"') and STATEMENT_CONTEXT.encode() in message
    one_off = {k: v for k, v in dataclasses.asdict(STATEMENT).items() if k != "changes"}
    # A one-off run's statement names no changes and signs exactly what it signed before continuous runs existed.
    assert message == canonical_json({"context": STATEMENT_CONTEXT, **one_off})
    changed = dataclasses.replace(STATEMENT, changes="12" * 32)
    assert changed.message() == canonical_json({"context": STATEMENT_CONTEXT, **dataclasses.asdict(changed)})


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(UploadStatement)])
def test_every_fact_of_the_upload_is_bound_by_the_signature(field):
    private, public = _key()
    signature = private.sign(STATEMENT.message())
    assert statement_verifies(public, STATEMENT, signature)
    current = getattr(STATEMENT, field)
    changed = dataclasses.replace(STATEMENT, **{field: current + 1 if isinstance(current, int) else current + "x"})
    assert not statement_verifies(public, changed, signature)


def test_a_signature_by_another_key_or_of_the_wrong_size_does_not_verify():
    private, _ = _key()
    _, other = _key()
    signature = private.sign(STATEMENT.message())
    assert not statement_verifies(other, STATEMENT, signature)
    assert not statement_verifies(other, STATEMENT, signature[:63])
    assert not statement_verifies(b"\x00" * 31, STATEMENT, signature)


def test_points_digest_ignores_chunking_and_canaries_commit_to_both_parts():
    points = bytes(range(256)) * 4
    assert points_digest([points]) == points_digest([points[:320], points[320:]])
    assert points_digest([points]) != points_digest([points[32:] + points[:32]])
    assert canary_commitment(b"", b"") == ""
    assert canary_commitment(b"s" * 32, b"\x00" * 8) != canary_commitment(b"s" * 32, b"\x01" + b"\x00" * 7)


# -- the coordinator -------------------------------------------------------------------------


def _agreement(coord, keys: dict[str, bytes]) -> dict:
    terms = canonical_json(build_terms("vendor", "partner", ["customer"]))
    proposed = coord.propose("vendor", "partner", terms, signing_public=keys["vendor"])
    return coord.approve("partner", proposed["agreement_id"], proposed["terms_hash"], signing_public=keys["partner"])


def _own_upload(agreement: dict, n: int = 60) -> tuple[bytes, str, UploadStatement]:
    points = blind(new_secret(), hash_to_points([f"d{i}.com" for i in range(n)], b"ctx"), workers=1)
    accounts = b"".join(i.to_bytes(4, "little") for i in range(n))
    pops = b"\x01\x00" * n
    digest = chunk_digest(points, accounts, pops)
    statement = UploadStatement(
        agreement_id=agreement["agreement_id"],
        terms_hash=agreement["terms_hash"],
        party="vendor",
        kind=OWN,
        purpose="overlap",
        total_points=n,
        total_chunks=1,
        upload_digest=upload_digest([digest]),
        points_digest=points_digest([points]),
    )
    return points, digest, statement


def _begin(coord, agreement, statement: UploadStatement, signature: bytes, party: str = "vendor") -> dict:
    return coord.begin_upload(
        party,
        agreement["agreement_id"],
        agreement["terms_hash"],
        OWN,
        "",
        statement.total_points,
        1,
        statement.total_points,
        statement.upload_digest,
        party_signature=signature,
        points_digest=statement.points_digest,
    )


def test_the_coordinator_relays_each_partys_signing_key(tmp_path):
    coord, _ = coordinator(tmp_path)
    (_, v), (_, p) = _key(), _key()
    agreement = _agreement(coord, {"vendor": v, "partner": p})
    assert {k["party"]: k["public_ed25519"] for k in agreement["signing"]} == {"vendor": v, "partner": p}


def test_an_upload_signed_with_another_key_or_over_other_facts_is_refused_before_anything_is_stored(tmp_path):
    coord, _ = coordinator(tmp_path)
    (vendor_key, v), (_, p) = _key(), _key()
    agreement = _agreement(coord, {"vendor": v, "partner": p})
    _, _, statement = _own_upload(agreement)
    before = snapshot(coord)
    forger, _ = _key()
    for signature in (
        b"",  # unsigned, though the vendor gave a key
        forger.sign(statement.message()),  # the coordinator's (or anyone's) own key
        vendor_key.sign(dataclasses.replace(statement, total_points=statement.total_points + 1).message()),
        vendor_key.sign(dataclasses.replace(statement, party="partner").message()),
    ):
        with pytest.raises(InvalidArgument, match="does not verify against the signing key you gave"):
            _begin(coord, agreement, statement, signature)
    assert snapshot(coord) == before
    assert _begin(coord, agreement, statement, vendor_key.sign(statement.message()))["upload_id"]


def test_a_statement_cannot_be_replayed_into_another_agreement(tmp_path):
    coord, _ = coordinator(tmp_path)
    (vendor_key, v), (_, p) = _key(), _key()
    first, second = _agreement(coord, {"vendor": v, "partner": p}), _agreement(coord, {"vendor": v, "partner": p})
    _, _, statement = _own_upload(first)
    signature = vendor_key.sign(statement.message())
    with pytest.raises(InvalidArgument):
        _begin(coord, second, dataclasses.replace(statement, terms_hash=second["terms_hash"]), signature)


def test_points_that_differ_from_the_signed_digest_are_refused_at_commit(tmp_path):
    coord, _ = coordinator(tmp_path)
    (vendor_key, v), (_, p) = _key(), _key()
    agreement = _agreement(coord, {"vendor": v, "partner": p})
    _, _, statement = _own_upload(agreement)
    other = blind(new_secret(), hash_to_points([f"x{i}.com" for i in range(60)], b"ctx"), workers=1)
    n = statement.total_points
    accounts, pops = b"".join(i.to_bytes(4, "little") for i in range(n)), b"\x01\x00" * n
    # Announce the other points' payload digest but sign (and announce) the real points' digest.
    digest = chunk_digest(other, accounts, pops)
    lying = dataclasses.replace(statement, upload_digest=upload_digest([digest]))
    session = _begin(coord, agreement, lying, vendor_key.sign(lying.message()))
    coord.put_chunk("vendor", session["upload_id"], 0, other, accounts, pops, digest)
    with pytest.raises(InvalidArgument, match="do not match the points digest you signed"):
        coord.commit_upload("vendor", session["upload_id"])


def test_a_signing_key_once_given_is_kept(tmp_path):
    coord, _ = coordinator(tmp_path)
    (_, v), (_, p), (_, other) = _key(), _key(), _key()
    agreement = _agreement(coord, {"vendor": v, "partner": p})
    with pytest.raises(FailedPrecondition, match="keeps one signing key per agreement"):
        coord.approve("partner", agreement["agreement_id"], agreement["terms_hash"], signing_public=other)
    again = coord.approve("partner", agreement["agreement_id"], agreement["terms_hash"], signing_public=p)
    assert {k["party"]: k["public_ed25519"] for k in again["signing"]}["partner"] == p


def test_a_malformed_signing_key_is_refused(tmp_path):
    coord, _ = coordinator(tmp_path)
    terms = canonical_json(build_terms("vendor", "partner", ["customer"]))
    with pytest.raises(InvalidArgument, match="signing key: an Ed25519 public key is 32 bytes"):
        coord.propose("vendor", "partner", terms, signing_public=b"\x01" * 31)


def test_a_signed_upload_without_a_points_digest_is_refused(tmp_path):
    """The adversarial review: a statement signed over an empty points digest passed begin and commit (the
    commit check ran only when a digest was given), and the honest partner then blamed the coordinator."""
    coord, _ = coordinator(tmp_path)
    (vendor_key, v), (_, p) = _key(), _key()
    agreement = _agreement(coord, {"vendor": v, "partner": p})
    _, _, statement = _own_upload(agreement)
    empty = dataclasses.replace(statement, points_digest="")
    before = snapshot(coord)
    with pytest.raises(InvalidArgument, match="points_digest must be the hex SHA-256"):
        _begin(coord, agreement, empty, vendor_key.sign(empty.message()))
    assert snapshot(coord) == before
