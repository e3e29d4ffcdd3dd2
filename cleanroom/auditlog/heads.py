"""Signed audit heads: the coordinator's word on how long its audit log was, kept outside its store.

A head says "my audit log held ``count`` entries, the last of which hashed to
``head_hash``, at ``signed_at``", signed with the coordinator's Ed25519 key.
Every release and upload receipt carries the head as of the entry that
recorded it, and the parties keep them with their receipts; a store rolled
back afterwards (its newest entries deleted, or replaced) can no longer match
a head someone holds. The signed message starts with ``HEAD_DOMAIN`` so a head
signature is never a valid signature over anything else the key signs
(releases and checkpoints are canonical JSON starting with ``{``, entries are
32-byte hashes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cleanroom.crypto.signing import Signer
from cleanroom.errors import InputError
from cleanroom.terms import canonical_json

HEAD_DOMAIN = b"cleanroom.audit-head/v1\n"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class AuditHead:
    count: int
    head_hash: str
    signed_at: str
    signature: str  # hex

    def body(self) -> dict[str, Any]:
        return {"count": self.count, "head_hash": self.head_hash, "signed_at": self.signed_at}

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "signature": self.signature}

    def signed_by(self, key: Ed25519PublicKey) -> bool:
        try:
            key.verify(bytes.fromhex(self.signature), head_message(self.count, self.head_hash, self.signed_at))
            return True
        except (InvalidSignature, ValueError):
            return False


def head_message(count: int, head_hash: str, signed_at: str) -> bytes:
    """The exact bytes a head's signature covers."""
    return HEAD_DOMAIN + canonical_json({"count": count, "head_hash": head_hash, "signed_at": signed_at})


def sign_head(signer: Signer, count: int, head_hash: str, signed_at: str) -> AuditHead:
    return AuditHead(count, head_hash, signed_at, signer.sign(head_message(count, head_hash, signed_at)).hex())


def head_from_dict(value: Any, where: str) -> AuditHead:
    """A head from its JSON form; InputError naming ``where`` when a field is missing or malformed."""
    if not isinstance(value, dict):
        raise InputError(f"{where}: an audit head is an object with count, head_hash, signed_at and signature")
    count, head_hash, signed_at, signature = (value.get(k) for k in ("count", "head_hash", "signed_at", "signature"))
    if isinstance(count, str) and count.isdigit():  # proto3 JSON writes 64-bit numbers as strings
        count = int(count)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise InputError(f"{where}: the audit head's count must be a positive whole number (got {count!r})")
    if not isinstance(head_hash, str) or not _HEX64.match(head_hash):
        raise InputError(f"{where}: the audit head's head_hash must be 64 lowercase hex digits")
    if not isinstance(signed_at, str) or not signed_at:
        raise InputError(f"{where}: the audit head has no signed_at time")
    if not isinstance(signature, str) or not re.fullmatch(r"[0-9a-f]{128}", signature):
        raise InputError(f"{where}: the audit head's signature must be 128 lowercase hex digits (an Ed25519 signature)")
    return AuditHead(count, head_hash, signed_at, signature)
