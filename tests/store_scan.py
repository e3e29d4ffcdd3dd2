"""Everything a coordinator's store holds, as one haystack for the privacy scans.

The raw files alone are not enough: DuckDB compresses strings on disk, and the
coordinator stores large release bodies zlib-compressed (releases.body_zlib).
So the haystack is the raw files, plus every value of every table read back
through DuckDB, plus every compressed body decompressed, plus every point or
token the store keeps as four 64-bit words (t0..t3: chunk_points, the standing
tables) packed back into its 32 bytes.

The store file is mostly free blocks of zeros (5.9 MB of the 6 MB file after test_e2e_privacy's run), which
every needle of a scan was searched through, thousands of times. ``stored_bytes`` cuts each run of zeros longer
than ``ZERO_RUN`` bytes to ``ZERO_RUN`` zeros: a string of at most ``ZERO_RUN`` bytes (a needle, or a pattern
with its lookarounds) is in the cut haystack exactly when it is in the whole one, since it cannot span a run
longer than itself (it only reaches into one from either end, and ``ZERO_RUN`` zeros are left at each end).
Our needles (names, domains, digests, points) are far shorter; the scans with thousands of them assert so.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import duckdb
import numpy as np

WORDS = ("t0", "t1", "t2", "t3")

ZERO_RUN = 4096  # longer than any needle of our scans (a hex SHA-256 is 64 bytes)
_LONG_ZEROS = re.compile(b"\\x00{%d,}" % (ZERO_RUN + 1))


def store_values(db: Path) -> bytes:
    """Every value of every table, as text or bytes; compressed release bodies opened."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        parts: list[bytes] = []
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            cursor = con.execute(f'SELECT * FROM "{table}"')
            names = [d[0] for d in cursor.description]
            for row in cursor.fetchall():
                for name, value in zip(names, row, strict=True):
                    if value is None:
                        continue
                    if name == "body_zlib":
                        value = zlib.decompress(bytes(value))
                    parts.append(
                        bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else str(value).encode("utf-8")
                    )
            if set(WORDS) <= set(names):  # little-endian words, as the coordinator splits a point (store/points.py)
                words = con.execute(f'SELECT {", ".join(WORDS)} FROM "{table}"').fetchall()
                parts.append(np.array(words, dtype="<u8").tobytes())
        return b"\n".join(parts)
    finally:
        con.close()


def stored_bytes(data_dir: Path) -> bytes:
    """The store's files as they lie on disk (runs of zeros cut to ``ZERO_RUN``), then its values (see the
    module docstring)."""
    raw = b"".join(p.read_bytes() for p in sorted(data_dir.glob("coordinator.duckdb*")))
    return _LONG_ZEROS.sub(bytes(ZERO_RUN), raw) + b"\n" + store_values(data_dir / "coordinator.duckdb")
