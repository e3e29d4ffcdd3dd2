"""Deal-registration programs, evaluation requests and registrations: the SQL of cleanroom.coordinator.registrations.

Only pseudonymous material: a program's public element, blinded and evaluated
elements (cleared once a registration consumed them) and OPRF tokens, never an
account key.
"""

from __future__ import annotations

from dataclasses import dataclass

from cleanroom.coordinator.store.connection import Database, Tx, columns, insert


@dataclass(frozen=True)
class ProgramRow:
    program_id: str
    vendor: str
    title: str
    program_public: bytes
    partners_json: str
    expiry_seconds: int
    reveal_date: bool
    reveal_holder: bool
    max_checks_per_day: int
    created_at: str


@dataclass(frozen=True)
class EvaluationRow:
    request_id: str
    program_id: str
    partner: str
    blinded: bytes | None
    evaluated: bytes | None
    proof: bytes | None
    requested_at: str
    evaluated_at: str | None
    used_at: str | None
    # The partner's signed request, relayed to the vendor's client, which checks it before evaluating.
    signing_public: bytes
    signature: bytes
    signed_at: str
    refused: str | None = None  # the vendor's client's reason for not evaluating it


@dataclass(frozen=True)
class RegistrationRow:
    registration_id: str
    program_id: str
    partner: str
    token: bytes
    registered_at: str
    expires_at: str
    withdrawn_at: str | None
    conflict: bool


class RegistrationRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- programs
    @staticmethod
    def insert_program(con: Tx, row: ProgramRow) -> None:
        insert(con, "registration_programs", row)

    def program(self, program_id: str) -> ProgramRow | None:
        return self._db.record(ProgramRow, "FROM registration_programs WHERE program_id = ?", [program_id])

    def programs(self) -> list[ProgramRow]:
        return self._db.records(ProgramRow, "FROM registration_programs ORDER BY created_at, program_id")

    # -- evaluation requests
    @staticmethod
    def insert_evaluation(con: Tx, row: EvaluationRow) -> None:
        insert(con, "registration_evaluations", row)

    @staticmethod
    def evaluation(con: Tx, request_id: str) -> EvaluationRow | None:
        """Read inside the caller's transaction: two registrations cannot both consume one evaluation."""
        found = con.execute(
            f"SELECT {columns(EvaluationRow)} FROM registration_evaluations WHERE request_id = ?", [request_id]
        ).fetchone()
        return EvaluationRow(*found) if found else None

    def evaluation_now(self, request_id: str) -> EvaluationRow | None:
        return self._db.record(EvaluationRow, "FROM registration_evaluations WHERE request_id = ?", [request_id])

    def pending(self, program_id: str, limit: int) -> list[EvaluationRow]:
        return self._db.records(
            EvaluationRow,
            "FROM registration_evaluations WHERE program_id = ? AND evaluated_at IS NULL AND refused IS NULL "
            "ORDER BY requested_at, request_id LIMIT ?",
            [program_id, limit],
        )

    def requests_since(self, program_id: str, partner: str, since: str) -> int:
        return int(
            self._db.value(
                "SELECT count(*) FROM registration_evaluations WHERE program_id = ? AND partner = ? AND requested_at > ?",
                [program_id, partner, since],
            )
        )

    @staticmethod
    def set_evaluated(con: Tx, request_id: str, evaluated: bytes, proof: bytes, at: str) -> None:
        con.execute(
            "UPDATE registration_evaluations SET evaluated = ?, proof = ?, evaluated_at = ? WHERE request_id = ?",
            [evaluated, proof, at, request_id],
        )

    @staticmethod
    def set_refused(con: Tx, request_id: str, reason: str) -> None:
        """The vendor's client would not evaluate it: the reason stays (the date is in the audit log), the element goes."""
        con.execute("UPDATE registration_evaluations SET refused = ?, blinded = NULL WHERE request_id = ?", [reason, request_id])

    @staticmethod
    def set_used(con: Tx, request_id: str, at: str) -> None:
        """A consumed request keeps its dates, for the audit; its elements are no longer needed, so they go."""
        con.execute(
            "UPDATE registration_evaluations SET used_at = ?, blinded = NULL, evaluated = NULL, proof = NULL WHERE request_id = ?",
            [at, request_id],
        )

    # -- registrations
    @staticmethod
    def insert_registration(con: Tx, row: RegistrationRow) -> None:
        insert(con, "registrations", row)

    @staticmethod
    def active_on(con: Tx, program_id: str, token: bytes, at: str) -> list[RegistrationRow]:
        """Active registrations on one token (not withdrawn, not expired at ``at``), oldest first."""
        found = con.execute(
            f"SELECT {columns(RegistrationRow)} FROM registrations WHERE program_id = ? AND token = ? "
            "AND withdrawn_at IS NULL AND expires_at > ? ORDER BY registered_at, registration_id",
            [program_id, token, at],
        ).fetchall()
        return [RegistrationRow(*r) for r in found]

    def registration(self, registration_id: str) -> RegistrationRow | None:
        return self._db.record(RegistrationRow, "FROM registrations WHERE registration_id = ?", [registration_id])

    def of_partner(self, partner: str, program_id: str | None) -> list[RegistrationRow]:
        where, params = ("AND program_id = ?", [partner, program_id]) if program_id else ("", [partner])
        return self._db.records(RegistrationRow, f"FROM registrations WHERE partner = ? {where} ORDER BY registered_at", params)

    @staticmethod
    def withdraw(con: Tx, registration_id: str, at: str) -> None:
        con.execute("UPDATE registrations SET withdrawn_at = ? WHERE registration_id = ?", [at, registration_id])

    def conflicted(self, program_id: str, at: str) -> list[RegistrationRow]:
        """Every active registration on a token that two or more partners hold actively at ``at``."""
        active = "program_id = ? AND withdrawn_at IS NULL AND expires_at > ?"
        return self._db.records(
            RegistrationRow,
            f"FROM registrations WHERE {active} AND token IN (SELECT token FROM registrations WHERE {active} "
            "GROUP BY token HAVING count(DISTINCT partner) > 1) ORDER BY token, registered_at, registration_id",
            [program_id, at, program_id, at],
        )
