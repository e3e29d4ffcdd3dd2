"""Blinding: X25519 scalar multiplication of packed points, batched and multi-process.

Blinding is embarrassingly parallel. Small inputs stay in-process (a worker
pool costs more to start than it saves); large ones are cut into slices and
spread over a persistent pool of worker processes, bytes in and bytes out, so
inter-process traffic is 64 bytes per point.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from cleanroom.errors import InputError
from cleanroom.psi.group import POINT_SIZE, check_points, hash_to_points
from cleanroom.psi.x25519 import SECRET_SIZE, check_secret, multiply, multiply_own_hashes

# Below this many points a pool is not worth starting (about 60 ms of work), and no slice is smaller.
IN_PROCESS_MAX = 2048
# Left to choose (``workers=None``), a command starts the pool only past this many points: about 0.5 s of
# OpenSSL's work. Starting it costs ~0.2 CPU s (the forkserver's interpreter, the workers; measured on
# 2 cores), so below that the pool buys little wall time for CPU that an incremental run, which blinds a
# few thousand points while its partner's client and the coordinator share the machine, cannot spare.
POOL_MIN_POINTS = 16_384
# Points per task handed to a worker: big enough to amortise IPC, small enough
# to balance load and report progress often.
SLICE_POINTS = 8192

ProgressCallback = Callable[[int], None]


def new_secret() -> bytes:
    """A fresh 32-byte secret scalar (clamped by X25519 when used)."""
    return secrets.token_bytes(SECRET_SIZE)


def _blind_slice(secret: bytes, points: bytes, base_index: int = 0) -> bytes:
    """Multiply every point by the secret scalar (on OpenSSL: anyone may have chosen these points)."""
    return multiply(secret, points, base_index)


def _blind_own_hashes_slice(secret: bytes, points: bytes, base_index: int = 0) -> bytes:
    """``_blind_slice`` for our own hash outputs: crypto_mb may multiply them (x25519.py says why only these)."""
    return multiply_own_hashes(secret, points, base_index)


def _hash_blind_slice(secret: bytes, keys: list[str | bytes], context: bytes, base_index: int = 0) -> bytes:
    """Hash a slice of keys to points and blind them, in one worker round trip."""
    return multiply_own_hashes(secret, hash_to_points(keys, context), base_index)


_pool: ProcessPoolExecutor | None = None
_pool_workers = 0
_pool_lock = threading.Lock()


def _die_with_parent(client_pid: int | None = None) -> None:
    """Pool initializer: a worker exits when the client that started the pool dies.

    Without this, a client killed with SIGKILL leaves its workers blocked on the
    task queue forever, holding the terminal's pipes open (and, through them, a
    caller waiting for the client's output). Under forkserver a worker's parent
    is the fork server, not the client, so PR_SET_PDEATHSIG alone does not see
    the client die: a daemon thread watches the client's pid as well (pidfd).
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(1)
    if client_pid is not None and client_pid != os.getppid():
        threading.Thread(target=_watch, args=(client_pid,), name="watch-client", daemon=True).start()


def _watch(pid: int) -> None:
    """Exit this worker as soon as process ``pid`` is gone."""
    import select
    import time

    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        select.select([fd], [], [])
        os._exit(1)
    while True:  # no pidfd (old kernel, not Linux): poll
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:
            pass
        time.sleep(1.0)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _get_pool(workers: int) -> ProcessPoolExecutor:
    global _pool, _pool_workers
    with _pool_lock:
        if _pool is None or _pool_workers != workers:
            if _pool is not None:
                _pool.shutdown(cancel_futures=True)
            # forkserver: safe in processes that already run gRPC threads,
            # and much cheaper per worker than spawn.
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["cleanroom.psi.blinding"])
            _pool = ProcessPoolExecutor(
                max_workers=workers, mp_context=ctx, initializer=_die_with_parent, initargs=(os.getpid(),)
            )
            _pool_workers = workers
        return _pool


