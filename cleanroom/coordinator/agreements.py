"""Agreements: proposing, approving (and amending), revoking; who is a party and what the terms say.

Terms are parsed once per agreement version and kept: the upload path asks
for them on every chunk.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from cleanroom.coordinator.limits import MAX_OPEN_PROPOSALS, MAX_PROPOSALS_PER_DAY
from cleanroom.coordinator.store import Store, Tx, now, time_text
from cleanroom.coordinator.store.records import AgreementRow, EncryptionKey, SigningKey
from cleanroom.crypto.sealed import check_public, fingerprint
from cleanroom.crypto.upload_signing import check_signing_public, signing_fingerprint
from cleanroom.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, ResourceExhausted
from cleanroom.terms import Terms, amend_share, load_json, parse_terms, terms_hash

_REVEAL_NEEDS_KEY = "the terms grant account-level reveal: approve with your X25519 encryption key"


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


@dataclass(frozen=True)
class Agreement:
    """An agreement as a party sees it: the stored row, who approved its current terms, the parties' keys, the terms."""

    row: AgreementRow
    approved_by: tuple[str, ...]
    encryption: tuple[EncryptionKey, ...]
    terms: Terms
    signing: tuple[SigningKey, ...] = ()

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

    def signing_key(self, party: str) -> bytes | None:
        """The Ed25519 key ``party`` signs its uploads with under this agreement (None until it gave one)."""
        return next((bytes(k.public_ed25519) for k in self.signing if k.party == party), None)

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
            "signing": [
                {"party": k.party, "public_ed25519": bytes(k.public_ed25519), "fingerprint": k.fingerprint} for k in self.signing
            ],
        }


def check_public_keys(encryption_public: bytes, signing_public: bytes) -> None:
    """Keys a party gives are usable, or the call is refused before anything is written."""
    for name, public, check in (
        ("encryption key", encryption_public, check_public),
        ("signing key", signing_public, check_signing_public),
    ):
        if public:
            try:
                check(public)
            except ValueError as exc:
                raise InvalidArgument(f"{name}: {exc}") from None


@dataclass(frozen=True)
class GivenKeys:
    """Public keys a party gives with a proposal or approval (empty: none of that kind)."""

    encryption: bytes = b""  # X25519, for sealed shared fields
    signing: bytes = b""  # Ed25519, for its upload statements

    def __post_init__(self) -> None:
        check_public_keys(self.encryption, self.signing)

    def differ_from(self, agreement: Agreement, party: str) -> bool:
        """Whether a key given is not the one the party already gave (new, or a conflicting one to refuse)."""
        given_encryption = next((bytes(k.public_x25519) for k in agreement.encryption if k.party == party), None)
        return bool(self.encryption and self.encryption != given_encryption) or bool(
            self.signing and self.signing != agreement.signing_key(party)
        )


