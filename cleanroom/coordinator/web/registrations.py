"""A vendor's deal-registration program as REST reads it: conflict counts only.

The coordinator holds tokens, not accounts: which accounts conflict is for the
vendor's client to say (it computes the tokens of its own accounts with the
program's secret: ``registrations program conflicts --file``). Here, the
counts: how many accounts two or more partners hold active registrations on,
and how many registrations that makes. Only the program's vendor (or an admin)
reads them; a partner's key is refused, as a party outside an agreement is.
"""

from __future__ import annotations

from typing import Any

from cleanroom.coordinator.store.connection import now
from cleanroom.coordinator.store.reads import WebReads
from cleanroom.coordinator.web.access import Denied
from cleanroom.coordinator.web.auth import Principal
from cleanroom.errors import NotFound


def program_conflicts(reads: WebReads, p: Principal, program_id: str) -> dict[str, Any]:
    program = reads.registration_program(program_id)
    if program is None:
        raise NotFound(f"registration program {program_id!r} does not exist")
    if not p.is_admin and p.party != program.vendor:
        raise Denied(f"only {program.vendor}, who runs program {program_id}, reads its conflicts; not {p.party!r}")
    at = now()
    conflicted = reads.conflicted_registrations(program_id, at)
    return {
        "program_id": program_id,
        "vendor": program.vendor,
        "title": program.title,
        "as_of": at,
        "conflicts": len({bytes(r.token) for r in conflicted}),
        "registrations_in_conflict": len(conflicted),
    }
