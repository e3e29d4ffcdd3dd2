"""A party profile directory: who we are, how to reach the coordinator, our keys.

DIR/profile.json             party name and coordinator address
DIR/party.pem, party.key     our client certificate (issued by the coordinator's CA)
DIR/ca.pem                   the coordinator's CA (we trust nothing else)
DIR/coordinator-signing.pub  the coordinator's Ed25519 key, to check receipts
DIR/keystore.json            our secret scalars, one per agreement (0600)
DIR/receipts.jsonl           what we sent and received, countersigned
DIR/encryption.key           our X25519 key for sealed shared fields (0600, made here on first need)
DIR/peers.json               partners' X25519 public keys, pinned on first use
DIR/reveal/AGR/RUN.json      account label -> our own row, for joining revealed accounts back (0600)
DIR/agent.json               the agent's state: the last export mapped (digest, accounts), its last cycle (0600)
DIR/alerts.json              alert receivers and their signing secrets, pending deliveries, accounts last revealed (0600)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from cleanroom.errors import InputError


@dataclass(frozen=True)
class Profile:
    path: Path
    party: str
    coordinator: str

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None) -> Profile:
        if path is None:
            path = os.environ.get("CLEANROOM_PROFILE")
        if not path:
            raise InputError("no profile given: pass --profile DIR (or set CLEANROOM_PROFILE)")
        base = Path(path)
        try:
            data = json.loads((base / "profile.json").read_text())
        except FileNotFoundError:
            raise InputError(f"{base} is not a party profile (no profile.json); ask the coordinator operator for one") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"{base / 'profile.json'} is not valid JSON: {exc}") from None
        for name in ("party.pem", "party.key", "ca.pem"):
            if not (base / name).is_file():
                raise InputError(f"profile {base} lacks {name}")
        return cls(base, data["party"], data["coordinator"])

    @property
    def signing_public_key(self) -> bytes | None:
        path = self.path / "coordinator-signing.pub"
        return path.read_bytes() if path.exists() else None

    def signing_key(self) -> bytes:
        """The coordinator's public signing key: every release is checked against it before it is shown."""
        key = self.signing_public_key
        if key is None:
            raise InputError(f"profile {self.path} has no coordinator-signing.pub; cannot check a release's signature")
        return key
