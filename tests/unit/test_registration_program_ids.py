"""A deviating coordinator may name a program with a path (``../programs/prg_...``) to reach a real program's
secret file under a program of its own making, whose partners, limit and first-use pins the vendor's client
would then take from it: the vendor's agent would evaluate the coordinator's guesses with the real secret.

The stand-in below is that coordinator (the adversary: it answers as the real one never would). The
vendor's profile, its secret file, the signatures and the serving code are the real ones. Whether the
coordinator got an evaluation is decided independently: it gets k * B for its own B only if an answer it
received carries a non-empty element.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cleanroom import oprf
from cleanroom.crypto.evaluation_signing import EvaluationStatement, new_request_id
from cleanroom.errors import CleanroomError
from cleanroom_client.features.registration_serving import serve_all
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.registration_keys import RegistrationKey
from cleanroom_client.protocol.registration_state import save_secret, secret_path
from cleanroom_client.remote.registrations import Evaluation, Program

REAL = "prg_0123456789abcdef"
FAKE = f"../programs/{REAL}"


@dataclass
class HostileRegistrations:
    program: Program
    queue: list[Evaluation]
    posted: list[tuple[str, bytes, bytes, str]] = field(default_factory=list)

    def programs(self) -> list[Program]:
        return [self.program]

    def pending(self, program_id: str, limit: int = 0) -> list[Evaluation]:
        return self.queue if not self.posted else []

    def post(self, program_id: str, answers: list[tuple[str, bytes, bytes, str]]) -> list[Any]:
        self.posted += answers
        return []


@dataclass
class HostileRemote:
    registrations: HostileRegistrations


def _guess(key: Ed25519PrivateKey, program_id: str) -> Evaluation:
    """The coordinator's own guess, blinded for the real program and signed by a key of its own."""
    blinded = oprf.blind(b"domain:target.com", f"cleanroom/registrations/{REAL}".encode()).element
    request_id, at = new_request_id(), dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    signature = EvaluationStatement(program_id, "mallory", request_id, blinded, at).sign(key)
    public = key.public_key().public_bytes_raw()
    return Evaluation(request_id, program_id, "mallory", "pending", blinded, b"", b"", at, "", public, signature, at, "")


def test_a_program_named_by_a_path_gets_no_evaluation_with_another_programs_secret(tmp_path: Path) -> None:
    profile = Profile(tmp_path, "vendor", "x:1")
    k = oprf.new_secret()
    save_secret(profile, REAL, k)
    fake = Program(FAKE, "vendor", "deals", oprf.public_key(k), ("mallory",), 86_400, False, False, 100_000, "")
    remote = HostileRemote(HostileRegistrations(fake, [_guess(Ed25519PrivateKey.generate(), FAKE)]))
    done = serve_all(remote, profile)  # type: ignore[arg-type]
    assert not any(evaluated for _, evaluated, _, _ in remote.registrations.posted)
    assert [(p, "not a program id" in str(e)) for p, e in done] == [(FAKE, True)]  # type: ignore[misc]


@pytest.mark.parametrize("program_id", [FAKE, "prg_x/../../../x", "/etc/passwd", "prg_0123456789abcdef/"])
def test_a_program_id_that_is_not_one_is_refused_before_any_file_is_touched(tmp_path: Path, program_id: str) -> None:
    profile = Profile(tmp_path, "partner", "x:1")
    with pytest.raises(CleanroomError, match="not a program id"):
        secret_path(profile, program_id)
    with pytest.raises(CleanroomError, match="not a program id"):
        RegistrationKey(profile, program_id)
