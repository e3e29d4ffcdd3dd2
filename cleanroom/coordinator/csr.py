"""Checking a party's certificate signing request before the CA signs anything for it.

The CSR contributes its public key and nothing else: the certificate's name,
key usage and constraints are the coordinator's (``pki.sign_party_key``). A CSR
asking for anything beyond the invited name is refused rather than trimmed,
so a party learns at once that its client built something odd.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID

from cleanroom.errors import InvalidArgument, PermissionDenied

MAX_CSR_BYTES = 16 * 1024
MIN_RSA_BITS = 2048


def _parse(pem: bytes) -> x509.CertificateSigningRequest:
    if not pem:
        raise InvalidArgument("no certificate signing request given (csr_pem is empty)")
    if len(pem) > MAX_CSR_BYTES:
        raise InvalidArgument(f"the certificate signing request is {len(pem):,} bytes; at most {MAX_CSR_BYTES:,} are accepted")
    try:
        return x509.load_pem_x509_csr(pem)
    except ValueError:
        raise InvalidArgument("csr_pem is not a PEM certificate signing request") from None


def _check_key(key: CertificatePublicKeyTypes) -> None:
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return
    if isinstance(key, ed25519.Ed25519PublicKey):
        return
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS:
        return
    if isinstance(key, rsa.RSAPublicKey):
        kind = f"RSA-{key.key_size}"
    elif isinstance(key, ec.EllipticCurvePublicKey):
        kind = f"EC {key.curve.name}"
    else:
        kind = type(key).__name__.removeprefix("_")
    raise InvalidArgument(f"the CSR's key ({kind}) is not accepted: use EC P-256, Ed25519 or RSA of at least {MIN_RSA_BITS} bits")


def _check_subject(csr: x509.CertificateSigningRequest, party: str) -> None:
    attributes = list(csr.subject)
    if not attributes:  # the client need not know its name: the invitation names it
        return
    names = [a.value for a in attributes if a.oid == NameOID.COMMON_NAME]
    if names != [party] or len(attributes) != 1:
        raise PermissionDenied(
            f"the CSR's subject is {csr.subject.rfc4514_string()!r}; this enrolment is for {party!r} only: "
            f"the subject must be exactly CN={party}"
        )


def _check_extensions(csr: x509.CertificateSigningRequest, party: str) -> None:
    try:
        extensions = list(csr.extensions)
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise InvalidArgument(f"the CSR's extensions cannot be read: {exc}") from None
    for ext in extensions:
        if isinstance(ext.value, x509.BasicConstraints):
            raise PermissionDenied("the CSR asks for basic constraints: a party certificate is never a CA; nothing issued")
        if isinstance(ext.value, x509.SubjectAlternativeName):
            wanted = [x509.UniformResourceIdentifier(f"cleanroom:party:{party}")]
            if list(ext.value) != wanted:
                raise PermissionDenied(
                    f"the CSR asks for other names ({', '.join(str(n.value) for n in ext.value)}); "
                    f"this enrolment is for {party!r} only"
                )
            continue
        raise PermissionDenied(f"the CSR asks for an extension the coordinator does not grant ({ext.oid.dotted_string})")


def check_csr(pem: bytes, party: str) -> CertificatePublicKeyTypes:
    """The public key of a CSR fit to be signed for ``party``: well formed, its signature valid (the caller
    holds the key), an accepted key type, a subject that is empty or exactly CN=party, no extension but the
    party's own name."""
    csr = _parse(pem)
    try:
        valid = csr.is_signature_valid
    except Exception:  # an unsupported signature algorithm is as good as a bad signature
        valid = False
    if not valid:
        raise InvalidArgument("the CSR's signature does not verify: it was not signed by the key it carries")
    try:
        key = csr.public_key()
    except (ValueError, TypeError):
        raise InvalidArgument("the CSR's public key is of a kind this coordinator cannot read") from None
    _check_key(key)
    _check_subject(csr, party)
    _check_extensions(csr, party)
    return key
