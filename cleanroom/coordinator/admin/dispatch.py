"""The command line's way to an admin operation: the serving coordinator's socket, else the store file.

A coordinator that serves holds its store's lock and answers on ``DIR/admin.sock``: its store is never
opened behind its back. No socket, or a stale one (refused: its coordinator was killed), means nobody
serves; the store file is then opened directly, and its lock says whether that is true.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb

from cleanroom.coordinator.admin.client import NotServing, request
from cleanroom.coordinator.admin.context import STORE_FILE, AdminContext
from cleanroom.coordinator.admin.operations import run
from cleanroom.coordinator.admin.protocol import SOCKET_NAME
from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.store import Store
from cleanroom.coordinator.web.auth import ApiKeys
from cleanroom.errors import InputError


def call(data_dir: DataDir, op: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run admin operation ``op`` on the coordinator of ``data_dir``, serving or stopped."""
    data_dir.config()  # a clear error when DIR is not a coordinator data dir
    try:
        return request(data_dir.path / SOCKET_NAME, op, params)
    except NotServing:
        return on_store_file(data_dir, op, params)


def on_store_file(data_dir: DataDir, op: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run ``op`` on a stopped coordinator's store file."""
    store = _open(data_dir)
    try:
        return run(AdminContext(store, data_dir, ApiKeys(store), STORE_FILE, os.getuid()), op, params)
    finally:
        store.close()


def _open(data_dir: DataDir) -> Store:
    try:
        return Store(data_dir.store_path, data_dir.signer())
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            socket = Path(data_dir.path) / SOCKET_NAME
            raise InputError(
                f"{data_dir.store_path} is in use by a running coordinator, but it does not answer on {socket} "
                "(starting up, or from a version without the admin socket): retry in a moment, or stop it"
            ) from None
        raise InputError(f"cannot open {data_dir.store_path}: {exc}") from None
