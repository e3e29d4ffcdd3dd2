"""Limits live in one place and reach the servers that enforce them: gRPC channel arguments on both ends,
the HTTP body ceiling, the proposal quota; Host names the REST API answers; a damaged store file."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.limits import Limits
from cleanroom.coordinator.store import Store
from cleanroom.coordinator.store.integrity import StoreDamaged, check_store
from cleanroom.coordinator.store.points import insert_points
from cleanroom.coordinator.web.app import create_app
from cleanroom.coordinator.web.host_check import allowed_for, host_name, matches
from cleanroom.crypto.sealed import record_bound
from cleanroom.errors import ResourceExhausted
from cleanroom.protocol import MAX_MESSAGE_BYTES, client_channel_options
from cleanroom.terms import build_terms, canonical_json

from inprocess import coordinator


def test_grpc_options_bound_messages_both_ways_and_metadata_deterministically():
    options = dict(Limits(max_metadata_bytes=4096).grpc_options())
    assert options["grpc.max_receive_message_length"] == options["grpc.max_send_message_length"] == MAX_MESSAGE_BYTES
    assert options["grpc.max_metadata_size"] == options["grpc.absolute_max_metadata_size"] == 4096
    client = dict(client_channel_options())
    assert client["grpc.max_receive_message_length"] == client["grpc.max_send_message_length"] == MAX_MESSAGE_BYTES
    assert client["grpc.max_metadata_size"] >= 16 * 1024  # room for the coordinator's error messages


def test_the_proposal_quota_comes_from_limits(tmp_path: Path):
    base, _ = coordinator(tmp_path)
    coord = Coordinator(base.store, Limits(max_open_proposals=2))
    terms = canonical_json(build_terms("vendor", "partner", ["customer"]))
    coord.propose("vendor", "partner", terms)
    coord.propose("vendor", "partner", terms)
    before = base.store.rows("SELECT * FROM agreements")
    with pytest.raises(ResourceExhausted, match="you have 2 proposals waiting"):
        coord.propose("vendor", "partner", terms)
    assert base.store.rows("SELECT * FROM agreements") == before
    base.store.close()


def test_the_body_ceiling_comes_from_limits(tmp_path: Path):
    base, _ = coordinator(tmp_path)
    app = create_app(Coordinator(base.store, Limits(max_body_bytes=1000)))
    with TestClient(app) as http:
        assert http.post("/login", content=b"k=" + b"x" * 1200).status_code == 413
        assert http.post("/login", content=b"key=short").status_code != 413
    base.store.close()


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:8080", "127.0.0.1"),
        ("LocalHost", "localhost"),
        ("[::1]:8443", "::1"),
        ("[::1]", "::1"),
        ("evil.example:80", "evil.example"),
        ("", ""),
    ],
)
def test_host_name_strips_port_and_brackets(header, name):
    assert host_name(header) == name


def test_allowed_names_follow_the_listen_address():
    assert allowed_for("127.0.0.1") == {"127.0.0.1", "localhost", "::1"}
    assert allowed_for("0.0.0.0", ["crm.example.com"]) == {"127.0.0.1", "localhost", "::1", "crm.example.com"}
    assert allowed_for("10.1.2.3") == {"10.1.2.3"}  # a bind to one interface answers its own address only
    assert matches("api.example.com", {"*.example.com"}) and not matches("example.com", {"*.example.com"})
    assert not matches("evilexample.com", {"*.example.com"})


def test_a_foreign_host_is_refused_before_any_route(tmp_path: Path):
    base, _ = coordinator(tmp_path)
    app = create_app(Coordinator(base.store), allowed_hosts=allowed_for("127.0.0.1"))
    with TestClient(app, base_url="http://127.0.0.1:8080") as http:
        assert http.get("/healthz").status_code == 200
        refused = http.get("/healthz", headers={"Host": "rebind.example:8080"})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "INVALID_ARGUMENT"
        assert http.post("/login", headers={"Host": "rebind.example"}, data={"key": "x"}).status_code == 400
    base.store.close()


def test_a_truncated_or_overwritten_store_file_is_named(tmp_path: Path):
    base, _ = coordinator(tmp_path)
    store: Store = base.store
    store.checkpoint()
    assert store.file_problem() is None
    size = store.path.stat().st_size
    os.truncate(store.path, size // 2)
    assert "truncated" in (store.file_problem() or "")
    with open(store.path, "r+b") as f:
        f.write(b"\0" * 16)
    assert "not a DuckDB file" in (store.file_problem() or "")


def test_every_limit_is_in_the_readme_table_with_its_default():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Limits", 1)[1].split("\n## ", 1)[0]
    for field in dataclasses.fields(Limits):
        assert f"`{field.name}`" in section or f"({field.name})" in section, field.name
    defaults = Limits()
    assert f"{defaults.max_points:,}" in section and f"{defaults.max_chunks:,}" in section
    assert f"{defaults.max_open_proposals} " in section and "24 h" in section and defaults.upload_idle_seconds == 24 * 3600
    assert (
        f"{defaults.max_sealed_chunk_bytes // 2**20} MiB" in section and f"{defaults.max_message_bytes // 2**20} MiB" in section
    )
    assert f"{defaults.max_metadata_bytes // 1024} KiB" in section and f"{defaults.max_body_bytes // 1024} KiB" in section
    assert f"{record_bound(['Owner']):,} bytes for one column `Owner`" in section


def test_check_store_reads_every_block_and_names_a_damaged_one(tmp_path: Path):
    base, data_dir = coordinator(tmp_path)
    with base.store.transaction() as con:  # 6 MB of random words (points, one row each) fill most of the file
        con.execute("INSERT INTO chunks (upload_id, seq, n_points, digest) VALUES ('u', 0, 200000, 'd')")
        insert_points(con, "u", 0, os.urandom(32 * 200_000))
    base.store.close()
    sound = check_store(data_dir.store_path)
    assert sound["rows"] >= 200 and sound["tables"] >= 10
    size = data_dir.store_path.stat().st_size
    with open(data_dir.store_path, "r+b") as f:  # a flipped block in the middle: the size and header still look right
        f.seek(size // 2)
        f.write(os.urandom(4096))
    with pytest.raises(StoreDamaged, match="damaged in table chunk_points"):
        check_store(data_dir.store_path)
    os.truncate(data_dir.store_path, size // 2)
    with pytest.raises(StoreDamaged, match="Restore it from a backup"):
        check_store(data_dir.store_path)
