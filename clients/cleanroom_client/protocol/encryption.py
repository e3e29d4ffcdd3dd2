"""This party's X25519 key pair for sealed shared fields, and the peers' keys it pinned.

    DIR/encryption.key   our X25519 private key (PKCS#8 PEM, 0600), created on
                         this machine the first time an agreement needs it --
                         never by ``coordinator add-party``, which runs on the
                         operator's machine
    DIR/peers.json       each peer's X25519 public key as first seen (pinned)

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

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from cleanroom.crypto.keyfiles import write_private
from cleanroom.crypto.sealed import check_public, fingerprint, public_bytes
from cleanroom.errors import InputError, ProtocolError

KEY_FILE = "encryption.key"
PEERS_FILE = "peers.json"


class EncryptionKeys:
    def __init__(self, profile_dir: Path) -> None:
        self.dir = Path(profile_dir)
        self.path = self.dir / KEY_FILE

    def exists(self) -> bool:
        return self.path.exists()

    def private(self) -> X25519PrivateKey:
        """Our private key, created (0600) on first use."""
        if not self.path.exists():
            key = X25519PrivateKey.generate()
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            tmp = self.path.with_suffix(".tmp")
            write_private(tmp, pem)
            try:
                os.link(tmp, self.path)  # never replace a key another process just created
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        if self.path.stat().st_mode & 0o077:
            os.chmod(self.path, 0o600)
        loaded = serialization.load_pem_private_key(self.path.read_bytes(), password=None)
        if not isinstance(loaded, X25519PrivateKey):
            raise InputError(f"{self.path} is not an X25519 private key")
        return loaded

    def public(self) -> bytes:
        return public_bytes(self.private())

    def fingerprint(self) -> str:
        return fingerprint(self.public())


class PeerPins:
    """Peers' X25519 keys as first seen; a different key later is refused."""

    def __init__(self, profile_dir: Path) -> None:
        self.path = Path(profile_dir) / PEERS_FILE

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"peers": {}}
        data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        return data

    def check(self, party: str, public: bytes, agreement_id: str, expected_fingerprint: str | None = None) -> str:
        """Pin ``public`` for ``party`` on first use, or check it against the pin; returns its fingerprint."""
        try:
            check_public(public)
        except ValueError as exc:
            raise ProtocolError(f"the coordinator relays an unusable encryption key for {party}: {exc}") from None
        fp = fingerprint(public)
        if expected_fingerprint is not None and _compact(expected_fingerprint) != _compact(fp):
            raise ProtocolError(
                f"the encryption key the coordinator relays for {party} has fingerprint {fp}, not the {expected_fingerprint} "
                f"you expected; nothing was sealed or sent. Compare fingerprints with {party} again"
            )
        data = self._read()
        pin = data["peers"].get(party)
        if pin is None:
            data["peers"][party] = {
                "public_x25519": public.hex(),
                "fingerprint": fp,
                "agreement_id": agreement_id,
                "pinned_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
            self.path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
            return fp
        if pin["public_x25519"] != public.hex():
            raise ProtocolError(
                f"the coordinator now relays a different encryption key for {party} (fingerprint {fp}) than the one pinned in "
                f"{self.path} (fingerprint {pin['fingerprint']}, first seen with agreement {pin['agreement_id']}); nothing was "
                f"sealed or sent. If {party} really has a new key, confirm its fingerprint with {party} out of band, then remove "
                f"the {party!r} entry from {self.path}"
            )
        return fp


def _compact(fp: str) -> str:
    return "".join(fp.split()).lower()
