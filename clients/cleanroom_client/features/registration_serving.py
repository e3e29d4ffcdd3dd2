"""The vendor's side of deal registration: evaluate the partners' queued requests, each one checked first.

Used by ``registrations program serve``, by ``sync`` and by the agent's every
cycle, so partners do not wait for a person. Each request is admitted or
refused by the vendor's own book (protocol/registration_trust.py: the
partner's pinned signing key, replays, the daily limit); a refused request is
answered with its reason, so the coordinator learns no evaluation of it and the
partner learns why. Every evaluation and refusal goes into the receipts.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cleanroom import oprf
from cleanroom.errors import CleanroomError, ProtocolError, ResourceExhausted
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.receipts import ReceiptLog
from cleanroom_client.protocol.registration_state import program_secret, secret_path
from cleanroom_client.protocol.registration_trust import VendorBook
from cleanroom_client.remote import CoordinatorUnavailable, Remote
from cleanroom_client.remote.registrations import Program


@dataclass
class Served:
    """What one pass over a program's queue did."""

    program_id: str
    evaluated: Counter[str] = field(default_factory=Counter)  # per partner
    refused: list[dict[str, str]] = field(default_factory=list)  # request_id, partner, reason
    pinned: dict[str, str] = field(default_factory=dict)  # partner -> fingerprint pinned on first use

    def add(self, other: Served) -> None:
        self.evaluated.update(other.evaluated)
        self.refused += other.refused
        self.pinned |= other.pinned

    def view(self) -> dict[str, Any]:
        return {
            "program_id": self.program_id, "evaluated": dict(self.evaluated), "total": sum(self.evaluated.values()),
            "refused": self.refused, "pinned": self.pinned,
        }  # fmt: skip


def serve_once(remote: Remote, profile: Profile, program: Program) -> Served:
    """Answer every request pending now on ``program`` (a page at a time); the secret is checked first."""
    k = program_secret(profile, program.program_id, program.program_public)
    served, receipts, seen = Served(program.program_id), ReceiptLog.of(profile), set[str]()
    while pending := [r for r in remote.registrations.pending(program.program_id) if r.request_id not in seen]:
        # (a request answered but shown again by a coordinator that kept no answer is not looked at twice)
        seen.update(r.request_id for r in pending)
        book, answers, notes = VendorBook(profile), [], []
        for request in pending:
            at = dt.datetime.now(dt.UTC)
            verdict = book.admit(program, request, at)
            if verdict.pinned:
                served.pinned[request.partner] = verdict.pinned
            note = {"program_id": program.program_id, "request_id": request.request_id, "partner": request.partner}
            if verdict.refused:
                answers.append((request.request_id, b"", b"", verdict.refused))
                served.refused.append({"request_id": request.request_id, "partner": request.partner, "reason": verdict.refused})
                notes.append(note | {"outcome": "refused", "reason": verdict.refused})
                continue
            evaluated = oprf.evaluate(k, request.blinded)
            answers.append((request.request_id, evaluated, oprf.prove(k, request.blinded, evaluated), ""))
            served.evaluated[request.partner] += 1
            notes.append(note | {"outcome": "evaluated", "at": at.isoformat(timespec="seconds")})
        # The book first: a request recorded as evaluated but not posted is refused as a replay later (safe);
        # posted but not recorded would let it be evaluated twice against the limit.
        book.save()
        remote.registrations.post(program.program_id, answers)
        for note in notes:
            receipts.record_evaluation(note)
    return served


def vendor_programs(remote: Remote, profile: Profile) -> list[Program]:
    """The programs this party runs and holds the secret of (those it can serve)."""
    return [p for p in remote.registrations.programs() if p.vendor == profile.party and _held(profile, p.program_id)]


def _held(profile: Profile, program_id: str) -> bool:
    try:
        return secret_path(profile, program_id).exists()
    except ProtocolError:
        return True  # not a program id: kept, so that serving it fails loudly (serve_all reports it)


def serve_all(remote: Remote, profile: Profile) -> list[Served | tuple[str, CleanroomError]]:
    """One pass over every program this party serves (``sync`` and the agent): what each did, or why it failed
    (one program's trouble, a secret that does not match, does not stop the others)."""
    done: list[Served | tuple[str, CleanroomError]] = []
    for program in vendor_programs(remote, profile):
        try:
            done.append(serve_once(remote, profile, program))
        except (CoordinatorUnavailable, ResourceExhausted):
            raise  # the whole pass waits (the agent backs off)
        except CleanroomError as exc:
            done.append((program.program_id, exc))
    return done
