"""Enrolment invitations and party certificates: the SQL of cleanroom.coordinator.enrolment."""

from __future__ import annotations

from cleanroom.coordinator.store.connection import Database, Tx, columns
from cleanroom.coordinator.store.records import InvitationRow, PartyCertificateRow


class EnrolmentRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    @staticmethod
    def invitation(con: Tx, token_id: str) -> InvitationRow | None:
        """Read inside the caller's transaction, so that two uses of one token cannot both see it unused."""
        found = con.execute(
            f"SELECT {columns(InvitationRow)} FROM enrolment_invitations WHERE token_id = ?", [token_id]
        ).fetchone()
        return InvitationRow(*found) if found else None

    def invitations(self, party: str | None = None) -> list[InvitationRow]:
        where, params = ("WHERE party = ?", [party]) if party else ("", [])
        return self._db.records(InvitationRow, f"FROM enrolment_invitations {where} ORDER BY created_at, token_id", params)

    @staticmethod
    def insert_invitation(con: Tx, row: InvitationRow) -> None:
        con.execute(
            "INSERT INTO enrolment_invitations (token_id, token_hash, party, created_at, expires_at, used_at, cancelled_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [row.token_id, row.token_hash, row.party, row.created_at, row.expires_at, row.used_at, row.cancelled_at],
        )

    @staticmethod
    def mark_used(con: Tx, token_id: str, at: str) -> None:
        con.execute("UPDATE enrolment_invitations SET used_at = ? WHERE token_id = ?", [at, token_id])

    @staticmethod
    def cancel_open(con: Tx, party: str, at: str) -> list[str]:
        """Cancel the party's unused, uncancelled invitations; returns their token ids."""
        found = con.execute(
            "UPDATE enrolment_invitations SET cancelled_at = ? WHERE party = ? AND used_at IS NULL AND cancelled_at IS NULL "
            "RETURNING token_id",
            [at, party],
        ).fetchall()
        return sorted(str(r[0]) for r in found)

    @staticmethod
    def certificates(con: Tx, party: str) -> list[PartyCertificateRow]:
        found = con.execute(
            f"SELECT {columns(PartyCertificateRow)} FROM party_certificates WHERE party = ? ORDER BY issued_at, serial", [party]
        ).fetchall()
        return [PartyCertificateRow(*r) for r in found]

    @staticmethod
    def insert_certificate(con: Tx, row: PartyCertificateRow) -> None:
        con.execute(
            "INSERT INTO party_certificates (serial, party, fingerprint, origin, issued_at, not_after, revoked_at, revoked_why) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [row.serial, row.party, row.fingerprint, row.origin, row.issued_at, row.not_after, row.revoked_at, row.revoked_why],
        )

    @staticmethod
    def revoke(con: Tx, serials: list[str], at: str, why: str) -> None:
        con.execute(
            "UPDATE party_certificates SET revoked_at = ?, revoked_why = ? WHERE serial IN (SELECT unnest(?)) AND revoked_at IS NULL",
            [at, why, serials],
        )

    def known_serials(self) -> set[str]:
        return {str(s) for s in self._db.values("SELECT serial FROM party_certificates")}

    def revoked_serials(self) -> set[str]:
        return {str(s) for s in self._db.values("SELECT serial FROM party_certificates WHERE revoked_at IS NOT NULL")}

    def active_parties(self, at: str) -> set[str]:
        """Parties holding an enrolled certificate that is neither revoked nor expired at ``at``."""
        return {
            str(p)
            for p in self._db.values(
                "SELECT DISTINCT party FROM party_certificates WHERE revoked_at IS NULL AND not_after > ?", [at]
            )
        }
