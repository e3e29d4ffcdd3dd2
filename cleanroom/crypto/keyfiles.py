"""Secret files: written readable by their owner only, by coordinator and clients alike."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar, cast

from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, load_pem_private_key

from cleanroom.errors import InputError

K = TypeVar("K")


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file readable by its owner only (0600 from the first byte)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


def load_or_create_private(path: Path, generate: Callable[[], K], kind: type, what: str) -> K:
    """The private key in ``path`` (PKCS#8 PEM), created there (0600) by ``generate`` on first use.

    Two processes may ask at once: the key is written aside and linked into
    place, so one never replaces a key the other just created and used.
    """
    if not path.exists():
        pem = generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())  # type: ignore[attr-defined]
        path.parent.mkdir(parents=True, exist_ok=True)
        # A temporary name of this process's own (created 0600): with one shared name, a second process
        # truncated or unlinked the first one's file under it (seen in CI: chmod of a file just renamed away).
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    loaded = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, kind):
        raise InputError(f"{path} is not an {what} private key")
    return cast(K, loaded)
