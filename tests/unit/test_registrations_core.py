"""The coordinator's deal-registration rules, in process over a real DuckDB store (no server).

Tokens are computed here with the OPRF's direct evaluation by a key this test holds, so which accounts
conflict is known from the inputs alone; the rules under test are who may do what, one evaluation per
check, and the conflict answer against the other partners' active registrations.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cleanroom import oprf
from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.store import Store
from cleanroom.crypto.evaluation_signing import sign_request
from cleanroom.crypto.signing import Signer
from cleanroom.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, ResourceExhausted


@pytest.fixture
def coord(tmp_path):
    store = Store(tmp_path / "coordinator.duckdb", Signer(Ed25519PrivateKey.generate()))
    yield Coordinator(store)
    store.close()


K = oprf.new_secret()
KEYS = {p: Ed25519PrivateKey.generate() for p in ("a", "b", "vendor", "mallory")}


def _request(coord: Coordinator, partner: str, program: str, blinded: bytes) -> dict:
    """Queue a request signed by the partner's key, as its client does."""
    signed = sign_request(KEYS[partner], program, partner, blinded)
    return coord.programs.request(
        partner, program, blinded, signed.request_id, signed.signing_public, signed.signature, signed.signed_at
    )


def _program(coord: Coordinator, **terms) -> str:
    return coord.programs.create("vendor", "deals", oprf.public_key(K), ["a", "b"], **terms)["program_id"]


def _check(coord: Coordinator, program: str, partner: str, account: str) -> dict:
    """One registration the way the clients make it: blind, queue, evaluate with a proof, finalize, register."""
    context = program.encode()
    blinded = oprf.blind(account.encode(), context)
    request = _request(coord, partner, program, blinded.element)["request_id"]
    evaluated = oprf.evaluate(K, blinded.element)
    coord.programs.post("vendor", program, [(request, evaluated, oprf.prove(K, blinded.element, evaluated), "")])
    token = oprf.finalize(account.encode(), context, blinded.r, evaluated)
    assert token == oprf.direct(K, account.encode(), context)
    return coord.registrations.register(partner, program, request, token)


def test_conflict_only_against_another_partners_active_registration(coord: Coordinator) -> None:
    program = _program(coord, reveal_holder=True)
    assert _check(coord, program, "a", "acme.com")["conflict"] is False
    with pytest.raises(FailedPrecondition, match="active registration on this account already"):
        _check(coord, program, "a", "acme.com")
    answer = _check(coord, program, "b", "acme.com")
    assert answer["conflict"] is True and answer["other_holder"] == "a" and answer["other_registered_at"] == ""
    assert _check(coord, program, "b", "globex.com")["conflict"] is False
    tokens = [oprf.direct(K, d.encode(), program.encode()) for d in ("acme.com", "globex.com", "initech.com")]
    seen = coord.registrations.conflicts("vendor", program, tokens)
    assert seen["total_conflicts"] == 1 and [c["token"] for c in seen["labelled"]] == [tokens[0]]
    assert sorted(h["partner"] for h in seen["labelled"][0]["holders"]) == ["a", "b"]
    assert coord.registrations.conflicts("vendor", program, [])["labelled"] == []


def test_an_evaluation_serves_one_registration_and_only_its_partner(coord: Coordinator) -> None:
    program = _program(coord)
    blinded = oprf.blind(b"acme.com", program.encode())
    request = _request(coord, "a", program, blinded.element)["request_id"]
    with pytest.raises(FailedPrecondition, match="waiting for the vendor"):
        coord.registrations.register("a", program, request, b"\x01" * 32)
    evaluated = oprf.evaluate(K, blinded.element)
    coord.programs.post("vendor", program, [(request, evaluated, oprf.prove(K, blinded.element, evaluated), "")])
    with pytest.raises(NotFound):
        coord.registrations.register("b", program, request, b"\x01" * 32)
    coord.registrations.register("a", program, request, b"\x01" * 32)
    with pytest.raises(FailedPrecondition, match="used by a registration already"):
        coord.registrations.register("a", program, request, b"\x02" * 32)
    assert coord.programs.get("a", request)["blinded"] == b""  # the elements go once consumed


