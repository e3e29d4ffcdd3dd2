"""Fetching the coordinator's CA certificate, trusted only by the fingerprint the operator handed over.

The enrolment port presents its server certificate followed by the CA. This
reads that chain from a bare TLS handshake (no request is sent), keeps the CA
whose SHA-256 matches the pinned fingerprint and checks that the server
certificate is directly issued by it. Only then does the caller open a gRPC
channel trusting that CA alone (which verifies the server again, with its
host name) and send the token: against a coordinator that is not the pinned
one, the token never leaves this machine.
"""

from __future__ import annotations

import hashlib
import re
import socket
import ssl
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from cleanroom.errors import InputError, ProtocolError

HANDSHAKE_SECONDS = 15.0
_HEX = re.compile(r"^[0-9a-f]{64}$")


def normalise_fingerprint(text: str) -> str:
    """A SHA-256 fingerprint as 64 lower-case hex digits (colons, spaces and a ``sha256:`` prefix allowed)."""
    found = text.strip().lower().removeprefix("sha256:").replace(":", "").replace(" ", "")
    if not _HEX.fullmatch(found):
        raise InputError(f"--ca-fingerprint {text!r} is not a SHA-256 fingerprint (64 hex digits, as `invite` printed it)")
    return found


def _chain(sock: ssl.SSLSocket) -> list[bytes]:
    """The certificates the server presented, DER, in order (public in Python 3.13; the same method of _ssl before)."""
    public = getattr(sock, "get_unverified_chain", None)
    found: list[Any] = public() if public else sock._sslobj.get_unverified_chain()  # type: ignore[attr-defined]
    return [c if isinstance(c, bytes) else c.public_bytes(ssl._ssl.ENCODING_DER) for c in found or []]  # type: ignore[attr-defined]


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"{address!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def fetch_pinned_ca(address: str, fingerprint: str) -> bytes:
    """The CA certificate (PEM) the enrolment port at ``address`` presents, if its SHA-256 is ``fingerprint``."""
    pinned = normalise_fingerprint(fingerprint)
    host, port = split_address(address)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # trust comes from the pin below, not from any store
    context.set_alpn_protocols(["h2"])
    try:
        with (
            socket.create_connection((host, port), timeout=HANDSHAKE_SECONDS) as raw,
            context.wrap_socket(raw, server_hostname=host) as sock,
        ):
            chain = _chain(sock)
    except (OSError, ssl.SSLError) as exc:
        raise InputError(f"cannot reach the coordinator's enrolment port at {address}: {exc}") from None
    by_print = {hashlib.sha256(der).hexdigest(): der for der in chain}
    if pinned not in by_print:
        raise ProtocolError(
            f"the server at {address} does not present the CA with fingerprint {pinned}: not sending the token. "
            "Check the address and the fingerprint with the operator (never copy a fingerprint from the server)."
        )
    ca = x509.load_der_x509_certificate(by_print[pinned])
    leaf = x509.load_der_x509_certificate(chain[0])
    try:
        leaf.verify_directly_issued_by(ca)
    except Exception as exc:  # a wrong issuer (ValueError), a signature that fails, an unsupported key (TypeError)
        raise ProtocolError(
            f"the server at {address} presents a certificate the pinned CA did not issue ({exc}): not sending the token"
        ) from None
    return ca.public_bytes(serialization.Encoding.PEM)
