"""The command lines cap glibc's malloc arenas: counted by glibc itself (malloc_info), in fresh processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Eight threads allocate at once; then glibc describes its heaps (one <heap> per arena) into a file.
_PROBE = """
import ctypes, sys, threading
from cleanroom.terminal.malloc_arenas import limit_malloc_arenas
if sys.argv[1] == "limit":
    assert limit_malloc_arenas()
gate = threading.Barrier(8)
def churn():
    gate.wait()
    for _ in range(200):
        blocks = [bytearray(200_000) for _ in range(20)]  # above pymalloc's sizes: glibc's malloc
        del blocks
threads = [threading.Thread(target=churn) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
out = libc.fopen(sys.argv[2].encode(), b"w")
libc.malloc_info(0, out)
libc.fclose(out)
"""


def _arenas(tmp_path: Path, mode: str) -> int:
    report = tmp_path / f"{mode}.xml"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    subprocess.run([sys.executable, "-c", _PROBE, mode, str(report)], cwd=ROOT, env=env, check=True, timeout=120)
    return len(re.findall(r"<heap nr=", report.read_text()))


def test_threads_share_at_most_two_arenas_once_limited(tmp_path: Path) -> None:
    assert _arenas(tmp_path, "free") > 2  # the default: the threads get arenas of their own
    assert _arenas(tmp_path, "limit") <= 2


def test_an_operators_setting_wins() -> None:
    code = "import sys; from cleanroom.terminal.malloc_arenas import limit_malloc_arenas; sys.exit(limit_malloc_arenas())"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "MALLOC_ARENA_MAX": "4"}, check=False)
    assert done.returncode == 0  # returned False: left alone


# 160 MB in 8 KB blocks (glibc's heap, not mmap), all freed but the last, which pins the heap's top so
# glibc cannot shrink it by itself: the memory stays resident until trimmed.
_TRIM_PROBE = """
import ctypes, sys
from cleanroom.terminal.malloc_arenas import trim_heap
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def resident():
    return int(open("/proc/self/statm").read().split()[1]) * 4096
blocks = [libc.malloc(8192) for _ in range(20_000)]
for block in blocks:
    ctypes.memset(block, 1, 8192)
for block in blocks[:-1]:
    libc.free(block)
before = resident()
released = trim_heap() if sys.argv[1] == "trim" else False
print(released, before - resident())
"""


def _trimmed(mode: str) -> tuple[bool, int]:
    found = subprocess.run([sys.executable, "-c", _TRIM_PROBE, mode], capture_output=True, text=True, cwd=ROOT, check=True)
    released, freed = found.stdout.split()
    return released == "True", int(freed)


def test_trim_heap_hands_freed_memory_back() -> None:
    released, freed = _trimmed("trim")
    assert released and freed > 100 << 20  # most of the 160 MB given back
    _, untrimmed = _trimmed("keep")
    assert untrimmed < 10 << 20  # without the trim, glibc keeps it
