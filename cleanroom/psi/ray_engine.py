"""The Ray engine: hashing, blinding and re-blinding as Ray tasks over slices, on the party's own cluster.

Ray is an optional extra (``pip install 'cleanroom[ray]'``), imported only when this engine is asked
for. Each task is a pure function of its slice (the same slice functions the local pool runs), so a
task Ray retries after its worker died returns the very same bytes, and results are taken in slice
order: a retry can neither lose nor double a point.

What reaches the cluster: the agreement's secret scalar travels inside each task's arguments (32
bytes, inlined in the task spec, never put in the object store by us), and ``hash_and_blind`` ships
the normalised match keys themselves. Hence the cluster must be the party's own (README, threat model).
"""

from __future__ import annotations

import importlib
import logging
import socket
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from cleanroom.errors import CleanroomError, EngineUnavailable, InputError
from cleanroom.psi.blinding import (
    IN_PROCESS_MAX,
    SLICE_POINTS,
    ProgressCallback,
    _blind_own_hashes_slice,
    _blind_slice,
    _hash_blind_slice,
)
from cleanroom.psi.group import POINT_SIZE, check_points, hash_to_points
from cleanroom.psi.x25519 import check_secret

CONNECT_TIMEOUT = 3.0  # seconds to wait for the head's port before saying it does not answer
MAX_RETRIES = 3  # a task whose worker dies is run again this many times (Ray's own retry)
TASKS_PER_CPU = 3  # slices in flight per cluster CPU: enough to keep every core fed, memory bounded


def cleanroom_blind(secret: bytes, points: bytes, base_index: int) -> bytes:
    """A Ray task: one slice of points multiplied by the secret (named so ``ps`` shows ``ray::cleanroom_blind``)."""
    return _blind_slice(secret, points, base_index)


def cleanroom_blind_own_hashes(secret: bytes, points: bytes, base_index: int) -> bytes:
    """A Ray task: one slice of our own hash outputs multiplied by the secret (crypto_mb may run it)."""
    return _blind_own_hashes_slice(secret, points, base_index)


def cleanroom_hash_blind(secret: bytes, keys: list[str | bytes], context: bytes, base_index: int) -> bytes:
    """A Ray task: one slice of keys hashed to points and blinded."""
    return _hash_blind_slice(secret, keys, context, base_index)


def cleanroom_hash(keys: list[str | bytes], context: bytes) -> bytes:
    """A Ray task: one slice of keys hashed to points (no secret: blinded later, once per agreement)."""
    return hash_to_points(keys, context)


def import_ray() -> Any:
    """The ``ray`` module, or one line saying how to install it."""
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise EngineUnavailable(
            "--engine ray needs Ray, which is not installed here: pip install 'cleanroom[ray]' (or use --engine local)"
        ) from None


def parse_address(address: str) -> tuple[str, int]:
    """HOST:PORT of the cluster's head (its GCS port, as ``ray start --head`` prints it)."""
    if address.startswith("ray://"):
        raise EngineUnavailable(
            f"--ray-address {address}: Ray Client addresses (ray://) are not supported; "
            "give the head node's HOST:PORT that `ray start --head` prints"
        )
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise EngineUnavailable(f"--ray-address {address!r} is not HOST:PORT (the head node's address, e.g. 10.0.0.5:6379)")
    return host.strip("[]"), int(port)


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Fail in one line, within ``timeout`` seconds, when nothing answers at the head's address."""
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise EngineUnavailable(
            f"the Ray cluster at {address} does not answer ({exc.strerror or exc}); "
            "start it (`ray start --head`) or fix --ray-address. Nothing was read or sent."
        ) from None


