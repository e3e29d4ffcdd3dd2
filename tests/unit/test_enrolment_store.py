"""Enrolment over a real store: invitations, one-time tokens, renewal, removal, and what each audits."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.enrolment import Enrolment
from cleanroom.coordinator.store import Store, time_text
from cleanroom.coordinator.store.records import InvitationRow
from cleanroom.coordinator.web.auth import ApiKeys
from cleanroom.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, Unauthenticated


def _csr(name: str | None = None) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)] if name else [])
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )


@pytest.fixture
def world(tmp_path):
    data_dir = DataDir(tmp_path / "coordinator")
    data_dir.init(listen="127.0.0.1:0")
    store = Store(data_dir.store_path, data_dir.signer())
    yield data_dir, store, Enrolment(store, data_dir)
    store.close()


def _actions(store: Store) -> list[tuple[str, str, dict]]:
    return [(r["actor"], r["action"], json.loads(r["details_json"])) for r in store.rows("SELECT * FROM audit_log ORDER BY seq")]


def test_the_store_keeps_only_a_hash_of_the_token(world):
    data_dir, store, enrolment = world
    invitation = enrolment.invite("acme")
    rows = store.rows("SELECT * FROM enrolment_invitations")
    assert len(rows) == 1 and rows[0]["token_hash"] == hashlib.sha256(invitation.token.encode()).hexdigest()
    assert invitation.token not in json.dumps(rows, default=str) and invitation.token not in json.dumps(_actions(store))
    assert (
        invitation.ca_fingerprint
        == hashlib.sha256(
            x509.load_pem_x509_certificate(data_dir.ca().cert_pem).public_bytes(serialization.Encoding.DER)
        ).hexdigest()
    )
    assert _actions(store)[-1][:2] == ("operator", "enrolment.invited")


def test_enrolment_spends_the_token_once(world):
    _, store, enrolment = world
    invitation = enrolment.invite("acme")
    issued = enrolment.enroll(invitation.token, _csr())
    assert x509.load_pem_x509_certificate(issued.certificate_pem).subject.rfc4514_string() == "CN=acme"
    assert "acme" in enrolment.parties()
    with pytest.raises(Unauthenticated, match="was used at"):
        enrolment.enroll(invitation.token, _csr())
    assert store.row("SELECT count(*) AS n FROM party_certificates")["n"] == 1
    assert [a[1] for a in _actions(store)] == ["enrolment.invited", "enrolment.enrolled", "enrolment.refused"]
    assert _actions(store)[-1][2]["token_id"] == invitation.token_id


@pytest.mark.parametrize("forge", ["secret", "id", "garbage"])
def test_a_forged_token_is_refused_and_audited(world, forge):
    _, store, enrolment = world
    token = enrolment.invite("acme").token
    forged = {"secret": token[:-4] + "AAAA", "id": "cre_000000000000_" + token.split("_", 2)[2], "garbage": "hello"}[forge]
    with pytest.raises(Unauthenticated, match="not one this coordinator issued"):
        enrolment.enroll(forged, _csr())
    assert store.row("SELECT count(*) AS n FROM party_certificates")["n"] == 0
    assert _actions(store)[-1][1] == "enrolment.refused"
    enrolment.enroll(token, _csr())  # the real token is untouched


def test_an_expired_token_is_refused(world):
    _, store, enrolment = world
    token = "cre_0123456789ab_" + "A" * 43
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    row = InvitationRow(
        "0123456789ab", hashlib.sha256(token.encode()).hexdigest(), "acme", time_text(past), time_text(past), None, None
    )
    with store.transaction() as con:
        store.enrolment.insert_invitation(con, row)
    with pytest.raises(Unauthenticated, match="expired"):
        enrolment.enroll(token, _csr())
    assert store.row("SELECT used_at FROM enrolment_invitations")["used_at"] is None


def test_a_bad_csr_changes_nothing_and_the_token_still_works(world):
    _, store, enrolment = world
    token = enrolment.invite("acme").token
    with pytest.raises(PermissionDenied, match="CN=globex"):
        enrolment.enroll(token, _csr("globex"))
    with pytest.raises(InvalidArgument):
        enrolment.enroll(token, b"not a csr")
    assert store.row("SELECT count(*) AS n FROM party_certificates")["n"] == 0
    assert [a[2]["code"] for a in _actions(store) if a[1] == "enrolment.refused"] == ["PERMISSION_DENIED", "INVALID_ARGUMENT"]
    enrolment.enroll(token, _csr("acme"))


def test_a_newer_invitation_replaces_the_older_and_an_enrolled_name_is_not_invited(world):
    _, _, enrolment = world
    first, second = enrolment.invite("acme"), enrolment.invite("acme")
    with pytest.raises(Unauthenticated, match="replaced by a newer invitation"):
        enrolment.enroll(first.token, _csr())
    enrolment.enroll(second.token, _csr())
    with pytest.raises(FailedPrecondition, match="already holds a certificate"):
        enrolment.invite("acme")


def test_an_add_party_name_is_not_invited_until_removed(world, tmp_path):
    data_dir, _, enrolment = world
    data_dir.add_party("globex", tmp_path / "globex")
    with pytest.raises(FailedPrecondition):
        enrolment.invite("globex")
    legacy = (tmp_path / "globex" / "party.pem").read_bytes()
    assert enrolment.check_peer(legacy) == "globex"
    enrolment.remove_party("globex")
    with pytest.raises(Unauthenticated, match="revoked"):
        enrolment.check_peer(legacy)
    assert "globex" not in enrolment.parties()
    enrolment.invite("globex")  # the name can go to a new key now


def test_renewal_refuses_the_old_certificate(world):
    _, store, enrolment = world
    old = enrolment.enroll(enrolment.invite("acme").token, _csr()).certificate_pem
    new = enrolment.renew(old, _csr("acme")).certificate_pem
    assert enrolment.check_peer(new) == "acme"
    with pytest.raises(Unauthenticated, match="revoked"):
        enrolment.check_peer(old)
    with pytest.raises(Unauthenticated):
        enrolment.renew(old, _csr("acme"))  # a revoked certificate renews nothing
    with pytest.raises(PermissionDenied):
        enrolment.renew(new, _csr("globex"))
    assert [a[1] for a in _actions(store)][-3:] == [
        "certificate.renewed",
        "certificate.renewal_refused",
        "certificate.renewal_refused",
    ]


def test_removal_revokes_certificates_and_api_keys_at_once(world):
    _, store, enrolment = world
    cert = enrolment.enroll(enrolment.invite("acme").token, _csr()).certificate_pem
    keys = ApiKeys(store)
    key = keys.create("acme", "analyst")["key"]
    other = keys.create("globex", "analyst")["key"]
    assert keys.authenticate(key) is not None  # now cached
    pending = enrolment.invite("globex")
    removed = enrolment.remove_party("acme")
    assert removed["api_keys"] and removed["serials"]
    assert keys.authenticate(key) is None and keys.authenticate(other) is not None
    with pytest.raises(Unauthenticated):
        enrolment.check_peer(cert)
    assert Enrolment(store, enrolment.data_dir).parties() == set()  # a fresh instance (a restart) reads the same
    with pytest.raises(Unauthenticated):
        Enrolment(store, enrolment.data_dir).check_peer(cert)
    with pytest.raises(NotFound):
        enrolment.remove_party("acme")
    enrolment.enroll(pending.token, _csr())  # other parties' invitations stand
    assert [a[2]["party"] for a in _actions(store) if a[1] == "party.removed"] == ["acme"]


def test_a_name_whose_enrolled_certificate_expired_can_be_invited_again(world):
    _, store, enrolment = world
    enrolment.enroll(enrolment.invite("acme").token, _csr())
    with pytest.raises(FailedPrecondition):
        enrolment.invite("acme")
    past = time_text(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    with store.transaction() as con:  # as 90 days would leave it
        con.execute("UPDATE party_certificates SET not_after = ?", [past])
    assert "acme" not in enrolment.parties()
    enrolment.invite("acme")


def _just_before_the_next_transaction(store: Store, monkeypatch, step) -> None:
    """Run ``step`` once, right before the next transaction on ``store`` begins: the interleaving two concurrent
    calls get when one passed its in-memory check and waits for the store's lock while the other commits."""
    original, pending = store.transaction, [step]

    def hooked():
        if pending:
            pending.pop()()
        return original()

    monkeypatch.setattr(store, "transaction", hooked)


