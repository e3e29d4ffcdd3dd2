"""CRM files as bytes on disk, read by the client's public loaders (CSV, XLSX, Parquet).

The first byte chooses the file's extension (bits 0-1), the loader (bits 2-3: the table reader, accounts,
deals, touches) and the name key (bit 4); the rest is the file. A loader either returns or refuses with
one of our errors (``CleanroomError``: the CLI prints its message naming the file); anything else
escaping is a crash (a traceback where the user needed a message).
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cleanroom.errors import CleanroomError
from cleanroom_client.inputs.accounts import load_accounts
from cleanroom_client.inputs.deals import load_deals
from cleanroom_client.inputs.readers import read_table
from cleanroom_client.inputs.touches import load_touches

SUFFIXES = (".csv", ".xlsx", ".parquet", ".tsv")
LOADERS: tuple[Callable[..., Any], ...] = (
    lambda path, name_key: read_table(path),
    lambda path, name_key: load_accounts(path, name_key=name_key),
    lambda path, name_key: load_deals(path, name_key=name_key),
    lambda path, name_key: load_touches(path, name_key=name_key),
)

_scratch = Path(tempfile.mkdtemp(prefix="cleanroom-fuzz-readers-"))
atexit.register(shutil.rmtree, _scratch, ignore_errors=True)


def check(data: bytes) -> None:
    if not data:
        return
    choice, content = data[0], data[1:]
    path = _scratch / f"export{SUFFIXES[choice & 3]}"
    path.write_bytes(content)
    with contextlib.suppress(CleanroomError):  # refused with a message: what bad input must get
        LOADERS[(choice >> 2) & 3](path, bool(choice & 16))
