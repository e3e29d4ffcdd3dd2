"""The client's side of continuous agreements: what a change holds, why everything is sent, the state file.

Expected changes are worked out from the account lists the tests build (set differences by domain),
independently of protocol/continuous.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cleanroom.psi import POINT_SIZE, hash_and_blind, new_secret
from cleanroom.terms import build_terms, canonical_json, parse_terms
from cleanroom_client.inputs.account_ids import IDENTITY_VERSION
from cleanroom_client.inputs.accounts import Account, MatchKey
from cleanroom_client.inputs.version import NORMALISER_VERSION
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.continuous import TooManyRemoved, _has_repeats, full_reason, locate, prepare_continuous, secret_tag
from cleanroom_client.protocol.prepare import hash_context
from cleanroom_client.protocol.sent_state import SentState, SentStates

TERMS = parse_terms(canonical_json(build_terms("vendor", "partner", ["customer", "prospect"], epoch_seconds=60, min_set_size=1)))
AGREEMENT = ("agr_1", "th" * 32)


def _accounts(rows: dict[str, str]) -> list[Account]:
    return [Account((i + 1,), (MatchKey("domain", d),), (pop,), None, d) for i, (d, pop) in enumerate(rows.items())]


@pytest.fixture
def states(tmp_path) -> SentStates:
    (tmp_path / "p").mkdir()
    return SentStates(Profile(path=tmp_path / "p", party="vendor", coordinator="127.0.0.1:1"))


def _stand(states: SentStates, prepared, run_id: str) -> None:
    """What the upload's run makes stand once it completes (as upload_own and released() do)."""
    states.propose(dataclasses.replace(prepared.proposed, run_id=run_id, upload_id=f"upl_{run_id}"))
    states.settle("agr_1", run_id, f"upl_{run_id}")


def _points_of(domains: list[str], secret: bytes) -> set[bytes]:
    blinded = hash_and_blind(domains, hash_context("agr_1", "domain"), secret)
    return {blinded[i : i + POINT_SIZE] for i in range(0, len(blinded), POINT_SIZE)}


def test_a_change_holds_exactly_the_accounts_added_removed_and_moved(states):
    secret = new_secret()
    before = {f"a{i}.com": "customer" for i in range(20)} | {f"b{i}.com": "prospect" for i in range(10)}
    first = prepare_continuous(_accounts(before), TERMS, "vendor", AGREEMENT, secret, ("", ""), states)
    assert first.change.base_run_id == "" and first.change.reason == "first run of this continuous agreement"
    _stand(states, first, "run_1")
    after = {d: p for d, p in before.items() if d not in ("a0.com", "a1.com")}  # 2 removed
    after |= {"b0.com": "customer", "b1.com": "customer", "b2.com": "customer"}  # 3 moved
    after |= {"n0.com": "prospect", "n1.com": "customer", "n2.com": "customer", "n3.com": "prospect"}  # 4 added
    change = prepare_continuous(_accounts(after), TERMS, "vendor", AGREEMENT, secret, ("run_1", "upl_run_1"), states)
    assert change.change.describe() == {"sent": "changes", "base_run_id": "run_1", "added": 4, "removed": 2, "moved": 3}
    # The points are exactly the added accounts' (plus canaries the coordinator drops), under labels 30.. .
    real = set(np.frombuffer(change.points, dtype=f"V{POINT_SIZE}").tolist())
    assert _points_of(["n0.com", "n1.com", "n2.com", "n3.com"], secret) <= {bytes(p) for p in real}
    assert set(np.unique(change.accounts).tolist()) == {30, 31, 32, 33}
    labels_of = dict(zip(first.proposed.ids.tolist(), first.proposed.labels.tolist(), strict=True))
    removed = np.frombuffer(change.change.removed, dtype="<u4").tolist()
    assert len(removed) == 2 and set(removed) <= set(labels_of.values())
    moved = np.frombuffer(change.change.changed_populations, dtype="<u2").tolist()
    assert moved == [1, 1, 1]  # customer is the first population
    assert change.total_accounts == len(after) == change.proposed.accounts
    # Deterministic: the same file against the same state gives the same upload (a crash resumes it).
    again = prepare_continuous(_accounts(after), TERMS, "vendor", AGREEMENT, secret, ("run_1", "upl_run_1"), states)
    assert again.points == change.points and again.change == change.change


def test_nothing_changed_sends_an_empty_change(states):
    secret = new_secret()
    rows = {f"a{i}.com": "customer" for i in range(5)}
    _stand(states, prepare_continuous(_accounts(rows), TERMS, "vendor", AGREEMENT, secret, ("", ""), states), "run_1")
    same = prepare_continuous(_accounts(rows), TERMS, "vendor", AGREEMENT, secret, ("run_1", "upl_run_1"), states)
    assert same.points == b"" and same.chunks() == [] and same.change.counts == (0, 0, 0) and same.total_accounts == 5


