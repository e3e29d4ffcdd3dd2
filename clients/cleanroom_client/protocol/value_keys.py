"""Our EC-ElGamal key pair per agreement for pipeline value, and the bounds our sums can reach.

The coordinator sums our amounts encrypted to this key; only we decrypt the released sums. Kept in a
0600 file in the profile; losing it only means the next map uses a fresh key (a release made under the
old one can then no longer be read). The bounds (how many of our accounts each population sent) make the
decryption's search range: a sum never exceeds cap times those accounts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cleanroom.crypto.keyfiles import write_private
from cleanroom.errors import FailedPrecondition
from cleanroom.homomorphic import KeyPair, generate

VALUE_KEYS_FILE = "value_keys.json"


class ValueKeys:
    def __init__(self, profile_dir: Path) -> None:
        self.path = profile_dir / VALUE_KEYS_FILE

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        if self.path.stat().st_mode & 0o077:
            os.chmod(self.path, 0o600)
        data: dict[str, Any] = json.loads(self.path.read_text())
        return data

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        write_private(tmp, json.dumps(data, indent=2, sort_keys=True).encode())
        os.replace(tmp, self.path)

    def key_pair(self, agreement_id: str) -> KeyPair:
        """The agreement's key pair, made on first use."""
        data = self._read()
        entry = data.get(agreement_id)
        if entry is None:
            entry = data[agreement_id] = {"secret": generate().secret_bytes().hex(), "accounts": {}}
            self._write(data)
        return KeyPair.from_secret(bytes.fromhex(entry["secret"]))

    def existing(self, agreement_id: str) -> KeyPair:
        entry = self._read().get(agreement_id)
        if entry is None:
            raise FailedPrecondition(
                f"this profile holds no pipeline-value key for agreement {agreement_id}: map under it with --deals first"
            )
        return KeyPair.from_secret(bytes.fromhex(entry["secret"]))

    def note_accounts(self, agreement_id: str, accounts: dict[str, int]) -> None:
        """How many of our accounts each population sent in the latest upload (the decryption bound)."""
        data = self._read()
        data.setdefault(agreement_id, {"secret": generate().secret_bytes().hex()})["accounts"] = dict(accounts)
        self._write(data)

    def accounts(self, agreement_id: str) -> dict[str, int]:
        return dict(self._read().get(agreement_id, {}).get("accounts", {}))
