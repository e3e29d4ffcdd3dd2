"""Alert signatures, the Standard Webhooks scheme (standardwebhooks.com, used by Svix and others).

Headers ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature: v1,<base64>``
where the signature is HMAC-SHA256, keyed by the secret's bytes (base64 after ``whsec_``), over
``"{webhook-id}.{webhook-timestamp}.{body}"``. Signing the id and time with the body lets a receiver
refuse a replayed or re-dated delivery; any Standard Webhooks library verifies it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cleanroom.errors import InputError

PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret: 32 random bytes, ``whsec_`` + base64."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key a secret stands for."""
    if not secret.startswith(PREFIX):
        raise InputError(f"an alert signing secret starts with {PREFIX!r}")
    try:
        return base64.b64decode(secret[len(PREFIX) :], validate=True)
    except ValueError:
        raise InputError("an alert signing secret is whsec_ followed by base64") from None


def signature(secret: str, delivery_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header's value for one delivery."""
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secret: str, delivery_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every header of a signed delivery."""
    return {
        "content-type": "application/json",
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, delivery_id, timestamp, body),
    }
