"""This party's Ed25519 key for signing its uploads (DIR/upload-signing.key, 0600, born on this machine).

Its public half goes with every proposal and approval; the partner pins it and
re-blinds only points whose upload statement it signed
(cleanroom.crypto.upload_signing says why).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cleanroom.crypto.keyfiles import load_or_create_private
from cleanroom.crypto.upload_signing import UploadStatement, changes_digest, signing_fingerprint
from cleanroom_client.profile import Profile
from cleanroom_client.remote import UploadRequest

KEY_FILE = "upload-signing.key"


class Ed25519KeyFile:
    """An Ed25519 key born on this machine at ``path`` (0600, on first use), and its public half."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def private(self) -> Ed25519PrivateKey:
        return load_or_create_private(self.path, Ed25519PrivateKey.generate, Ed25519PrivateKey, "Ed25519")

    def public(self) -> bytes:
        return self.private().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def fingerprint(self) -> str:
        """What a party reads out to the other side to pin the key by."""
        return signing_fingerprint(self.public())


class SigningKeys(Ed25519KeyFile):
    def __init__(self, profile_dir: Path) -> None:
        super().__init__(Path(profile_dir) / KEY_FILE)

    def sign(self, statement: UploadStatement) -> bytes:
        return self.private().sign(statement.message())


@dataclass(frozen=True)
class UploadSigner:
    """Signs this party's upload requests (what its partner checks before re-blinding them)."""

    profile: Profile

    @classmethod
    def of(cls, profile: Profile) -> UploadSigner:
        return cls(profile)

    @property
    def party(self) -> str:
        return self.profile.party

    @property
    def keys(self) -> SigningKeys:
        return SigningKeys(self.profile.path)

    def sign(self, request: UploadRequest) -> UploadRequest:
        """The request with our signature over its statement."""
        statement = UploadStatement.of_upload(
            request.agreement_id,
            request.terms_hash,
            self.party,
            request.kind.value,
            request.purpose,
            (request.total_points, request.total_chunks),
            (request.upload_digest, request.points_digest),
            (request.canary_scalar, request.canary_positions),
            (request.run_id, request.of_upload_id),
            changes_digest(
                request.base_run_id,
                request.secret_tag,
                request.removed_labels,
                request.changed_labels,
                request.changed_populations,
            ),
        )
        return dataclasses.replace(request, party_signature=self.keys.sign(statement))
