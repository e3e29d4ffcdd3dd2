"""A partner's per-program Ed25519 key for signing its evaluation requests (PROFILE/registrations/keys/PROGRAM.key).

Born on this machine the first time the partner asks for a check on the
program, 0600. The vendor's client pins its public half (on first use, or from
the fingerprint the partner reads out: ``registrations key PROGRAM``) and
evaluates only requests it signed; cleanroom.crypto.evaluation_signing says why.
One key per program, so programs of different vendors cannot link the partner's keys.
"""

from __future__ import annotations

from cleanroom.crypto.evaluation_signing import SignedRequest, sign_request
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.registration_state import program_file_name
from cleanroom_client.protocol.signing import Ed25519KeyFile


class RegistrationKey(Ed25519KeyFile):
    def __init__(self, profile: Profile, program_id: str) -> None:
        self.profile, self.program_id = profile, program_id
        super().__init__(profile.path / "registrations" / "keys" / f"{program_file_name(program_id)}.key")

    def sign(self, blinded: bytes) -> SignedRequest:
        return sign_request(self.private(), self.program_id, self.profile.party, blinded)
