"""Agreements: proposing, approving (and amending), revoking; who is a party and what the terms say.

Terms are parsed once per agreement version and kept: the upload path asks
for them on every chunk.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any

from cleanroom.coordinator.store import Store, Tx, now
from cleanroom.coordinator.store.records import AgreementRow, EncryptionKey
from cleanroom.crypto.sealed import check_public, fingerprint
from cleanroom.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, ResourceExhausted
from cleanroom.terms import Terms, amend_share, load_json, parse_terms, terms_hash

_REVEAL_NEEDS_KEY = "the terms grant account-level reveal: approve with your X25519 encryption key"

# Proposals a party may have waiting for approval at once (each is stored and listed to its counterparty).
MAX_OPEN_PROPOSALS = 100


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


@dataclass(frozen=True)
class Agreement:
    """An agreement as a party sees it: the stored row, who approved its current terms, the parties' keys, the terms."""

    row: AgreementRow
    approved_by: tuple[str, ...]
    encryption: tuple[EncryptionKey, ...]
    terms: Terms

    @property
    def agreement_id(self) -> str:
        return self.row.agreement_id

    @property
    def state(self) -> str:
        return self.row.state

    @property
    def terms_hash(self) -> str:
        return self.row.terms_hash

    @property
    def version(self) -> int:
        return int(self.row.version)

    def has_key(self, party: str) -> bool:
        return any(k.party == party for k in self.encryption)

    def to_dict(self) -> dict[str, Any]:
        """The public shape (the facade's return value, which the wire adapters convert)."""
        r = self.row
        return {
            "agreement_id": r.agreement_id,
            "version": r.version,
            "proposer": r.proposer,
            "counterparty": r.counterparty,
            "terms_json": bytes(r.terms_json),
            "terms_hash": r.terms_hash,
            "state": r.state,
            "created_at": r.created_at,
            "approved_by": list(self.approved_by),
            "encryption": [
                {"party": k.party, "public_x25519": bytes(k.public_x25519), "fingerprint": k.fingerprint} for k in self.encryption
            ],
        }


def check_encryption_public(public: bytes) -> None:
    if public:
        try:
            check_public(public)
        except ValueError as exc:
            raise InvalidArgument(f"encryption key: {exc}") from None


