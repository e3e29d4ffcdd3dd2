"""A Unix socket's address, even in a data dir whose path is longer than sockaddr_un allows (108 bytes).

A longer path is reached through the directory's descriptor (``/proc/self/fd/N/admin.sock``), which
binds and connects to the same file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MAX_SUN_PATH = 107  # sun_path is 108 bytes with its terminating NUL


@contextmanager
def socket_address(path: Path) -> Iterator[str]:
    if len(os.fsencode(str(path))) <= MAX_SUN_PATH:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)
