"""Certificates for mTLS: the coordinator's CA, its server certificate, party certificates.

The party identity is the certificate's common name, which only the
coordinator's CA can vouch for; request fields never name the caller.
ECDSA P-256 keys, because every gRPC TLS stack accepts them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cleanroom.errors import InputError

PARTY_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
VALIDITY = dt.timedelta(days=825)


@dataclass(frozen=True)
class KeyPair:
    cert_pem: bytes
    key_pem: bytes


# Names the audit log uses for actors that are not parties: a party by one of them would be indistinguishable.
RESERVED_NAMES = frozenset({"coordinator", "operator", "unknown"})


def check_party_name(name: str) -> str:
    if not PARTY_NAME.fullmatch(name or ""):
        raise InputError(
            f"party name {name!r} is not valid: use 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit"
        )
    if name in RESERVED_NAMES:
        raise InputError(f"party name {name!r} is reserved: the audit log names the coordinator's own actors so; choose another")
    return name


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _builder(
    subject: str, issuer: x509.Name, public_key: CertificatePublicKeyTypes, days: dt.timedelta
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + days)
    )


def create_ca(name: str = "Cleanroom coordinator CA") -> KeyPair:
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        _builder(name, subject, key.public_key(), dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def _issue(ca: KeyPair, common_name: str, usage: x509.ObjectIdentifier, sans: list[x509.GeneralName]) -> KeyPair:
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    key = _key()
    builder = (
        _builder(common_name, ca_cert.subject, key.public_key(), VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):  # create_ca makes EC keys; anything else was swapped in
        raise InputError("the CA key (ca.key) is not an EC key: re-create the data dir with `cleanroom coordinator init`")
    cert = builder.sign(ca_key, hashes.SHA256())
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue_server(ca: KeyPair, hosts: list[str]) -> KeyPair:
    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    return _issue(ca, hosts[0], ExtendedKeyUsageOID.SERVER_AUTH, sans)


def issue_party(ca: KeyPair, party: str) -> KeyPair:
    check_party_name(party)
    return _issue(ca, party, ExtendedKeyUsageOID.CLIENT_AUTH, [x509.UniformResourceIdentifier(f"cleanroom:party:{party}")])


ENROLLED_VALIDITY = dt.timedelta(days=90)


def certificate_fingerprint(cert_pem: bytes) -> str:
    """SHA-256 of a certificate's DER, in hex: what a party pins the CA by and what the store records."""
    return x509.load_pem_x509_certificate(cert_pem).fingerprint(hashes.SHA256()).hex()


def serial_of(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def sign_party_key(
    ca: KeyPair, party: str, public_key: CertificatePublicKeyTypes, days: dt.timedelta = ENROLLED_VALIDITY
) -> bytes:
    """A client certificate for ``party`` over a key born on the party's machine (its CSR already checked by
    cleanroom.coordinator.csr). Everything but the key is ours: the name, a fixed key usage, clientAuth only,
    never a CA, whatever the CSR asked for."""
    check_party_name(party)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise InputError("the CA key (ca.key) is not an EC key: re-create the data dir with `cleanroom coordinator init`")
    cert = (
        _builder(party, ca_cert.subject, public_key, days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(f"cleanroom:party:{party}")]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)
