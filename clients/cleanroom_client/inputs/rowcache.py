"""What each row of a file normalised to, kept between reads so that unchanged rows are not normalised again.

Keyed by the row's digest (rowdigest.py: the cells normalisation reads, salted
with everything else that changes the result); the value is the row's record:
its match keys and population, or why it was rejected. Row numbers are not
kept (an inserted row shifts them): the load recomputes them.

One cache file per set of options (``RowCache.for_options``), whatever the file's name: a CRM's
export job writes each day's export under a new name (the agent maps the newest file of a
directory), and today's file shares almost every row with yesterday's. It holds the rows of the
latest read that changed more than a few of them (rowoutcomes.REWRITE_SHARE), so it never grows
past one read of a file: about 16 bytes of digest plus the record (~50 bytes) a row, and 20 bytes a
line for a file read by lines.

A clean CSV file is read by lines (csvlines.py): a line index maps each line's digest to its row's
record, so that a line seen before is not even parsed. It holds for one header only ("line_header":
the same bytes mean the same cells only under the same columns). A changed line is parsed and looked
up by its cells as any row: a column the normaliser does not read (a "last activity" date) changes
the line, not the row's record. Layout:

    MAGIC, a JSON header line {"normaliser", "fingerprint", "rows", "lines", "line_header", "identity"},
    rows x 16-byte digests sorted by their first 8 bytes (read as little-endian uint64),
    lines x 16-byte line digests sorted as the row digests, then lines x uint32: each one's record,
    the records in the digests' order: an Arrow IPC stream (domain, name key, population or reason, name,
    and the identity of the domain key: see account_ids.domain_ids), then its size in bytes (uint64),
    a CRC-32 of everything before it (uint32: a truncated or damaged file is detected; the file is the
    party's own and 0600, so the check is against accidents, not forgery: a 125 MB file is checked in
    0.03 CPU s, where BLAKE2b took 0.14).
The records are written as a stream (a batch at a time), so their size comes after them.

A file of another normaliser version or fingerprint is ignored (debug log)
and replaced by the next save; a corrupt one is ignored with a warning. It
is written 0600 to a temporary file and renamed, so a reader never sees half
of it (not fsynced: one cut short by a crash fails its checksum).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import mmap
import os
import struct
import tempfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cleanroom_client.inputs.account_ids import ID_SIZE, IDENTITY_VERSION, domain_ids
from cleanroom_client.inputs.records import Picked
from cleanroom_client.inputs.rowdigest import DIGEST_BYTES
from cleanroom_client.inputs.rowkeys import MatchKey
from cleanroom_client.inputs.version import NORMALISER_VERSION

log = logging.getLogger(__name__)

MAGIC = b"CLEANROOM-ROWCACHE/2\n"
_OLDER = (b"CLEANROOM-ROWCACHE\n",)  # layouts of earlier versions: ignored quietly, replaced by the next save
_CHECK_BYTES = 4
_SIZE_BYTES = 8  # the records' byte size, just before the checksum
_SAVE_BATCH = 131_072
# A row's record: its domain key, its name key ("" when none) and its population, or why it was rejected
# (no key), and its name cell as read (the account's name; "" when none). The text is dictionary-encoded:
# a file has a handful of populations.
RECORDS = pa.schema(
    [
        ("domain", pa.string()),
        ("name", pa.string()),
        ("text", pa.string()),
        ("account_name", pa.string()),
        ("domain_id", pa.binary(ID_SIZE)),  # account_ids.domain_ids: the identity of the row's domain key, or zeros
    ]
)

Outcome = tuple[tuple[MatchKey, ...], str]  # (keys, population), or ((), why the row was rejected)


def records_of(outcomes: Sequence[Outcome], account_names: Sequence[str | None]) -> pa.Table:
    """The records of rows' outcomes and name cells (``outcomes_of``'s inverse, and the names)."""
    domains, names, texts = [], [], []
    for keys, text in outcomes:
        domains.append(next((k.value for k in keys if k.kind == "domain"), ""))
        names.append(next((k.value for k in keys if k.kind == "name"), ""))
        texts.append(text)
    labels = pa.array([n or "" for n in account_names], pa.string())
    domain = pa.array(domains, pa.string())
    ids = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(ID_SIZE), len(domains), [None, pa.py_buffer(domain_ids(domain).tobytes())]
    )
    return pa.table([domain, pa.array(names, pa.string()), pa.array(texts, pa.string()), labels, ids], schema=RECORDS)


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

    def __init__(
        self, digests: np.ndarray, records: pa.Table, lines: np.ndarray | None = None, line_records: np.ndarray | None = None
    ) -> None:
        if len(digests) != records.num_rows:
            raise ValueError("record count does not match the digests")
        self.digests = digests  # (n, 16) uint8, sorted by prefix, one row per prefix
        self.records = records
        self._prefix = _prefixes(digests)
        self.lines = lines if lines is not None else np.zeros((0, DIGEST_BYTES), np.uint8)  # (m, 16), sorted as digests
        self.line_records = line_records if line_records is not None else np.zeros(0, np.int64)  # each line's record
        if len(self.lines) != len(self.line_records) or (len(self.line_records) and int(self.line_records.max()) >= len(digests)):
            raise ValueError("line index does not match the records")
        self._line_prefix = _prefixes(self.lines)
        self.line_header = ""  # the header the line index holds for (rowcache module docstring)

    def __len__(self) -> int:
        return len(self.digests)

    def find(self, digests: np.ndarray) -> np.ndarray:
        """For each digest, the index of its record, or -1 when it is not cached."""
        return _find(self.digests, self._prefix, digests)

    def find_lines(self, digests: np.ndarray, header: str) -> np.ndarray:
        """For each line digest (csvlines.py) of a file with this header, its record's index, or -1."""
        if header != self.line_header or not len(self.lines):
            return np.full(len(digests), -1, dtype=np.int64)
        at = _find(self.lines, self._line_prefix, digests)
        return np.where(at >= 0, self.line_records[np.maximum(at, 0)], -1).astype(np.int64)

    def take(self, indexes: np.ndarray) -> pa.Table:
        """The records at ``indexes`` (as ``find`` gave them)."""
        return self.records.take(pa.array(indexes, type=pa.int64()))

    def pick(self, indexes: np.ndarray) -> Picked:
        """The records at ``indexes``, left where they are (records.py)."""
        return Picked(self.records, np.asarray(indexes, dtype=np.int64))