@pytest.mark.parametrize(
    "what, expected",
    [
        ("no state", "first run"),
        ("coordinator holds none", "holds no standing tokens"),
        ("another run stands", "come from run run_9"),
        ("terms changed", "terms changed"),
        ("secret changed", "secret changed"),
        ("normaliser changed", "normaliser changed"),
        ("identity function changed", "another digest"),
    ],
)
def test_everything_is_sent_when_there_is_nothing_to_build_on_and_the_reason_says_why(what, expected):
    tag = secret_tag("agr_1", b"s" * 32)
    state = SentState(
        "agr_1",
        "run_1",
        "th" * 32,
        tag,
        NORMALISER_VERSION,
        0,
        np.zeros(0, "S16"),
        np.zeros(0, np.uint32),
        np.zeros(0, np.uint16),
    )
    standing, terms_hash = "run_1", "th" * 32
    if what == "no state":
        state, standing = None, ""
    elif what == "coordinator holds none":
        standing = ""
    elif what == "another run stands":
        standing = "run_9"
    elif what == "terms changed":
        terms_hash = "xx" * 32
    elif what == "secret changed":
        tag = secret_tag("agr_1", b"t" * 32)
    elif what == "identity function changed":
        state = dataclasses.replace(state, identity="blake2b/1")
    else:
        state = dataclasses.replace(state, normaliser_version="0")
    assert expected in full_reason(state, standing, terms_hash, tag)
    assert full_reason(
        dataclasses.replace(state, normaliser_version=NORMALISER_VERSION, identity=IDENTITY_VERSION) if state else None,
        "run_1",
        "th" * 32,
        secret_tag("agr_1", b"s" * 32),
    ) in ("", "this profile has no record of what it sent to run run_1")


def test_the_state_file_is_private_atomic_and_an_unreadable_one_means_a_full_run(states):
    secret = new_secret()
    rows = {f"a{i}.com": "customer" for i in range(5)}
    _stand(states, prepare_continuous(_accounts(rows), TERMS, "vendor", AGREEMENT, secret, ("", ""), states), "run_1")
    path = states.dir / "agr_1.sent"
    assert oct(path.stat().st_mode & 0o777) == "0o600" and not list(states.dir.glob("*.tmp"))
    assert states.sent("agr_1").run_id == "run_1" and states.pending("agr_1") is None
    path.write_bytes(path.read_bytes()[:40])  # a disk that lost the end of it
    redo = prepare_continuous(_accounts(rows), TERMS, "vendor", AGREEMENT, secret, ("run_1", "upl_run_1"), states)
    assert redo.change.base_run_id == "" and "no record" in redo.change.reason


def test_a_pending_state_stands_only_once_the_coordinator_stands_on_its_upload(states):
    """Two processes of one profile (the agent and a manual map) may each commit a change to the same run; the
    coordinator keeps the later one. The state promoted must be the one of the upload that stands."""
    secret = new_secret()
    rows = {f"a{i}.com": "customer" for i in range(5)}
    first = prepare_continuous(_accounts(rows), TERMS, "vendor", AGREEMENT, secret, ("", ""), states)
    states.propose(dataclasses.replace(first.proposed, run_id="run_1", upload_id="upl_a"))
    assert states.settle("agr_1", "", "") is None  # run_1 not complete: nothing stands yet
    assert states.settle("agr_1", "run_1", "upl_b") is None  # run_1 stands on another upload than ours
    assert states.pending("agr_1") is not None
    assert states.settle("agr_1", "run_1", "upl_a").upload_id == "upl_a" and states.pending("agr_1") is None


def test_locate_finds_exactly_the_ids_that_stand_even_when_their_first_8_bytes_collide():
    rng = np.random.default_rng(3)
    standing = np.frombuffer(rng.bytes(16 * 5000), dtype="S16")
    # Ids sharing their first 8 bytes with a standing one (and a standing pair sharing them too).
    twins = np.array([s[:8] + bytes(8) for s in standing[:50]] + [standing[7][:8] + b"\xff" * 8], dtype="S16")
    standing = np.sort(np.concatenate([standing, twins[:20]]))
    asked = np.concatenate([standing[::3], twins, np.frombuffer(rng.bytes(16 * 3000), dtype="S16")])
    members = set(standing.tolist())
    by_prefix = np.argsort(asked.view(">u8").reshape(-1, 2)[:, 0], kind="stable")
    for order in (None, by_prefix):  # sorted here, or in the order the caller's grouping sorted them
        present, where = locate(standing, asked, order)
        assert present.tolist() == [a in members for a in asked.tolist()]  # independent: a Python set
        assert (standing[where[present]] == asked[present]).all()


def test_repeats_are_told_by_whole_ids_not_by_the_first_8_bytes_they_are_sorted_on():
    rng = np.random.default_rng(4)
    ids = np.frombuffer(rng.bytes(16 * 4000), dtype="S16")
    twins = np.array([s[:8] + b"\x01" * 8 for s in ids[:30]], dtype="S16")  # same prefix, other ids
    cases = [ids, np.concatenate([ids, twins]), np.concatenate([ids, twins, ids[17:18]]), ids[:1], ids[:0]]
    for case in cases:
        assert _has_repeats(case) == (len(set(case.tolist())) < len(case))  # independent: a Python set
        by_prefix = np.argsort(case.view(">u8").reshape(-1, 2)[:, 0], kind="stable")
        assert _has_repeats(case, by_prefix) == (len(set(case.tolist())) < len(case))
    assert [_has_repeats(c) for c in cases] == [False, False, True, False, False]


