"""Enrolment end to end: a real coordinator process, real clients, real TLS.

invite -> enroll (the key born in the party's profile) -> map with the enrolled profiles; a token used
twice, an expired one, a CSR for another name, garbage and a huge request are refused and audited; a
client pinned to the wrong CA fingerprint never sends its token (the audit log holds no trace of it); a
renewed certificate works and the one it replaced is refused; the data dir holds no party key. Removal
on a running coordinator (through its own store connection, as the admin channel will) is refused on
the next gRPC call and REST request, without a restart.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import grpc
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.store import Store, time_text
from cleanroom.coordinator.store.records import InvitationRow
from cleanroom.demo.localrun import CLIENT, COORDINATOR, LocalCoordinator, client, client_background, client_json, finish, run
from cleanroom.errors import InvalidArgument, PermissionDenied
from cleanroom_client.remote import enrolment as remote
from cleanroom_client.remote.pinned_ca import fetch_pinned_ca

pytestmark = pytest.mark.e2e

EXPIRED_TOKEN = "cre_0123456789ab_" + "E" * 43


def _csr(name: str | None) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)] if name else [])
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )


def _csv(path: Path, domains: list[str]) -> str:
    path.write_text("Website,Type\n" + "".join(f"https://www.{d}/,Customer\n" for d in domains))
    return str(path)


def _enroll(coord: LocalCoordinator, invite: dict, out: Path, fingerprint: str | None = None, check: bool = True):
    argv = [*CLIENT, "enroll", coord.enroll_address, "--token", invite["token"], "--ca-fingerprint"]
    return run([*argv, fingerprint or invite["ca_fingerprint"], "--profile", str(out), "--json"], check=check)


def _plant_expired_invitation(data_dir: Path) -> None:
    """An invitation that expired an hour ago, written with the coordinator stopped (no clock to wait for)."""
    directory = DataDir(data_dir)
    store = Store(directory.store_path, directory.signer())
    past = time_text(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    row = InvitationRow("0123456789ab", hashlib.sha256(EXPIRED_TOKEN.encode()).hexdigest(), "late", past, past, None, None)
    try:
        with store.transaction() as con:
            store.enrolment.insert_invitation(con, row)
    finally:
        store.close()


def _audit(data_dir: Path) -> list[tuple[str, str, dict]]:
    con = duckdb.connect(str(data_dir / "coordinator.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT actor, action, details_json FROM audit_log ORDER BY seq").fetchall()
    finally:
        con.close()
    return [(a, b, json.loads(c)) for a, b, c in rows]


def _map(profiles: dict[str, Path], tmp_path: Path) -> int:
    propose = ["agreement", "propose", "--with", "partner", "--populations", "customer", "--min-set-size", "10"]
    agreement_id = client_json(profiles["vendor"], *propose)["agreement_id"]
    client_json(profiles["partner"], "agreement", "approve", agreement_id)
    files = {
        "vendor": _csv(tmp_path / "v.csv", [f"shared{i}.com" for i in range(30)] + [f"v{i}.com" for i in range(40)]),
        "partner": _csv(tmp_path / "p.csv", [f"shared{i}.com" for i in range(30)] + [f"p{i}.com" for i in range(20)]),
    }
    procs = [client_background(profiles[n], "map", agreement_id, files[n], "--wait", "120", "--json") for n in profiles]
    overlaps = {json.loads(finish(p))["totals"]["overlap"] for p in procs}
    assert len(overlaps) == 1
    return overlaps.pop()


def _bad_requests(coord: LocalCoordinator, invite: dict) -> None:
    """A CSR for another name, garbage, an oversized CSR, a request over the port's limit: each refused."""
    ca_pem = fetch_pinned_ca(coord.enroll_address, invite["ca_fingerprint"])
    with pytest.raises(PermissionDenied, match="CN=vendor"):
        remote.enroll(coord.enroll_address, ca_pem, invite["token"], _csr("vendor"))
    with pytest.raises(InvalidArgument, match="not a PEM certificate signing request"):
        remote.enroll(coord.enroll_address, ca_pem, invite["token"], b"-----BEGIN CERTIFICATE REQUEST-----\ngarbage")
    with pytest.raises(InvalidArgument, match="at most 16,384"):
        remote.enroll(coord.enroll_address, ca_pem, invite["token"], b"A" * 40_000)
    channel = grpc.secure_channel(coord.enroll_address, grpc.ssl_channel_credentials(root_certificates=ca_pem))
    try:  # beyond the port's 64 KiB: refused by gRPC before our code (so not audited)
        call = channel.unary_unary("/cleanroom.v1.EnrolmentService/Enroll")
        with pytest.raises(grpc.RpcError) as caught:
            call(b"\x12" + b"\x80\x80\x05" + b"A" * 81_920, timeout=30)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        channel.close()


