"""What each row of a file normalised to, kept between reads so that unchanged rows are not normalised again.

Keyed by the row's digest (rowdigest.py: the cells normalisation reads, salted
with everything else that changes the result); the value is the row's record:
its match keys and population, or why it was rejected. Row numbers are not
kept (an inserted row shifts them): the load recomputes them.

One cache file per file source and options (``RowCache.for_source``) holds the
rows of the latest read only, so it never grows past one read of the file:
about 16 bytes of digest plus the record text (~40 bytes) a row. Layout:

    MAGIC, a JSON header line {"normaliser", "fingerprint", "rows", "blob"},
    rows x 16-byte digests sorted by their first 8 bytes (read as little-endian uint64),
    the records in the same order, UTF-8, separated by RS (0x1e),
    a 32-byte BLAKE2b of everything before it (a truncated or edited file is detected).

A file of another normaliser version or fingerprint is ignored (debug log)
and replaced by the next save; a corrupt one is ignored with a warning. It
is written 0600 to a temporary file and renamed, so a reader never sees half
of it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from cleanroom_client.inputs.rowdigest import DIGEST_BYTES
from cleanroom_client.inputs.rowkeys import MatchKey
from cleanroom_client.inputs.version import NORMALISER_VERSION

log = logging.getLogger(__name__)

MAGIC = b"CLEANROOM-ROWCACHE\n"
_RS, _US, _REJECTED = "\x1e", "\x1f", "!"  # record and field separators; a rejected row's record starts with "!"
_RS_BYTE = 0x1E
_CHECK_BYTES = 32

Outcome = tuple[tuple[MatchKey, ...], str]  # (keys, population), or ((), why the row was rejected)


def encode(outcome: Outcome) -> bytes | None:
    """The record of a row's outcome; None when its text cannot be kept unambiguously (the row is not cached)."""
    keys, text = outcome
    if not keys:
        return None if _RS in text else (_REJECTED + text).encode()
    domain = next((k.value for k in keys if k.kind == "domain"), "")
    name = next((k.value for k in keys if k.kind == "name"), "")
    fields = (domain, name, text)
    if any(_US in f or _RS in f for f in fields) or domain.startswith(_REJECTED):
        return None
    return _US.join(fields).encode()


def decode(raw: bytes) -> Outcome:
    """The outcome a record holds (``encode``'s inverse)."""
    record = raw.decode()
    if record.startswith(_REJECTED):
        return (), record[1:]
    domain, name, population = record.split(_US)
    if domain and not name:
        return (MatchKey("domain", domain),), population
    keys = ((MatchKey("domain", domain),) if domain else ()) + ((MatchKey("name", name),) if name else ())
    return keys, population


def _prefixes(digests: np.ndarray) -> np.ndarray:
    """The first 8 bytes of each digest as an unsigned integer: what the rows are sorted and searched by."""
    return np.ascontiguousarray(digests[:, :8]).view("<u8").reshape(-1)


class CachedRows:
    """The records of a previous read, looked up by digest (vectorised: binary search over the sorted prefixes).

    The records stay one UTF-8 blob with their offsets: a million Python strings would cost ~100 MB.
    """

    def __init__(self, digests: np.ndarray, blob: bytes) -> None:
        self.digests = digests  # (n, 16) uint8, sorted by prefix, one row per prefix
        self._blob = blob
        ends = np.flatnonzero(np.frombuffer(blob, dtype=np.uint8) == _RS_BYTE) if len(digests) else np.zeros(0, np.int64)
        self._ends = np.append(ends, len(blob)).astype(np.int64) if len(digests) else ends.astype(np.int64)
        if len(self._ends) != len(digests):
            raise ValueError("record count does not match the header")
        self._starts = np.concatenate(([0], self._ends[:-1] + 1)).astype(np.int64) if len(digests) else self._ends
        self._prefix = _prefixes(digests)

    def __len__(self) -> int:
        return len(self.digests)

    def record(self, index: int) -> bytes:
        """The record (UTF-8) at ``index``, as ``find`` returned it."""
        return self._blob[self._starts[index] : self._ends[index]]

    def find(self, digests: np.ndarray) -> np.ndarray:
        """For each digest, the index of its record, or -1 when it is not cached."""
        if not len(self.digests) or not len(digests):
            return np.full(len(digests), -1, dtype=np.int64)
        wanted = _prefixes(digests)
        at = np.minimum(np.searchsorted(self._prefix, wanted), len(self._prefix) - 1)
        # The whole digest must match, not only the prefix it was found by.
        hit = (self._prefix[at] == wanted) & (self.digests[at] == digests).all(axis=1)
        return np.where(hit, at, -1).astype(np.int64)


