"""Who may read what: the role rule and the party rules, shared by the API's dependencies and the pages.

- A role opens a kind of read: ``analyst`` releases, ``auditor`` the audit
  trail; ``admin`` opens both.
- A party reads only agreements it is in, and only its own releases; an
  admin reads any agreement and names the viewer whose releases it reads.
Every refusal names what would have been allowed.
"""

from __future__ import annotations

from cleanroom.coordinator.store.reads import WebReads
from cleanroom.coordinator.store.records import AgreementRow
from cleanroom.coordinator.web.auth import Principal
from cleanroom.errors import InvalidArgument, NotFound, PermissionDenied


class Denied(PermissionDenied):
    """A permission denial, with the agreement it concerned (for the audit entry)."""

    def __init__(self, message: str, agreement_id: str | None = None) -> None:
        super().__init__(message)
        self.agreement_id = agreement_id


def check_role(p: Principal, role: str, what: str) -> None:
    """Denied unless the key has ``role`` (or is an admin key); ``what`` says what was refused."""
    if p.role != role and not p.is_admin:
        raise Denied(f"an {p.role} key cannot {what}; that takes a key with role {role} (or admin)")


def check_admin(p: Principal, what: str) -> None:
    if not p.is_admin:
        raise Denied(f"an {p.role} key cannot {what}; that takes an admin key")


def agreement_for(reads: WebReads, p: Principal, agreement_id: str) -> AgreementRow:
    """The agreement, if it exists (NOT_FOUND) and the caller's party is in it (or the caller is an admin)."""
    row = reads.agreement(agreement_id)
    if row is None:
        raise NotFound(f"agreement {agreement_id!r} does not exist")
    if not p.is_admin and p.party not in row.parties:
        raise Denied(f"party {p.party!r} is not a party to agreement {agreement_id}", agreement_id)
    return row


def viewer_for(p: Principal, viewer: str | None, agreement: AgreementRow | None = None) -> str:
    """Whose releases to read: the caller's party; an admin may name any party (of the agreement, if one)."""
    viewer = viewer or p.party
    if not viewer:
        raise InvalidArgument("this admin key belongs to no party: name the viewer (viewer=PARTY)")
    if viewer != p.party and not p.is_admin:
        raise Denied(
            f"a key of {p.party} reads only {p.party}'s releases, not {viewer}'s",
            agreement.agreement_id if agreement else None,
        )
    if agreement is not None and viewer not in agreement.parties:
        raise InvalidArgument(f"{viewer!r} is not a party to agreement {agreement.agreement_id}")
    return viewer
