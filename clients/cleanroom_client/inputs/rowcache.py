"""What each row of a file normalised to, kept between reads so that unchanged rows are not normalised again.

Keyed by the row's digest (rowdigest.py: the cells normalisation reads, salted
with everything else that changes the result); the value is the row's record:
its match keys and population, or why it was rejected. Row numbers are not
kept (an inserted row shifts them): the load recomputes them.

One cache file per set of options (``RowCache.for_options``), whatever the file's name: a CRM's
export job writes each day's export under a new name (the agent maps the newest file of a
directory), and today's file shares almost every row with yesterday's. It holds the rows of the
latest read that changed more than a few of them (rowoutcomes.REWRITE_SHARE), so it never grows
past one read of a file:
about 16 bytes of digest plus the record (~30 bytes) a row. Layout:

    MAGIC, a JSON header line {"normaliser", "fingerprint", "rows", "records"},
    rows x 16-byte digests sorted by their first 8 bytes (read as little-endian uint64),
    the records in the same order: an Arrow IPC stream (domain, name key, population or reason),
    a 32-byte BLAKE2b of everything before it (a truncated or edited file is detected).

A file of another normaliser version or fingerprint is ignored (debug log)
and replaced by the next save; a corrupt one is ignored with a warning. It
is written 0600 to a temporary file and renamed, so a reader never sees half
of it (not fsynced: one cut short by a crash fails its checksum).
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
import pyarrow as pa
import pyarrow.compute as pc

from cleanroom_client.inputs.rowdigest import DIGEST_BYTES
from cleanroom_client.inputs.rowkeys import MatchKey
from cleanroom_client.inputs.version import NORMALISER_VERSION

log = logging.getLogger(__name__)

MAGIC = b"CLEANROOM-ROWCACHE\n"
_CHECK_BYTES = 32
# A row's record: its domain key, its name key ("" when none) and its population, or why it was rejected
# (no key). The text is dictionary-encoded: a file has a handful of populations.
RECORDS = pa.schema([("domain", pa.string()), ("name", pa.string()), ("text", pa.string())])

Outcome = tuple[tuple[MatchKey, ...], str]  # (keys, population), or ((), why the row was rejected)


def records_of(outcomes: Sequence[Outcome]) -> pa.Table:
    """The records of rows' outcomes (``outcomes_of``'s inverse)."""
    domains, names, texts = [], [], []
    for keys, text in outcomes:
        domains.append(next((k.value for k in keys if k.kind == "domain"), ""))
        names.append(next((k.value for k in keys if k.kind == "name"), ""))
        texts.append(text)
    return pa.table([pa.array(domains, pa.string()), pa.array(names, pa.string()), pa.array(texts, pa.string())], schema=RECORDS)


def outcomes_of(records: pa.Table) -> list[Outcome]:
    """The outcomes the records hold, in order: keys in row_keys' order (domain, then name)."""
    domains = records.column(0).to_pylist()
    names = records.column(1).to_pylist()
    text = records.column(2)
    if pa.types.is_dictionary(text.type):  # one Python string per population, not per row
        text = text.combine_chunks()
        words = text.dictionary.to_pylist()
        texts = [words[i] for i in text.indices.to_pylist()]
    else:
        texts = text.to_pylist()
    out: list[Outcome] = []
    for domain, name, population in zip(domains, names, texts, strict=True):
        if name:
            keys: tuple[MatchKey, ...] = (
                (MatchKey("domain", domain), MatchKey("name", name)) if domain else (MatchKey("name", name),)
            )
        else:
            keys = (MatchKey("domain", domain),) if domain else ()
        out.append((keys, population))
    return out


def _prefixes(digests: np.ndarray) -> np.ndarray:
    """The first 8 bytes of each digest as an unsigned integer: what the rows are sorted and searched by."""
    return np.ascontiguousarray(digests[:, :8]).view("<u8").reshape(-1)


