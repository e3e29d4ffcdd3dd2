"""The client's keystore: one secret scalar per agreement, in a 0600 file."""

from __future__ import annotations

import json
import os
import stat

import pytest

from cleanroom_client.protocol.keystore import Keystore


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def path(tmp_path):
    return tmp_path / "profile" / "keystore.json"


@pytest.fixture(autouse=True)
def permissive_umask():
    # A lax umask must not leak into the keystore's mode.
    old = os.umask(0o002)
    yield
    os.umask(old)


def test_created_with_mode_0600(path):
    path.parent.mkdir()
    assert not path.exists()
    Keystore(path).secret("agr_1")
    assert path.exists()
    assert _mode(path) == 0o600
    # no temporary file left behind
    assert sorted(p.name for p in path.parent.iterdir()) == ["keystore.json"]


def test_one_distinct_32_byte_secret_per_agreement(path):
    ks = Keystore(path)
    secrets = {agr: ks.secret(agr) for agr in ("agr_1", "agr_2", "agr_3")}
    assert all(isinstance(s, bytes) and len(s) == 32 for s in secrets.values())
    assert len(set(secrets.values())) == 3
    assert ks.secret("agr_2") == secrets["agr_2"]
    stored = json.loads(path.read_text())
    assert {k: bytes.fromhex(v["secret"]) for k, v in stored["agreements"].items()} == secrets
    assert _mode(path) == 0o600


def test_stable_across_instances(path):
    first = Keystore(path).secret("agr_1")
    assert Keystore(path).secret("agr_1") == first
    assert Keystore(path).secret("agr_1") == first


def test_rotate_gives_a_new_secret_and_keeps_others(path):
    ks = Keystore(path)
    old, other = ks.secret("agr_1"), ks.secret("agr_2")
    ks.rotate("agr_1")
    new = Keystore(path).secret("agr_1")
    assert len(new) == 32 and new != old
    assert Keystore(path).secret("agr_1") == new
    assert Keystore(path).secret("agr_2") == other
    assert old.hex() not in path.read_text()  # the old secret is forgotten
    assert _mode(path) == 0o600


def test_rotate_unknown_agreement_is_harmless(path):
    ks = Keystore(path)
    s = ks.secret("agr_1")
    ks.rotate("agr_never")
    assert ks.secret("agr_1") == s


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604, 0o666])
def test_readable_by_others_is_tightened_on_read(path, loose):
    path.parent.mkdir()
    secret = bytes(range(32))
    path.write_text(json.dumps({"agreements": {"agr_1": {"secret": secret.hex()}}}))
    os.chmod(path, loose)
    assert _mode(path) == loose
    assert Keystore(path).secret("agr_1") == secret  # a read, no write
    assert _mode(path) == 0o600


def test_a_draft_writes_nothing_until_the_secret_is_asked_for(path):
    path.parent.mkdir()
    ks = Keystore(path)
    kept = ks.secret("agr_kept")
    before = path.read_bytes()
    draft = ks.draft("agr_new")
    assert len(draft) == 32 and ks.draft("agr_new") == draft and ks.draft("agr_kept") == kept
    assert path.read_bytes() == before  # a command that fails after drafting leaves the keystore as it was
    assert Keystore(path).draft("agr_new") != draft  # a draft lives in this process only
    assert ks.secret("agr_new") == draft  # asked for, the draft is what is kept
    assert Keystore(path).secret("agr_new") == draft
