"""REST/web pieces in-process: keys, sessions, cursors, listen rules, and the Secure cookie over HTTPS."""

from __future__ import annotations

import json
import ssl
import time
from pathlib import Path

import httpx
import pytest

from cleanroom.coordinator.limits import MAX_DENIAL_METHOD as MAX_METHOD
from cleanroom.coordinator.limits import MAX_DENIAL_REASON as MAX_REASON
from cleanroom.coordinator.web.app import HttpServer, create_app, parse_listen
from cleanroom.coordinator.web.auth import ApiKeys, Principal, Sessions, key_hash
from cleanroom.coordinator.web.cursors import decode_cursor, encode_cursor
from cleanroom.coordinator.web.refusals import audit_refusal
from cleanroom.errors import InputError, InvalidArgument

from inprocess import coordinator


def test_keys_are_stored_hashed_and_checked_exactly(tmp_path: Path):
    coord, _ = coordinator(tmp_path)
    keys = ApiKeys(coord.store)
    made = keys.create("vendor", "analyst", "ci")
    stored = coord.store.row("SELECT * FROM api_keys WHERE key_id = ?", [made["key_id"]])
    assert stored["key_hash"] == key_hash(made["key"]) and made["key"] not in str(stored)
    assert keys.authenticate(made["key"]).party == "vendor"
    assert keys.authenticate(made["key"][:-1] + ("A" if made["key"][-1] != "A" else "B")) is None
    assert keys.authenticate("crk_" + made["key_id"]) is None and keys.authenticate("") is None
    keys.revoke(made["key_id"])
    assert keys.authenticate(made["key"]) is None and keys.principal(made["key_id"]) is None
    with pytest.raises(InvalidArgument):
        keys.create("vendor", "superuser")
    with pytest.raises(InvalidArgument):
        keys.create("", "analyst")  # only an admin key may belong to no party
    assert keys.create("", "admin")["party"] == ""
    actions = [r["action"] for r in coord.store.rows("SELECT action FROM audit_log ORDER BY seq")]
    assert actions.count("api_key.created") == 2 and actions.count("api_key.revoked") == 1


def test_sessions_expire_and_can_be_dropped():
    sessions = Sessions(lifetime=0.2)
    token = sessions.create("abc")
    assert sessions.key_id(token) == "abc" and sessions.key_id(token + "x") is None
    sessions.drop(token)
    assert sessions.key_id(token) is None
    token = sessions.create("abc")
    time.sleep(0.25)
    assert sessions.key_id(token) is None


def test_cursors_round_trip_and_refuse_forgeries():
    assert decode_cursor(encode_cursor("2026-01-01", "agr_1"), (str, str)) == ["2026-01-01", "agr_1"]
    assert decode_cursor(None, (int,)) is None
    for bad in ("nope", encode_cursor(1, 2), encode_cursor("x"), "!!!!"):
        with pytest.raises(InvalidArgument):
            decode_cursor(bad, (str, str))


def test_plain_http_only_on_loopback():
    assert parse_listen("8080") == ("127.0.0.1", 8080) and parse_listen("[::1]:9000") == ("::1", 9000)
    with pytest.raises(InputError, match="loopback only"):
        HttpServer(None, "0.0.0.0:0")
    with pytest.raises(InputError, match="HOST:PORT"):
        parse_listen("nowhere")


def test_over_https_the_session_cookie_is_secure(tmp_path: Path):
    coord, data_dir = coordinator(tmp_path)
    key = ApiKeys(coord.store).create("vendor", "analyst")["key"]
    # The coordinator's own server certificate (issued for localhost by its CA) serves TLS here.
    server = HttpServer(create_app(coord), "127.0.0.1:0", data_dir.path / "server.pem", data_dir.path / "server.key").start()
    try:
        url = f"https://localhost:{server.port}"
        with httpx.Client(verify=ssl.create_default_context(cafile=str(data_dir.path / "ca.pem")), timeout=10) as http:
            response = http.post(url + "/login", data={"api_key": key, "next": "/partners"}, headers={"Origin": url})
            assert response.status_code == 303 and response.headers["location"] == "/partners"
            cookie = response.headers["set-cookie"].lower()
            assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
            forged = http.post(url + "/login", data={"api_key": key}, headers={"Origin": "https://evil.example"})
            assert forged.status_code == 403 and "set-cookie" not in forged.headers
    finally:
        server.stop()


def test_refusal_audit_entries_stay_small_whatever_the_caller_sent(tmp_path: Path):
    coord, _ = coordinator(tmp_path)
    principal = Principal("0123456789ab", "vendor", "analyst")
    audit_refusal(
        coord.store, principal, "REST GET /v1/" + "p" * 5000, "INVALID_ARGUMENT", "bad: " + "x" * 100_000, "agr_" + "y" * 500
    )
    row = coord.store.row("SELECT agreement_id, details_json FROM audit_log WHERE action = 'request.denied'")
    details = json.loads(row["details_json"])
    assert len(row["details_json"]) < 1000 and details["reason"].startswith("bad: x") and details["reason"].endswith("…")
    assert len(details["reason"]) == MAX_REASON and len(details["method"]) == MAX_METHOD
    assert row["agreement_id"] is None  # not an agreement id: named in no entry
    assert details["key_id"] == "0123456789ab" and details["role"] == "analyst" and details["code"] == "INVALID_ARGUMENT"
