"""Processes creating the same key file at once all end up with one key, and none fails.

Client commands run in parallel on one profile (map --all's uploads, an agent beside a person): the
first use of a key file creates it. With one shared temporary name, a second process truncated or
unlinked the first one's file under it (CI saw `chmod` of a file just renamed away); the race is
played here with real processes, many times over.
"""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cleanroom.crypto.keyfiles import load_or_create_private


def _public_key(directory: str) -> bytes:
    key = load_or_create_private(Path(directory) / "signing.key", Ed25519PrivateKey.generate, Ed25519PrivateKey, "Ed25519")
    return key.public_key().public_bytes_raw()


def test_one_key_whoever_creates_it(tmp_path: Path) -> None:
    with mp.get_context("fork").Pool(8) as pool:
        for trial in range(25):
            directory = tmp_path / str(trial)
            keys = pool.map(_public_key, [str(directory)] * 16)
            assert len(set(keys)) == 1
            on_disk = _public_key(str(directory))
            assert keys[0] == on_disk
            assert sorted(p.name for p in directory.iterdir()) == ["signing.key"]  # no temporary file left
            assert (directory / "signing.key").stat().st_mode & 0o777 == 0o600