class Agreements:
    def __init__(
        self, store: Store, max_open_proposals: int = MAX_OPEN_PROPOSALS, max_proposals_per_day: int = MAX_PROPOSALS_PER_DAY
    ) -> None:
        self._store = store
        self._max_open = max_open_proposals
        self._max_per_day = max_proposals_per_day
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
            tuple(self._store.agreements.signing_keys(agreement_id)),
        )

    def list(self, caller: str) -> list[Agreement]:
        """The caller's agreements, less proposals made to it and revoked before it ever approved them: nothing
        ran under those, and a partner proposing and revoking in a loop must not fill the caller's list."""
        ids = self._store.agreements.ids_of_party(caller)
        hidden = set(self._store.agreements.revoked_unapproved_by(caller))
        return [self.load(caller, agreement_id) for agreement_id in ids if agreement_id not in hidden]

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

    def propose(
        self, caller: str, counterparty: str, terms_json: bytes, encryption_public: bytes = b"", signing_public: bytes = b""
    ) -> Agreement:
        terms = parse_terms(terms_json)
        if terms.parties != (caller, counterparty):
            raise InvalidArgument(
                f"terms name parties {list(terms.parties)}, but the proposer is {caller!r} and the counterparty {counterparty!r}"
            )
        keys = GivenKeys(encryption_public, signing_public)
        since = time_text(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        if self._store.agreements.proposals_since(caller, since) >= self._max_per_day:
            raise ResourceExhausted(
                f"you made {self._max_per_day} proposals in the last 24 hours, revoked ones included; wait before proposing more"
            )
        if self._store.agreements.open_proposals(caller) >= self._max_open:
            raise ResourceExhausted(
                f"you have {self._max_open} proposals waiting for approval; revoke some before proposing more"
            )
        if terms.reveals() and not keys.encryption:
            raise InvalidArgument("the terms grant account-level reveal: the proposal must carry your X25519 encryption key")
        row = AgreementRow(new_id("agr"), 1, caller, counterparty, terms_json, terms_hash(terms_json), "proposed", now())
        with self._store.transaction() as con:
            self._store.agreements.insert(con, row)
            self._store.agreements.insert_approval(con, row.agreement_id, 1, caller, row.terms_hash, row.created_at)
            details: dict[str, Any] = {"version": 1, "terms_hash": row.terms_hash, "counterparty": counterparty}
            details.update(self._register_keys(con, row.agreement_id, caller, keys))
            self._store.audit(con, caller, "agreement.proposed", row.agreement_id, details)
        return self.load(caller, row.agreement_id)

    def _register_keys(self, con: Tx, agreement_id: str, party: str, keys: GivenKeys) -> dict[str, str]:
        """Record the keys the party gave (one of each kind per party and agreement); their fingerprints, for the audit."""
        out: dict[str, str] = {}
        if keys.encryption:
            out["encryption_fingerprint"] = self._register_encryption_key(con, agreement_id, party, keys.encryption)
        if keys.signing:
            out["signing_fingerprint"] = self._register_signing_key(con, agreement_id, party, keys.signing)
        return out

    def _register_signing_key(self, con: Tx, agreement_id: str, party: str, public: bytes) -> str:
        known = self._store.agreements.signing_key_of(con, agreement_id, party)
        if known is not None:
            why = "signing key per agreement (its partner pinned it)"
            return _kept_key(party, agreement_id, "signing key", known.fingerprint, known.public_ed25519 == public, why)
        key = SigningKey(party, public, signing_fingerprint(public))
        self._store.agreements.insert_signing_key(con, agreement_id, key, now())
        return key.fingerprint

    def _register_encryption_key(self, con: Tx, agreement_id: str, party: str, public: bytes) -> str:
        """Record the party's X25519 key for the agreement (one per party and agreement); returns its fingerprint."""
        known = self._store.agreements.key_of(con, agreement_id, party)
        if known is not None:
            why = "key per agreement (rows already sealed to it could not be read otherwise)"
            return _kept_key(party, agreement_id, "encryption key", known.fingerprint, known.public_x25519 == public, why)
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
        signing_public: bytes = b"",
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
        keys = GivenKeys(encryption_public, signing_public)
        if approver_terms_json:
            amended = self._amended(caller, agreement, approver_terms_json)
            if terms_hash(amended) != amended_hash:
                raise FailedPrecondition(
                    f"the amended terms of {agreement_id} hash to {terms_hash(amended)[:12]}..., not the {amended_hash[:12] or 'empty'}... "
                    "you approved; show the agreement again"
                )
            if amended != bytes(agreement.row.terms_json):
                return self._amend(caller, agreement, amended, keys)
        if agreement.terms.reveals() and not (agreement.has_key(caller) or keys.encryption):
            raise FailedPrecondition(_REVEAL_NEEDS_KEY)
        if caller in agreement.approved_by:
            # Approving again only adds keys the party had not given (an agreement approved by an older
            # client); a key other than the one given is refused (_register_keys says why).
            if keys.differ_from(agreement, caller):
                with self._store.transaction() as con:
                    details = self._register_keys(con, agreement_id, caller, keys)
                    self._store.audit(con, caller, "agreement.keys_given", agreement_id, details)
                return self.load(caller, agreement_id)
            return agreement
        return self._record_approval(caller, agreement, approved_hash, keys)

    def _record_approval(self, caller: str, agreement: Agreement, approved_hash: str, keys: GivenKeys) -> Agreement:
        agreement_id = agreement.agreement_id
        with self._store.transaction() as con:
            self._store.agreements.insert_approval(con, agreement_id, agreement.version, caller, approved_hash, now())
            if {caller, *agreement.approved_by} >= {agreement.row.proposer, agreement.row.counterparty}:
                self._store.agreements.set_state(con, agreement_id, "active")
            details: dict[str, Any] = {"version": agreement.version, "terms_hash": approved_hash}
            details.update(self._register_keys(con, agreement_id, caller, keys))
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

    def _amend(self, caller: str, agreement: Agreement, amended: bytes, keys: GivenKeys) -> Agreement:
        agreement_id, version = agreement.agreement_id, agreement.version + 1
        digest = terms_hash(amended)
        terms = parse_terms(amended)
        if terms.reveals() and not (agreement.has_key(caller) or keys.encryption):
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
            details.update(self._register_keys(con, agreement_id, caller, keys))
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
            tokens = self._store.standing.purge(con, agreement_id, with_noise=True)
            if any(tokens.values()):  # a continuous agreement's standing double-blinded tokens
                self._store.audit(con, caller, "tokens.deleted", agreement_id, {"cause": "revocation", **tokens})
        self._store.checkpoint()
        return self.load(caller, agreement_id)


def _kept_key(party: str, agreement_id: str, kind: str, known: str, same: bool, why: str) -> str:
    """A party keeps the first key of each kind it gave an agreement: giving it again is a no-op (its
    fingerprint ``known``), giving another is refused."""
    if not same:
        raise FailedPrecondition(
            f"{party} already gave agreement {agreement_id} the {kind} {known}; a party keeps one {why}. "
            "If that key is lost, revoke the agreement and propose a new one"
        )
    return known
