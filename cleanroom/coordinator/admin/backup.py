"""Writing a backup bundle (`cleanroom coordinator backup`), serving or stopped alike.

The store is copied by DuckDB under the store's lock (``store.copy``): a consistent state, written
afresh, so the bundle's store holds no blocks freed by deleted points. The bundle is assembled next to
``out`` and renamed into place only when whole, 0600 from its first byte.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from cleanroom.coordinator.admin.bundle import DATA, FORMAT, MANIFEST, STORE, data_dir_files, sha256_file
from cleanroom.coordinator.admin.context import AdminContext, cleanroom_version
from cleanroom.coordinator.store import now
from cleanroom.coordinator.store.copy import copy_database
from cleanroom.errors import FailedPrecondition, InvalidArgument


def _check_out(ctx: AdminContext, out: Path) -> None:
    if out.exists():
        raise FailedPrecondition(f"{out} exists: a backup never overwrites a file (choose a new name)")
    if not out.parent.is_dir():
        raise InvalidArgument(f"{out.parent} is not a directory: the backup cannot be written there")
    data = ctx.data_dir.path.resolve()
    if out.parent.resolve() == data or data in out.parent.resolve().parents:
        raise InvalidArgument(f"write the backup outside the data dir {data} (a later backup would hold this one)")


def write_backup(ctx: AdminContext, out: Path) -> dict[str, Any]:
    """Bundle the store and the data dir's files into ``out``; audited before the copy, so it holds its entry."""
    _check_out(ctx, out)
    try:
        work = Path(tempfile.mkdtemp(prefix=".cleanroom-backup-", dir=out.parent))  # 0700
    except PermissionError:
        raise FailedPrecondition(
            f"the coordinator (uid {os.getuid()}) may not write in {out.parent}: choose a directory it can write to"
        ) from None
    try:
        with ctx.store.transaction() as con:
            ctx.store.audit(con, ctx.actor, "store.backup", None, {**ctx.via(), "out": out.name})
        copied = copy_database(ctx.store.db, work / STORE)
        os.chmod(work / STORE, 0o600)  # as the store itself: tokens, releases and the audit log
        files = {STORE: work / STORE} | {p.as_posix(): ctx.data_dir.path / p for p in data_dir_files(ctx.data_dir)}
        manifest = {
            "format": FORMAT,
            "created_at": now(),
            "version": cleanroom_version(),
            "audit_entries": copied["audit_entries"],
            "files": {
                name: {"sha256": sha256_file(path), "bytes": path.stat().st_size, "mode": path.stat().st_mode & 0o777}
                for name, path in files.items()
            },
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        partial = work / "bundle.partial"
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as raw:
            # Level 1: the bulk is points, random bytes that no level shrinks; the rest is small text.
            with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=1) as tar:
                tar.add(work / MANIFEST, arcname=MANIFEST)
                for name, path in files.items():
                    tar.add(path, arcname=DATA + name)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, out)  # never a half-written bundle under the name asked for
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "out": str(out),
        "bytes": out.stat().st_size,
        "files": sorted(files),
        "audit_entries": copied["audit_entries"],
        "store_bytes": ctx.store.path.stat().st_size,
        "copied_store_bytes": copied["bytes"],
    }