def shutdown_pool() -> None:
    """Stop the worker processes (they are also stopped at interpreter exit)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(cancel_futures=True)
            _pool = None


def _slices(n_points: int, slice_points: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n_points, slice_points):
        yield start, min(n_points, start + slice_points)


def _resolve_workers(workers: int | None, n: int) -> int:
    if workers is None:
        return default_workers() if n > POOL_MIN_POINTS else 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError("workers must be at least 1")
    return workers


def _run(
    task: Callable[..., bytes],
    n: int,
    args_for: Callable[[int, int], tuple[Any, ...]],
    workers: int,
    progress: ProgressCallback | None,
) -> bytes:
    """Run ``task(*args_for(start, stop))`` over slices of n items; results joined in order."""
    if workers == 1 or n <= IN_PROCESS_MAX:
        out = []
        for start, stop in _slices(n, SLICE_POINTS):
            out.append(task(*args_for(start, stop)))
            if progress:
                progress(stop - start)
        return b"".join(out)
    pool = _get_pool(workers)
    # About four slices per worker balances load; never so small that IPC dominates.
    slice_points = max(IN_PROCESS_MAX, min(SLICE_POINTS, -(-n // (workers * 4))))
    futures = [(stop - start, pool.submit(task, *args_for(start, stop))) for start, stop in _slices(n, slice_points)]
    out = []
    try:
        for size, future in futures:
            out.append(future.result())
            if progress:
                progress(size)
    except BaseException:
        for _, future in futures:
            future.cancel()
        raise
    return b"".join(out)


def blind(
    secret: bytes,
    points: bytes,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    own_hashes: bool = False,
) -> bytes:
    """X25519-multiply every packed 32-byte point by ``secret``; same order out.

    ``workers=None`` uses every core for large inputs (``POOL_MIN_POINTS``) and
    stays in-process for small ones; ``workers=1`` never starts a process. ``progress`` is called
    with the number of points finished since its last call. ``own_hashes``:
    the points are this process's own ``hash_to_points`` outputs (``map --all``
    hashes once for every agreement), which crypto_mb may multiply; never say
    so of points someone else sent.

    Raises InvalidPoint for a length that is not a multiple of 32, for a
    non-canonical encoding, and for any point whose result would be all zero.
    """
    check_secret(secret)
    points = bytes(points)
    check_points(points)
    n = len(points) // POINT_SIZE
    workers = _resolve_workers(workers, n)
    secret = bytes(secret)
    return _run(
        _blind_own_hashes_slice if own_hashes else _blind_slice,
        n,
        lambda start, stop: (secret, points[start * POINT_SIZE : stop * POINT_SIZE], start),
        workers,
        progress,
    )


def hash_many(
    keys: Sequence[str | bytes], context: bytes, workers: int | None = None, progress: ProgressCallback | None = None
) -> bytes:
    """``hash_to_points(keys, context)`` on every core (as ``blind``'s ``workers``); same bytes."""
    if not isinstance(context, (bytes, bytearray)):
        raise InputError("the hash context must be bytes (it binds the key kind)")
    keys = list(keys)
    context = bytes(context)
    return _run(
        hash_to_points, len(keys), lambda start, stop: (keys[start:stop], context), _resolve_workers(workers, len(keys)), progress
    )


def hash_and_blind(
    keys: Iterable[str | bytes],
    context: bytes,
    secret: bytes,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> bytes:
    """``blind(secret, hash_to_points(keys, context))``, with the hashing done in the workers.

    Same result, byte for byte; for a client this saves a pass over the keys in
    the parent process and the round trip of the unblinded points.
    """
    check_secret(secret)
    if not isinstance(context, (bytes, bytearray)):
        raise InputError("the hash context must be bytes (it binds the agreement and key kind)")
    keys = list(keys)
    n = len(keys)
    workers = _resolve_workers(workers, n)
    secret, context = bytes(secret), bytes(context)
    return _run(
        _hash_blind_slice,
        n,
        lambda start, stop: (secret, keys[start:stop], context, start),
        workers,
        progress,
    )
