"""Every reveal released to us, gathered across our agreements (for co-sell targets)."""

from __future__ import annotations

from cleanroom.errors import CleanroomError, InputError, RequestError
from cleanroom_client.features.reveal import Revealed, RevealError, fetch_revealed
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.agreements import verified_terms
from cleanroom_client.protocol.receipts import ReceiptLog
from cleanroom_client.remote import Remote


def collect(
    remote: Remote, profile: Profile, receipts: ReceiptLog | None = None, only: str | None = None
) -> tuple[list[Revealed], list[str]]:
    """Every reveal released to us under our active agreements, opened and joined back.

    With ``only``, that agreement must yield its reveal (its errors are raised);
    the others are still read, so that ecosystem depth counts every partner, and
    their problems become notes. A reveal that fails authentication is always
    an error: nothing is shown then.
    """

    agreements = {a.agreement_id: a for a in remote.list()}
    if only is not None and only not in agreements:
        agreements[only] = remote.get(only)  # raises NOT_FOUND / PERMISSION_DENIED clearly
    revealed: list[Revealed] = []
    notes: list[str] = []
    for agreement_id, agreement in agreements.items():
        terms = verified_terms(agreement)
        if not terms.reveal_granted(profile.party):
            if agreement_id == only:
                raise InputError(
                    f"the terms of agreement {only} grant you no account-level reveal (counts only); "
                    "propose terms with --reveal MINE:THEIRS to see co-sell targets"
                )
            continue
        if agreement.state != "active" and agreement_id != only:
            continue
        try:
            revealed.append(fetch_revealed(remote, profile, agreement, terms, receipts))
        except RevealError:
            raise
        except (RequestError, CleanroomError) as exc:
            if agreement_id == only:
                raise
            notes.append(f"{agreement_id} ({terms.other(profile.party)}): {exc}")
    if only is None and not revealed and not notes:
        raise InputError("none of your agreements grants you account-level reveal; propose terms with --reveal MINE:THEIRS")
    return revealed, notes
