"""What a backup bundle holds, and the bundle's manifest.

A bundle is a gzipped tar of ``manifest.json`` and, under ``data/``, the store as a fresh copy (``coordinator.duckdb``) and
every other file of the data dir: config, CA and server certificates and keys, the audit signing key,
the parties issued. It is everything a restore needs, so it is as secret as the data dir: written 0600.
Left out: the store's own file and WAL (the copy stands for them), the admin socket, and the run-time
files a serving coordinator or its supervisor writes (``*.port``, ``*.log``, ``*.tmp``).
"""

from __future__ import annotations

import fnmatch
import hashlib
from pathlib import Path
from typing import Any

from cleanroom.coordinator.admin.protocol import SOCKET_NAME
from cleanroom.coordinator.datadir import DataDir
from cleanroom.errors import InputError

FORMAT = "cleanroom-backup/1"
MANIFEST = "manifest.json"
DATA = "data/"  # every other member: the data dir's files under this prefix, named as in the manifest
STORE = "coordinator.duckdb"
MAX_MANIFEST_BYTES = 1024 * 1024
RUNTIME_PATTERNS = ("*.port", "*.log", "*.tmp", ".cleanroom-backup-*", "*.partial")


def data_dir_files(data_dir: DataDir) -> list[Path]:
    """The data dir's files a restore needs besides the store, as paths relative to it (sorted)."""
    skip = {STORE, STORE + ".wal", SOCKET_NAME}
    found = []
    for path in sorted(data_dir.path.rglob("*")):
        relative = path.relative_to(data_dir.path)
        if any(fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in RUNTIME_PATTERNS):
            continue
        if path.is_symlink() or not path.is_file() or relative.as_posix() in skip:
            continue
        found.append(relative)
    return found


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def safe_member_name(name: str) -> str:
    """A member name a restore may write: relative, no '..', no empty parts; InputError otherwise."""
    parts = name.split("/")
    if name.startswith("/") or any(part in ("", ".", "..") for part in parts) or "\\" in name or "\x00" in name:
        raise InputError(f"the backup names a file {name!r} outside its data dir: not a Cleanroom backup, or altered")
    return name


def check_manifest(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The manifest's files (name -> sha256, bytes, mode), once its format is ours and its names safe."""
    if manifest.get("format") != FORMAT:
        raise InputError(f"not a Cleanroom backup (format {manifest.get('format')!r}, expected {FORMAT!r})")
    files = manifest.get("files")
    if not isinstance(files, dict) or STORE not in files or "config.json" not in files:
        raise InputError("the backup's manifest lists no store or no config.json: it is incomplete")
    for name, entry in files.items():
        safe_member_name(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str) or not isinstance(entry.get("mode"), int):
            raise InputError(f"the backup's manifest entry for {name!r} is malformed")
    return files