EMPTY = CachedRows(np.zeros((0, DIGEST_BYTES), dtype=np.uint8), b"")


class RowCache:
    """One file source's row cache file (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def for_source(cls, directory: Path, source: Path, options: Mapping[str, object]) -> RowCache:
        """The cache of ``source`` read with ``options`` (what the caller was given), in ``directory``."""
        what = json.dumps({"source": str(Path(source).resolve()), "options": options}, sort_keys=True, default=str)
        return cls(Path(directory) / f"rows-{hashlib.sha256(what.encode()).hexdigest()}.bin")

    def open(self, fingerprint: str) -> CachedRows:
        """The cached rows when the file holds this version's rows for ``fingerprint``; else none."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return EMPTY
        except OSError as exc:
            log.warning("row cache %s cannot be read (%s); every row is normalised", self.path, exc.strerror or exc)
            return EMPTY
        try:
            header, rows = _parse(data)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("row cache %s is corrupt (%s); ignored, every row is normalised and it is rebuilt", self.path, exc)
            return EMPTY
        if header.get("normaliser") != NORMALISER_VERSION:
            log.debug(
                "row cache %s is of normaliser version %r, not %r: ignored",
                self.path,
                header.get("normaliser"),
                NORMALISER_VERSION,
            )
            return EMPTY
        if header.get("fingerprint") != fingerprint:
            log.debug("row cache %s was made with other options: ignored", self.path)
            return EMPTY
        return rows

    def save(self, fingerprint: str, digests: np.ndarray, records: Sequence[bytes | None]) -> None:
        """Keep exactly these rows (a read's digests and records, in any order; None records are not kept)."""
        keep = np.fromiter((r is not None for r in records), dtype=bool, count=len(records))
        digests = digests[keep]
        kept = [r for r in records if r is not None]
        prefix = _prefixes(digests)
        order = np.argsort(prefix, kind="stable")
        first = np.ones(len(order), dtype=bool)  # one row per prefix: duplicate rows share a digest
        first[1:] = prefix[order][1:] != prefix[order][:-1]
        order = order[first]
        blob = b"\x1e".join([kept[i] for i in order])
        header = {"normaliser": NORMALISER_VERSION, "fingerprint": fingerprint, "rows": len(order), "blob": len(blob)}
        body = MAGIC + json.dumps(header).encode() + b"\n" + digests[order].tobytes() + blob
        _write_private(self.path, body + hashlib.blake2b(body, digest_size=_CHECK_BYTES).digest())


def _parse(data: bytes) -> tuple[dict[str, object], CachedRows]:
    """The header, digests and records of a cache file; ValueError when it is not one, or damaged."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _CHECK_BYTES:
        raise ValueError("not a row cache file")
    body, check = data[:-_CHECK_BYTES], data[-_CHECK_BYTES:]
    if hashlib.blake2b(body, digest_size=_CHECK_BYTES).digest() != check:
        raise ValueError("checksum mismatch: truncated or changed")
    end = body.index(b"\n", len(MAGIC))
    header = json.loads(body[len(MAGIC) : end])
    rows, size = int(header["rows"]), int(header["blob"])
    start = end + 1
    if len(body) != start + rows * DIGEST_BYTES + size:
        raise ValueError("sizes do not add up")
    digests = np.frombuffer(body, dtype=np.uint8, count=rows * DIGEST_BYTES, offset=start).reshape(rows, DIGEST_BYTES)
    return header, CachedRows(digests, body[start + rows * DIGEST_BYTES :])


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable by the owner only (the records hold the party's domains)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