def test_invite_enroll_map_renew(tmp_path: Path):
    coord = LocalCoordinator(tmp_path / "coord").init()
    invites = {n: coord.invite(n) for n in ("vendor", "partner", "mallory", "pinned")}
    _plant_expired_invitation(coord.data_dir)
    coord.start()
    try:
        # Pinned to the wrong CA: the client stops before the token leaves it (audited below: no trace).
        wrong = hashlib.sha256(b"another CA").hexdigest()
        done = _enroll(coord, invites["pinned"], tmp_path / "pinned", fingerprint=wrong, check=False)
        assert done.returncode != 0 and "not sending the token" in done.stderr
        assert not (tmp_path / "pinned").exists()
        profiles = {n: tmp_path / n for n in ("vendor", "partner")}
        for name, out in profiles.items():
            assert json.loads(_enroll(coord, invites[name], out).stdout)["party"] == name
            assert (out / "party.key").stat().st_mode & 0o777 == 0o600
        again = _enroll(coord, invites["vendor"], tmp_path / "vendor-again", check=False)
        assert again.returncode != 0 and "was used at" in again.stderr
        late = _enroll(coord, {**invites["vendor"], "token": EXPIRED_TOKEN}, tmp_path / "late", check=False)
        assert late.returncode != 0 and "expired" in late.stderr
        _bad_requests(coord, invites["mallory"])
        _enroll(coord, invites["mallory"], tmp_path / "mallory")  # the refusals spent nothing
        _enroll(coord, invites["pinned"], tmp_path / "pinned")  # with the right fingerprint
        assert _map(profiles, tmp_path) == 30  # the generator's shared domains
        shutil.copytree(profiles["vendor"], tmp_path / "vendor-old")
        renewed = json.loads(client(profiles["vendor"], "renew", "--json").stdout)
        assert client_json(profiles["vendor"], "agreement", "list")  # the new certificate works
        old = client(tmp_path / "vendor-old", "agreement", "list", check=False)
        assert old.returncode != 0 and "revoked" in old.stderr
    finally:
        coord.stop()
    audit = _audit(coord.data_dir)
    pinned = [action for _, action, d in audit if d.get("token_id") == invites["pinned"]["token_id"]]
    assert pinned == ["enrolment.invited", "enrolment.enrolled"]  # the wrong-pin attempt never reached us
    refusals = [(d.get("token_id"), d["code"]) for _, action, d in audit if action == "enrolment.refused"]
    mallory = invites["mallory"]["token_id"]
    assert refusals == [
        (invites["vendor"]["token_id"], "UNAUTHENTICATED"),
        ("0123456789ab", "UNAUTHENTICATED"),
        (mallory, "PERMISSION_DENIED"),
        (mallory, "INVALID_ARGUMENT"),
        (mallory, "INVALID_ARGUMENT"),
    ]
    assert ("vendor", "certificate.renewed") in [(a, b) for a, b, _ in audit]
    assert any(b == "certificate.refused" and a == "vendor" for a, b, _ in audit)
    assert renewed["serial"] in {d.get("serial") for _, _, d in audit}
    # The coordinator's data dir holds its own private keys and no party's.
    holding = {p.name for p in coord.data_dir.rglob("*") if p.is_file() and b"PRIVATE KEY" in p.read_bytes()}
    assert holding == {"ca.key", "server.key", "signing.key"}
    party_keys = [(tmp_path / n / "party.key").read_bytes() for n in ("vendor", "partner", "mallory", "pinned")]
    for path in coord.data_dir.rglob("*"):
        if path.is_file():
            assert not any(key.split(b"\n")[1] in path.read_bytes() for key in party_keys), path
    # remove-party on the stopped coordinator: refused from the first call after the start.
    argv = [*COORDINATOR, "coordinator", "remove-party", "mallory", "--data-dir", str(coord.data_dir), "--json"]
    assert len(json.loads(run(argv).stdout)["serials"]) == 1
    coord.start()
    try:
        refused = client(tmp_path / "mallory", "agreement", "list", check=False)
        assert refused.returncode != 0 and "revoked" in refused.stderr
        assert client_json(profiles["partner"], "agreement", "list")
    finally:
        coord.stop()


