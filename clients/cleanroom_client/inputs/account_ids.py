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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cleanroom_client.inputs.duck import querying
from cleanroom_client.inputs.rowdigest import MD5_HALVES, md5_bytes

ID_SIZE = 16
# Which function made a state's identities (protocol/sent_state.py): another one means every account is sent once.
IDENTITY_VERSION = "md5/2"
_PREFIX = "cleanroom/account-id/2:"


def id_words(ids: np.ndarray) -> np.ndarray:
    """(n, 2) big-endian uint64: each identity's first and last 8 bytes as integers. They sort as the identities
    do: the grouping sorts identities by the first word (columnar.identity_groups), and the continuous delta
    searches them in that order (protocol.continuous.locate)."""
    return np.ascontiguousarray(ids).view(">u8").reshape(-1, 2)


def account_id(text: str) -> bytes:
    """One account's identity."""
    return hashlib.md5((_PREFIX + text).encode(), usedforsecurity=False).digest()


def domain_ids(domains: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """(n, 16) uint8: the identity of each domain's one-key account ("domain\x1e" + domain), zero where there is
    none. The row cache keeps it with each row (rowcache.RECORDS): an account of one row and a domain key,
    matched on domains, is known by it without its key text being built or hashed again."""
    ids = np.zeros((len(domains), ID_SIZE), dtype=np.uint8)
    present = pc.greater(pc.binary_length(domains), 0).to_numpy(zero_copy_only=False) if len(domains) else np.zeros(0, bool)
    if present.any():
        texts = pc.binary_join_element_wise(pa.scalar("domain"), domains.filter(pa.array(present)), "\x1e")
        ids[present] = account_ids(texts).view(np.uint8).reshape(-1, ID_SIZE)
    return ids


def account_ids(texts: pa.Array | pa.ChunkedArray | Sequence[str]) -> np.ndarray:
    """Each text's identity (S16), in order; no text may be null."""
    column = texts if isinstance(texts, (pa.Array, pa.ChunkedArray)) else pa.array(texts, pa.string())
    if len(column) == 0:
        return np.zeros(0, dtype=f"S{ID_SIZE}")
    if column.null_count:
        raise ValueError("an account without key text has no identity")
    with querying(texts=pa.table({"t": column})) as con:
        return md5_bytes(con.execute(MD5_HALVES.format("concat($prefix, t)", "texts"), {"prefix": _PREFIX}).fetchnumpy())
