"""What a party announces when it begins an upload, and the check of the signature it carries."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from cleanroom.coordinator.agreements import Agreement
from cleanroom.coordinator.store.records import UploadChanges
from cleanroom.crypto.upload_signing import UploadStatement, changes_digest, signing_fingerprint, statement_verifies
from cleanroom.errors import FailedPrecondition, InvalidArgument


@dataclass(frozen=True)
class UploadAnnouncement:
    """What a party announces when it begins an upload (the BeginUpload request, in our types)."""

    agreement_id: str
    terms_hash: str  # the terms the caller ran under
    kind: str  # OWN or REBLINDED
    total_points: int
    total_chunks: int
    digest: str  # hex SHA-256 over the chunk digests
    total_accounts: int = 0  # OWN
    run_id: str = ""  # REBLINDED: the run, and the peer upload re-blinded
    of_upload_id: str = ""
    purpose: str = "overlap"
    canary_scalar: bytes = b""  # OWN: the canaries hidden among the points
    canary_positions: bytes = b""
    party_signature: bytes = b""  # over the upload statement, with the key the party gave the agreement
    points_digest: str = ""  # of the points alone, named in the statement
    # OWN uploads to a continuous agreement (cleanroom.coordinator.standing): what they change.
    base_run_id: str = ""
    secret_tag: str = ""
    removed_labels: bytes = b""
    changed_labels: bytes = b""
    changed_populations: bytes = b""
    value_public: bytes = b""  # OWN uploads granted pipeline value: the viewer's EC-ElGamal key (value_sums.py)

    @property
    def changes(self) -> UploadChanges:
        return UploadChanges(
            self.base_run_id, self.secret_tag, self.removed_labels, self.changed_labels, self.changed_populations
        )

    def names_changes(self) -> bool:
        return any(dataclasses.astuple(self.changes))

    def statement(self, party: str) -> UploadStatement:
        return UploadStatement.of_upload(
            self.agreement_id,
            self.terms_hash,
            party,
            self.kind,
            self.purpose,
            (self.total_points, self.total_chunks),
            (self.digest, self.points_digest),
            (self.canary_scalar, self.canary_positions),
            (self.run_id, self.of_upload_id),
            changes_digest(*dataclasses.astuple(self.changes)),
        )


def check_signature(caller: str, agreement: Agreement, a: UploadAnnouncement) -> None:
    """A party that gave the agreement a signing key signs every upload with it; refused before anything is stored.

    Not what protects the partner (its client checks the signature itself before re-blinding, since a
    deviating coordinator would skip this); it turns a broken or forged upload into an error at once
    rather than a run the partner then refuses.
    """
    key = agreement.signing_key(caller)
    if key is None:
        if a.party_signature:
            raise FailedPrecondition(
                f"you signed the upload but gave agreement {agreement.agreement_id} no signing key; approve it again with this client"
            )
        return  # a party that approved with an older client: its partner's client refuses to re-blind, and says why
    if len(a.points_digest) != 64:
        raise InvalidArgument(
            "points_digest must be the hex SHA-256 of the upload's points: the statement you sign names it, and your "
            "partner re-blinds nothing it cannot recompute"
        )
    if not statement_verifies(key, a.statement(caller), a.party_signature):
        raise InvalidArgument(
            f"the upload's signature does not verify against the signing key you gave agreement {agreement.agreement_id} "
            f"({signing_fingerprint(key)}); it must sign exactly this upload's statement with that key"
        )
