"""Agreements as this client trusts them: terms checked against their hash, our key relayed as ours.

The coordinator relays terms and keys; nothing here believes it without a check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cleanroom.errors import FailedPrecondition, ProtocolError
from cleanroom.terms import Terms, amend_share, canonical_json, parse_terms, terms_hash
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.encryption import EncryptionKeys
from cleanroom_client.protocol.pins import SIGNING, PeerPins
from cleanroom_client.protocol.signing import SigningKeys
from cleanroom_client.remote import Agreement, Remote


def verified_terms(agreement: Agreement) -> Terms:
    """Parse terms after checking the coordinator did not alter them under their hash."""
    if terms_hash(agreement.terms_json) != agreement.terms_hash:
        raise ProtocolError(f"agreement {agreement.agreement_id}: the terms do not match their hash; refusing to use them")
    return parse_terms(agreement.terms_json)


def require_runnable(agreement: Agreement) -> None:
    """Fail before reading and blinding a file when the coordinator would refuse the run anyway.

    The coordinator stays the authority (it checks again); this only spares a
    user minutes of blinding and a second line of output.
    """
    if agreement.state == "revoked":
        raise FailedPrecondition(f"agreement {agreement.agreement_id} was revoked; no further runs")
    if agreement.state != "active":
        waiting = [p for p in (agreement.proposer, agreement.counterparty) if p not in agreement.approved_by]
        raise FailedPrecondition(f"agreement {agreement.agreement_id} is not approved yet (waiting for {', '.join(waiting)})")


def check_own_key(agreement: Agreement, party: str, keys: EncryptionKeys) -> None:
    """The coordinator must relay OUR key for us: otherwise the peer would seal to someone else."""
    relayed = agreement.key_of(party)
    if relayed is not None and (not keys.exists() or relayed != keys.public()):
        raise ProtocolError(
            f"agreement {agreement.agreement_id}: the coordinator relays an encryption key for you ({party}) that is not this "
            f"profile's key; the partner would seal its fields to it. Do not run this agreement; tell the coordinator's operator"
        )


def check_own_signing_key(agreement: Agreement, party: str, keys: SigningKeys) -> None:
    """The coordinator must relay OUR signing key for us: otherwise the peer would re-blind someone else's points."""
    relayed = agreement.signing_key_of(party)
    if relayed is not None and relayed != keys.public():
        raise ProtocolError(
            f"agreement {agreement.agreement_id}: the coordinator relays an upload-signing key for you ({party}) that is not "
            "this profile's key; the partner would trust uploads signed with it. Do not run this agreement; tell the "
            "coordinator's operator"
        )


def pinned_peer_signer(agreement: Agreement, peer: str, profile: Profile, keep: bool = True) -> bytes:
    """The key the peer signs its uploads with, pinned on first use (``keep``: see PeerPins.check);
    ProtocolError when it gave none or it changed."""
    public = agreement.signing_key_of(peer)
    if public is None:
        raise ProtocolError(
            f"agreement {agreement.agreement_id}: {peer} gave no key to sign its uploads with, so its points cannot be "
            f"told from points the coordinator made up; nothing was re-blinded. {peer} must approve the agreement again "
            "with a current cleanroom-client"
        )
    PeerPins(profile.path, SIGNING).check(peer, public, agreement.agreement_id, keep=keep)
    return public


def pin_peer(agreement: Agreement, peer: str, profile: Profile) -> str | None:
    """The peer's key fingerprint, pinned on first use (None while it has given no key)."""
    public = agreement.key_of(peer)
    return PeerPins(profile.path).check(peer, public, agreement.agreement_id) if public is not None else None


def _check_pins_before_approving(shown: Agreement, peer: str, profile: Profile) -> None:
    """A peer key that contradicts our pins is refused before the approval is recorded, not after (the
    agreement would be active while we report a failure); nothing is pinned here."""
    signing = shown.signing_key_of(peer)
    if signing is not None:
        PeerPins(profile.path, SIGNING).check(peer, signing, shown.agreement_id, keep=False)
    encryption = shown.key_of(peer)
    if encryption is not None:
        PeerPins(profile.path).check(peer, encryption, shown.agreement_id, keep=False)


def propose(remote: Remote, profile: Profile, counterparty: str, terms: dict[str, Any], reveals: bool) -> Agreement:
    """Propose ``terms`` (with our encryption key when they reveal accounts), and check what the coordinator recorded."""
    keys, signing = EncryptionKeys(profile.path), SigningKeys(profile.path)
    agreement = remote.propose(counterparty, canonical_json(terms), keys.public() if reveals else b"", signing.public())
    verified_terms(agreement)
    check_own_key(agreement, profile.party, keys)
    check_own_signing_key(agreement, profile.party, signing)
    return agreement


@dataclass(frozen=True)
class Approval:
    agreement: Agreement  # as the coordinator recorded it
    terms: Terms  # the terms shown before approving
    amended: bool  # we approved amended terms (our shared columns), which the peer must approve in turn
    reveals: bool
    peer_fingerprint: str | None


def approve(remote: Remote, profile: Profile, agreement_id: str, reviewed_hash: str | None, share: list[str] | None) -> Approval:
    """Approve the terms shown (or, with ``share``, those terms with our shared columns amended)."""
    shown = remote.get(agreement_id)
    terms = verified_terms(shown)  # we approve only terms we could check against their hash
    _check_pins_before_approving(shown, terms.other(profile.party), profile)
    expected = reviewed_hash or shown.terms_hash
    amended = amend_share(shown.terms_json, profile.party, share) if share is not None else shown.terms_json
    reveals = parse_terms(amended).reveals()
    keys, signing = EncryptionKeys(profile.path), SigningKeys(profile.path)
    public = keys.public() if reveals else b""
    if amended != shown.terms_json:
        agreement = remote.approve(
            agreement_id, expected, canonical_json({"share": share}), terms_hash(amended), public, signing.public()
        )
        if agreement.terms_json != amended:
            raise ProtocolError(f"agreement {agreement_id}: the coordinator recorded other terms than the amendment you approved")
    else:
        agreement = remote.approve(agreement_id, expected, encryption_public=public, signing_public=signing.public())
    verified_terms(agreement)
    check_own_signing_key(agreement, profile.party, signing)
    peer = terms.other(profile.party)
    if agreement.signing_key_of(peer) is not None:
        pinned_peer_signer(agreement, peer, profile)  # pinned now, while the terms are fresh in the user's eyes
    peer_fp = None
    if reveals:
        check_own_key(agreement, profile.party, keys)
        peer_fp = pin_peer(agreement, terms.other(profile.party), profile)
    return Approval(agreement, terms, amended != shown.terms_json, reveals, peer_fp)