class RayEngine:
    """Slices as Ray tasks on an existing cluster; connect with ``RayEngine.connect``."""

    name = "ray"

    def __init__(self, ray: Any, address: str) -> None:
        self._ray = ray
        self.address = address
        options = {"max_retries": MAX_RETRIES, "num_cpus": 1}
        self._blind = ray.remote(**options)(cleanroom_blind)
        self._blind_own_hashes = ray.remote(**options)(cleanroom_blind_own_hashes)
        self._hash_blind = ray.remote(**options)(cleanroom_hash_blind)
        self._hash = ray.remote(**options)(cleanroom_hash)
        self.cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))

    @classmethod
    def connect(cls, address: str) -> RayEngine:
        """Check the head answers, then join the cluster as a driver (Ray's own logging kept off our output)."""
        ray = import_ray()
        check_reachable(address)
        _cluster_messages_to_stderr()
        try:
            # log_to_driver=False: worker output stays on the cluster; nothing of ours prints a secret anyway.
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        except Exception as exc:  # Ray raises plain RuntimeError/ConnectionError kinds; say it in one line
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise EngineUnavailable(f"cannot join the Ray cluster at {address}: {first}") from None
        return cls(ray, address)

    def close(self) -> None:
        self._ray.shutdown()  # disconnects this driver; the cluster stays up

    def blind(self, secret: bytes, points: bytes, progress: ProgressCallback | None = None, own_hashes: bool = False) -> bytes:
        check_secret(secret)
        points = bytes(points)
        check_points(points)  # before any task: a bad point is named here, as the local engine names it
        n = len(points) // POINT_SIZE
        secret = bytes(secret)
        task = self._blind_own_hashes if own_hashes else self._blind
        return self._run(
            lambda start, stop: task.remote(secret, points[start * POINT_SIZE : stop * POINT_SIZE], start), n, progress
        )

    def hash_and_blind(
        self, keys: Sequence[str | bytes], context: bytes, secret: bytes, progress: ProgressCallback | None = None
    ) -> bytes:
        check_secret(secret)
        if not isinstance(context, (bytes, bytearray)):
            raise InputError("the hash context must be bytes (it binds the agreement and key kind)")
        keys, secret, context = list(keys), bytes(secret), bytes(context)
        return self._run(
            lambda start, stop: self._hash_blind.remote(secret, keys[start:stop], context, start), len(keys), progress
        )

    def hash_points(self, keys: Sequence[str | bytes], context: bytes) -> bytes:
        if not isinstance(context, (bytes, bytearray)):
            raise InputError("the hash context must be bytes (it binds the key kind)")
        keys, context = list(keys), bytes(context)
        return self._run(lambda start, stop: self._hash.remote(keys[start:stop], context), len(keys), None)

    def slice_points(self, n: int) -> int:
        """About four slices per CPU of the cluster, within the local pool's bounds."""
        return max(IN_PROCESS_MAX, min(SLICE_POINTS, -(-n // (self.cpus * 4)))) if n else SLICE_POINTS

    def _run(self, submit: Callable[[int, int], Any], n: int, progress: ProgressCallback | None) -> bytes:
        """Submit slices with a bounded number in flight; take results in slice order."""
        step = self.slice_points(n)
        window = self.cpus * TASKS_PER_CPU
        pending: deque[tuple[int, Any]] = deque()
        out: list[bytes] = []
        try:
            for start in range(0, n, step):
                stop = min(n, start + step)
                pending.append((stop - start, submit(start, stop)))
                if len(pending) >= window:
                    out.append(self._take(pending, progress))
            while pending:
                out.append(self._take(pending, progress))
        except BaseException:
            for _, ref in pending:
                self._ray.cancel(ref)
            raise
        return b"".join(out)

    def _take(self, pending: deque[tuple[int, Any]], progress: ProgressCallback | None) -> bytes:
        size, ref = pending[0]
        try:
            result: bytes = self._ray.get(ref)
        except self._ray.exceptions.RayTaskError as exc:  # our own error in the task (a bad point): raised as ours
            cause = getattr(exc, "cause", None)
            if isinstance(cause, (CleanroomError, ValueError)):
                raise cause from None
            raise EngineUnavailable(f"a Ray task failed: {_first_line(exc)}") from None
        except self._ray.exceptions.RayError as exc:  # a worker or node lost more than MAX_RETRIES times
            raise EngineUnavailable(
                f"Ray could not finish a slice after {MAX_RETRIES} retries ({_first_line(exc)}); nothing of it was sent"
            ) from None
        pending.popleft()
        if progress:
            progress(size)
        return result


def _cluster_messages_to_stderr() -> None:
    """Ray's driver prints the cluster's error messages ("a worker died ...") to standard output, where
    they would break our ``--json`` output: send them to standard error, where the operator still sees them.
    Ray's own print function is replaced by name in its module (private API; skipped if it moves)."""
    worker = importlib.import_module("ray._private.worker")
    original = getattr(worker, "print_to_stdstream", None)
    if original is None or getattr(original, "cleanroom_stderr", False):
        return

    def to_stderr(data: dict[str, Any], ignore_prefix: bool) -> None:
        original({**data, "is_err": True}, ignore_prefix=ignore_prefix)

    to_stderr.cleanroom_stderr = True  # type: ignore[attr-defined]
    setattr(worker, "print_to_stdstream", to_stderr)  # noqa: B010 (a module only known at run time)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
