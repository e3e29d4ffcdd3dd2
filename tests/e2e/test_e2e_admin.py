"""Admin on a running coordinator (issue 15, item 2): a real `serve` process, and the admin commands run
as separate processes against its data dir. A key added while it serves works on REST at once; a key
revoked while it serves is refused at once; `status` has the same fields serving and stopped; a caller
of another uid is refused by the socket; a huge or malformed request gets a precise error and changes
nothing; the socket file a kill -9 leaves behind is detected and the command works on the store file."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from cleanroom.demo.localrun import COORDINATOR, LocalCoordinator, run

pytestmark = pytest.mark.e2e  # one xdist group per module (tests/e2e/conftest.py), so modules run in parallel

# A client written only with the standard library, as another user runs it (no venv, no package).
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
RAW_CLIENT = """
import json, socket, struct, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(sys.argv[1])
body = json.dumps({"op": "status", "params": {}}).encode()
sock.sendall(struct.pack(">I", len(body)) + body)
length = struct.unpack(">I", sock.recv(4, socket.MSG_WAITALL))[0]
print(sock.recv(length, socket.MSG_WAITALL).decode())
"""


def admin(coord: LocalCoordinator, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run([*COORDINATOR, "coordinator", *args, "--data-dir", str(coord.data_dir)], check=check)


def admin_json(coord: LocalCoordinator, *args: str) -> Any:
    return json.loads(admin(coord, *args, "--json").stdout)


def raw(path: Path, data: bytes) -> dict[str, Any]:
    """Send bytes as they are on the admin socket; the answer it frames."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(path))
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)  # a short request ends here, as when a caller dies mid-message
        (length,) = struct.unpack(">I", sock.recv(4, socket.MSG_WAITALL))
        answer: dict[str, Any] = json.loads(sock.recv(length, socket.MSG_WAITALL))
        return answer


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def rest(coord: LocalCoordinator, key: str, path: str) -> httpx.Response:
    with httpx.Client(base_url=coord.http_url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as http:
        return http.get(path)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    coord = LocalCoordinator(tmp_path_factory.mktemp("admin") / "coord", http=True).init().start()
    yield coord
    coord.stop()


def test_a_key_added_while_serving_works_at_once_and_a_revoked_one_is_refused_at_once(served):
    assert (served.data_dir / "admin.sock").is_socket()
    assert (served.data_dir / "admin.sock").stat().st_mode & 0o777 == 0o600
    assert served.data_dir.stat().st_mode & 0o777 == 0o700
    admin_key = admin(served, "add-api-key", "--role", "admin").stdout.strip()
    created = admin_json(served, "add-api-key", "--role", "analyst", "--party", "acme", "--label", "dash")
    assert rest(served, created["key"], "/v1/agreements").status_code == 200  # no restart, no wait
    listed = admin_json(served, "api-keys")["api_keys"]
    assert {(k["key_id"], k["party"], k["role"], k["label"]) for k in listed} >= {(created["key_id"], "acme", "analyst", "dash")}
    admin(served, "api-keys", "--revoke", created["key_id"])
    refused = rest(served, created["key"], "/v1/agreements")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "UNAUTHENTICATED"
    assert created["key_id"] not in {k["key_id"] for k in admin_json(served, "api-keys")["api_keys"]}
    assert created["key_id"] in {k["key_id"] for k in admin_json(served, "api-keys", "--all")["api_keys"]}
    entries = rest(served, admin_key, "/v1/audit/entries?action=api_key.*").json()["items"]
    mine = [(e["action"], e["actor"], e["details"]["key_id"]) for e in entries if e["details"]["key_id"] == created["key_id"]]
    assert sorted(mine) == [
        ("api_key.created", "operator", created["key_id"]),
        ("api_key.revoked", "operator", created["key_id"]),
    ]


def test_a_huge_or_malformed_request_gets_a_precise_error_and_changes_nothing(served):
    sock = served.data_dir / "admin.sock"
    before = admin_json(served, "status")
    cases = [
        (struct.pack(">I", 64 * 1024 + 1), "INVALID_ARGUMENT", "admin message of 65,537 bytes: the limit is 65,536 bytes"),
        (frame(b"{not json"), "INVALID_ARGUMENT", "admin message is not JSON"),
        (frame(b"[1, 2]"), "INVALID_ARGUMENT", "must be a JSON object, not list"),
        (frame(b'{"op": "status", "extra": 1}'), "INVALID_ARGUMENT", "unknown fields: extra"),
        (frame(b'{"op": "drop-everything"}'), "NOT_FOUND", "no admin operation 'drop-everything'"),
        (
            frame(b'{"op": "api-keys.add", "params": {"role": "admin", "root": true}}'),
            "INVALID_ARGUMENT",
            "unknown parameters root",
        ),
        (frame(b'{"op": "api-keys.add", "params": {"role": "root"}}'), "INVALID_ARGUMENT", "role must be one of"),
        (frame(b'{"op": "api-keys.add", "params": {"role": "analyst"}}'), "INVALID_ARGUMENT", "give --party NAME"),
        (frame(b'{"op": "api-keys.revoke", "params": {"key_id": 7}}'), "INVALID_ARGUMENT", "'key_id' must be a string"),
        (frame(b'{"op": "backup", "params": {"out": "relative.tgz"}}'), "INVALID_ARGUMENT", "absolute path"),
        (struct.pack(">I", 100) + b'{"op"', "INVALID_ARGUMENT", "closed after 5 of 100 bytes"),
    ]
    for data, code, message in cases:
        answer = raw(sock, data)
        assert answer["ok"] is False and answer["error"]["code"] == code, (data[:40], answer)
        assert message in answer["error"]["message"], (data[:40], answer)
    after = admin_json(served, "status")
    assert after["audit_entries"] == before["audit_entries"] and after["api_keys_active"] == before["api_keys_active"]
    assert raw(sock, frame(b'{"op": "status"}'))["ok"] is True  # and it still answers


def test_another_uid_is_refused_by_the_peer_check():
    if os.getuid() != 0 or not shutil.which("setpriv") or not Path("/usr/bin/python3").exists():
        pytest.skip("needs root, setpriv and a system python to run a client as nobody")
    # The 0700 data dir alone keeps nobody out. This coordinator's own directories and socket are widened
    # by hand, as a careless operator might, so that only the peer-credential check stands in the way.
    home = Path(tempfile.mkdtemp(prefix="cleanroom-admin-uid-", dir="/tmp"))
    coord = LocalCoordinator(home / "coord").init().start()
    try:
        sock = coord.data_dir / "admin.sock"
        for path, mode in ((home, 0o711), (coord.data_dir, 0o711), (sock, 0o666)):
            os.chmod(path, mode)
        before = admin_json(coord, "status")["audit_entries"]
        done = subprocess.run(
            [*AS_NOBODY, "/usr/bin/python3", "-I", "-c", RAW_CLIENT, str(sock)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        after = admin_json(coord, "status")["audit_entries"]
    finally:
        coord.stop()
    try:
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        assert answer["ok"] is False and answer["error"]["code"] == "PERMISSION_DENIED"
        assert "uid 65534 may not administer this coordinator" in answer["error"]["message"]
        assert after == before + 1
        export = home / "audit.jsonl"
        run([*COORDINATOR, "audit", "export", "--data-dir", str(coord.data_dir), "--out", str(export)])
        entries = [json.loads(line) for line in export.read_text().splitlines()]
        denied = [e for e in entries if e.get("action") == "request.denied"]
        assert [(e["actor"], e["details"]["method"], e["details"]["uid"]) for e in denied] == [("unknown", "admin socket", 65534)]
    finally:
        shutil.rmtree(home)


def test_status_has_the_same_fields_serving_and_stopped(tmp_path: Path):
    coord = LocalCoordinator(tmp_path / "coord", http=True).init().start()
    try:
        admin(coord, "add-api-key", "--role", "admin")
        serving = admin_json(coord, "status")
    finally:
        coord.stop()
    stopped = admin_json(coord, "status")
    assert set(serving) == set(stopped)
    assert serving["serving"] is True and stopped["serving"] is False
    assert serving["uptime_seconds"] >= 0 and stopped["uptime_seconds"] is None
    assert serving["listen"] == {"grpc": coord.address, "http": coord.http_url}
    assert stopped["listen"] == {"grpc": "127.0.0.1:0"}  # the configured address: nothing listens
    assert serving["data_dir"] == stopped["data_dir"] == str(coord.data_dir.resolve())
    for field in ("agreements", "runs", "uploads", "api_keys_active", "audit_entries", "parties", "version"):
        assert serving[field] == stopped[field], field
    assert stopped["api_keys_active"] == 1 and stopped["audit_entries"] == 1
    assert not (coord.data_dir / "admin.sock").exists()  # a clean stop removes its socket


def test_a_stale_socket_after_kill_9_falls_back_to_the_store_file(tmp_path: Path):
    coord = LocalCoordinator(tmp_path / "coord").init().start()
    admin(coord, "add-api-key", "--role", "admin")
    coord.stop(kill=True)
    sock = coord.data_dir / "admin.sock"
    assert sock.is_socket()  # left behind: nobody answers on it
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(str(sock))
    assert admin_json(coord, "status")["serving"] is False
    created = admin_json(coord, "add-api-key", "--role", "auditor", "--party", "acme")
    coord.start()  # the new coordinator replaces the stale socket with its own
    try:
        status = admin_json(coord, "status")
        assert status["serving"] is True and status["api_keys_active"] == 2 and status["store"]["problem"] is None
        assert created["key_id"] in {k["key_id"] for k in admin_json(coord, "api-keys")["api_keys"]}
    finally:
        coord.stop()


def test_the_store_of_a_serving_coordinator_is_never_opened_behind_its_back(tmp_path: Path):
    coord = LocalCoordinator(tmp_path / "coord").init().start()
    try:
        (coord.data_dir / "admin.sock").unlink()  # its socket gone: the command must not take the store
        refused = admin(coord, "status", check=False)
        assert refused.returncode != 0
        assert "in use by a running coordinator, but it does not answer on" in refused.stderr
    finally:
        coord.stop()
