"""Which export the agent watches, whether it is done being written, and what it holds (a content digest).

A directory is watched for its newest CSV, Parquet or XLSX file (by modification time): export jobs
usually drop a new dated file each time. A file that is still being written is left alone until its
size and modification time hold still across a short check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# What map reads (inputs/readers.py), less .txt: a directory of exports often holds a README.txt too.
EXPORT_SUFFIXES = frozenset({".csv", ".tsv", ".parquet", ".pq", ".xlsx"})
SETTLE_TRIES = 5


@dataclass(frozen=True)
class Snapshot:
    path: Path
    size: int
    mtime_ns: int


def newest_export(watch: Path) -> Path | None:
    """The file to map: ``watch`` itself, or the newest export in the directory ``watch``; None when there is none."""
    if not watch.is_dir():
        return watch if watch.is_file() else None
    candidates = []
    for p in watch.iterdir():
        # Hidden files and Excel's lock files (~$name.xlsx) are someone's work in progress, not exports.
        if p.suffix.lower() in EXPORT_SUFFIXES and not p.name.startswith((".", "~$")) and p.is_file():
            candidates.append((p.stat().st_mtime_ns, p.name, p))
    return max(candidates)[2] if candidates else None


def snapshot(path: Path) -> Snapshot:
    st = path.stat()
    return Snapshot(path, st.st_size, st.st_mtime_ns)


def settled(path: Path, settle: float, pause: Callable[[float], bool], tries: int = SETTLE_TRIES) -> Snapshot | None:
    """The file's snapshot once its size and modification time held still for ``settle`` seconds; None when
    it was still changing after ``tries`` checks, or when ``pause`` (which waits) says to stop."""
    before = snapshot(path)
    for _ in range(tries):
        if pause(settle):
            return None
        after = snapshot(path)
        if after == before:
            return after
        before = after
    return None


def content_digest(path: Path, block: int = 1 << 20) -> str:
    """SHA-256 of the file's bytes: a file touched or copied again without changes is not a new export."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            h.update(chunk)
    return h.hexdigest()
