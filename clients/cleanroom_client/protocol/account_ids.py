"""Account identities for continuous mapping: a 16-byte digest of an account's key text (``inputs.account.key_text``).

Local to this machine (the profile's sent state), never sent: they tell which accounts are new, gone or
moved since the last run. MD5 of a versioned prefix and the text, computed in DuckDB for a column of
texts (vectorised, on every core: the Python loop it replaces cost most of an incremental run's identity
step), and by hashlib for a few, with the same bytes. As for the row cache's digests (inputs/rowdigest.py),
collisions of a 128-bit digest among one party's accounts are not a practical concern, and nobody gains
by forging one against their own state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import duckdb
import numpy as np
import pyarrow as pa

from cleanroom_client.inputs.rowdigest import MD5_HALVES, md5_bytes

ID_SIZE = 16
# Which function made a state's identities (protocol/sent_state.py): another one means every account is sent once.
IDENTITY_VERSION = "md5/2"
_PREFIX = "cleanroom/account-id/2:"


def account_id(text: str) -> bytes:
    """One account's identity."""
    return hashlib.md5((_PREFIX + text).encode(), usedforsecurity=False).digest()


def account_ids(texts: pa.Array | pa.ChunkedArray | Sequence[str]) -> np.ndarray:
    """Each text's identity (S16), in order; no text may be null."""
    column = texts if isinstance(texts, (pa.Array, pa.ChunkedArray)) else pa.array(texts, pa.string())
    if len(column) == 0:
        return np.zeros(0, dtype=f"S{ID_SIZE}")
    if column.null_count:
        raise ValueError("an account without key text has no identity")
    with duckdb.connect(":memory:") as con:
        con.register("texts", pa.table({"t": column}))
        return md5_bytes(con.execute(MD5_HALVES.format("concat($prefix, t)", "texts"), {"prefix": _PREFIX}).fetchnumpy())