def test_a_renewal_racing_a_removal_issues_nothing(world, monkeypatch):
    _, store, enrolment = world
    cert = enrolment.enroll(enrolment.invite("acme").token, _csr()).certificate_pem
    _just_before_the_next_transaction(store, monkeypatch, lambda: enrolment.remove_party("acme"))
    with pytest.raises(Unauthenticated, match="revoked"):
        enrolment.renew(cert, _csr("acme"))
    live = store.rows("SELECT serial FROM party_certificates WHERE party = 'acme' AND revoked_at IS NULL")
    assert live == [] and "acme" not in enrolment.parties()


def test_two_renewals_racing_with_one_certificate_leave_one_key_holder(world, monkeypatch):
    _, store, enrolment = world
    cert = enrolment.enroll(enrolment.invite("acme").token, _csr()).certificate_pem
    won: list[bytes] = []
    _just_before_the_next_transaction(store, monkeypatch, lambda: won.append(enrolment.renew(cert, _csr("acme")).certificate_pem))
    with pytest.raises(Unauthenticated, match="revoked"):
        enrolment.renew(cert, _csr("acme"))
    live = store.rows("SELECT serial FROM party_certificates WHERE party = 'acme' AND revoked_at IS NULL")
    assert [r["serial"] for r in live] == [format(x509.load_pem_x509_certificate(won[0]).serial_number, "x")]


def test_a_certificate_the_restored_store_has_no_record_of_is_refused(tmp_path):
    """Restored from a backup taken before a party enrolled: its certificate is CA-valid but on no record,
    so remove-party could never revoke it; it must be refused rather than trusted for its 90 days."""
    from cleanroom.coordinator.admin.dispatch import on_store_file
    from cleanroom.coordinator.admin.restore import restore

    data_dir = DataDir(tmp_path / "coordinator")
    data_dir.init(listen="127.0.0.1:0")
    on_store_file(data_dir, "backup", {"out": str(tmp_path / "before.bundle")})
    store = Store(data_dir.store_path, data_dir.signer())
    enrolment = Enrolment(store, data_dir)
    cert = enrolment.enroll(enrolment.invite("acme").token, _csr()).certificate_pem
    store.close()
    restore(tmp_path / "before.bundle", tmp_path / "restored")
    restored_dir = DataDir(tmp_path / "restored")
    restored = Store(restored_dir.store_path, restored_dir.signer())
    try:
        with pytest.raises(Unauthenticated, match="no record"):
            Enrolment(restored, restored_dir).check_peer(cert)
    finally:
        restored.close()
