"""Shared fields sealed end to end: one side's columns, readable only by the other side.

When the terms grant a viewer account-level reveal, the OTHER side's client
seals the columns it shares, per account, to the viewer's X25519 public key.
The coordinator stores and forwards the sealed bytes and can read none of
them; it only decides, from the terms and the join, which rows it forwards.

Construction (HPKE-like, base mode, one context per upload):

    e      = HMAC-SHA256(sender's X25519 private key, SUITE | ctx | content digest)
             -- a deterministic ephemeral scalar: the same file under the same
             terms seals to the same bytes, so an interrupted upload resumes
             with the digests it announced; different content, a fresh e
    E      = X25519(e, 9)                 (sent once per chunk)
    k      = HKDF-SHA256(X25519(e, R), info = SUITE | ctx | E | R), 32 bytes
    sealed = AES-256-GCM(k, nonce = 0^8 | label (u32 BE), fields, aad = SUITE | ctx | label)

where ``ctx`` length-prefixes the agreement id, terms hash, sender and
recipient, and ``label`` is the sender's pseudonymous account label in the
upload (unique within it, so a nonce is never reused under a key). A row
whose bytes were changed, moved to another label, agreement, terms version or
recipient fails authentication.

Why not RFC 9180 HPKE from ``cryptography``: its single-shot API draws a fresh
ephemeral key per message (one X25519 per account, ~80 us, and output that
changes on every run, which would defeat resumable uploads) and takes no
per-message associated data.

Wire format of a chunk's ``sealed`` field (little-endian):

    b"CRS1" | E (32 bytes) | repeated { label u32 | length u32 | ciphertext }

with labels strictly increasing. A viewer receives each row as E | ciphertext.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cleanroom.errors import CleanroomError
from cleanroom.terms import canonical_json

SUITE = b"cleanroom/reveal/v1"
MAGIC = b"CRS1"
PUBLIC_SIZE = 32
TAG_SIZE = 16
MAX_SEALED = 16 * 1024  # ciphertext bytes of one account's fields
MAX_VALUE_CHARS = 1000  # a shared cell longer than this is cut (with an ellipsis) before sealing
_RECORD = struct.Struct("<II")
RECORD_OVERHEAD = _RECORD.size
CHUNK_OVERHEAD = len(MAGIC) + PUBLIC_SIZE
# One character of a value in canonical JSON: at most 6 bytes (a control character as \u00XX).
_JSON_CHAR = 6


def record_bound(columns: Iterable[str]) -> int:
    """The largest ciphertext one account's sealed fields can have when they are the named shared columns:
    canonical JSON {column: value or null} with values of at most MAX_VALUE_CHARS characters, plus the tag;
    never over MAX_SEALED."""
    names = list(columns)
    if not names:
        return 0
    entries = sum(len(canonical_json(name)) + 1 + 2 + _JSON_CHAR * MAX_VALUE_CHARS for name in names)
    return min(MAX_SEALED, 2 + entries + len(names) - 1 + TAG_SIZE)


class SealError(CleanroomError):
    """Sealed bytes that do not open: altered, misplaced, or not sealed to this key and agreement."""


def fingerprint(public: bytes) -> str:
    """A short, comparable fingerprint of an X25519 public key (read it out to the other side)."""
    digest = hashlib.sha256(b"cleanroom/x25519/fingerprint/v1" + public).hexdigest()[:32]
    return " ".join(digest[i : i + 4] for i in range(0, 32, 4))


def check_public(public: bytes) -> None:
    """A usable X25519 public key: 32 bytes and not of small order (which would make every seal readable)."""
    if len(public) != PUBLIC_SIZE:
        raise ValueError(f"an X25519 public key is {PUBLIC_SIZE} bytes, not {len(public)}")
    try:
        X25519PrivateKey.generate().exchange(X25519PublicKey.from_public_bytes(public))
    except ValueError:
        raise ValueError("the X25519 public key is of small order (all shared secrets would be zero)") from None


def public_bytes(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def private_bytes(key: X25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())


def _lp(*parts: bytes) -> bytes:
    return b"".join(struct.pack(">I", len(p)) + p for p in parts)


@dataclass(frozen=True)
class SealContext:
    """What every sealed row is bound to, besides its label and the keys."""

    agreement_id: str
    terms_hash: str
    sender: str
    recipient: str

    def encoded(self) -> bytes:
        return _lp(*(v.encode("utf-8") for v in (self.agreement_id, self.terms_hash, self.sender, self.recipient)))

    def aad(self, label: int) -> bytes:
        return SUITE + self.encoded() + struct.pack(">I", label)


def _nonce(label: int) -> bytes:
    return b"\0" * 8 + struct.pack(">I", label)


def _aead(shared: bytes, context: SealContext, ephemeral: bytes, recipient: bytes) -> AESGCM:
    if not any(shared):
        raise SealError("the X25519 shared secret is zero (a small-order key); refusing to seal or open")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SUITE + context.encoded() + ephemeral + recipient).derive(
        shared
    )
    return AESGCM(key)


def content_digest(points: bytes, plaintexts: Iterable[tuple[int, bytes]]) -> bytes:
    """What the deterministic ephemeral scalar depends on: the upload's points and every sealed plaintext."""
    h = hashlib.sha256(SUITE + b"/content")
    h.update(hashlib.sha256(points).digest())
    for label, plaintext in plaintexts:
        h.update(struct.pack(">II", label, len(plaintext)) + plaintext)
    return h.digest()


