"""The vendor's own checks before it evaluates a partner's request (protocol/registration_trust.py).

Signatures are made here with keys this test holds (the statement's bytes are
built independently below, from the documented context and canonical JSON),
so which requests must pass is known from the inputs alone.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cleanroom import oprf
from cleanroom.crypto.evaluation_signing import signing_fingerprint
from cleanroom.errors import InputError
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.registration_trust import VendorBook
from cleanroom_client.remote.registrations import Evaluation, Program

PROGRAM = Program("prg_1", "vendor", "deals", b"", ("a", "b"), 86_400, False, False, 2, "")
NOW = dt.datetime(2026, 1, 2, 12, tzinfo=dt.UTC)


def _public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _request(key: Ed25519PrivateKey, partner: str, n: int, program_id: str = "prg_1", sign_as: str = "") -> Evaluation:
    """A request signed the way the protocol says, written out here rather than with the code under test."""
    blinded = oprf.blind(f"domain:{n}.com".encode(), b"ctx").element
    request_id, at = f"evr_{n:032x}", "2026-01-02T11:00:00+00:00"
    body = {"blinded": blinded.hex(), "partner": sign_as or partner, "program_id": program_id, "request_id": request_id,
            "signed_at": at}  # fmt: skip
    message = b"cleanroom/registration-evaluation/v1\n" + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return Evaluation(request_id, "prg_1", partner, "pending", blinded, b"", b"", "", "", _public(key), key.sign(message), at, "")


def _fp(key: Ed25519PrivateKey) -> str:
    return signing_fingerprint(_public(key))  # (the fingerprint's format: not under test here)


def test_first_use_pins_and_another_key_is_refused(tmp_path: Path) -> None:
    book, a, other = VendorBook(Profile(tmp_path, "vendor", "x:1")), Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    book.remember(PROGRAM)
    first = book.admit(PROGRAM, _request(a, "a", 1), NOW)
    assert first.refused == "" and first.pinned == _fp(a)
    book.save()
    book = VendorBook(Profile(tmp_path, "vendor", "x:1"))  # as a later run reads it
    assert book.admit(PROGRAM, _request(a, "a", 2), NOW).pinned == ""
    assert "not a's pinned key" in book.admit(PROGRAM, _request(other, "a", 3), NOW).refused
    assert "was evaluated before" in book.admit(PROGRAM, _request(a, "a", 1), NOW).refused


def test_forgeries_are_refused(tmp_path: Path) -> None:
    book, a = VendorBook(Profile(tmp_path, "vendor", "x:1")), Ed25519PrivateKey.generate()
    book.remember(PROGRAM)
    assert "not a partner" in book.admit(PROGRAM, _request(a, "mallory", 1), NOW).refused
    assert "not signed by b" in book.admit(PROGRAM, _request(a, "b", 2, sign_as="a"), NOW).refused  # a's, relayed as b's
    assert "not signed by a" in book.admit(PROGRAM, _request(a, "a", 3, program_id="prg_2"), NOW).refused
    tampered = _request(a, "a", 4)
    moved = Evaluation(*[*vars(tampered).values()][:4], oprf.blind(b"guess", b"ctx").element, *[*vars(tampered).values()][5:])
    assert "not signed by a" in book.admit(PROGRAM, moved, NOW).refused
    unsigned = Evaluation(*[*vars(tampered).values()][:10], b"", tampered.signed_at, "")
    assert "not signed by a" in book.admit(PROGRAM, unsigned, NOW).refused
    assert book.programs["prg_1"]["pins"] == {}  # nothing that failed to verify was pinned


def test_trusted_fingerprint_and_the_daily_limit(tmp_path: Path) -> None:
    book, a, b = VendorBook(Profile(tmp_path, "vendor", "x:1")), Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    book.remember(PROGRAM)
    book.trust(PROGRAM, "b", _fp(b))
    assert "pinned key" in book.admit(PROGRAM, _request(a, "b", 1), NOW).refused  # b's pin holds from the start
    with pytest.raises(InputError, match="pinned already"):
        book.trust(PROGRAM, "b", _fp(a))
    with pytest.raises(InputError, match="not a partner"):
        book.trust(PROGRAM, "mallory", _fp(a))
    # the limit is the one the vendor created the program with (2), over the last 24 hours of its own evaluations
    lifted = Program(*[*vars(PROGRAM).values()][:8], 1000, "")  # what a deviating coordinator shows
    assert [book.admit(lifted, _request(b, "b", n), NOW).refused for n in (2, 3)] == ["", ""]
    assert "used its 2 evaluations" in book.admit(lifted, _request(b, "b", 4), NOW).refused
    assert book.admit(lifted, _request(b, "b", 5), NOW + dt.timedelta(hours=24, seconds=1)).refused == ""
    assert book.admit(lifted, _request(a, "a", 6), NOW).refused == ""  # a's allowance is its own


def test_a_program_this_profile_did_not_create_is_not_served_on_the_coordinators_word(tmp_path: Path) -> None:
    # The coordinator lists the program with a partner it controls and a high limit: nothing is evaluated.
    book, key = VendorBook(Profile(tmp_path, "vendor", "x:1")), Ed25519PrivateKey.generate()
    listed = Program("prg_1", "vendor", "deals", b"", ("a", "b", "mallory"), 86_400, False, False, 100_000, "")
    with pytest.raises(InputError, match="no record of the partners and daily limit"):
        book.admit(listed, _request(key, "mallory", 1), NOW)
    with pytest.raises(InputError, match="no record"):
        book.trust(listed, "mallory", "0" * 32)
    book.remember(PROGRAM)  # as created here: partners a and b
    assert "not a partner" in book.admit(listed, _request(key, "mallory", 2), NOW).refused
