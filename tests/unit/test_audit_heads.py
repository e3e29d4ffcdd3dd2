"""Signed audit heads (issue 13, finding 6): what they sign, how held heads are checked against a log, where
the coordinator hands them out, and that an audit log rolled back in its store keeps its chain going."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cleanroom.auditlog.anchors import HEADS_FORMAT, HeldHead, check_heads, distinct, read_held_heads
from cleanroom.auditlog.heads import AuditHead, head_from_dict, sign_head
from cleanroom.auditlog.verify import verify_file
from cleanroom.coordinator.audit.export import export
from cleanroom.coordinator.store import Store
from cleanroom.crypto.signing import Signer, load_public_key, verify_bytes, verify_json
from cleanroom.errors import InputError, InvalidArgument
from cleanroom.terms import canonical_json

from inprocess import agree, coordinator, domains, run


@pytest.fixture
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


def _hashes(n: int, salt: str = "") -> list[str]:
    """A log's entry hashes, made up here (the checker only compares them)."""
    return [hashlib.sha256(f"{salt}{i}".encode()).hexdigest() for i in range(1, n + 1)]


def _held(signer: Signer, hashes: list[str], count: int, source: str = "r") -> HeldHead:
    return HeldHead(sign_head(signer, count, hashes[count - 1], f"2026-12-05T00:00:{count:02d}Z"), source)


# -- what a head signs ---------------------------------------------------------------------


def test_a_head_signs_its_fields_under_its_own_domain(signer):
    head = sign_head(signer, 7, "ab" * 32, "2026-12-05T00:00:00Z")
    expected = b"cleanroom.audit-head/v1\n" + canonical_json({"count": 7, "head_hash": "ab" * 32, "signed_at": head.signed_at})
    assert verify_bytes(signer.public_pem, expected, bytes.fromhex(head.signature))
    # Never valid as a release or checkpoint signature over the same fields, nor the other way round.
    assert not verify_json(signer.public_pem, head.body(), bytes.fromhex(head.signature))
    release_style = signer.sign_json(head.body()).hex()
    assert not AuditHead(7, "ab" * 32, head.signed_at, release_style).signed_by(_key(signer))
    for changed in ({"count": 8}, {"head_hash": "cd" * 32}, {"signed_at": "2026-12-06T00:00:00Z"}):
        assert not head_from_dict({**head.to_dict(), **changed}, "x").signed_by(_key(signer))


def _key(signer: Signer) -> Ed25519PublicKey:
    return load_public_key(signer.public_pem)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ([], "an object"),
        ({"count": 0, "head_hash": "a" * 64, "signed_at": "t", "signature": "0" * 128}, "positive whole number"),
        ({"count": True, "head_hash": "a" * 64, "signed_at": "t", "signature": "0" * 128}, "positive whole number"),
        ({"count": 3, "head_hash": "A" * 64, "signed_at": "t", "signature": "0" * 128}, "64 lowercase hex"),
        ({"count": 3, "head_hash": "a" * 64, "signed_at": "", "signature": "0" * 128}, "no signed_at"),
        ({"count": 3, "head_hash": "a" * 64, "signed_at": "t", "signature": "0" * 127}, "128 lowercase hex"),
    ],
)
def test_a_malformed_head_is_named(value, says):
    with pytest.raises(InputError, match=says) as caught:
        head_from_dict(value, "receipts.jsonl line 4")
    assert "receipts.jsonl line 4" in str(caught.value)


def test_proto3_json_counts_are_accepted():
    assert head_from_dict({"count": "12", "head_hash": "a" * 64, "signed_at": "t", "signature": "0" * 128}, "x").count == 12


# -- checking held heads -------------------------------------------------------------------


def test_heads_against_an_intact_log_are_ok(signer):
    log = _hashes(20)
    checks = check_heads([_held(signer, log, c) for c in (1, 7, 20)], log, _key(signer))
    assert [c.status for c in checks] == ["ok", "ok", "ok"]


def test_a_truncated_log_is_shorter_by_the_entries_missing(signer):
    log = _hashes(20)
    checks = check_heads([_held(signer, log, c) for c in (5, 15, 20)], log[:12], _key(signer))
    assert [(c.status, c.missing) for c in checks] == [("ok", 0), ("shorter", 3), ("shorter", 8)]
    assert "rolled back" in checks[2].message and "20 entries" in checks[2].message and "holds 12" in checks[2].message


def test_a_log_truncated_and_grown_back_diverges_where_it_was_replaced(signer):
    log = _hashes(20)
    regrown = log[:12] + _hashes(10, salt="new")  # 22 entries: 13.. are other entries than the held ones
    checks = check_heads([_held(signer, log, c) for c in (12, 13, 20)], regrown, _key(signer))
    assert [c.status for c in checks] == ["ok", "diverging", "diverging"]
    assert "entry 20 is not the entry" in checks[2].message


def test_a_head_not_signed_by_the_coordinator_proves_nothing(signer):
    log = _hashes(5)
    other = Signer(Ed25519PrivateKey.generate())
    forged = HeldHead(sign_head(other, 5, log[4], "t"), "r")
    edited = HeldHead(AuditHead(4, log[3], "t", sign_head(signer, 5, log[4], "t").signature), "r")
    assert [c.status for c in check_heads([forged, edited], log, _key(signer))] == ["forged", "forged"]
    # A forged head claiming a longer log is not reported as a rollback.
    assert check_heads([HeldHead(sign_head(other, 9, "0" * 64, "t"), "r")], log, _key(signer))[0].status == "forged"