def _find(held: np.ndarray, prefix: np.ndarray, digests: np.ndarray) -> np.ndarray:
    """For each digest, its index in ``held`` (sorted by ``prefix``, its first 8 bytes), or -1."""
    if not len(held) or not len(digests):
        return np.full(len(digests), -1, dtype=np.int64)
    wanted = _prefixes(digests)
    at = np.minimum(search_sorted(prefix, wanted), len(prefix) - 1)
    # The whole digest must match, not only the prefix it was found by: its other 8 bytes too.
    hit = (prefix[at] == wanted) & (_suffixes(held)[at] == _suffixes(digests))
    return np.where(hit, at, -1).astype(np.int64)


def _suffixes(digests: np.ndarray) -> np.ndarray:
    """The last 8 bytes of each digest as an unsigned integer (compared as one number, not byte by byte)."""
    return np.ascontiguousarray(digests[:, 8:]).view("<u8").reshape(-1)


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
            data = _mapped(self.path)
        except FileNotFoundError:
            return EMPTY
        except (OSError, ValueError) as exc:
            log.warning("row cache %s cannot be read (%s); every row is normalised", self.path, exc)
            return EMPTY
        if any(data[: len(older)] == older for older in _OLDER):
            log.debug("row cache %s is of an earlier layout: ignored", self.path)
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
        if header.get("identity") != IDENTITY_VERSION:
            log.debug("row cache %s holds identities of another version: ignored", self.path)
            return EMPTY
        rows.line_header = str(header.get("line_header", ""))
        return rows

    def save(
        self, fingerprint: str, digests: np.ndarray, records: pa.Table, lines: np.ndarray | None = None, line_header: str = ""
    ) -> None:
        """Keep exactly these rows (a read's digests and their records, in any order), and where the read was
        by lines, each row's line digest (aligned with ``digests``) under ``line_header``."""
        prefix = _prefixes(digests)
        order, rank = _first_of_each(prefix)  # one row per prefix: duplicate rows share a digest
        line_digests, line_records = _line_index(order, rank, digests, lines)
        del prefix, rank, lines
        header = {
            "normaliser": NORMALISER_VERSION,
            "fingerprint": fingerprint,
            "rows": len(order),
            "lines": len(line_records),
            "line_header": line_header if len(line_records) else "",
            "identity": IDENTITY_VERSION,
        }
        text = pc.dictionary_encode(records.column(2).cast(pa.string()).combine_chunks())  # one dictionary for all
        records = pa.table([text if i == 2 else records.column(i) for i in range(len(RECORDS))], names=RECORDS.names)

        def write(out: _Checked) -> None:  # streamed: a million records are never all copied at once
            out.write(MAGIC + json.dumps(header).encode() + b"\n")
            out.write(digests[order])
            out.write(line_digests)
            out.write(line_records.astype("<u4"))
            start = out.written
            with pa.ipc.new_stream(pa.PythonFile(out, mode="w"), records.schema) as writer:
                for at in range(0, len(order), _SAVE_BATCH):
                    writer.write_table(records.take(pa.array(order[at : at + _SAVE_BATCH], type=pa.int64())).combine_chunks())
            out.write(struct.pack("<Q", out.written - start))
            out.finish()

        _write_private(self.path, write)


