"""Intel's multi-buffer X25519 (crypto_mb, from the ``ipp-crypto`` wheel): eight multiplications a call.

crypto_mb computes eight independent X25519 functions at once, one in each lane of AVX-512 IFMA
registers, in constant time; it is the library behind Intel's QAT engine for OpenSSL's TLS key
exchanges. Measured here: 6.8 us a multiplication against 34 us for OpenSSL through ``cryptography``,
the same bytes on random and hashed points, but wrong ones on some structured points: x25519.py gives
it only our own hash outputs, and says why.

``load()`` gives it only when all of this holds; otherwise None, and blinding stays on
``cryptography`` (x25519.py chooses):
- the ``fast`` extra is installed: ``libcrypto_mb.so`` and Intel's compiler runtime it links
  against (libimf, libsvml, ...) in this environment's ``lib/``, where their wheels put them, or in
  the directory ``CLEANROOM_CRYPTO_MB_DIR`` names (a crypto_mb built or packaged elsewhere);
- the CPU and OS give what crypto_mb needs (``mbx_is_crypto_mb_applicable``);
- RFC 7748's first test vector comes out right (a known answer, checked once per process).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import sys
from pathlib import Path

import numpy as np

from cleanroom.errors import CleanroomError

log = logging.getLogger(__name__)

LANES = 8
DIRECTORY_VARIABLE = "CLEANROOM_CRYPTO_MB_DIR"
_POINT = 32
# Loaded first (locally: their libm-like symbols stay out of the process's global scope), so that
# libcrypto_mb.so, which names them without a path (no RUNPATH in the wheel), finds them loaded.
_RUNTIME = ("libintlc.so.5", "libimf.so", "libsvml.so", "libirng.so")
_LIBRARY = "libcrypto_mb.so"
# Per lane, 4 bits of the returned status (crypto_mb/status.h).
_LANE_BITS, _LOW_ORDER = 4, 4
# RFC 7748, section 5.2, first test vector (scalar, u-coordinate, result).
_KNOWN = (
    bytes.fromhex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
    bytes.fromhex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"),
    bytes.fromhex("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"),
)
# Fills the lanes past the last point of a call: the base point (u = 9), whose results are dropped.
_FILLER = (9).to_bytes(_POINT, "little")


class CryptoMbError(CleanroomError):
    """crypto_mb refused a call for a reason other than a point of small order (never expected)."""


class MultiBuffer:
    """The loaded library: ``multiply`` runs points through it eight at a time."""

    def __init__(self, library: ctypes.CDLL, directory: Path) -> None:
        self.directory = directory
        self._mb8 = library.mbx_x25519_mb8
        # (results[8], scalars[8], points[8]): each an array of eight pointers; the status, 4 bits a lane.
        self._mb8.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        self._mb8.restype = ctypes.c_uint32

    def multiply(self, secret: bytes, points: bytes) -> tuple[bytes, list[int]]:
        """Every packed point times ``secret`` (as X25519), and the positions of the points of small order
        (their results are all zero, as OpenSSL's would be, and must not be used)."""
        n = len(points) // _POINT
        lanes = -(-n // LANES) * LANES
        source = np.frombuffer(points + _FILLER * (lanes - n), dtype=np.uint8).copy()
        result = np.empty(lanes * _POINT, dtype=np.uint8)
        offsets = np.arange(lanes, dtype=np.uint64) * np.uint64(_POINT)
        into, from_ = offsets + np.uint64(result.ctypes.data), offsets + np.uint64(source.ctypes.data)
        scalar = ctypes.create_string_buffer(bytes(secret), _POINT)
        scalars = np.full(LANES, ctypes.addressof(scalar), dtype=np.uint64)
        call, at_into, at_from, at_scalars = self._mb8, into.ctypes.data, from_.ctypes.data, scalars.ctypes.data
        low: list[int] = []
        try:
            for start in range(0, lanes, LANES):  # the pointers of lanes start..start+7 begin 8 * start bytes in
                status = call(at_into + 8 * start, at_scalars, at_from + 8 * start)
                if status:
                    low.extend(_low_order(status, start, n))
        finally:
            ctypes.memset(scalar, 0, _POINT)
        # An all-zero result is refused whatever the status says, as OpenSSL refuses its own.
        ours = result[: n * _POINT]  # the filler lanes' results are dropped
        zero = np.flatnonzero(~ours.reshape(n, _POINT).any(axis=1)).tolist()
        return ours.tobytes(), sorted({*low, *zero})


def _low_order(status: int, start: int, n: int) -> list[int]:
    """The points of small order among a call's lanes; CryptoMbError for any other failure."""
    found = []
    for lane in range(LANES):
        code = (status >> (_LANE_BITS * lane)) & ((1 << _LANE_BITS) - 1)
        if code == _LOW_ORDER and start + lane < n:
            found.append(start + lane)
        elif code and start + lane < n:
            raise CryptoMbError(f"crypto_mb failed on point {start + lane} (status {code:#x})")
    return found


@functools.cache
def load() -> MultiBuffer | None:
    """crypto_mb when it is installed, applicable to this CPU and right on RFC 7748's vector; else None."""
    directory = Path(os.environ.get(DIRECTORY_VARIABLE) or Path(sys.prefix) / "lib")
    if not directory.is_absolute():
        log.warning("%s=%s is not an absolute path: ignored, X25519 runs on OpenSSL", DIRECTORY_VARIABLE, directory)
        return None
    if not (directory / _LIBRARY).exists():
        return None
    try:
        for name in _RUNTIME:
            if (directory / name).exists():
                ctypes.CDLL(str(directory / name))
        library = ctypes.CDLL(str(directory / _LIBRARY))
        library.mbx_get_cpu_features.restype = ctypes.c_uint64
        library.mbx_is_crypto_mb_applicable.argtypes = [ctypes.c_uint64]
        if not library.mbx_is_crypto_mb_applicable(library.mbx_get_cpu_features()):
            log.debug("crypto_mb is installed but this CPU lacks what it needs (AVX-512 IFMA): X25519 runs on OpenSSL")
            return None
        engine = MultiBuffer(library, directory)
        scalar, u, expected = _KNOWN
        if engine.multiply(scalar, u) != (expected, []):
            log.warning("crypto_mb in %s fails RFC 7748's test vector: not used, X25519 runs on OpenSSL", directory)
            return None
    except (OSError, AttributeError, CryptoMbError) as exc:
        log.warning("crypto_mb in %s cannot be used (%s): X25519 runs on OpenSSL", directory, exc)
        return None
    return engine