def test_under_dp_an_account_that_left_is_held_back_and_remembered(states):
    terms = parse_terms(
        canonical_json(build_terms("vendor", "partner", ["customer"], epoch_seconds=60, min_set_size=1, dp_epsilon=1.0))
    )
    secret = new_secret()
    rows = {f"a{i}.com": "customer" for i in range(6)}
    _stand(states, prepare_continuous(_accounts(rows), terms, "vendor", AGREEMENT, secret, ("", ""), states), "run_1")
    without = {d: p for d, p in rows.items() if d != "a0.com"}
    gone = prepare_continuous(_accounts(without), terms, "vendor", AGREEMENT, secret, ("run_1", "upl_run_1"), states)
    assert gone.change.counts == (0, 1, 0) and len(gone.proposed.left) == 1
    _stand(states, gone, "run_2")
    back = prepare_continuous(_accounts(rows), terms, "vendor", AGREEMENT, secret, ("run_2", "upl_run_2"), states)
    assert back.change.counts == (0, 0, 0) and back.change.held_back == 1 and back.points == b""
    assert back.change.describe()["held_back"] == 1 and "held back" in back.change.summary()
    # Without DP nothing is held back: the account simply comes back.
    assert (
        prepare_continuous(_accounts(rows), TERMS, "vendor", AGREEMENT, secret, ("run_2", "upl_run_2"), states).change.counts[0]
        == 1
    )


def test_a_change_that_removes_too_much_of_what_stands_is_refused_when_asked(states):
    """The agent's guard (--max-shrink) per agreement: a broken export would otherwise remove most accounts."""
    secret = new_secret()
    rows = {f"a{i}.com": "customer" for i in range(10)}
    _stand(states, prepare_continuous(_accounts(rows), TERMS, "vendor", AGREEMENT, secret, ("", ""), states), "run_1")
    halved = dict(list(rows.items())[:5])
    with pytest.raises(TooManyRemoved, match=r"remove 5 of the 10 accounts that stand \(50%"):
        prepare_continuous(_accounts(halved), TERMS, "vendor", AGREEMENT, secret, ("run_1", "upl_run_1"), states, 0.2)
    assert states.pending("agr_1") is None
    allowed = prepare_continuous(_accounts(halved), TERMS, "vendor", AGREEMENT, secret, ("run_1", "upl_run_1"), states, 0.5)
    assert allowed.change.counts == (0, 5, 0)


def test_promoting_a_pending_state_moves_it_whole_and_only_for_its_own_upload(states):
    """The pending file becomes the sent one as it is (a rename), and only when the coordinator stands on the
    upload it names; the state read back is the state proposed, array for array."""
    rows = {f"a{i}.com": ("customer" if i % 2 else "prospect") for i in range(50)}
    first = prepare_continuous(_accounts(rows), TERMS, "vendor", AGREEMENT, new_secret(), ("", ""), states)
    proposed = dataclasses.replace(first.proposed, run_id="run_1", upload_id="upl_a")
    states.propose(proposed)
    states.promote("agr_1", "upl_b")
    states.promote("agr_1", "")
    assert states.sent("agr_1") is None and states.pending("agr_1") is not None
    states.promote("agr_1", "upl_a")
    sent = states.sent("agr_1")
    assert states.pending("agr_1") is None and sent is not None
    assert (sent.run_id, sent.upload_id, sent.next_label) == ("run_1", "upl_a", proposed.next_label)
    assert sent.ids.tobytes() == proposed.ids.tobytes() and sent.labels.tolist() == proposed.labels.tolist()
    assert sent.masks.tolist() == proposed.masks.tolist()
    assert oct((states.dir / "agr_1.sent").stat().st_mode & 0o777) == oct(0o600)


def test_a_damaged_pending_state_never_replaces_the_sent_one(states):
    """The pending file is renamed over the sent one only if every member reads back with its checksum: a
    damaged one (a bit flipped in its ids) leaves the sound sent state where it is."""
    rows = {f"a{i}.com": "customer" for i in range(40)}
    first = prepare_continuous(_accounts(rows), TERMS, "vendor", AGREEMENT, new_secret(), ("", ""), states)
    states.propose(dataclasses.replace(first.proposed, run_id="run_1", upload_id="upl_a"))
    states.promote("agr_1", "upl_a")
    sent = states.sent("agr_1")
    assert sent is not None
    states.propose(dataclasses.replace(first.proposed, run_id="run_2", upload_id="upl_b"))
    pending = states.dir / "agr_1.pending"
    data = bytearray(pending.read_bytes())
    at = data.index(first.proposed.ids.tobytes()[:16])  # the ids array's first bytes, stored as they are
    data[at] ^= 0x01
    pending.write_bytes(bytes(data))
    states.promote("agr_1", "upl_b")
    assert states.sent("agr_1").upload_id == "upl_a" and pending.exists()
