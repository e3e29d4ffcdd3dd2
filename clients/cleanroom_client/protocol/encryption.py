"""This party's X25519 key pair for sealed shared fields, and the peers' keys it pinned.

    DIR/encryption.key   our X25519 private key (PKCS#8 PEM, 0600), created on
                         this machine the first time an agreement needs it --
                         never by ``coordinator add-party``, which runs on the
                         operator's machine
    DIR/peers.json       each peer's X25519 public key as first seen (pinned;
                         protocol/pins.py)

Trust. The coordinator relays public keys; it never holds a private one. A
party gives its public key with its own proposal or approval (authenticated by
its mTLS certificate) and the coordinator keeps one key per party and
agreement. A client pins a peer's key the first time it uses it (trust on
first use, like SSH) and refuses to seal to a different key for that peer
later. What this does not stop: a coordinator that is malicious from the
start, since it also runs the CA that vouches for party names, could answer
with a key of its own before the first use. The defence is out of band:
``agreement show`` prints both fingerprints; read them to each other (or pass
``--peer-fingerprint`` to ``map``) before the first run.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from cleanroom.crypto.keyfiles import load_or_create_private
from cleanroom.crypto.sealed import fingerprint, public_bytes

KEY_FILE = "encryption.key"


class EncryptionKeys:
    def __init__(self, profile_dir: Path) -> None:
        self.dir = Path(profile_dir)
        self.path = self.dir / KEY_FILE

    def exists(self) -> bool:
        return self.path.exists()

    def private(self) -> X25519PrivateKey:
        """Our private key, created (0600) on first use."""
        return load_or_create_private(self.path, X25519PrivateKey.generate, X25519PrivateKey, "X25519")

    def public(self) -> bytes:
        return public_bytes(self.private())

    def fingerprint(self) -> str:
        return fingerprint(self.public())
