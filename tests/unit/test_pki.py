"""Certificates and the coordinator's data dir: init, party certificates, profiles."""

from __future__ import annotations

import json
import os
import stat

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.pki import create_ca, issue_party
from cleanroom.errors import InputError
from cleanroom_client.profile import Profile


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _cert(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Check the signature with the issuer's public key (ECDSA over the TBS bytes)."""
    try:
        issuer.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        return True
    except InvalidSignature:
        return False


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    old = os.umask(0o022)
    try:
        dd = DataDir(tmp_path_factory.mktemp("pki") / "coordinator")
        dd.init()
    finally:
        os.umask(old)
    return dd


@pytest.fixture(scope="module")
def profile_dir(data_dir, tmp_path_factory):
    return data_dir.add_party("acme-partner_1", tmp_path_factory.mktemp("profiles") / "acme")


def test_init_creates_files_with_private_keys_0600(data_dir):
    p = data_dir.path
    for name in ("config.json", "ca.pem", "ca.key", "server.pem", "server.key", "signing.key", "signing.pub"):
        assert (p / name).is_file(), name
    for name in ("ca.key", "server.key", "signing.key"):
        assert _mode(p / name) == 0o600, name
    # Each private key loads and is the other half of what the data dir publishes (its certificate, signing.pub).
    spki = (serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for name, public in (
        ("ca.key", _cert(p / "ca.pem").public_key().public_bytes(*spki)),
        ("server.key", _cert(p / "server.pem").public_key().public_bytes(*spki)),
        ("signing.key", serialization.load_pem_public_key((p / "signing.pub").read_bytes()).public_bytes(*spki)),
    ):
        key = serialization.load_pem_private_key((p / name).read_bytes(), password=None)
        assert key.public_key().public_bytes(*spki) == public, name
    assert json.loads((p / "config.json").read_text()) == {
        "listen": "127.0.0.1:50051",
        "advertise": "127.0.0.1:50051",
        "enroll_listen": "127.0.0.1:50052",  # the enrolment port: the next one
        "enroll_advertise": "127.0.0.1:50052",
    }


def test_ca_is_a_self_signed_ca(data_dir):
    ca = _cert(data_dir.path / "ca.pem")
    assert ca.issuer == ca.subject
    assert _signed_by(ca, ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    ca_key = serialization.load_pem_private_key((data_dir.path / "ca.key").read_bytes(), password=None)
    assert ca_key.public_key().public_numbers() == ca.public_key().public_numbers()


def test_server_cert_chains_to_ca_with_server_auth(data_dir):
    ca, server = _cert(data_dir.path / "ca.pem"), _cert(data_dir.path / "server.pem")
    assert _signed_by(server, ca)
    assert ExtendedKeyUsageOID.SERVER_AUTH in server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in sans.get_values_for_type(x509.DNSName)


def test_party_cert_chains_to_ca(data_dir, profile_dir):
    ca = _cert(data_dir.path / "ca.pem")
    party = _cert(profile_dir / "party.pem")
    assert party.issuer == ca.subject
    assert _signed_by(party, ca)
    assert not _signed_by(ca, party)
    # a certificate from some other CA does not verify against this coordinator's CA
    stranger = x509.load_pem_x509_certificate(issue_party(create_ca("other CA"), "acme-partner_1").cert_pem)
    assert not _signed_by(stranger, ca)


def test_party_cert_identity_and_usage(profile_dir):
    party = _cert(profile_dir / "party.pem")
    assert [a.value for a in party.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == ["acme-partner_1"]
    eku = party.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in eku
    assert ExtendedKeyUsageOID.SERVER_AUTH not in eku
    assert party.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    key = serialization.load_pem_private_key((profile_dir / "party.key").read_bytes(), password=None)
    assert key.public_key().public_numbers() == party.public_key().public_numbers()
    assert _mode(profile_dir / "party.key") == 0o600


def test_add_party_writes_a_loadable_profile(data_dir, profile_dir):
    profile = Profile.load(profile_dir)
    assert profile.party == "acme-partner_1"
    assert profile.coordinator == "127.0.0.1:50051"
    assert profile.path == profile_dir
    assert (profile_dir / "ca.pem").read_bytes() == (data_dir.path / "ca.pem").read_bytes()
    assert profile.signing_public_key == (data_dir.path / "signing.pub").read_bytes()


def test_add_party_with_explicit_address(data_dir, tmp_path):
    out = data_dir.add_party("other", tmp_path / "other", address="coord.example:443")
    assert Profile.load(out).coordinator == "coord.example:443"


BAD_NAMES = ["", "Vendor", "has space", "-lead", "_lead", "a" * 64, "../etc", "vendor/x", "vendor.com", "vénder", "vendor\n"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_party_names_rejected(data_dir, tmp_path, name):
    out = tmp_path / "out"
    with pytest.raises(InputError, match="party name"):
        data_dir.add_party(name, out)
    assert not out.exists()
    with pytest.raises(InputError):
        issue_party(data_dir.ca(), name)


@pytest.mark.parametrize("name", ["a", "vendor", "acme-partner_1", "0day", "a" * 63])
def test_good_party_names_accepted(data_dir, name):
    cert = x509.load_pem_x509_certificate(issue_party(data_dir.ca(), name).cert_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == name


def test_init_refuses_to_overwrite(data_dir):
    before = {n: (data_dir.path / n).read_bytes() for n in ("ca.key", "ca.pem", "server.key", "signing.key", "config.json")}
    with pytest.raises(InputError, match="refusing to overwrite"):
        DataDir(data_dir.path).init(listen="0.0.0.0:1")
    assert {n: (data_dir.path / n).read_bytes() for n in before} == before


def test_add_party_on_a_non_data_dir(tmp_path):
    with pytest.raises(InputError, match="not a coordinator data dir"):
        DataDir(tmp_path / "nothing").add_party("vendor", tmp_path / "out")


@pytest.mark.parametrize("name", ["coordinator", "operator", "unknown"])
def test_names_the_audit_log_uses_for_its_own_actors_cannot_be_issued(data_dir, tmp_path, name):
    with pytest.raises(InputError, match="reserved"):
        data_dir.add_party(name, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_party_name_is_issued_once(tmp_path):
    """A second certificate for an issued name would let two key holders act as that party."""
    data_dir = DataDir(tmp_path / "coord")
    data_dir.init()
    first = data_dir.add_party("acme", tmp_path / "acme")
    serial = x509.load_pem_x509_certificate((first / "party.pem").read_bytes()).serial_number
    with pytest.raises(InputError, match="already holds a certificate"):
        data_dir.add_party("acme", tmp_path / "acme-again")
    assert not (tmp_path / "acme-again").exists()
    assert data_dir.issued()["acme"]["serial"] == format(serial, "x")
    data_dir.add_party("globex", tmp_path / "globex")  # other names still issue
    assert sorted(data_dir.issued()) == ["acme", "globex"]


def test_the_data_dir_and_the_store_are_the_operators_alone(tmp_path):
    import stat

    from cleanroom.coordinator.store import Store

    data_dir = DataDir(tmp_path / "coord")
    data_dir.init()
    Store(data_dir.store_path, data_dir.signer()).close()
    assert stat.S_IMODE(data_dir.path.stat().st_mode) == 0o700
    assert stat.S_IMODE(data_dir.store_path.stat().st_mode) == 0o600