class _Checked(io.RawIOBase):
    """A file written through a running CRC-32 of everything written; ``finish`` appends it."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh, self._check, self.written = fh, 0, 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        if not view.nbytes:
            return 0
        view = view.cast("B")  # a C-contiguous array's bytes, not copied
        self._check = zlib.crc32(view, self._check)
        self._fh.write(view)
        self.written += len(view)
        return len(view)

    def finish(self) -> None:
        self._fh.write(struct.pack("<I", self._check))


def _first_of_each(prefix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``prefix`` sorted by value, the first of each value only; and for every position, the
    rank of its value among those kept."""
    order = np.argsort(prefix, kind="stable")
    first = np.ones(len(order), dtype=bool)
    first[1:] = prefix[order][1:] != prefix[order][:-1]
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.cumsum(first) - 1
    return order[first], rank


def _line_index(
    order: np.ndarray, rank: np.ndarray, digests: np.ndarray, lines: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The line index of a save: line digests sorted by prefix (one per prefix), and the record each line's
    row has among the rows kept (``order``, each row's ``rank`` among them). A row whose record was not kept
    (another digest with its prefix, never expected) leaves its line out: that line is parsed again."""
    if lines is None or not len(lines):
        return np.zeros((0, DIGEST_BYTES), np.uint8), np.zeros(0, np.int64)
    same = np.ones(len(rank), dtype=bool)
    kept_row = np.zeros(len(rank), dtype=bool)
    kept_row[order] = True
    others = np.flatnonzero(~kept_row)  # duplicate rows: their record is another row's, checked whole
    same[others] = (digests[order[rank[others]]] == digests[others]).all(axis=1)
    lines, record = lines[same], rank[same]
    kept, _ = _first_of_each(_prefixes(lines))
    return np.ascontiguousarray(lines[kept]), record[kept]


def _mapped(path: Path) -> mmap.mmap:
    """The cache file mapped, not read: its records are used where they lie (0.04 CPU s a read, against 0.09 to
    copy 125 MB first). Saves replace the file by a rename, so a mapping never sees it change."""
    with path.open("rb") as fh:
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)  # ValueError for an empty file


def _parse(data: bytes | mmap.mmap) -> tuple[dict[str, object], CachedRows]:
    """The header and rows of a cache file; ValueError when it is not one, or damaged."""
    if data[: len(MAGIC)] != MAGIC or len(data) < len(MAGIC) + _SIZE_BYTES + _CHECK_BYTES:
        raise ValueError("not a row cache file")
    view = memoryview(data)  # slices of a 100 MB file without copying it
    body, check = view[:-_CHECK_BYTES], data[-_CHECK_BYTES:]
    if struct.pack("<I", zlib.crc32(body)) != check:
        raise ValueError("checksum mismatch: truncated or changed")
    end = data.find(b"\n", len(MAGIC))
    if end < 0:
        raise ValueError("no header line")
    header = json.loads(data[len(MAGIC) : end])
    rows, lines = int(header["rows"]), int(header["lines"])
    (size,) = struct.unpack("<Q", body[-_SIZE_BYTES:])
    at_digests = end + 1
    at_lines = at_digests + rows * DIGEST_BYTES
    at_records = at_lines + lines * (DIGEST_BYTES + 4)
    if len(body) != at_records + size + _SIZE_BYTES:
        raise ValueError("sizes do not add up")
    digests = np.frombuffer(data, dtype=np.uint8, count=rows * DIGEST_BYTES, offset=at_digests).reshape(rows, DIGEST_BYTES)
    line_digests = np.frombuffer(data, dtype=np.uint8, count=lines * DIGEST_BYTES, offset=at_lines).reshape(lines, DIGEST_BYTES)
    line_records = np.frombuffer(data, dtype="<u4", count=lines, offset=at_lines + lines * DIGEST_BYTES).astype(np.int64)
    try:
        records = pa.ipc.open_stream(pa.py_buffer(body[at_records : at_records + size])).read_all()
    except pa.ArrowException as exc:
        raise ValueError(f"records unreadable: {exc}") from None
    if records.schema.names != RECORDS.names:
        raise ValueError("records of another layout")
    return header, CachedRows(digests, records, line_digests, line_records)


def _write_private(path: Path, write: Callable[[_Checked], None]) -> None:
    """Write ``path`` atomically with ``write``, readable by the owner only (the records hold the party's domains)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            write(_Checked(fh))
        # No fsync: a file cut short by a crash fails its checksum and is rebuilt, which costs one read.
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
