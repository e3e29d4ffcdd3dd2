"""CSR checks and the certificate the CA signs from them, with CSRs built independently (cryptography's builder)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cleanroom.coordinator.csr import MAX_CSR_BYTES, check_csr
from cleanroom.coordinator.pki import create_ca, sign_party_key
from cleanroom.errors import InvalidArgument, PermissionDenied

PARTY = "acme"
SHA256 = hashes.SHA256()


def _csr(key=None, subject=((NameOID.COMMON_NAME, PARTY),), extensions=(), algorithm=SHA256) -> bytes:
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([x509.NameAttribute(o, v) for o, v in subject]))
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def ca():
    return create_ca()


@pytest.mark.parametrize(
    "key",
    [ec.generate_private_key(ec.SECP256R1()), ed25519.Ed25519PrivateKey.generate(), rsa.generate_private_key(65537, 2048)],
    ids=["p256", "ed25519", "rsa2048"],
)
def test_accepted_keys_get_a_client_certificate_for_exactly_the_invited_name(ca, key):
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    public = check_csr(_csr(key, algorithm=algorithm), PARTY)
    cert = x509.load_pem_x509_certificate(sign_party_key(ca, PARTY, public))
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    cert.verify_directly_issued_by(ca_cert)  # raises unless the CA's key signed it
    assert cert.subject.rfc4514_string() == f"CN={PARTY}"
    assert cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == (
        key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign and not usage.crl_sign
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [n.value for n in sans] == [f"cleanroom:party:{PARTY}"]
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=90) <= lifetime <= dt.timedelta(days=90, minutes=6)


def test_an_empty_subject_is_named_after_the_invitation(ca):
    public = check_csr(_csr(subject=()), PARTY)
    cert = x509.load_pem_x509_certificate(sign_party_key(ca, PARTY, public))
    assert cert.subject.rfc4514_string() == f"CN={PARTY}"


def test_the_own_name_as_san_is_accepted():
    check_csr(_csr(extensions=[x509.SubjectAlternativeName([x509.UniformResourceIdentifier(f"cleanroom:party:{PARTY}")])]), PARTY)


@pytest.mark.parametrize(
    ("subject", "extensions", "needle"),
    [
        (((NameOID.COMMON_NAME, "globex"),), (), "CN=globex"),
        (((NameOID.COMMON_NAME, PARTY), (NameOID.ORGANIZATION_NAME, "x")), (), "exactly CN=acme"),
        (((NameOID.COMMON_NAME, PARTY), (NameOID.COMMON_NAME, "globex")), (), "exactly CN=acme"),
        ((), [x509.BasicConstraints(ca=True, path_length=None)], "never a CA"),
        ((), [x509.BasicConstraints(ca=False, path_length=None)], "never a CA"),
        ((), [x509.SubjectAlternativeName([x509.DNSName("coordinator.example")])], "other names"),
        ((), [x509.SubjectAlternativeName([x509.UniformResourceIdentifier("cleanroom:party:globex")])], "other names"),
        ((), [x509.KeyUsage(False, False, False, False, False, True, True, False, False)], "extension"),
        ((), [x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])], "extension"),
    ],
    ids=["other-cn", "extra-attribute", "two-cns", "ca", "basic-constraints", "dns-san", "other-party-san", "key-usage", "eku"],
)
def test_a_csr_asking_for_more_than_the_invited_name_is_refused(subject, extensions, needle):
    with pytest.raises(PermissionDenied, match=needle):
        check_csr(_csr(subject=subject, extensions=extensions), PARTY)


@pytest.mark.parametrize(
    ("key", "needle"),
    [(rsa.generate_private_key(65537, 1024), "RSA-1024"), (ec.generate_private_key(ec.SECP384R1()), "EC secp384r1")],
    ids=["rsa1024", "p384"],
)
def test_weak_or_other_keys_are_refused(key, needle):
    with pytest.raises(InvalidArgument, match=needle):
        check_csr(_csr(key), PARTY)


def test_a_csr_whose_signature_fails_is_refused():
    good = x509.load_pem_x509_csr(_csr())
    der = bytearray(good.public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # inside the signature's integers
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    assert not x509.load_pem_x509_csr(tampered).is_signature_valid  # the independent check says so too
    with pytest.raises(InvalidArgument, match="signature does not verify"):
        check_csr(tampered, PARTY)


@pytest.mark.parametrize(
    "pem",
    [
        b"",
        b"garbage",
        b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        b"x" * (MAX_CSR_BYTES + 1),
    ],
    ids=["empty", "garbage", "bad-der", "huge"],
)
def test_garbage_is_refused(pem):
    with pytest.raises(InvalidArgument):
        check_csr(pem, PARTY)
