"""Enrolment and renewal on the party's machine: the key is born here and never leaves it.

``enroll`` creates the key pair (0600, written atomically), builds a CSR,
fetches the coordinator's CA checked against the pinned fingerprint, presents
the token and CSR, and writes a complete profile (the layout ``coordinator
add-party`` writes, so every other command works with it); profile.json comes
last, so a profile directory without it is an enrolment that did not finish.
``renew`` does the same over the profile's mTLS channel: the certificate it
replaces is refused by the coordinator from then on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cleanroom.crypto.keyfiles import write_private
from cleanroom.errors import InputError
from cleanroom_client.profile import Profile
from cleanroom_client.remote import enrolment as remote
from cleanroom_client.remote.pinned_ca import fetch_pinned_ca

KEY_FILE, CERT_FILE, CA_FILE, SIGNING_FILE, PROFILE_FILE = (
    "party.key",
    "party.pem",
    "ca.pem",
    "coordinator-signing.pub",
    "profile.json",
)


@dataclass(frozen=True)
class Enrolled:
    profile: Path
    party: str
    serial: str
    not_after: str
    coordinator: str


def new_key_and_csr(party: str | None = None) -> tuple[bytes, bytes]:
    """A fresh EC P-256 key (PKCS#8 PEM) and a CSR signed by it; the subject names ``party`` when given, else
    it is empty (the coordinator names the certificate after the invitation)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, party)] if party else [])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return key_pem, csr.public_bytes(serialization.Encoding.PEM)


def _replace(path: Path, data: bytes, private: bool = False) -> None:
    """Write aside, then rename over: a reader sees the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    if private:
        write_private(tmp, data)
    else:
        tmp.write_bytes(data)
    os.replace(tmp, path)


def enroll(address: str, token: str, fingerprint: str, out: Path, coordinator: str | None = None) -> Enrolled:
    if (out / PROFILE_FILE).exists():
        raise InputError(f"{out} already holds a profile; enrol into a new directory")
    ca_pem = fetch_pinned_ca(address, fingerprint)  # before anything else leaves this machine
    created = not out.exists()
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_pem, csr_pem = new_key_and_csr()
    _replace(out / KEY_FILE, key_pem, private=True)
    try:
        issued = remote.enroll(address, ca_pem, token.strip(), csr_pem)
    except BaseException:  # refused: leave no orphan key behind
        (out / KEY_FILE).unlink(missing_ok=True)
        if created:
            out.rmdir()
        raise
    target = coordinator or _reachable(issued.coordinator_address, address)
    if not target:
        raise InputError("the coordinator gave no mTLS address: enrol again with --address HOST:PORT")
    _replace(out / CA_FILE, ca_pem)
    _replace(out / CERT_FILE, issued.certificate_pem)
    _replace(out / SIGNING_FILE, issued.coordinator_signing_public)
    profile = {"party": issued.party, "coordinator": target, "server_name": "localhost"}
    _replace(out / PROFILE_FILE, (json.dumps(profile, indent=2) + "\n").encode())
    return Enrolled(out, issued.party, issued.serial, issued.not_after, target)


WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]"})


def _reachable(advertised: str, dialled: str) -> str:
    """The advertised mTLS address, with the host we reached the enrolment port by when it advertises a
    wildcard (a coordinator listening on 0.0.0.0 says so)."""
    host, _, port = advertised.rpartition(":")
    if not port or host not in WILDCARDS:
        return advertised
    return f"{dialled.rpartition(':')[0]}:{port}"


def renew(profile: Profile) -> Enrolled:
    key_pem, csr_pem = new_key_and_csr(profile.party)
    issued = remote.renew(profile, csr_pem)
    if issued.party != profile.party:
        raise InputError(f"the coordinator renewed a certificate for {issued.party!r}, not {profile.party!r}: not installed")
    _replace(profile.path / KEY_FILE, key_pem, private=True)
    _replace(profile.path / CERT_FILE, issued.certificate_pem)
    return Enrolled(profile.path, issued.party, issued.serial, issued.not_after, profile.coordinator)
