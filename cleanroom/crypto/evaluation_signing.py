"""Evaluation statements: what a deal-registration partner signs about each request it queues for the vendor.

The vendor's client evaluates the OPRF on a blinded element only when the
partner who asked signed the request with its per-program Ed25519 key (born on
the partner's machine; the vendor pins it). Without this, a deviating
coordinator could queue blinded guesses of its own, learn k * H(guess) and test
each guess against the registration tokens it holds. The request id (chosen by
the partner) and the signing time are signed too, so a signature cannot be
reused for another request; a replayed one is refused by the vendor, who keeps
the ids it evaluated.

The context string separates these signatures from any other use of a key.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cleanroom.crypto.upload_signing import SIGNATURE_SIZE, check_signing_public, signing_fingerprint
from cleanroom.terms import canonical_json

STATEMENT_CONTEXT = b"cleanroom/registration-evaluation/v1\n"
REQUEST_ID = re.compile(r"^evr_[0-9a-f]{32}$")

__all__ = [
    "REQUEST_ID", "EvaluationStatement", "SignedRequest", "check_signing_public", "sign_request", "signing_fingerprint",
    "statement_verifies",
]  # fmt: skip


@dataclass(frozen=True)
class EvaluationStatement:
    """The facts of one evaluation request that its partner vouches for."""

    program_id: str
    partner: str  # who asks (and signs this)
    request_id: str  # chosen by the partner
    blinded: bytes  # r * H(account): the only thing the vendor multiplies
    signed_at: str  # UTC, ISO 8601

    def message(self) -> bytes:
        body = {
            "program_id": self.program_id,
            "partner": self.partner,
            "request_id": self.request_id,
            "blinded": self.blinded.hex(),
            "signed_at": self.signed_at,
        }
        return STATEMENT_CONTEXT + canonical_json(body)

    def sign(self, key: Ed25519PrivateKey) -> bytes:
        return key.sign(self.message())


def statement_verifies(public: bytes, statement: EvaluationStatement, signature: bytes) -> bool:
    """Whether ``signature`` is ``public``'s signature over exactly ``statement`` (False for any malformed part)."""
    if len(signature) != SIGNATURE_SIZE:
        return False
    try:
        check_signing_public(public)
        Ed25519PublicKey.from_public_bytes(public).verify(signature, statement.message())
        return True
    except (InvalidSignature, ValueError):
        return False


@dataclass(frozen=True)
class SignedRequest:
    """What travels beside the blinded element: the id and time the partner signed, its key and the signature."""

    request_id: str
    signing_public: bytes
    signature: bytes
    signed_at: str


def new_request_id() -> str:
    return f"evr_{secrets.token_hex(16)}"


def sign_request(key: Ed25519PrivateKey, program_id: str, partner: str, blinded: bytes) -> SignedRequest:
    """A fresh request id and the time now, signed with ``partner``'s key together with the blinded element."""
    request_id, at = new_request_id(), dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    signature = EvaluationStatement(program_id, partner, request_id, blinded, at).sign(key)
    return SignedRequest(request_id, key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw), signature, at)
