"""Agreements, their approvals and the parties' encryption and upload-signing keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cleanroom.coordinator.store.connection import Database, Tx
from cleanroom.coordinator.store.records import AgreementRow, EncryptionKey, SigningKey


@dataclass(frozen=True)
class _Approval:
    agreement_id: str
    version: int
    terms_hash: str
    party: str


class AgreementRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, agreement_id: str) -> AgreementRow | None:
        return self._db.record(AgreementRow, "FROM agreements WHERE agreement_id = ?", [agreement_id])

    def ids_of_party(self, party: str) -> list[str]:
        return self._db.values(
            "SELECT agreement_id FROM agreements WHERE proposer = ? OR counterparty = ? ORDER BY created_at", [party, party]
        )

    def approvers(self, row: AgreementRow) -> list[str]:
        """The parties that approved the agreement's current terms, first approval first."""
        return self.approvers_of([row])[row.agreement_id]

    def approvers_of(self, rows: Sequence[AgreementRow]) -> dict[str, list[str]]:
        """Per agreement, the parties that approved its current version and terms hash, first approval first."""
        out: dict[str, list[str]] = {r.agreement_id: [] for r in rows}
        if not rows:
            return out
        current = {r.agreement_id: (r.version, r.terms_hash) for r in rows}
        found = self._db.records(
            _Approval,
            f"FROM approvals WHERE agreement_id IN ({','.join('?' * len(current))}) ORDER BY approved_at",
            list(current),
        )
        for a in found:
            if current[a.agreement_id] == (a.version, a.terms_hash):
                out[a.agreement_id].append(a.party)
        return out

    def encryption_keys(self, agreement_id: str) -> list[EncryptionKey]:
        return self._db.records(
            EncryptionKey, "FROM encryption_keys WHERE agreement_id = ? ORDER BY registered_at", [agreement_id]
        )

    @staticmethod
    def key_of(con: Tx, agreement_id: str, party: str) -> EncryptionKey | None:
        found = con.execute(
            "SELECT party, public_x25519, fingerprint FROM encryption_keys WHERE agreement_id = ? AND party = ?",
            [agreement_id, party],
        ).fetchone()
        return EncryptionKey(found[0], bytes(found[1]), found[2]) if found else None

    def signing_keys(self, agreement_id: str) -> list[SigningKey]:
        return self._db.records(SigningKey, "FROM signing_keys WHERE agreement_id = ? ORDER BY registered_at", [agreement_id])

    @staticmethod
    def signing_key_of(con: Tx, agreement_id: str, party: str) -> SigningKey | None:
        found = con.execute(
            "SELECT party, public_ed25519, fingerprint FROM signing_keys WHERE agreement_id = ? AND party = ?",
            [agreement_id, party],
        ).fetchone()
        return SigningKey(found[0], bytes(found[1]), found[2]) if found else None

    @staticmethod
    def insert_signing_key(con: Tx, agreement_id: str, key: SigningKey, at: str) -> None:
        con.execute(
            "INSERT INTO signing_keys (agreement_id, party, public_ed25519, fingerprint, registered_at) VALUES (?, ?, ?, ?, ?)",
            [agreement_id, key.party, key.public_ed25519, key.fingerprint, at],
        )

    def proposals_since(self, proposer: str, since: str) -> int:
        """How many agreements the party proposed at or after ``since`` (store time text), revoked ones included."""
        return int(self._db.value("SELECT count(*) FROM agreements WHERE proposer = ? AND created_at >= ?", [proposer, since]))

    def revoked_unapproved_by(self, party: str) -> list[str]:
        """Revoked agreements proposed to ``party`` that it never approved, in any version."""
        return self._db.values(
            """SELECT a.agreement_id FROM agreements a
               WHERE a.counterparty = ? AND a.state = 'revoked'
                 AND NOT EXISTS (SELECT 1 FROM approvals p WHERE p.agreement_id = a.agreement_id AND p.party = ?)""",
            [party, party],
        )

    def open_proposals(self, proposer: str) -> int:
        """How many of the party's proposals wait for approval."""
        return int(self._db.value("SELECT count(*) FROM agreements WHERE proposer = ? AND state = 'proposed'", [proposer]))

    @staticmethod
    def insert(con: Tx, row: AgreementRow) -> None:
        con.execute(
            "INSERT INTO agreements (agreement_id, version, proposer, counterparty, terms_json, terms_hash, state, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                row.agreement_id,
                row.version,
                row.proposer,
                row.counterparty,
                row.terms_json,
                row.terms_hash,
                row.state,
                row.created_at,
            ],
        )

    @staticmethod
    def insert_approval(con: Tx, agreement_id: str, version: int, party: str, terms_hash: str, at: str) -> None:
        con.execute(
            "INSERT INTO approvals (agreement_id, version, party, terms_hash, approved_at) VALUES (?, ?, ?, ?, ?)",
            [agreement_id, version, party, terms_hash, at],
        )

    @staticmethod
    def insert_key(con: Tx, agreement_id: str, key: EncryptionKey, at: str) -> None:
        con.execute(
            "INSERT INTO encryption_keys (agreement_id, party, public_x25519, fingerprint, registered_at) VALUES (?, ?, ?, ?, ?)",
            [agreement_id, key.party, key.public_x25519, key.fingerprint, at],
        )

    @staticmethod
    def set_state(con: Tx, agreement_id: str, state: str) -> None:
        con.execute("UPDATE agreements SET state = ? WHERE agreement_id = ?", [state, agreement_id])

    @staticmethod
    def amend(con: Tx, agreement_id: str, version: int, terms_json: bytes, terms_hash: str) -> None:
        """New terms as a new version, to be approved again by both parties."""
        con.execute(
            "UPDATE agreements SET version = ?, terms_json = ?, terms_hash = ?, state = 'proposed' WHERE agreement_id = ?",
            [version, terms_json, terms_hash, agreement_id],
        )