def test_a_party_invited_and_removed_while_the_coordinator_serves(tmp_path: Path):
    """invite, add-api-key and remove-party reach the serving coordinator through its admin socket: the
    removal is refused at once on gRPC and on REST, without a restart, and the other party carries on."""
    coord = LocalCoordinator(tmp_path / "coord", http=True).init().start()
    try:
        profiles = {}
        for name in ("acme", "globex"):
            profiles[name] = tmp_path / name
            _enroll(coord, coord.invite(name), profiles[name])  # invited while serving
        propose = ["agreement", "propose", "--with", "globex", "--populations", "customer"]
        agreement_id = client_json(profiles["acme"], *propose)["agreement_id"]
        key = coord.add_api_key("acme", "analyst")
        with httpx.Client(base_url=coord.http_url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as http:
            assert http.get("/v1/me").status_code == 200
            argv = [*COORDINATOR, "coordinator", "remove-party", "acme", "--data-dir", str(coord.data_dir), "--json"]
            removed = json.loads(run(argv).stdout)
            assert http.get("/v1/me").status_code == 401  # the key went with the party, at once
        assert len(removed["serials"]) == 1 and len(removed["api_keys"]) == 1
        refused = client(profiles["acme"], "agreement", "show", agreement_id, check=False)
        assert refused.returncode != 0 and "revoked" in refused.stderr
        assert client_json(profiles["globex"], "agreement", "show", agreement_id)["agreement_id"] == agreement_id
    finally:
        coord.stop()
    entries = [(actor, action) for actor, action, _ in _audit(coord.data_dir)]
    assert ("acme", "certificate.refused") in entries and ("operator", "party.removed") in entries


def test_the_token_can_stay_out_of_the_process_list(tmp_path: Path):
    """A token on the command line is readable by every local user (/proc/PID/cmdline) while enroll runs,
    who could enrol first with it: enroll also takes it from its environment or its stdin."""
    coord = LocalCoordinator(tmp_path / "coord").init()
    invites = {n: coord.invite(n) for n in ("vendor", "partner")}
    coord.start()
    try:
        for name, how in (("vendor", "environment"), ("partner", "stdin")):
            invite = invites[name]
            argv = [*CLIENT, "enroll", coord.enroll_address, "--ca-fingerprint", invite["ca_fingerprint"]]
            argv += ["--profile", str(tmp_path / name), "--json", *(["--token", "-"] if how == "stdin" else [])]
            assert invite["token"] not in " ".join(argv)
            env = {**os.environ, "CLEANROOM_ENROLL_TOKEN": invite["token"]} if how == "environment" else None
            done = subprocess.run(argv, input=invite["token"] + "\n", capture_output=True, text=True, env=env, timeout=300)
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout)["party"] == name
    finally:
        coord.stop()
