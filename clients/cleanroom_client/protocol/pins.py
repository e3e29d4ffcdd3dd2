"""The peers' public keys as this client first saw them (trust on first use), in DIR/peers.json.

Two kinds, pinned separately: the X25519 key we seal shared fields to, and
the Ed25519 key a peer signs its uploads with (we re-blind only points it
signed). The coordinator relays both; a different key for the same peer later
is refused until someone confirms it out of band and removes the pin. Why
this is the trust model, and what it does not stop, is in encryption.py.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cleanroom.crypto.keyfiles import write_private
from cleanroom.crypto.sealed import check_public, fingerprint
from cleanroom.crypto.upload_signing import check_signing_public, signing_fingerprint
from cleanroom.errors import ProtocolError

PEERS_FILE = "peers.json"


@dataclass(frozen=True)
class PinKind:
    section: str  # the object in peers.json that holds these pins
    field: str  # the key's hex in a pin
    noun: str  # for people: "encryption key", "upload-signing key"
    consequence: str  # what was held back when a key does not match
    check: Callable[[bytes], None]  # ValueError for an unusable key
    fingerprint: Callable[[bytes], str]


ENCRYPTION = PinKind("peers", "public_x25519", "encryption key", "nothing was sealed or sent", check_public, fingerprint)
SIGNING = PinKind(
    "signing", "public_ed25519", "upload-signing key", "nothing was re-blinded or sent", check_signing_public, signing_fingerprint
)


class PeerPins:
    """Peers' keys of one kind as first seen; a different key later is refused."""

    def __init__(self, profile_dir: Path, kind: PinKind = ENCRYPTION) -> None:
        self.path = Path(profile_dir) / PEERS_FILE
        self.kind = kind

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        return data

    def check(
        self, party: str, public: bytes, agreement_id: str, expected_fingerprint: str | None = None, keep: bool = True
    ) -> str:
        """Pin ``public`` for ``party`` on first use (unless ``keep`` is false: work that may yet be thrown
        away leaves no trace), or check it against the pin; returns its fingerprint."""
        kind = self.kind
        try:
            kind.check(public)
        except ValueError as exc:
            raise ProtocolError(f"the coordinator relays an unusable {kind.noun} for {party}: {exc}") from None
        fp = kind.fingerprint(public)
        if expected_fingerprint is not None and _compact(expected_fingerprint) != _compact(fp):
            raise ProtocolError(
                f"the {kind.noun} the coordinator relays for {party} has fingerprint {fp}, not the {expected_fingerprint} "
                f"you expected; {kind.consequence}. Compare fingerprints with {party} again"
            )
        data = self._read()
        pins = data.setdefault(kind.section, {})
        pin = pins.get(party)
        if pin is None:
            if not keep:
                return fp
            pins[party] = {
                kind.field: public.hex(),
                "fingerprint": fp,
                "agreement_id": agreement_id,
                "pinned_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
            write_private(self.path, (json.dumps(data, indent=2) + "\n").encode())
            return fp
        if pin[kind.field] != public.hex():
            raise ProtocolError(
                f"the coordinator now relays a different {kind.noun} for {party} (fingerprint {fp}) than the one pinned in "
                f"{self.path} (fingerprint {pin['fingerprint']}, first seen with agreement {pin['agreement_id']}); "
                f"{kind.consequence}. If {party} really has a new key, confirm its fingerprint with {party} out of band, then "
                f"remove the {party!r} entry under {kind.section!r} from {self.path}"
            )
        return fp


def _compact(fp: str) -> str:
    return "".join(fp.split()).lower()
