"""What deal registration keeps on the party's own machine, under PROFILE/registrations/ (0600 files).

A vendor: each program's secret scalar k (``programs/PROGRAM.secret``), checked
against the program's published element before every use. A partner: the
blinding scalar of each request still waiting for the vendor (so a later run
completes it: store and forward), and which account each of its registrations
is on (the coordinator holds only tokens, so the labels live here).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from cleanroom import oprf
from cleanroom.crypto.keyfiles import write_private
from cleanroom.errors import InputError, ProtocolError
from cleanroom_client.profile import Profile


class SecretMismatch(InputError):
    """The program secret on this machine is not the one behind the program's published element."""


# As the coordinator makes them (registration_programs.new_id). A program id names files here, so anything else
# is refused: a coordinator naming a program "../programs/prg_..." would reach another program's secret under
# a program of its own making (its partners, limit and first-use pins), and have its guesses evaluated.
PROGRAM_ID = re.compile(r"prg_[0-9a-f]{16}")


def program_file_name(program_id: str) -> str:
    """``program_id`` itself, once checked to be a program id (so it is safe as a file name)."""
    if not PROGRAM_ID.fullmatch(program_id):
        raise ProtocolError(
            f"{program_id[:80]!r} is not a program id ('prg_' and 16 hex digits, as `registrations program list` "
            "shows); nothing was read or written (a coordinator that lists such a program is not to be trusted)"
        )
    return program_id


def _folder(profile: Profile) -> Path:
    return profile.path / "registrations"


def secret_path(profile: Profile, program_id: str) -> Path:
    return _folder(profile) / "programs" / f"{program_file_name(program_id)}.secret"


def save_secret(profile: Profile, program_id: str, k: int) -> Path:
    path = secret_path(profile, program_id)
    write_private(path, oprf.scalar_bytes(k))
    return path


def program_secret(profile: Profile, program_id: str, published: bytes) -> int:
    """The program's secret, refused unless k * G is the element the program published: evaluating with
    another secret would give the same account another token and hide its conflicts."""
    path = secret_path(profile, program_id)
    try:
        k = oprf.scalar_from_bytes(path.read_bytes(), f"program secret {path}")
    except FileNotFoundError:
        raise InputError(f"no secret for program {program_id} in this profile ({path}); only its vendor evaluates") from None
    if oprf.public_key(k) != published:
        raise SecretMismatch(
            f"the program secret in {path} does not match program {program_id}'s published element "
            f"({published.hex()[:16]}...); refusing to evaluate. Restore the secret this profile created the program with."
        )
    return k


class PartnerState:
    """The partner's requests in flight and its registrations' accounts, in one JSON file rewritten atomically."""

    def __init__(self, profile: Profile) -> None:
        self.path = _folder(profile) / "partner.json"
        data = json.loads(self.path.read_text()) if self.path.exists() else {}
        self.pending: dict[str, dict[str, Any]] = data.get("pending", {})
        self.registered: dict[str, dict[str, Any]] = data.get("registered", {})
        # Each program's published element as first seen (hex): a coordinator that later shows another one
        # (to evaluate our accounts with a key of its own, and test guesses against the tokens) is caught.
        self.pins: dict[str, str] = data.get("pins", {})

    def save(self) -> None:
        aside = self.path.with_name(f".partner.{os.getpid()}.json")
        write_private(
            aside, json.dumps({"pending": self.pending, "registered": self.registered, "pins": self.pins}, indent=1).encode()
        )
        os.replace(aside, self.path)

    def pin(self, program_id: str, published: bytes) -> None:
        """Trust the program's element on first use, then hold the coordinator to it."""
        known = self.pins.setdefault(program_id, published.hex())
        if known != published.hex():
            raise ProtocolError(
                f"program {program_id}'s published element changed ({known[:16]}... first, now {published.hex()[:16]}...); "
                "nothing was sent. Check the element with the vendor (`registrations program list --json`)."
            )

    def pending_for(self, program_id: str, key: str) -> tuple[str, dict[str, Any]] | None:
        """A request of ours on this program and account still in flight (resumed rather than asked again)."""
        for request_id, entry in self.pending.items():
            if entry["program_id"] == program_id and entry["key"] == key:
                return request_id, entry
        return None