class Sealer:
    """Seals one upload's rows to the recipient (one ephemeral key per upload)."""

    def __init__(self, context: SealContext, sender_private: X25519PrivateKey, recipient_public: bytes, digest: bytes) -> None:
        check_public(recipient_public)
        seed = hmac.new(
            private_bytes(sender_private), SUITE + b"/ephemeral" + context.encoded() + recipient_public + digest, hashlib.sha256
        ).digest()
        ephemeral = X25519PrivateKey.from_private_bytes(seed)
        self.context = context
        self.ephemeral_public = public_bytes(ephemeral)
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public))
        self._aead = _aead(shared, context, self.ephemeral_public, recipient_public)

    def seal(self, label: int, plaintext: bytes) -> bytes:
        return self._aead.encrypt(_nonce(label), plaintext, self.context.aad(label))


class Opener:
    """Opens rows sealed to us (the recipient); one derived key per sender ephemeral, cached."""

    def __init__(self, context: SealContext, recipient_private: X25519PrivateKey) -> None:
        self.context = context
        self._private = recipient_private
        self._public = public_bytes(recipient_private)
        self._aeads: dict[bytes, AESGCM] = {}

    def open(self, label: int, sealed: bytes) -> bytes:
        """The plaintext of a row E | ciphertext sealed for the sender's ``label``; SealError if it does not authenticate."""
        if len(sealed) < PUBLIC_SIZE + TAG_SIZE:
            raise SealError(f"sealed row of label {label} is {len(sealed)} bytes, too short to hold a key and a tag")
        ephemeral, ciphertext = sealed[:PUBLIC_SIZE], sealed[PUBLIC_SIZE:]
        aead = self._aeads.get(ephemeral)
        if aead is None:
            try:
                shared = self._private.exchange(X25519PublicKey.from_public_bytes(ephemeral))
            except ValueError:
                raise SealError(f"sealed row of label {label} carries an unusable ephemeral key") from None
            aead = self._aeads[ephemeral] = _aead(shared, self.context, ephemeral, self._public)
        try:
            return aead.decrypt(_nonce(label), ciphertext, self.context.aad(label))
        except InvalidTag:
            raise SealError(f"sealed row of label {label} fails authentication") from None


# -- chunk framing (both ends) ----------------------------------------------------------


def pack_chunk(ephemeral_public: bytes, rows: Iterable[tuple[int, bytes]]) -> bytes:
    out = [MAGIC, ephemeral_public]
    for label, ciphertext in rows:
        out.append(_RECORD.pack(label, len(ciphertext)) + ciphertext)
    return b"".join(out)


def unpack_chunk(blob: bytes, where: str) -> tuple[bytes, list[tuple[int, bytes]]]:
    """(E, [(label, ciphertext), ...]) of a chunk's sealed field; ValueError naming the problem."""
    if len(blob) < len(MAGIC) + PUBLIC_SIZE or not blob.startswith(MAGIC):
        raise ValueError(f"{where}: sealed fields must start with {MAGIC!r} and a {PUBLIC_SIZE}-byte ephemeral key")
    ephemeral = blob[len(MAGIC) : len(MAGIC) + PUBLIC_SIZE]
    rows: list[tuple[int, bytes]] = []
    at, last = len(MAGIC) + PUBLIC_SIZE, -1
    while at < len(blob):
        if at + _RECORD.size > len(blob):
            raise ValueError(f"{where}: sealed record {len(rows) + 1} is truncated")
        label, size = _RECORD.unpack_from(blob, at)
        at += _RECORD.size
        if not TAG_SIZE < size <= MAX_SEALED:
            raise ValueError(
                f"{where}: sealed record {len(rows) + 1} has {size} bytes; a record holds {TAG_SIZE + 1} to {MAX_SEALED}"
            )
        if at + size > len(blob):
            raise ValueError(f"{where}: sealed record {len(rows) + 1} is truncated")
        if label <= last:
            raise ValueError(f"{where}: sealed records must have strictly increasing account labels")
        rows.append((label, blob[at : at + size]))
        at, last = at + size, label
    return ephemeral, rows


def reveal_digest(rows: Iterable[dict[str, Any]]) -> str:
    """Hex SHA-256 of a reveal release's rows, as the coordinator signs it and the viewer checks it:
    the canonical JSON list [[account, their_account, [theirs...], base64(sealed), [mine...], component], ...]
    in order (releases made before rows carried their populations and company: the first four only)."""
    listed = [
        [r["account"], r["their_account"], list(r["theirs"]), base64.b64encode(r["sealed"]).decode("ascii")]
        + ([list(r["mine"]), int(r["component"])] if "component" in r else [])
        for r in rows
    ]
    return hashlib.sha256(canonical_json(listed)).hexdigest()
