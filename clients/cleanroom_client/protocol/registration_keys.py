"""A partner's per-program Ed25519 key for signing its evaluation requests (PROFILE/registrations/keys/PROGRAM.key).

Born on this machine the first time the partner asks for a check on the
program, 0600. The vendor's client pins its public half (on first use, or from
the fingerprint the partner reads out: ``registrations key PROGRAM``) and
evaluates only requests it signed; cleanroom.crypto.evaluation_signing says why.
One key per program, so programs of different vendors cannot link the partner's keys.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cleanroom.crypto.evaluation_signing import SignedRequest, sign_request, signing_fingerprint
from cleanroom.crypto.keyfiles import load_or_create_private
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.registration_state import program_file_name


class RegistrationKey:
    def __init__(self, profile: Profile, program_id: str) -> None:
        self.profile, self.program_id = profile, program_id
        self.path: Path = profile.path / "registrations" / "keys" / f"{program_file_name(program_id)}.key"

    def private(self) -> Ed25519PrivateKey:
        """The key, created (0600) on first use."""
        return load_or_create_private(self.path, Ed25519PrivateKey.generate, Ed25519PrivateKey, "Ed25519")

    def public(self) -> bytes:
        return self.private().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def fingerprint(self) -> str:
        """What the partner reads out to the vendor (``registrations program trust`` on the vendor's side)."""
        return signing_fingerprint(self.public())

    def sign(self, blinded: bytes) -> SignedRequest:
        return sign_request(self.private(), self.program_id, self.profile.party, blinded)
