"""The admin channel's parts on their own: the peer-credential check on real sockets (another uid through
setpriv where it can run), the framing's limits, the parameter reader, the API key cache across two
readers of one store, and restore's refusals of damaged, altered or misplaced bundles (real DuckDB stores
backed up through the same operation a serving coordinator runs)."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import struct
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from cleanroom.coordinator.admin.address import socket_address
from cleanroom.coordinator.admin.bundle import data_dir_files
from cleanroom.coordinator.admin.dispatch import on_store_file
from cleanroom.coordinator.admin.params import Params
from cleanroom.coordinator.admin.peercred import Peer, check_peer, peer_of
from cleanroom.coordinator.admin.protocol import FrameTooLarge, encode, read_message
from cleanroom.coordinator.admin.restore import restore
from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.store import Store
from cleanroom.coordinator.web.auth import ApiKeys
from cleanroom.errors import FailedPrecondition, InputError, InvalidArgument, PermissionDenied, ProtocolError

CONNECT_AS_NOBODY = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(b"\\0" + sys.argv[1].encode())
s.recv(1)
"""


def test_peer_credentials_of_a_real_socketpair_are_this_process():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        assert peer_of(a) == Peer(os.getpid(), os.getuid(), os.getgid())
        assert check_peer(peer_of(a), os.getuid()) == peer_of(a)


def test_the_check_takes_the_servers_own_uid_and_root_and_nobody_else():
    assert check_peer(Peer(1, 1000, 1000), 1000).uid == 1000
    assert check_peer(Peer(1, 0, 0), 1000).uid == 0
    with pytest.raises(PermissionDenied, match=r"uid 1001 may not administer this coordinator: only its own user \(uid 1000\)"):
        check_peer(Peer(1, 1001, 1001), 1000)