def test_who_may_do_what(coord: Coordinator) -> None:
    program = _program(coord)
    element = oprf.blind(b"x", b"y").element
    with pytest.raises(NotFound):
        _request(coord, "mallory", program, element)
    with pytest.raises(PermissionDenied):
        _request(coord, "vendor", program, element)
    with pytest.raises(PermissionDenied):
        coord.programs.pending("a", program, 0)
    with pytest.raises(PermissionDenied):
        coord.registrations.conflicts("a", program, [])
    with pytest.raises(InvalidArgument, match="identity"):
        _request(coord, "a", program, (1).to_bytes(32, "little"))
    with pytest.raises(InvalidArgument, match="vendor cannot be a partner"):
        coord.programs.create("vendor", "t", oprf.public_key(K), ["vendor"])


def test_a_proof_for_another_key_is_refused_and_nothing_is_kept(coord: Coordinator) -> None:
    program = _program(coord)
    blinded = oprf.blind(b"acme.com", program.encode()).element
    request = _request(coord, "a", program, blinded)["request_id"]
    other = oprf.new_secret()
    wrong = oprf.evaluate(other, blinded)
    with pytest.raises(InvalidArgument, match="does not match"):
        coord.programs.post("vendor", program, [(request, wrong, oprf.prove(other, blinded, wrong), "")])
    assert [r["request_id"] for r in coord.programs.pending("vendor", program, 0)] == [request]


def test_checks_per_day_are_counted_per_partner(coord: Coordinator) -> None:
    program = _program(coord, max_checks_per_day=2)
    for _ in range(2):
        _request(coord, "a", program, oprf.blind(b"x", b"y").element)
    with pytest.raises(ResourceExhausted):
        _request(coord, "a", program, oprf.blind(b"x", b"y").element)
    _request(coord, "b", program, oprf.blind(b"x", b"y").element)  # b's allowance is its own


def test_an_unsigned_or_forged_request_is_not_queued(coord: Coordinator) -> None:
    program = _program(coord)
    blinded = oprf.blind(b"acme.com", program.encode()).element
    signed = sign_request(KEYS["a"], program, "a", blinded)
    forged = [
        (blinded, signed.request_id, signed.signing_public, b"", signed.signed_at),  # no signature
        (oprf.blind(b"guess.com", program.encode()).element, signed.request_id, signed.signing_public, signed.signature,
         signed.signed_at),  # another element under a's signature
        (blinded, signed.request_id, KEYS["b"].public_key().public_bytes_raw(), signed.signature, signed.signed_at),
    ]  # fmt: skip
    for element, request_id, public, signature, at in forged:
        with pytest.raises(InvalidArgument, match="not signed by the key it carries"):
            coord.programs.request("a", program, element, request_id, public, signature, at)
    with pytest.raises(InvalidArgument, match="not signed"):  # a's signature, relayed as b's request
        coord.programs.request(
            "b", program, blinded, signed.request_id, signed.signing_public, signed.signature, signed.signed_at
        )
    assert coord.programs.pending("vendor", program, 0) == []


def test_a_refused_request_leaves_the_queue_and_cannot_be_registered_with(coord: Coordinator) -> None:
    program = _program(coord)
    request = _request(coord, "a", program, oprf.blind(b"acme.com", program.encode()).element)["request_id"]
    (answer,) = coord.programs.post("vendor", program, [(request, b"", b"", "not signed by a's pinned key")])
    assert answer["state"] == "refused" and answer["refused"] == "not signed by a's pinned key" and answer["evaluated"] == b""
    assert coord.programs.pending("vendor", program, 0) == []
    assert coord.programs.get("a", request)["state"] == "refused"
    with pytest.raises(FailedPrecondition, match="refused request"):
        coord.registrations.register("a", program, request, oprf.direct(K, b"acme.com", program.encode()))
    with pytest.raises(FailedPrecondition, match="answered already"):
        coord.programs.post("vendor", program, [(request, b"", b"", "again")])
