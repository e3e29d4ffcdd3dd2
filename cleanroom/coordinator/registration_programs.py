"""Deal-registration programs and their OPRF evaluation queue (store and forward).

A vendor publishes a program: its public element K = k * G (k never leaves the
vendor's client), the partners allowed to register, how long a registration
lasts and what a conflicting partner is told. A partner queues a blinded
element; the vendor's client fetches the queue, evaluates and posts each
answer with a DLEQ proof, which is checked here against K before it is kept
(a vendor evaluating with another secret is refused, so one account cannot
get two tokens). Each request counts against the partner's daily allowance:
every evaluation lets a partner compute one token, so a partner testing a
dictionary of accounts is slowed down and every try is in the audit log.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
import secrets
from collections.abc import Callable, Collection
from typing import Any

from cleanroom import oprf
from cleanroom.coordinator.store import Store, now, time_text
from cleanroom.coordinator.store.registrations import EvaluationRow, ProgramRow
from cleanroom.crypto.evaluation_signing import REQUEST_ID, EvaluationStatement, statement_verifies
from cleanroom.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, ResourceExhausted

DEFAULT_EXPIRY_SECONDS = 90 * 86_400
MAX_EXPIRY_SECONDS = 5 * 365 * 86_400
DEFAULT_CHECKS_PER_DAY = 200
MAX_CHECKS_PER_DAY = 100_000
MAX_PARTNERS = 10_000
MAX_TITLE = 200
PAGE = 500


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def program_dict(row: ProgramRow) -> dict[str, Any]:
    return {
        "program_id": row.program_id,
        "vendor": row.vendor,
        "title": row.title,
        "program_public": bytes(row.program_public),
        "partners": json.loads(row.partners_json),
        "expiry_seconds": int(row.expiry_seconds),
        "reveal_date": bool(row.reveal_date),
        "reveal_holder": bool(row.reveal_holder),
        "max_checks_per_day": int(row.max_checks_per_day),
        "created_at": row.created_at,
    }


def evaluation_dict(row: EvaluationRow) -> dict[str, Any]:
    state = "used" if row.used_at else "refused" if row.refused else "evaluated" if row.evaluated_at else "pending"
    return {
        "request_id": row.request_id,
        "program_id": row.program_id,
        "partner": row.partner,
        "state": state,
        "blinded": bytes(row.blinded or b""),
        "evaluated": bytes(row.evaluated or b""),
        "proof": bytes(row.proof or b""),
        "requested_at": row.requested_at,
        "evaluated_at": row.evaluated_at or "",
        "signing_public": bytes(row.signing_public),
        "signature": bytes(row.signature),
        "signed_at": row.signed_at,
        "refused": row.refused or "",
    }


def _element(data: bytes, what: str) -> bytes:
    try:
        oprf.decode(data, what)
    except oprf.InvalidElement as exc:
        raise InvalidArgument(f"{exc}; nothing was changed") from None
    return data


def _check_terms(title: str, partners: list[str], expiry_seconds: int, max_checks_per_day: int) -> None:
    if not title.strip() or len(title) > MAX_TITLE:
        raise InvalidArgument(f"a program needs a title of 1 to {MAX_TITLE} characters")
    if not partners or len(partners) > MAX_PARTNERS or len(set(partners)) != len(partners):
        raise InvalidArgument(f"a program needs 1 to {MAX_PARTNERS:,} distinct partners")
    if not 1 <= expiry_seconds <= MAX_EXPIRY_SECONDS:
        raise InvalidArgument(f"registration expiry must be 1 second to 5 years, got {expiry_seconds} seconds")
    if not 1 <= max_checks_per_day <= MAX_CHECKS_PER_DAY:
        raise InvalidArgument(f"checks per partner per day must be 1 to {MAX_CHECKS_PER_DAY:,}, got {max_checks_per_day}")


class Programs:
    def __init__(self, store: Store, parties: Callable[[], Collection[str]] | None = None) -> None:
        self._store = store
        self._parties = parties

    def create(self, caller: str, title: str, program_public: bytes, partners: list[str], **terms: Any) -> dict[str, Any]:
        expiry = int(terms.get("expiry_seconds") or DEFAULT_EXPIRY_SECONDS)
        checks = int(terms.get("max_checks_per_day") or DEFAULT_CHECKS_PER_DAY)
        _check_terms(title, partners, expiry, checks)
        _element(program_public, "program public element")
        if caller in partners:
            raise InvalidArgument("the vendor cannot be a partner of its own program")
        if self._parties is not None:
            unknown = sorted(set(partners) - set(self._parties()))
            if unknown:
                raise NotFound(f"no party named {unknown[0]!r} is enrolled at this coordinator (nothing was created)")
        row = ProgramRow(
            new_id("prg"), caller, title, program_public, json.dumps(sorted(partners)), expiry,
            bool(terms.get("reveal_date")), bool(terms.get("reveal_holder")), checks, now(),
        )  # fmt: skip
        details = program_dict(row)
        details["program_public"] = bytes(program_public).hex()
        with self._store.transaction() as con:
            self._store.registrations.insert_program(con, row)
            self._store.audit(con, caller, "registration.program_created", None, details)
        return program_dict(row)

    def load(self, caller: str, program_id: str) -> ProgramRow:
        """The program, if the caller runs it or is one of its partners (else NOT_FOUND: its existence is not told)."""
        row = self._store.registrations.program(program_id)
        if row is None or (caller != row.vendor and caller not in json.loads(row.partners_json)):
            raise NotFound(f"no registration program {program_id!r} that you run or are a partner of")
        return row

    def owned(self, caller: str, program_id: str) -> ProgramRow:
        row = self.load(caller, program_id)
        if row.vendor != caller:
            raise PermissionDenied(f"only {row.vendor}, who runs program {program_id}, may do this")
        return row

    def partner_of(self, caller: str, program_id: str) -> ProgramRow:
        row = self.load(caller, program_id)
        if caller not in json.loads(row.partners_json):
            raise PermissionDenied(f"only the partners of program {program_id} register on it; you run it")
        return row

    def list(self, caller: str) -> builtins.list[dict[str, Any]]:
        return [
            program_dict(r)
            for r in self._store.registrations.programs()
            if caller == r.vendor or caller in json.loads(r.partners_json)
        ]

    def request(
        self, caller: str, program_id: str, blinded: bytes, request_id: str, signing_public: bytes, signature: bytes,
        signed_at: str,
    ) -> dict[str, Any]:  # fmt: skip
        """Queue a partner's signed request. The signature is checked here too (an honest coordinator queues nothing
        the vendor's client would refuse), but the vendor's client checks it again against the key it pinned."""
        program = self.partner_of(caller, program_id)
        _element(blinded, "blinded element")
        if not REQUEST_ID.match(request_id):
            raise InvalidArgument(f"request id {request_id[:80]!r} is not 'evr_' and 32 hex digits; nothing was queued")
        statement = EvaluationStatement(program_id, caller, request_id, blinded, signed_at)
        if len(signed_at) > 40 or not statement_verifies(signing_public, statement, signature):
            raise InvalidArgument(
                f"the request is not signed by the key it carries (program {program_id}, request {request_id}); "
                "the vendor's client would refuse it, so nothing was queued"
            )
        if self._store.registrations.evaluation_now(request_id) is not None:
            raise FailedPrecondition(f"request {request_id} exists already; nothing was queued")
        at = dt.datetime.now(dt.UTC)
        used = self._store.registrations.requests_since(program_id, caller, time_text(at - dt.timedelta(days=1)))
        if used >= program.max_checks_per_day:
            raise ResourceExhausted(
                f"program {program_id} allows {program.max_checks_per_day} checks per partner in 24 hours and you have "
                "used them; try again later or ask the vendor to raise the limit"
            )
        row = EvaluationRow(
            request_id, program_id, caller, blinded, None, None, time_text(at), None, None, signing_public, signature, signed_at
        )
        with self._store.transaction() as con:
            self._store.registrations.insert_evaluation(con, row)
            self._store.audit(
                con, caller, "registration.evaluation_requested", None,
                {"program_id": program_id, "request_id": row.request_id, "checks_in_24h": used + 1},
            )  # fmt: skip
        return evaluation_dict(row)

    def get(self, caller: str, request_id: str) -> dict[str, Any]:
        row = self._store.registrations.evaluation_now(request_id)
        if row is None or row.partner != caller:
            raise NotFound(f"no evaluation request {request_id!r} of yours")
        return evaluation_dict(row)

    def pending(self, caller: str, program_id: str, limit: int) -> builtins.list[dict[str, Any]]:
        self.owned(caller, program_id)
        size = min(limit or PAGE, PAGE)
        return [evaluation_dict(r) for r in self._store.registrations.pending(program_id, size)]

    def post(
        self, caller: str, program_id: str, answers: builtins.list[tuple[str, bytes, bytes, str]]
    ) -> builtins.list[dict[str, Any]]:
        """Keep the vendor's evaluations (or refusals), each checked first: a bad one refuses the whole post."""
        program = self.owned(caller, program_id)
        if len(answers) > PAGE:
            raise InvalidArgument(f"at most {PAGE} evaluations per call, got {len(answers)}")
        at, kept, refused = now(), [], {}
        with self._store.transaction() as con:
            for request_id, evaluated, proof, reason in answers:
                row = self._store.registrations.evaluation(con, request_id)
                if row is None or row.program_id != program_id:
                    raise NotFound(f"no evaluation request {request_id!r} on program {program_id}; nothing was kept")
                if row.evaluated_at is not None or row.refused or row.blinded is None:
                    raise FailedPrecondition(f"request {request_id} was answered already; nothing was kept")
                if reason:
                    self._store.registrations.set_refused(con, request_id, reason[:500])
                    refused[request_id] = reason[:500]
                    continue
                _element(evaluated, "evaluated element")
                if not oprf.verify(bytes(program.program_public), bytes(row.blinded), evaluated, proof):
                    raise InvalidArgument(
                        f"the proof for request {request_id} does not match program {program_id}'s published element: "
                        "the evaluation used another secret; nothing was kept"
                    )
                self._store.registrations.set_evaluated(con, request_id, evaluated, proof, at)
                kept.append(request_id)
            self._store.audit(con, caller, "registration.evaluated", None, {"program_id": program_id, "request_ids": kept})
            if refused:
                self._store.audit(con, caller, "registration.refused", None, {"program_id": program_id, "refused": refused})
        return [self.get_any(r) for r in [*kept, *refused]]

    def get_any(self, request_id: str) -> dict[str, Any]:
        row = self._store.registrations.evaluation_now(request_id)
        assert row is not None
        return evaluation_dict(row)

    def consume(self, con: Any, caller: str, program_id: str, request_id: str, at: str) -> None:
        """Mark an evaluated request of the caller's as used by a registration (inside the caller's transaction)."""
        row = self._store.registrations.evaluation(con, request_id)
        if row is None or row.partner != caller or row.program_id != program_id:
            raise NotFound(f"no evaluation request {request_id!r} of yours on program {program_id}")
        if row.refused:
            raise FailedPrecondition(f"the vendor's client refused request {request_id}: {row.refused}")
        if row.evaluated_at is None:
            raise FailedPrecondition(f"request {request_id} is still waiting for the vendor's evaluation")
        if row.used_at is not None:
            raise FailedPrecondition(f"request {request_id} was used by a registration already; request a new evaluation")
        self._store.registrations.set_used(con, request_id, at)
