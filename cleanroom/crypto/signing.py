"""The coordinator's Ed25519 signing key: audit entries, receipts and releases."""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cleanroom.crypto.keyfiles import write_private
from cleanroom.terms import canonical_json


class Signer:
    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @classmethod
    def create(cls, path: Path) -> Signer:
        key = Ed25519PrivateKey.generate()
        write_private(
            path,
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        )
        return cls(key)

    @classmethod
    def load(cls, path: Path) -> Signer:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return cls(key)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def sign_json(self, obj: object) -> bytes:
        return self._key.sign(canonical_json(obj))


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def verify_bytes(public_pem: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is the key's signature over exactly ``message``."""
    try:
        load_public_key(public_pem).verify(signature, message)
        return True
    except InvalidSignature:
        return False


def verify_json(public_pem: bytes, obj: object, signature: bytes) -> bool:
    """Whether ``signature`` is the key's signature over the canonical JSON of ``obj``."""
    return verify_bytes(public_pem, canonical_json(obj), signature)
