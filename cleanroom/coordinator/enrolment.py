"""Enrolment: parties' keys are born on their own machines; the CA signs a CSR presented with a one-time token.

The operator invites a name (``invite``): a token of 256 random bits, shown
once, of which the store keeps a SHA-256 only. The party's client presents the
token with a CSR over TLS (the enrolment port, pinned to the CA by fingerprint)
and the CA signs a certificate for exactly the invited name (``enroll``). A
party renews over its mTLS channel with a new key (``renew``: the old
certificate is refused from then on, so one name has one key holder).
``remove_party`` revokes every certificate and API key of a party; the
running server's check (``check_peer``, on every gRPC call) reads an in-memory
set of revoked serials that this object updates as it commits, so a removal
made through the server's own ``Enrolment`` is seen by the next call.

Every operation is a method over the store (no gRPC, no files but the data
dir's registry), so an admin channel can call them on a running coordinator.
Every issue, use and refusal is audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from cryptography import x509

from cleanroom.coordinator.csr import check_csr
from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.pki import certificate_fingerprint, check_party_name, serial_of, sign_party_key
from cleanroom.coordinator.store import Store, Tx, now, time_text
from cleanroom.coordinator.store.records import InvitationRow, PartyCertificateRow
from cleanroom.errors import FailedPrecondition, InputError, InvalidArgument, NotFound, RequestError, Unauthenticated

TOKEN_PATTERN = re.compile(r"^cre_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
DEFAULT_EXPIRY = dt.timedelta(hours=72)
MAX_EXPIRY = dt.timedelta(days=30)
_DUMMY_HASH = hashlib.sha256(b"no such invitation").hexdigest()
_PEER_CACHE = 10_000
T = TypeVar("T")


@dataclass(frozen=True)
class Invitation:
    token: str  # shown once, never stored
    token_id: str
    party: str
    expires_at: str
    ca_fingerprint: str


@dataclass(frozen=True)
class Issued:
    party: str
    certificate_pem: bytes
    serial: str
    not_after: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _cert_row(cert_pem: bytes, party: str, origin: str, at: str) -> PartyCertificateRow:
    cert = x509.load_pem_x509_certificate(cert_pem)
    return PartyCertificateRow(
        serial_of(cert), party, certificate_fingerprint(cert_pem), origin, at, time_text(cert.not_valid_after_utc), None, None
    )


class Enrolment:
    def __init__(self, store: Store, data_dir: DataDir) -> None:
        self.store, self.data_dir = store, data_dir
        self._lock = threading.Lock()
        self._revoked = store.enrolment.revoked_serials()
        # Certificates on record: the store's, and add-party's registry (read on a miss, as add-party writes it).
        # Anything else the CA signed (issued after the backup this dir was restored from) cannot be revoked.
        self._known = store.enrolment.known_serials()
        self._peers: dict[bytes, tuple[str, str]] = {}  # peer certificate PEM -> (serial, common name)

    @property
    def ca_fingerprint(self) -> str:
        return certificate_fingerprint(self.data_dir.ca().cert_pem)

    def parties(self) -> set[str]:
        """Names holding a certificate nobody revoked: add-party's registry, and enrolled certificates not expired
        (the registry's mirror of those, with an ``origin``, is for add-party's check: the store decides here)."""
        with self._lock:
            revoked = set(self._revoked)
        issued = {
            name for name, entry in self.data_dir.issued().items() if entry.get("serial") not in revoked and "origin" not in entry
        }
        return issued | self.store.enrolment.active_parties(now())

    def invite(self, party: str, expires_in: dt.timedelta = DEFAULT_EXPIRY, actor: str = "operator") -> Invitation:
        """A one-time token for ``party``; earlier unused invitations of the name are cancelled (the latest counts)."""
        check_party_name(party)
        if not dt.timedelta(minutes=1) <= expires_in <= MAX_EXPIRY:
            raise InputError(f"an invitation expires after 1 minute to {MAX_EXPIRY.days} days, not {expires_in}")
        if party in self.parties():
            raise FailedPrecondition(
                f"party {party!r} already holds a certificate: it renews its own (`cleanroom-client renew`); to hand the "
                f"name to a new key, remove it first (`cleanroom coordinator remove-party {party}`). Nothing was issued."
            )
        token_id = secrets.token_hex(6)
        token = f"cre_{token_id}_{secrets.token_urlsafe(32)}"
        created = dt.datetime.now(dt.UTC)
        row = InvitationRow(token_id, token_hash(token), party, time_text(created), time_text(created + expires_in), None, None)
        with self.store.transaction() as con:
            cancelled = self.store.enrolment.cancel_open(con, party, row.created_at)
            self.store.enrolment.insert_invitation(con, row)
            details = {"party": party, "token_id": token_id, "expires_at": row.expires_at, "cancelled": cancelled}
            self.store.audit(con, actor, "enrolment.invited", None, details)
        return Invitation(token, token_id, party, row.expires_at, self.ca_fingerprint)

    def invitations(self, party: str | None = None) -> list[dict[str, Any]]:
        return [{k: v for k, v in vars(r).items() if k != "token_hash"} for r in self.store.enrolment.invitations(party)]

    def enroll(self, token: str, csr_pem: bytes) -> Issued:
        """Sign the CSR for the token's party and spend the token; any refusal is audited and changes nothing else."""
        match = TOKEN_PATTERN.match(token or "")
        token_id = match.group(1) if match else None
        return self._audited_refusal("unknown", "enrolment.refused", {"token_id": token_id}, lambda: self._enroll(token, csr_pem))

    def _enroll(self, token: str, csr_pem: bytes) -> Issued:
        match = TOKEN_PATTERN.match(token or "")
        with self.store.transaction() as con:
            found = self.store.enrolment.invitation(con, match.group(1)) if match else None
            if not hmac.compare_digest(token_hash(token or ""), found.token_hash if found else _DUMMY_HASH) or found is None:
                raise Unauthenticated(
                    "the enrolment token is not one this coordinator issued: ask its operator for an invitation"
                )
            at = now()
            if found.used_at or found.cancelled_at:
                why = (
                    f"was used at {found.used_at}"
                    if found.used_at
                    else f"was replaced by a newer invitation at {found.cancelled_at}"
                )
                raise Unauthenticated(f"the enrolment token for {found.party!r} {why}: ask the operator for a new invitation")
            if found.expires_at <= at:
                raise Unauthenticated(f"the enrolment token for {found.party!r} expired at {found.expires_at}: ask for a new one")
            if found.party in self.parties():
                raise FailedPrecondition(f"party {found.party!r} already holds a certificate; nothing was issued")
            issued = self._issue(con, found.party, csr_pem, "enrolled", at)
            self.store.enrolment.mark_used(con, found.token_id, at)
            self.store.audit(con, found.party, "enrolment.enrolled", None, {"token_id": found.token_id, "serial": issued.serial})
        self.data_dir.record_issued(issued.party, issued.serial, "enrolled")
        return issued

    def _issue(self, con: Tx, party: str, csr_pem: bytes, origin: str, at: str) -> Issued:
        public_key = check_csr(csr_pem, party)
        cert_pem = sign_party_key(self.data_dir.ca(), party, public_key)
        row = _cert_row(cert_pem, party, origin, at)
        self.store.enrolment.insert_certificate(con, row)
        with self._lock:
            self._known.add(row.serial)
        return Issued(party, cert_pem, row.serial, row.not_after)

    def renew(self, peer_cert_pem: bytes, csr_pem: bytes) -> Issued:
        """A new certificate for the caller (authenticated by ``peer_cert_pem``); the presented one is refused from now on."""
        serial, party = self._peer(peer_cert_pem)
        return self._audited_refusal(
            party, "certificate.renewal_refused", {"serial": serial}, lambda: self._renew(peer_cert_pem, csr_pem)
        )

    def _renew(self, peer_cert_pem: bytes, csr_pem: bytes) -> Issued:
        serial, party = self._peer(peer_cert_pem)
        self.check_peer(peer_cert_pem)
        with self.store.transaction() as con:
            at = now()
            known = {c.serial: c for c in self.store.enrolment.certificates(con, party)}
            if serial in known and known[serial].revoked_at is not None:  # revoked since check_peer: a racing call won
                raise Unauthenticated(f"the certificate {serial} of {party!r} was revoked ({known[serial].revoked_why})")
            issued = self._issue(con, party, csr_pem, "renewed", at)
            if serial not in known:  # an add-party certificate
                self.store.enrolment.insert_certificate(con, _cert_row(peer_cert_pem, party, "add-party", at))
            self.store.enrolment.revoke(con, [serial], at, f"renewed as {issued.serial}")
            self.store.audit(con, party, "certificate.renewed", None, {"serial": issued.serial, "replaces": serial})
        with self._lock:
            self._revoked.add(serial)
        self.data_dir.record_issued(party, issued.serial, "renewed")
        return issued

    def remove_party(self, party: str, actor: str = "operator") -> dict[str, Any]:
        """Revoke every certificate and API key of ``party`` and cancel its open invitations, in one transaction."""
        check_party_name(party)
        legacy = self.data_dir.issued().get(party)
        with self.store.transaction() as con:
            at = now()
            known = self.store.enrolment.certificates(con, party)
            serials = [c.serial for c in known if c.revoked_at is None]
            if legacy and legacy["serial"] not in {c.serial for c in known}:
                row = PartyCertificateRow(legacy["serial"], party, "", "add-party", legacy["issued_at"], "", None, None)
                self.store.enrolment.insert_certificate(con, row)
                serials.append(row.serial)
            self.store.enrolment.revoke(con, serials, at, "party removed")
            invitations = self.store.enrolment.cancel_open(con, party, at)
            keys = [k.key_id for k in self.store.api_keys.list() if k.party == party]
            for key_id in keys:
                self.store.api_keys.revoke(con, key_id, at)
            if not (serials or invitations or keys):
                raise NotFound(f"party {party!r} holds no certificate, API key or open invitation here: nothing to remove")
            details = {"party": party, "serials": sorted(serials), "api_keys": keys, "invitations": invitations}
            self.store.audit(con, actor, "party.removed", None, details)
        with self._lock:
            self._revoked.update(serials)
        return details

    def _peer(self, cert_pem: bytes) -> tuple[str, str]:
        with self._lock:
            found = self._peers.get(cert_pem)
        if found is None:
            cert = x509.load_pem_x509_certificate(cert_pem)
            names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
            found = (serial_of(cert), str(names[0].value) if names else "unknown")
            with self._lock:
                if len(self._peers) >= _PEER_CACHE:
                    self._peers.clear()
                self._peers[cert_pem] = found
        return found

    def party_of(self, cert_pem: bytes | None) -> str:
        """The common name of a (CA-verified) client certificate, for audit entries; "unknown" without one."""
        return self._peer(cert_pem)[1] if cert_pem else "unknown"

    def check_peer(self, cert_pem: bytes | None) -> str:
        """The party of a client certificate nobody revoked; Unauthenticated otherwise (cheap: one dict and set lookup)."""
        if not cert_pem:
            raise Unauthenticated("no party certificate presented; connect with a profile issued by this coordinator")
        serial, party = self._peer(cert_pem)
        with self._lock:
            revoked, known = serial in self._revoked, serial in self._known
        if revoked:
            raise Unauthenticated(
                f"the certificate {serial} of {party!r} was revoked (party removed or certificate renewed); "
                "a removed party needs a new invitation from the operator"
            )
        if not known:
            if self.data_dir.issued().get(party, {}).get("serial") != serial:
                raise Unauthenticated(
                    f"the certificate {serial} of {party!r} is on no record of this coordinator (issued after the "
                    "backup its data dir was restored from?): ask the operator for a new invitation"
                )
            with self._lock:
                self._known.add(serial)
        return party

    def _audited_refusal(self, actor: str, action: str, details: dict[str, Any], work: Callable[[], T]) -> T:
        try:
            return work()
        except RequestError as exc:
            self.store.audit_now(actor, action, None, {**details, "code": exc.code, "reason": str(exc)[:500]})
            raise
        except InputError as exc:  # a CA problem, a name pki refuses: the caller's request cannot be served as given
            self.store.audit_now(actor, action, None, {**details, "code": "INVALID_ARGUMENT", "reason": str(exc)[:500]})
            raise InvalidArgument(str(exc)) from None