class Agreements:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._terms: dict[tuple[str, int, str], Terms] = {}
        self._terms_lock = threading.Lock()

    # -- reading -------------------------------------------------------------------------------

    def terms(self, row: AgreementRow) -> Terms:
        """The parsed terms of an agreement version (cached: a version's terms never change)."""
        key = (row.agreement_id, int(row.version), row.terms_hash)
        with self._terms_lock:
            found = self._terms.get(key)
        if found is None:
            found = parse_terms(bytes(row.terms_json))
            with self._terms_lock:
                self._terms[key] = found
        return found

    def terms_by_id(self, agreement_id: str) -> Terms:
        """The current terms of an agreement known to exist (a run's, say): no party check."""
        row = self._store.agreements.get(agreement_id)
        if row is None:
            raise NotFound(f"agreement {agreement_id!r} does not exist")
        return self.terms(row)

    def load(self, caller: str, agreement_id: str) -> Agreement:
        """The agreement, if the caller is a party to it."""
        row = self._store.agreements.get(agreement_id)
        if row is None:
            raise NotFound(f"agreement {agreement_id!r} does not exist")
        if caller not in (row.proposer, row.counterparty):
            raise PermissionDenied(f"party {caller!r} is not a party to agreement {agreement_id}")
        return Agreement(
            row,
            tuple(self._store.agreements.approvers(row)),
            tuple(self._store.agreements.encryption_keys(agreement_id)),
            self.terms(row),
        )

    def list(self, caller: str) -> list[Agreement]:
        return [self.load(caller, agreement_id) for agreement_id in self._store.agreements.ids_of_party(caller)]

    def not_revoked(self, caller: str, agreement_id: str) -> Agreement:
        """The agreement, refusing once it was revoked (nothing more is released under it)."""
        agreement = self.load(caller, agreement_id)
        if agreement.state == "revoked":
            raise FailedPrecondition(f"agreement {agreement_id} was revoked; nothing more is released")
        return agreement

    def active(self, caller: str, agreement_id: str, terms_hash_seen: str) -> Agreement:
        """The agreement, approved by both parties under the very terms the caller saw."""
        agreement = self.load(caller, agreement_id)
        if agreement.state == "revoked":
            raise FailedPrecondition(f"agreement {agreement_id} was revoked; no further runs")
        if agreement.state != "active":
            waiting = [p for p in (agreement.row.proposer, agreement.row.counterparty) if p not in agreement.approved_by]
            raise FailedPrecondition(f"agreement {agreement_id} is not approved yet (waiting for {', '.join(waiting)})")
        if terms_hash_seen != agreement.terms_hash:
            raise FailedPrecondition(
                f"agreement {agreement_id} changed since you approved it (terms hash {agreement.terms_hash[:12]}...); show and approve it again"
            )
        return agreement

    # -- writing -------------------------------------------------------------------------------

    def propose(self, caller: str, counterparty: str, terms_json: bytes, encryption_public: bytes = b"") -> Agreement:
        terms = parse_terms(terms_json)
        if terms.parties != (caller, counterparty):
            raise InvalidArgument(
                f"terms name parties {list(terms.parties)}, but the proposer is {caller!r} and the counterparty {counterparty!r}"
            )
        check_encryption_public(encryption_public)
        if self._store.agreements.open_proposals(caller) >= MAX_OPEN_PROPOSALS:
            raise ResourceExhausted(
                f"you have {MAX_OPEN_PROPOSALS} proposals waiting for approval; revoke some before proposing more"
            )
        if terms.reveals() and not encryption_public:
            raise InvalidArgument("the terms grant account-level reveal: the proposal must carry your X25519 encryption key")
        row = AgreementRow(new_id("agr"), 1, caller, counterparty, terms_json, terms_hash(terms_json), "proposed", now())
        with self._store.transaction() as con:
            self._store.agreements.insert(con, row)
            self._store.agreements.insert_approval(con, row.agreement_id, 1, caller, row.terms_hash, row.created_at)
            details: dict[str, Any] = {"version": 1, "terms_hash": row.terms_hash, "counterparty": counterparty}
            if encryption_public:
                details["encryption_fingerprint"] = self._register_key(con, row.agreement_id, caller, encryption_public)
            self._store.audit(con, caller, "agreement.proposed", row.agreement_id, details)
        return self.load(caller, row.agreement_id)

    def _register_key(self, con: Tx, agreement_id: str, party: str, public: bytes) -> str:
        """Record the party's X25519 key for the agreement (one per party and agreement); returns its fingerprint."""
        known = self._store.agreements.key_of(con, agreement_id, party)
        if known is not None:
            if known.public_x25519 != public:
                raise FailedPrecondition(
                    f"{party} already gave agreement {agreement_id} the encryption key {known.fingerprint}; a party keeps one key per "
                    "agreement (rows already sealed to it could not be read otherwise). If that key is lost, revoke the agreement and "
                    "propose a new one"
                )
            return known.fingerprint
        key = EncryptionKey(party, public, fingerprint(public))
        self._store.agreements.insert_key(con, agreement_id, key, now())
        return key.fingerprint

    def approve(
        self,
        caller: str,
        agreement_id: str,
        approved_hash: str,
        approver_terms_json: bytes = b"",
        amended_hash: str = "",
        encryption_public: bytes = b"",
    ) -> Agreement:
        """Approve the exact terms shown; with ``approver_terms_json`` ({"share": [...]}) amend the
        caller's own shared columns first: the amended terms become a new version that this call
        approves and the other party must approve too."""
        agreement = self.load(caller, agreement_id)
        if agreement.state == "revoked":
            raise FailedPrecondition(f"agreement {agreement_id} was revoked")
        if approved_hash != agreement.terms_hash:
            raise FailedPrecondition(
                f"the terms of {agreement_id} changed: you approved {approved_hash[:12]}..., the current terms hash is "
                f"{agreement.terms_hash[:12]}...; show the agreement again and approve what it shows"
            )
        check_encryption_public(encryption_public)
        if approver_terms_json:
            amended = self._amended(caller, agreement, approver_terms_json)
            if terms_hash(amended) != amended_hash:
                raise FailedPrecondition(
                    f"the amended terms of {agreement_id} hash to {terms_hash(amended)[:12]}..., not the {amended_hash[:12] or 'empty'}... "
                    "you approved; show the agreement again"
                )
            if amended != bytes(agreement.row.terms_json):
                return self._amend(caller, agreement, amended, encryption_public)
        if agreement.terms.reveals() and not (agreement.has_key(caller) or encryption_public):
            raise FailedPrecondition(_REVEAL_NEEDS_KEY)
        if caller in agreement.approved_by:
            if encryption_public and not agreement.has_key(caller):
                with self._store.transaction() as con:
                    self._register_key(con, agreement_id, caller, encryption_public)
                return self.load(caller, agreement_id)
            return agreement
        return self._record_approval(caller, agreement, approved_hash, encryption_public)

    def _record_approval(self, caller: str, agreement: Agreement, approved_hash: str, encryption_public: bytes) -> Agreement:
        agreement_id = agreement.agreement_id
        with self._store.transaction() as con:
            self._store.agreements.insert_approval(con, agreement_id, agreement.version, caller, approved_hash, now())
            if {caller, *agreement.approved_by} >= {agreement.row.proposer, agreement.row.counterparty}:
                self._store.agreements.set_state(con, agreement_id, "active")
            details: dict[str, Any] = {"version": agreement.version, "terms_hash": approved_hash}
            if encryption_public:
                details["encryption_fingerprint"] = self._register_key(con, agreement_id, caller, encryption_public)
            self._store.audit(con, caller, "agreement.approved", agreement_id, details)
        return self.load(caller, agreement_id)

    @staticmethod
    def _amended(caller: str, agreement: Agreement, approver_terms_json: bytes) -> bytes:
        additions = load_json(approver_terms_json, "approver_terms_json")
        if not isinstance(additions, dict) or set(additions) != {"share"} or not isinstance(additions["share"], list):
            raise InvalidArgument(
                'approver_terms_json must be {"share": [column, ...]}: an approver may change only its own shared columns'
            )
        return amend_share(bytes(agreement.row.terms_json), caller, additions["share"])

    def _amend(self, caller: str, agreement: Agreement, amended: bytes, encryption_public: bytes) -> Agreement:
        agreement_id, version = agreement.agreement_id, agreement.version + 1
        digest = terms_hash(amended)
        terms = parse_terms(amended)
        if terms.reveals() and not (agreement.has_key(caller) or encryption_public):
            raise FailedPrecondition(_REVEAL_NEEDS_KEY)
        with self._store.transaction() as con:
            self._store.agreements.amend(con, agreement_id, version, amended, digest)
            self._store.agreements.insert_approval(con, agreement_id, version, caller, digest, now())
            details: dict[str, Any] = {
                "version": version,
                "terms_hash": digest,
                "previous_terms_hash": agreement.terms_hash,
                "share": {caller: list(terms.shared_columns(caller))},
            }
            if encryption_public:
                details["encryption_fingerprint"] = self._register_key(con, agreement_id, caller, encryption_public)
            self._store.audit(con, caller, "agreement.amended", agreement_id, details)
        return self.load(caller, agreement_id)

    def revoke(self, caller: str, agreement_id: str, reason: str) -> Agreement:
        """Revoke: no further runs or releases; every point and unreleased reveal row goes at once."""
        agreement = self.load(caller, agreement_id)
        if agreement.state == "revoked":
            return agreement
        with self._store.transaction() as con:
            self._store.agreements.set_state(con, agreement_id, "revoked")
            self._store.audit(con, caller, "agreement.revoked", agreement_id, {"reason": reason})
            deleted = self._store.uploads.purge_points(con, agreement_id=agreement_id)
            unreleased = self._store.runs.delete_reveal_rows_of_agreement(con, agreement_id)
            if unreleased:
                deleted["sealed_rows"] = unreleased
            self._store.runs.revoke_collecting(con, agreement_id)
            self._store.audit(con, caller, "points.deleted", agreement_id, {"cause": "revocation", **deleted})
        self._store.checkpoint()
        return self.load(caller, agreement_id)
