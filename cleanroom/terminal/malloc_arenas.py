"""Fewer glibc malloc arenas for our long-running, many-threaded processes.

glibc gives threads that allocate at once their own arena, up to 8 per core, and an arena keeps
what was freed in it for reuse by its threads. Our clients and coordinator run gRPC's threads, a
re-blinding thread and the main thread side by side over hundreds of MB of short-lived buffers, so
freed memory piled up in arenas no other thread would reuse. Measured on a 1,000,000-account map
(benchmarks/e2e_bench.py, same speed either way): the clients' peak was 875-1,018 MB (mean 983) in
six runs without the cap and 825-1,000 MB (mean 914) in ten with it; the coordinator's 607-692 MB
against 567-607. The peak's spread is mostly when the partner's points arrive beside our own read;
the cap takes about 70 MB off it. Both command lines set it first thing in ``main``, before their
modules start threads. An operator's own MALLOC_ARENA_MAX wins.

``trim_heap`` hands back to the system what the arenas hold free (glibc's malloc_trim), after a
phase that made and dropped millions of small objects: a cold read of a million rows.
"""

from __future__ import annotations

import ctypes
import os
import sys

ARENAS = 2
_M_ARENA_MAX = -8  # glibc's malloc.h


def limit_malloc_arenas(count: int = ARENAS) -> bool:
    """Cap glibc's arenas for the threads this process starts from now on; whether it took effect
    (not on other C libraries, nor when MALLOC_ARENA_MAX is set)."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, count))


def trim_heap() -> bool:
    """Give the free memory glibc's arenas hold back to the system; whether any was (glibc only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        malloc_trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False
    malloc_trim.argtypes, malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    return bool(malloc_trim(0))
