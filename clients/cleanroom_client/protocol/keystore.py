"""The party's secret scalars: one per agreement, in a 0600 file in the profile.

A secret never leaves this file except into the blinding of our own points and
of the peer's. Losing it only means the next run uses a fresh one (and uploads
everything again); rotating it is the same: ``rotate`` forgets the old one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cleanroom.crypto.keyfiles import write_private
from cleanroom.errors import FailedPrecondition
from cleanroom.psi import new_secret
from cleanroom_client.profile import Profile

KEYSTORE_FILE = "keystore.json"


class Keystore:
    def __init__(self, path: Path, profile: Profile | None = None) -> None:
        self.path = path
        self.profile = profile  # whose secrets these are (re-blinding also checks the peer's pinned signing key)
        self._drafts: dict[str, bytes] = {}  # secrets handed out by ``draft``, not written yet

    @classmethod
    def of(cls, profile: Profile) -> Keystore:
        """The profile's keystore."""
        return cls(profile.path / KEYSTORE_FILE, profile)

    def owner(self) -> Profile:
        if self.profile is None:
            raise FailedPrecondition(f"keystore {self.path} has no profile: open it with Keystore.of(profile)")
        return self.profile

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"agreements": {}}
        mode = self.path.stat().st_mode & 0o777
        if mode & 0o077:
            os.chmod(self.path, 0o600)  # never leave secrets readable by others
        data: dict[str, Any] = json.loads(self.path.read_text())
        return data

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(".tmp")
        write_private(tmp, json.dumps(data, indent=2).encode())
        os.replace(tmp, self.path)

    def secret(self, agreement_id: str) -> bytes:
        """The agreement's secret scalar, created on first use (the ``draft`` if one was handed out)."""
        data = self._read()
        entry = data["agreements"].get(agreement_id)
        if entry is None:
            entry = {"secret": (self._drafts.pop(agreement_id, None) or new_secret()).hex()}
            data["agreements"][agreement_id] = entry
            self._write(data)
        return bytes.fromhex(entry["secret"])

    def draft(self, agreement_id: str) -> bytes:
        """The agreement's secret, without writing anything: a new one is only kept when ``secret`` is
        asked for it later. For work that may be thrown away (a command that then fails leaves no key)."""
        entry = self._read()["agreements"].get(agreement_id)
        if entry is not None:
            return bytes.fromhex(entry["secret"])
        return self._drafts.setdefault(agreement_id, new_secret())

    def rotate(self, agreement_id: str) -> None:
        data = self._read()
        data["agreements"].pop(agreement_id, None)
        self._write(data)