@pytest.mark.skipif(os.getuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv to connect as nobody")
def test_a_process_of_another_uid_is_seen_as_that_uid_and_refused():
    name = f"cleanroom-peercred-test-{os.getpid()}"  # abstract namespace: no file permissions in the way
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(b"\0" + name.encode())
        server.listen(1)
        argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/python3", "-I", "-c"]
        child = subprocess.Popen([*argv, CONNECT_AS_NOBODY, name])
        conn, _ = server.accept()
        with conn:
            peer = peer_of(conn)
            conn.sendall(b"x")
        assert child.wait(timeout=60) == 0
    assert (peer.uid, peer.gid, peer.pid) == (65534, 65534, child.pid)
    with pytest.raises(PermissionDenied, match="uid 65534 may not"):
        check_peer(peer, os.getuid())


def test_a_message_over_the_limit_is_refused_from_its_length_alone():
    a, b = socket.socketpair()
    with a, b:
        a.sendall(struct.pack(">I", 1001))  # no body follows: the refusal must not wait for one
        with pytest.raises(FrameTooLarge, match="admin message of 1,001 bytes: the limit is 1,000 bytes"):
            read_message(b, 1000)
        a.sendall(encode({"op": "status"}))
        assert read_message(b, 1000) == {"op": "status"}
        a.sendall(struct.pack(">I", 10) + b"{}")
        a.close()
        with pytest.raises(ProtocolError, match="closed after 2 of 10 bytes"):
            read_message(b, 1000)


def test_parameters_are_read_by_type_and_the_unread_refused():
    p = Params("op", {"name": "x", "all": True, "n": 3})
    assert p.text("name") == "x" and p.flag("all") is True and p.text("label", "") == ""
    with pytest.raises(InvalidArgument, match="op: unknown parameters n"):
        p.done()
    with pytest.raises(InvalidArgument, match="'n' must be a string, not int"):
        Params("op", {"n": 3}).text("n")
    with pytest.raises(InvalidArgument, match="'all' must be true or false"):
        Params("op", {"all": "yes"}).flag("all")
    with pytest.raises(InvalidArgument, match="'name' is required"):
        Params("op", {}).text("name")


def test_a_socket_path_longer_than_sockaddr_un_still_binds_and_connects(tmp_path: Path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    path = deep / "admin.sock"
    assert len(str(path)) > 108
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server, socket.socket(socket.AF_UNIX) as caller:
        with socket_address(path) as address:
            server.bind(address)
        server.listen(1)
        with socket_address(path) as address:
            caller.connect(address)
        assert path.is_socket()


def test_a_key_revoked_through_one_reader_is_refused_by_another_at_once(tmp_path: Path):
    data_dir = DataDir(tmp_path / "d")
    data_dir.init()
    store = Store(data_dir.store_path, data_dir.signer())
    try:
        web, admin = ApiKeys(store), ApiKeys(store)  # the REST API's and the admin socket's
        created = admin.create("acme", "analyst")
        assert web.authenticate(created["key"]) is not None  # now cached by the REST side
        admin.revoke(created["key_id"])
        assert web.authenticate(created["key"]) is None
    finally:
        store.close()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A real backup of a stopped coordinator holding one API key, taken by the `backup` operation."""
    data_dir = DataDir(tmp_path / "d")
    data_dir.init()
    (data_dir.path / "serve.port").write_text("1234\n")  # run-time files stay out of a backup
    (data_dir.path / "coordinator.log").write_text("log\n")
    on_store_file(data_dir, "api-keys.add", {"role": "admin"})
    out = tmp_path / "b.cleanroom-backup"
    done = on_store_file(data_dir, "backup", {"out": str(out)})
    assert "serve.port" not in done["files"] and "coordinator.log" not in done["files"]
    assert {p.as_posix() for p in data_dir_files(data_dir)} == set(done["files"]) - {"coordinator.duckdb"}
    return out


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def _rewrite(path: Path, members: dict[str, bytes]) -> Path:
    altered = path.with_name("altered.cleanroom-backup")
    with tarfile.open(altered, "w:gz") as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return altered


def _manifest(members: dict[str, bytes]) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(members["manifest.json"])
    return found


def test_a_bundle_restores_into_a_new_dir_that_answers_as_the_original(bundle: Path, tmp_path: Path):
    restored = restore(bundle, tmp_path / "r")
    assert restored["tables"] > 10 and (tmp_path / "r").stat().st_mode & 0o777 == 0o700
    status = on_store_file(DataDir(tmp_path / "r"), "status", {})
    assert status["api_keys_active"] == 1 and status["audit_entries"] == 2  # the key, then the backup
    (tmp_path / "empty").mkdir()
    assert restore(bundle, tmp_path / "empty")["rows"] == restored["rows"]  # an empty dir will do too


def _with_file(manifest: dict[str, Any], name: str) -> bytes:
    manifest["files"][name] = {"sha256": "0" * 64, "bytes": 1, "mode": 0o600}
    return json.dumps(manifest).encode()


@pytest.mark.parametrize(
    ("alter", "message"),
    [
        (lambda m: m | {"data/signing.pub": b"not the key"}, "signing.pub in the backup does not match its recorded SHA-256"),
        (lambda m: m | {"data/extra.txt": b"x"}, "holds 'data/extra.txt', which its manifest does not list"),
        (lambda m: {k: v for k, v in m.items() if k != "data/ca.key"}, "the backup lacks ca.key"),
        (
            lambda m: m | {"manifest.json": _with_file(_manifest(m), "../evil")},
            "names a file '../evil' outside its data dir",
        ),
        (lambda m: m | {"manifest.json": b'{"format": "zip"}'}, "not a Cleanroom backup (format 'zip'"),
        (
            lambda m: {k: v for k, v in m.items() if k != "manifest.json"} | {"manifest.json": b"{}"},
            "does not begin with manifest.json",
        ),
    ],
)
def test_an_altered_bundle_is_refused_and_leaves_nothing(bundle: Path, tmp_path: Path, alter: Any, message: str):
    altered = _rewrite(bundle, alter(_members(bundle)))
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        restore(altered, tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_a_damaged_or_foreign_file_and_a_non_empty_target_are_refused(bundle: Path, tmp_path: Path):
    cut = tmp_path / "cut.cleanroom-backup"
    cut.write_bytes(bundle.read_bytes()[: bundle.stat().st_size // 2])
    with pytest.raises(InputError, match="cannot read the backup"):
        restore(cut, tmp_path / "r1")
    assert not (tmp_path / "r1").exists()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="is not empty: restore into a new, empty data dir"):
        restore(bundle, tmp_path / "busy")
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["keep.txt"]


def test_backup_refuses_an_existing_file_a_relative_path_and_the_data_dir_itself(bundle: Path, tmp_path: Path):
    data_dir = DataDir(tmp_path / "d")
    with pytest.raises(FailedPrecondition, match="exists: a backup never overwrites a file"):
        on_store_file(data_dir, "backup", {"out": str(bundle)})
    with pytest.raises(InvalidArgument, match="must be an absolute path"):
        on_store_file(data_dir, "backup", {"out": "b2"})
    with pytest.raises(InvalidArgument, match="write the backup outside the data dir"):
        on_store_file(data_dir, "backup", {"out": str(data_dir.path / "b2")})


def test_a_bundle_claiming_loose_modes_still_restores_every_secret_owner_only(bundle: Path, tmp_path: Path):
    members = _members(bundle)
    manifest = _manifest(members)
    for entry in manifest["files"].values():
        entry["mode"] = 0o666  # the crafted manifest asks for world-readable keys and store
    altered = _rewrite(bundle, members | {"manifest.json": json.dumps(manifest).encode()})
    restore(altered, tmp_path / "r")
    for secret in ("ca.key", "server.key", "coordinator.duckdb", *(n for n in manifest["files"] if n.endswith(".key"))):
        assert (tmp_path / "r" / secret).stat().st_mode & 0o777 == 0o600, secret
    assert (tmp_path / "r" / "ca.pem").stat().st_mode & 0o777 == 0o644  # public files may stay readable
