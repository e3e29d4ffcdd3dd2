"""Deal registrations: register by token, the conflict check, withdrawal, expiry, and the vendor's conflict list.

A token is the OPRF output of an account under the program's secret
(registration_programs.py): the same account gives the same token to every
partner, and nobody without the vendor's secret can compute one. A
registration conflicts when another partner holds an active one (not
withdrawn, not expired) on the same token. The registering partner learns
yes or no, and the other's date and holder only if the program says so; the
vendor learns the conflicts on its program, labelled by the tokens of its own
accounts that it sends (it can compute those), and the rest only as a count.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections import defaultdict
from typing import Any

from cleanroom import oprf
from cleanroom.coordinator.registration_programs import Programs, new_id
from cleanroom.coordinator.store import Store, time_text
from cleanroom.coordinator.store.registrations import RegistrationRow
from cleanroom.errors import FailedPrecondition, InvalidArgument, NotFound

MAX_LABEL_TOKENS = 50_000  # per Conflicts call (1.6 MB of tokens); the client sends larger CRMs in batches


def registration_dict(row: RegistrationRow, at: str) -> dict[str, Any]:
    state = "withdrawn" if row.withdrawn_at else "expired" if row.expires_at <= at else "active"
    return {
        "registration_id": row.registration_id,
        "program_id": row.program_id,
        "partner": row.partner,
        "registered_at": row.registered_at,
        "expires_at": row.expires_at,
        "state": state,
        "withdrawn_at": row.withdrawn_at or "",
        "conflict": bool(row.conflict),
    }


class Registrations:
    def __init__(self, store: Store, programs: Programs) -> None:
        self._store = store
        self._programs = programs

    def register(self, caller: str, program_id: str, request_id: str, token: bytes) -> dict[str, Any]:
        """Check the token against the other partners' active registrations, then record the caller's (a conflicting
        one too: the vendor sees both). Audited twice: the check (with its answer) and the registration."""
        program = self._programs.partner_of(caller, program_id)
        if len(token) != oprf.TOKEN_SIZE:
            raise InvalidArgument(f"a registration token is {oprf.TOKEN_SIZE} bytes, got {len(token)}")
        moment = dt.datetime.now(dt.UTC)
        at = time_text(moment)
        expires = time_text(moment + dt.timedelta(seconds=int(program.expiry_seconds)))
        with self._store.transaction() as con:
            active = self._store.registrations.active_on(con, program_id, token, at)
            if any(r.partner == caller for r in active):
                mine = next(r for r in active if r.partner == caller)
                raise FailedPrecondition(
                    f"you hold an active registration on this account already ({mine.registration_id}, "
                    f"until {mine.expires_at}); withdraw it first to register again"
                )
            self._programs.consume(con, caller, program_id, request_id, at)
            row = RegistrationRow(new_id("reg"), program_id, caller, token, at, expires, None, bool(active))
            self._store.registrations.insert_registration(con, row)
            first = active[0] if active else None
            answer = {
                "conflict": first is not None,
                "other_registered_at": first.registered_at if first and program.reveal_date else "",
                "other_holder": first.partner if first and program.reveal_holder else "",
            }
            check = {"program_id": program_id, "request_id": request_id, **answer}
            self._store.audit(con, caller, "registration.checked", None, check)
            self._store.audit(
                con, caller, "registration.registered", None,
                {"program_id": program_id, "registration_id": row.registration_id, "expires_at": expires, "conflict": bool(active)},
            )  # fmt: skip
        return {"registration": registration_dict(row, at), **answer}

    def list(self, caller: str, program_id: str) -> builtins.list[dict[str, Any]]:
        if program_id:
            self._programs.load(caller, program_id)
        at = time_text(dt.datetime.now(dt.UTC))
        return [registration_dict(r, at) for r in self._store.registrations.of_partner(caller, program_id or None)]

    def withdraw(self, caller: str, registration_id: str) -> dict[str, Any]:
        row = self._store.registrations.registration(registration_id)
        if row is None or row.partner != caller:
            raise NotFound(f"no registration {registration_id!r} of yours")
        at = time_text(dt.datetime.now(dt.UTC))
        if row.withdrawn_at is not None:
            raise FailedPrecondition(f"registration {registration_id} was withdrawn already, at {row.withdrawn_at}")
        with self._store.transaction() as con:
            self._store.registrations.withdraw(con, registration_id, at)
            self._store.audit(
                con, caller, "registration.withdrawn", None,
                {"program_id": row.program_id, "registration_id": registration_id, "was": registration_dict(row, at)["state"]},
            )  # fmt: skip
        withdrawn = self._store.registrations.registration(registration_id)
        assert withdrawn is not None
        return registration_dict(withdrawn, at)

    def conflicts(self, caller: str, program_id: str, tokens: builtins.list[bytes]) -> dict[str, Any]:
        """The vendor's view: every conflict among the tokens it sent (its own accounts), with its holders, and the
        number of conflicts on the program in all. Audited with the counts."""
        self._programs.owned(caller, program_id)
        if len(tokens) > MAX_LABEL_TOKENS:
            raise InvalidArgument(f"at most {MAX_LABEL_TOKENS:,} tokens per call, got {len(tokens):,}: send them in batches")
        if any(len(t) != oprf.TOKEN_SIZE for t in tokens):
            raise InvalidArgument(f"every token is {oprf.TOKEN_SIZE} bytes")
        at = time_text(dt.datetime.now(dt.UTC))
        by_token: dict[bytes, list[RegistrationRow]] = defaultdict(list)
        for row in self._store.registrations.conflicted(program_id, at):
            by_token[bytes(row.token)].append(row)
        sent = set(tokens)
        labelled = [{"token": token, "holders": [_holder(r) for r in rows]} for token, rows in by_token.items() if token in sent]
        self._store.audit_now(
            caller, "registration.conflicts_read", None,
            {"program_id": program_id, "tokens_sent": len(sent), "labelled": len(labelled), "total_conflicts": len(by_token)},
        )  # fmt: skip
        return {"labelled": labelled, "total_conflicts": len(by_token)}


def _holder(row: RegistrationRow) -> dict[str, str]:
    return {
        "partner": row.partner,
        "registration_id": row.registration_id,
        "registered_at": row.registered_at,
        "expires_at": row.expires_at,
    }
