"""Restoring a backup bundle into a new data dir (`cleanroom coordinator restore`).

Only the files the manifest lists are written, each checked against its SHA-256, never with more
than owner read-write (public files also group/other read); the directory is 0700. The restored
store is then read back whole (every block's checksum). Any failure removes what was written, so a
restore either leaves a data dir a coordinator can serve from or nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import zlib
from pathlib import Path
from typing import IO, Any

from cleanroom.coordinator.admin.bundle import DATA, MANIFEST, MAX_MANIFEST_BYTES, STORE, check_manifest
from cleanroom.coordinator.store.integrity import check_store
from cleanroom.errors import InputError

PUBLIC_SUFFIXES = (".pem", ".pub", ".json")


def _target(path: Path) -> bool:
    """Whether the target dir must be created (True) or exists empty (False); InputError if not empty."""
    if path.exists():
        if not path.is_dir():
            raise InputError(f"{path} exists and is not a directory: restore into a new, empty data dir")
        if any(path.iterdir()):
            raise InputError(f"{path} is not empty: restore into a new, empty data dir (nothing was written)")
        return False
    return True


def _read_manifest(tar: tarfile.TarFile) -> dict[str, dict[str, Any]]:
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isfile() or first.size > MAX_MANIFEST_BYTES:
        raise InputError(f"not a Cleanroom backup: it does not begin with {MANIFEST}")
    fh = tar.extractfile(first)
    assert fh is not None  # a regular file member always has a body
    try:
        manifest = json.loads(fh.read())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"the backup's manifest is not JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise InputError("the backup's manifest is not a JSON object")
    return check_manifest(manifest)


def _write(source: IO[bytes], target: Path, mode: int) -> str:
    """Copy ``source`` into a new file ``target`` with ``mode``; its SHA-256."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as out:
        while block := source.read(1 << 20):
            digest.update(block)
            out.write(block)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def _extract(bundle: Path, target: Path) -> dict[str, dict[str, Any]]:
    try:
        with tarfile.open(bundle, mode="r:gz") as tar:
            return _extract_from(tar, target)
    except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:  # not gzip, cut short, unreadable
        raise InputError(f"cannot read the backup {bundle}: {exc}") from None


def _extract_from(tar: tarfile.TarFile, target: Path) -> dict[str, dict[str, Any]]:
    files = _read_manifest(tar)
    written: set[str] = set()
    for member in tar:  # iterating a tar lists it from its start again: the manifest first
        if member.name == MANIFEST:
            continue
        name = member.name.removeprefix(DATA)
        if not member.name.startswith(DATA) or name not in files or name in written or not member.isfile():
            raise InputError(f"the backup holds {member.name!r}, which its manifest does not list once as a file")
        body = tar.extractfile(member)
        assert body is not None  # a regular file member always has a body
        # Never executable, never writable by others; only certificates, public keys and config may be read by
        # others (the manifest's mode is the bundle's word, and a crafted one must not make a key readable).
        mode = files[name]["mode"] & (0o644 if name.endswith(PUBLIC_SUFFIXES) else 0o600)
        if _write(body, target / name, mode) != files[name]["sha256"]:
            raise InputError(f"{name} in the backup does not match its recorded SHA-256: the backup is damaged")
        written.add(name)
    missing = sorted(set(files) - written)
    if missing:
        raise InputError(f"the backup lacks {', '.join(missing)}, which its manifest lists: it is incomplete")
    return files


def restore(bundle: Path, target: Path) -> dict[str, Any]:
    """Restore ``bundle`` into ``target`` (new or empty); what was restored and the store's check."""
    if not bundle.is_file():
        raise InputError(f"no backup file at {bundle}")
    created = _target(target)
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(target, 0o700)
    try:
        files = _extract(bundle, target)
        found = check_store(target / STORE)
    except BaseException:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        else:
            for child in target.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise
    return {"data_dir": str(target), "files": sorted(files), **found}
