"""What deal registration keeps on the party's machine: the program secret's check, and the partner's pins."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cleanroom import oprf
from cleanroom.errors import InputError, ProtocolError
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.registration_state import PartnerState, SecretMismatch, program_secret, save_secret


def _profile(tmp_path: Path) -> Profile:
    return Profile(tmp_path, "acme", "127.0.0.1:1")


def test_the_program_secret_is_used_only_against_its_published_element(tmp_path: Path) -> None:
    profile = _profile(tmp_path)
    k = oprf.new_secret()
    path = save_secret(profile, "prg_0000000000000001", k)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert program_secret(profile, "prg_0000000000000001", oprf.public_key(k)) == k
    with pytest.raises(SecretMismatch, match="does not match program prg_0000000000000001"):
        program_secret(profile, "prg_0000000000000001", oprf.public_key(oprf.new_secret()))
    with pytest.raises(InputError, match="no secret for program prg_0000000000000002"):
        program_secret(profile, "prg_0000000000000002", oprf.public_key(k))


def test_a_partner_holds_the_coordinator_to_the_element_it_saw_first(tmp_path: Path) -> None:
    profile = _profile(tmp_path)
    first, other = oprf.public_key(oprf.new_secret()), oprf.public_key(oprf.new_secret())
    state = PartnerState(profile)
    state.pin("prg_0000000000000001", first)
    state.save()
    again = PartnerState(profile)  # as a later run reads it
    again.pin("prg_0000000000000001", first)
    with pytest.raises(ProtocolError, match="published element changed"):
        again.pin("prg_0000000000000001", other)
    again.pin("prg_0000000000000002", other)  # another program: its own pin
