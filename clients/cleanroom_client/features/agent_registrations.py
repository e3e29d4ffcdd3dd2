"""The agent's deal-registration step: serve the partners' queued checks on every program this party runs.

One JSON line per action (agent_log.py): ``registrations evaluated`` per program that had requests, one
``registrations refused`` line per refused request (with its reason: someone should look), one
``registrations pinned`` line per partner key pinned on first use (its fingerprint, to compare with the
partner), and ``registrations error`` for a program that could not be served (its secret missing or
mismatched). The coordinator unreachable is raised, for the cycle to back off.
"""

from __future__ import annotations

from cleanroom_client.features.agent_log import ActionLog
from cleanroom_client.features.registration_serving import Served, serve_all
from cleanroom_client.profile import Profile
from cleanroom_client.remote import Remote


def serve_registrations(remote: Remote, profile: Profile, log: ActionLog) -> list[Served]:
    """One pass over every program served here; what each did (logged)."""
    served = []
    for done in serve_all(remote, profile):
        if not isinstance(done, Served):
            log.emit("registrations", "error", program_id=done[0], error=str(done[1]))
            continue
        served.append(done)
        for partner, fingerprint in done.pinned.items():
            log.emit("registrations", "pinned", program_id=done.program_id, partner=partner, fingerprint=fingerprint)
        for r in done.refused:
            log.emit("registrations", "refused", program_id=done.program_id, **r)
        if done.evaluated:
            log.emit(
                "registrations", "evaluated", program_id=done.program_id, evaluated=dict(done.evaluated),
                total=sum(done.evaluated.values()),
            )  # fmt: skip
    return served
