"""Where hashing and blinding run: the engine a client uses for its scalar multiplications.

The local engine (the default) is this machine's process pool (``cleanroom.psi.blinding``); the Ray
engine (``cleanroom.psi.ray_engine``, an optional extra) runs the same slice functions as Ray tasks on
the party's own cluster. Both return the same bytes for the same input: blinding is a pure function
of its slice, so where it runs never changes a token.

The client picks the engine once per command (``using``); the protocol code asks ``current()``. A
process-wide setting rather than an argument threaded through every workflow: the engine is a
property of the machine the command runs on, not of an agreement or a run, and the re-blinding
helper threads of ``map`` must see the same engine as the main thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

from cleanroom.psi.blinding import ProgressCallback, blind, hash_and_blind, hash_many

ENGINES = ("local", "ray")


class Engine(Protocol):
    """The smallest interface the protocol needs: hash-and-blind keys, blind (or re-blind) points."""

    name: str

    def hash_and_blind(
        self, keys: Sequence[str | bytes], context: bytes, secret: bytes, progress: ProgressCallback | None = None
    ) -> bytes:
        """``blind(secret, hash_to_points(keys, context))``: one packed 32-byte point per key, in order."""
        ...

    def blind(self, secret: bytes, points: bytes, progress: ProgressCallback | None = None, own_hashes: bool = False) -> bytes:
        """Every packed point multiplied by ``secret``, in order (``own_hashes``: as ``blinding.blind``)."""
        ...

    def hash_points(self, keys: Sequence[str | bytes], context: bytes) -> bytes:
        """``hash_to_points(keys, context)``: hashed once, blinded by many agreements (``map --all``)."""
        ...

    def close(self) -> None:
        """Let go of what the engine holds (the local pool is kept for the process; Ray is disconnected)."""
        ...


class LocalEngine:
    """This machine's cores: the persistent process pool of ``cleanroom.psi.blinding``."""

    name = "local"

    def hash_and_blind(
        self, keys: Sequence[str | bytes], context: bytes, secret: bytes, progress: ProgressCallback | None = None
    ) -> bytes:
        return hash_and_blind(keys, context, secret, progress=progress)

    def blind(self, secret: bytes, points: bytes, progress: ProgressCallback | None = None, own_hashes: bool = False) -> bytes:
        return blind(secret, points, progress=progress, own_hashes=own_hashes)

    def hash_points(self, keys: Sequence[str | bytes], context: bytes) -> bytes:
        return hash_many(keys, context)

    def close(self) -> None:
        pass  # the pool outlives a command: a long-running agent reuses it


_LOCAL = LocalEngine()
_current: Engine = _LOCAL
_lock = threading.Lock()


def current() -> Engine:
    """The engine the running command chose (the local pool unless it said otherwise)."""
    return _current


@contextmanager
def using(engine: Engine) -> Iterator[Engine]:
    """Make ``engine`` the current one for the body; the previous one is restored and ``engine`` closed after."""
    global _current
    with _lock:
        previous, _current = _current, engine
    try:
        yield engine
    finally:
        with _lock:
            _current = previous
        engine.close()


def local() -> Engine:
    return _LOCAL
