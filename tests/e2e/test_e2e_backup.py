"""Online backup and restore (issue 15, item 3): two parties map through a real coordinator; it is backed
up while serving; the bundle is restored into a new data dir, whose audit chain verifies offline and is
the original's chain up to the backup's own entry; a coordinator started on the restored dir serves the
same signed release to the same API key. A backup of the stopped coordinator restores the same way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from cleanroom.demo.localrun import COORDINATOR, LocalCoordinator, run
from tests.mapped_once import map_once

pytestmark = pytest.mark.e2e  # one xdist group per module (tests/e2e/conftest.py), so modules run in parallel

PRIVATE = ("ca.key", "server.key", "signing.key", "coordinator.duckdb")


def _coordinator(*args: str, check: bool = True) -> Any:
    return run([*COORDINATOR, *args], check=check)


def _overlap(coord: LocalCoordinator, key: str, agreement_id: str) -> dict[str, Any]:
    with httpx.Client(base_url=coord.http_url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as http:
        answer = http.get(f"/v1/agreements/{agreement_id}/overlap")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _chain(tmp_path: Path, data_dir: Path, name: str) -> list[dict[str, Any]]:
    """The data dir's audit chain as `audit export` writes it, after `audit verify` passed on it."""
    export = tmp_path / f"{name}.jsonl"
    _coordinator("audit", "export", "--data-dir", str(data_dir), "--out", str(export))
    verified = json.loads(_coordinator("audit", "verify", str(export), "--public-key", f"{export}.pub", "--json").stdout)
    assert verified["ok"] is True and verified["problems"] == []
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    return [line for line in lines if line["type"] == "entry"]


@pytest.fixture(scope="module")
def mapped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A serving coordinator (gRPC and REST) after both parties mapped once, and a vendor analyst's key."""
    tmp_path = tmp_path_factory.mktemp("backup")
    coord = LocalCoordinator(tmp_path / "coord", http=True).init().start()
    _, agreement_id = map_once(coord, tmp_path)
    argv = ["coordinator", "add-api-key", "--data-dir", str(coord.data_dir), "--role", "analyst", "--party", "vendor"]
    key = _coordinator(*argv).stdout.strip()  # while it serves
    yield {"tmp": tmp_path, "coord": coord, "agreement_id": agreement_id, "key": key}
    coord.stop()


def test_backup_while_serving_restores_into_a_new_dir_with_the_same_chain_and_release(mapped):
    tmp, coord, agreement_id, key = mapped["tmp"], mapped["coord"], mapped["agreement_id"], mapped["key"]
    released = _overlap(coord, key, agreement_id)
    assert released["release"]["totals"]["overlap"] == 30
    bundle = tmp / "online.cleanroom-backup"
    argv = ["coordinator", "backup", "--data-dir", str(coord.data_dir), "--out", str(bundle), "--json"]
    done = json.loads(_coordinator(*argv).stdout)
    assert bundle.stat().st_mode & 0o777 == 0o600 and done["bytes"] == bundle.stat().st_size
    assert set(PRIVATE) | {"config.json", "ca.pem", "server.pem", "signing.pub", "parties.json"} == set(done["files"])
    refused = _coordinator(*argv, check=False)
    assert refused.returncode != 0 and "exists: a backup never overwrites a file" in refused.stderr

    restored = tmp / "restored"
    _coordinator("coordinator", "restore", "--from", str(bundle), "--data-dir", str(restored))
    assert restored.stat().st_mode & 0o777 == 0o700
    assert {p: (restored / p).stat().st_mode & 0o777 for p in PRIVATE} == dict.fromkeys(PRIVATE, 0o600)
    again = _coordinator("coordinator", "restore", "--from", str(bundle), "--data-dir", str(restored), check=False)
    assert again.returncode != 0 and "is not empty" in again.stderr

    chain = _chain(tmp, restored, "restored")
    assert chain[-1]["action"] == "store.backup" and chain[-1]["details"]["channel"] == "admin socket"
    assert len(chain) == done["audit_entries"]
    assert (restored / "signing.pub").read_bytes() == (coord.data_dir / "signing.pub").read_bytes()

    second = LocalCoordinator(restored, http=True).start()  # a new port: the restored config's is the original's
    try:
        assert _overlap(second, key, agreement_id) == released  # the same signed release, the same key
    finally:
        second.stop()
    coord.stop()
    try:
        original = _chain(tmp, coord.data_dir, "original")
    finally:
        coord.start()
    assert original[: len(chain)] == chain  # the original's chain, entry for entry, up to the backup


def test_the_backup_is_compact_and_a_stopped_coordinator_backs_up_the_same_way(mapped):
    tmp, coord = mapped["tmp"], mapped["coord"]
    coord.stop()
    try:
        status = json.loads(_coordinator("coordinator", "status", "--data-dir", str(coord.data_dir), "--json").stdout)
        bundle = tmp / "offline.cleanroom-backup"
        _coordinator("coordinator", "backup", "--data-dir", str(coord.data_dir), "--out", str(bundle))
        original = _chain(tmp, coord.data_dir, "offline-original")
    finally:
        coord.start()
    restored = tmp / "restored-offline"
    _coordinator("coordinator", "restore", "--from", str(bundle), "--data-dir", str(restored))
    chain = _chain(tmp, restored, "offline-restored")
    assert chain == original  # the stopped store's whole chain, its backup entry last
    assert chain[-1]["action"] == "store.backup" and chain[-1]["details"]["channel"] == "store file"
    copy = json.loads(_coordinator("coordinator", "status", "--data-dir", str(restored), "--json").stdout)
    for field in ("agreements", "runs", "uploads", "api_keys_active", "parties"):
        assert copy[field] == status[field], field
    # The points were deleted when the run completed; the original file keeps their freed blocks, the copy none.
    assert status["store"]["free_blocks"] > 0, status["store"]
    assert copy["store"]["free_blocks"] == 0, copy["store"]
    assert copy["store"]["file_bytes"] < status["store"]["file_bytes"]