class CachedRows:
    """The records of a previous read, looked up by digest (vectorised: binary search over the sorted prefixes)."""

    def __init__(self, digests: np.ndarray, records: pa.Table) -> None:
        if len(digests) != records.num_rows:
            raise ValueError("record count does not match the digests")
        self.digests = digests  # (n, 16) uint8, sorted by prefix, one row per prefix
        self.records = records
        self._prefix = _prefixes(digests)

    def __len__(self) -> int:
        return len(self.digests)

    def find(self, digests: np.ndarray) -> np.ndarray:
        """For each digest, the index of its record, or -1 when it is not cached."""
        if not len(self.digests) or not len(digests):
            return np.full(len(digests), -1, dtype=np.int64)
        wanted = _prefixes(digests)
        at = np.minimum(search_sorted(self._prefix, wanted), len(self._prefix) - 1)
        # The whole digest must match, not only the prefix it was found by.
        hit = (self._prefix[at] == wanted) & (self.digests[at] == digests).all(axis=1)
        return np.where(hit, at, -1).astype(np.int64)

    def take(self, indexes: np.ndarray) -> pa.Table:
        """The records at ``indexes`` (as ``find`` gave them)."""
        return self.records.take(pa.array(indexes, type=pa.int64()))


def search_sorted(haystack: np.ndarray, needles: np.ndarray) -> np.ndarray:
    """``np.searchsorted(haystack, needles)``, with the needles searched in sorted order: a million random
    needles then walk the haystack in order instead of jumping across it (about twice as fast)."""
    order = np.argsort(needles)
    where = np.empty(len(needles), dtype=np.int64)
    where[order] = np.searchsorted(haystack, needles[order])
    return where


EMPTY = CachedRows(np.zeros((0, DIGEST_BYTES), dtype=np.uint8), RECORDS.empty_table())


class RowCache:
    """One file source's row cache file (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def for_options(cls, directory: Path, options: Mapping[str, object]) -> RowCache:
        """The cache of files read with ``options`` (what the caller was given), in ``directory``."""
        what = json.dumps({"options": options}, sort_keys=True, default=str)
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

    def save(self, fingerprint: str, digests: np.ndarray, records: pa.Table) -> None:
        """Keep exactly these rows (a read's digests and their records, in any order)."""
        prefix = _prefixes(digests)
        order = np.argsort(prefix, kind="stable")
        first = np.ones(len(order), dtype=bool)  # one row per prefix: duplicate rows share a digest
        first[1:] = prefix[order][1:] != prefix[order][:-1]
        order = order[first]
        kept = records.take(pa.array(order, type=pa.int64()))
        text = pc.dictionary_encode(kept.column(2).cast(pa.string()))
        kept = pa.table([kept.column(0), kept.column(1), text], names=RECORDS.names).combine_chunks()
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, kept.schema) as writer:
            writer.write_table(kept)
        blob = sink.getvalue()
        header = {"normaliser": NORMALISER_VERSION, "fingerprint": fingerprint, "rows": len(order), "records": blob.size}
        parts: list[bytes | memoryview] = [
            MAGIC + json.dumps(header).encode() + b"\n",
            digests[order].tobytes(),
            memoryview(blob),
        ]
        check = hashlib.blake2b(digest_size=_CHECK_BYTES)
        for part in parts:
            check.update(part)
        _write_private(self.path, [*parts, check.digest()])


def _parse(data: bytes) -> tuple[dict[str, object], CachedRows]:
    """The header and rows of a cache file; ValueError when it is not one, or damaged."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _CHECK_BYTES:
        raise ValueError("not a row cache file")
    view = memoryview(data)  # slices of a 50 MB file without copying it
    body, check = view[:-_CHECK_BYTES], data[-_CHECK_BYTES:]
    if hashlib.blake2b(body, digest_size=_CHECK_BYTES).digest() != check:
        raise ValueError("checksum mismatch: truncated or changed")
    end = data.index(b"\n", len(MAGIC))
    header = json.loads(data[len(MAGIC) : end])
    rows, size = int(header["rows"]), int(header["records"])
    start = end + 1
    if len(body) != start + rows * DIGEST_BYTES + size:
        raise ValueError("sizes do not add up")
    digests = np.frombuffer(data, dtype=np.uint8, count=rows * DIGEST_BYTES, offset=start).reshape(rows, DIGEST_BYTES)
    try:
        records = pa.ipc.open_stream(pa.py_buffer(body[start + rows * DIGEST_BYTES :])).read_all()
    except pa.ArrowException as exc:
        raise ValueError(f"records unreadable: {exc}") from None
    if records.schema.names != RECORDS.names:
        raise ValueError("records of another layout")
    return header, CachedRows(digests, records)


def _write_private(path: Path, parts: Sequence[bytes | memoryview]) -> None:
    """Write ``parts`` to ``path`` atomically, readable by the owner only (the records hold the party's domains)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            for part in parts:
                fh.write(part)
        # No fsync: a file cut short by a crash fails its checksum and is rebuilt, which costs one read.
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