def test_distinct_keeps_one_of_each_head_oldest_first(signer):
    log = _hashes(9)
    heads = [_held(signer, log, 9, "a"), _held(signer, log, 3, "b"), _held(signer, log, 9, "c")]
    assert [(h.head.count, h.source) for h in distinct(heads)] == [(3, "b"), (9, "a")]


# -- reading heads a party kept ------------------------------------------------------------


def test_heads_are_read_from_a_profile_its_receipts_or_an_export(signer, tmp_path):
    log = _hashes(9)
    a, b = sign_head(signer, 4, log[3], "t1"), sign_head(signer, 9, log[8], "t2")
    profile = tmp_path / "vendor"
    profile.mkdir()
    lines = [{"type": "upload", "audit_head": a.to_dict()}, {"type": "release"}, {"type": "release", "audit_head": b.to_dict()}]
    (profile / "receipts.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    from_dir = read_held_heads(profile)
    assert [(h.head, h.source) for h in from_dir] == [
        (a, f"{profile / 'receipts.jsonl'} line 1"),
        (b, f"{profile / 'receipts.jsonl'} line 3"),
    ]
    assert [h.head for h in read_held_heads(profile / "receipts.jsonl")] == [a, b]
    exported = tmp_path / "heads.json"
    exported.write_text(json.dumps({"format": HEADS_FORMAT, "heads": [b.to_dict()]}))
    assert [h.head for h in read_held_heads(exported)] == [b]


def test_unreadable_head_sources_are_named(tmp_path):
    with pytest.raises(InputError, match=r"holds no receipts\.jsonl"):
        read_held_heads(tmp_path)
    (tmp_path / "r.jsonl").write_text('{"type": "upload"}\nnot json\n')
    with pytest.raises(InputError, match=r"r.jsonl line 2: not valid JSON"):
        read_held_heads(tmp_path / "r.jsonl")
    (tmp_path / "h.json").write_text(json.dumps({"format": "something/else", "heads": []}))
    with pytest.raises(InputError, match="not an audit heads export"):
        read_held_heads(tmp_path / "h.json")
    with pytest.raises(InputError, match="does not exist"):
        read_held_heads(tmp_path / "missing.jsonl")


# -- the coordinator hands heads out -------------------------------------------------------


def _entries(store: Store) -> list[tuple[int, str, str, str]]:
    with store.reading() as con:
        return [tuple(r) for r in con.execute("SELECT seq, action, entry_hash, logged_at FROM audit_log ORDER BY seq").fetchall()]


def test_a_release_carries_the_head_of_its_own_audit_entry_and_keeps_it(tmp_path):
    coord, data_dir = coordinator(tmp_path)
    agreement = agree(coord, min_set_size=5, min_count=2)
    run(coord, agreement, {"vendor": domains("a", 30), "partner": domains("a", 20) + domains("b", 10)})
    release = coord.overlap("vendor", agreement["agreement_id"])
    seq, action, digest, at = _entries(coord.store)[-1]
    assert action == "release.overlap"
    head = head_from_dict(release["audit_head"], "release")
    assert (head.count, head.head_hash, head.signed_at) == (seq, digest, at)
    assert head.signed_by(_key(data_dir.signer()))
    # The release's own signature still covers exactly what it did: the head sits beside it.
    body = {k: v for k, v in release.items() if k not in ("signature", "audit_head")}
    assert verify_json(data_dir.signer().public_pem, body, bytes.fromhex(release["signature"]))
    coord.audit_denial("mallory", "GetOverlap", None, "PERMISSION_DENIED", "x")  # the log moves on
    assert coord.overlap("vendor", agreement["agreement_id"])["audit_head"] == release["audit_head"]


def test_rolled_back_store_keeps_appending_from_the_surviving_head(tmp_path):
    coord, data_dir = coordinator(tmp_path)
    for i in range(8):
        coord.audit_denial("mallory", "GetOverlap", None, "PERMISSION_DENIED", f"refusal {i}")
    coord.store.close()
    con = duckdb.connect(str(data_dir.store_path))
    con.execute("DELETE FROM audit_log WHERE seq > 5")
    con.close()
    store = Store(data_dir.store_path, data_dir.signer())
    for i in range(3):  # DuckDB 2.0.1 answered the second of these from stale data: a primary-key collision
        store.audit_now("mallory", "request.denied", None, {"n": i})
    assert [e[0] for e in _entries(store)] == list(range(1, 9))
    store.close()
    out = tmp_path / "audit.jsonl"
    export(data_dir, out)
    assert verify_file(out, Path(str(out) + ".pub")).ok


def test_the_current_head_and_hashes_at_held_positions(tmp_path):
    coord, data_dir = coordinator(tmp_path)
    assert coord.audit_heads([1]) == (None, {})  # an empty log has no head
    for i in range(4):
        coord.audit_denial("mallory", "GetOverlap", None, "PERMISSION_DENIED", f"refusal {i}")
    rows = _entries(coord.store)
    head, hashes = coord.audit_heads([2, 4, 9, 2])
    assert head is not None and (head.count, head.head_hash) == (4, rows[3][2]) and head.signed_by(_key(data_dir.signer()))
    assert hashes == {2: rows[1][2], 4: rows[3][2]}  # a position past the end is simply absent
    with pytest.raises(InvalidArgument, match="at most 10000 positions"):
        coord.audit_heads(list(range(1, 10_002)))
