"""Continuous agreements at the coordinator, in-process over a real DuckDB file: changes against standing tokens.

Each party here is played by the test: its accounts are domains with population masks, its labels and
secret its own, its uploads built with the real blinding. Ground truth is counted from the parties'
dicts (domain -> mask), never by the coordinator's code. The hostile tests play a party that deviates.
"""

from __future__ import annotations

import json
import random
import struct
import time

import pytest

from cleanroom.coordinator.continual import loss_after
from cleanroom.coordinator.store.records import OWN, UploadChanges
from cleanroom.errors import FailedPrecondition, InvalidArgument
from cleanroom.psi import new_secret
from tests.inprocess import agree, coordinator, count, snapshot
from tests.standing_parties import (
    _SKIPPED,
    Party,
    _begin_commit,
    _continuous,
    _world,
    epoch,
    next_epoch,
    reblind,
    result,
    send,
    truth,
)


@pytest.fixture(autouse=True)
def _epoch_clock(monkeypatch):
    """The epoch rule reads this clock (standing._clock): tests move it on an epoch at a time instead of waiting."""
    from cleanroom.coordinator import standing

    _SKIPPED[0] = 0.0
    monkeypatch.setattr(standing, "_clock", lambda: time.time() + _SKIPPED[0])


def _random_set(rng: random.Random, universe: list[str], n: int) -> dict[str, int]:
    return {d: rng.choice((1, 2, 3)) for d in rng.sample(universe, n)}


def _evolve(rng: random.Random, current: dict[str, int], universe: list[str]) -> dict[str, int]:
    """Remove some, move some to other populations, add some."""
    nxt = {d: m for d, m in current.items() if rng.random() > 0.15}
    for d in list(nxt):
        if rng.random() < 0.15:
            nxt[d] = rng.choice([m for m in (1, 2, 3) if m != nxt[d]])
    for d in rng.sample([d for d in universe if d not in nxt], rng.randint(0, 12)):
        nxt[d] = rng.choice((1, 2, 3))
    return nxt


@pytest.mark.parametrize("seed", range(3))
def test_every_release_equals_the_truth_of_what_now_stands(tmp_path, seed):
    """Random adds, removals, population moves and now and then a full re-send of one side, over five epochs."""
    rng = random.Random(seed)
    universe = [f"d{i}.example" for i in range(160)]
    coord, agreement, parties = _world(tmp_path)
    sets = (_random_set(rng, universe, 60), _random_set(rng, universe, 70))
    run_id = epoch(coord, agreement, parties, sets, wait=False)
    assert result(coord, run_id) == truth(*sets)
    for step in range(4):
        sets = (_evolve(rng, sets[0], universe), _evolve(rng, sets[1], universe))
        if step == 2:
            parties[rng.randint(0, 1)].base = ""  # this side sends everything again (a lost state file, same secret)
        run_id = epoch(coord, agreement, parties, sets)
        assert result(coord, run_id) == truth(*sets), (seed, step)
        assert count(coord, "standing_tokens", "WHERE party = 'vendor'") == len(sets[0])
        assert count(coord, "standing_tokens", "WHERE party = 'partner'") == len(sets[1])
    assert count(coord, "chunks") == 0  # no single-blinded (or any) point outlives its run


def test_pairs_stored_without_masks_are_given_them_at_the_next_completion(tmp_path):
    """A store from before pairs held both accounts' masks (migration 20 adds them empty) releases the truth at
    its next completion: the pairs without masks get them, and keep them current from then on."""
    rng = random.Random(5)
    universe = [f"d{i}.example" for i in range(120)]
    coord, agreement, parties = _world(tmp_path)
    sets = (_random_set(rng, universe, 50), _random_set(rng, universe, 60))
    epoch(coord, agreement, parties, sets, wait=False)
    with coord.store.transaction() as con:  # as the migration leaves a store that had pairs
        con.execute("UPDATE standing_pairs SET a_mask = NULL, b_mask = NULL")
    assert count(coord, "standing_pairs", "WHERE a_mask IS NULL") > 0
    for _ in range(2):
        sets = (_evolve(rng, sets[0], universe), _evolve(rng, sets[1], universe))
        run_id = epoch(coord, agreement, parties, sets)
        assert result(coord, run_id) == truth(*sets)
        assert count(coord, "standing_pairs", "WHERE a_mask IS NULL OR b_mask IS NULL") == 0


def test_a_change_that_adds_a_standing_account_again_fails_the_run(tmp_path):
    """Adding a standing account's key under a new label would count it twice (or gather guesses under one).
    The coordinator cannot tell the uploader's doing from a partner that re-blinded a new point as an old one
    (tests/unit/test_review14_continuous.py), so the run fails naming neither."""
    coord, agreement, (vendor, partner) = _world(tmp_path)
    sets = ({"a.example": 1, "b.example": 1}, {"a.example": 1, "b.example": 1})
    epoch(coord, agreement, (vendor, partner), sets, wait=False)
    tokens_before = count(coord, "standing_tokens")
    next_epoch()
    vendor.labels.pop("a.example")  # the vendor's client "forgets" a.example is standing and adds it again,
    # announcing the set size that makes its labels add up (else the commit refuses it already)
    run_id = send(coord, agreement, vendor, sets[0], n_accounts=3)["run_id"]
    send(coord, agreement, partner, sets[1])
    for p in (vendor, partner):
        reblind(coord, agreement, p, run_id)
    status = coord.status("partner", agreement["agreement_id"], run_id)
    assert status["state"] == "failed" and "already stand" in status["failure"]
    assert count(coord, "audit_log", "WHERE action = 'protocol.violation'") == 0
    assert "either vendor added accounts it had, or partner re-blinded" in status["failure"]
    assert count(coord, "standing_tokens") == tokens_before  # nothing of the failed run stands
    assert count(coord, "chunks") == 0


@pytest.mark.parametrize(
    "deviation",
    ["removes a label that does not stand", "builds on another run", "labels an added account with a standing label"],
)
def test_a_malformed_change_is_refused_and_changes_nothing(tmp_path, deviation):
    coord, agreement, (vendor, partner) = _world(tmp_path)
    sets = ({"a.example": 1, "b.example": 1}, {"a.example": 1, "b.example": 1})
    epoch(coord, agreement, (vendor, partner), sets, wait=False)
    next_epoch()
    before = snapshot(coord)
    tag, base = vendor.tag, vendor.base
    override: dict = {}
    if deviation == "removes a label that does not stand":
        override["changes"] = UploadChanges(base, tag, struct.pack("<I", 77), b"", b"")
        override["n_accounts"] = 2
        error = InvalidArgument
    elif deviation == "builds on another run":
        override["changes"] = UploadChanges("run_0000000000000000", tag, b"", b"", b"")
        error = FailedPrecondition
    else:
        override["labels"] = [0]  # a.example's label, for the added c.example
        error = InvalidArgument
    with pytest.raises(error):
        send(coord, agreement, vendor, {**sets[0], "c.example": 1}, **override)
    after = snapshot(coord)
    if deviation == "labels an added account with a standing label":
        # Refused at commit: the upload begun (and the run it opened) stay uncommitted and collecting, swept
        # when idle; nothing stands differently and nothing is released.
        for table in ("standing_tokens", "standing_accounts", "standing_pairs", "standing_sides", "results", "releases"):
            assert after[table] == before[table], table
        assert count(coord, "uploads", "WHERE committed") == count(coord, "uploads") - 1
    else:
        assert after == before


def test_changes_are_refused_on_a_one_off_agreement_and_after_revocation(tmp_path):
    coord, _ = coordinator(tmp_path)
    one_off = agree(coord, ("customer",), min_set_size=1)
    with pytest.raises(InvalidArgument, match="continuous"):
        _begin_commit(
            coord, "vendor", one_off, OWN, b"", b"", b"", n_accounts=1, changes=UploadChanges("run_x", "ab" * 32, b"", b"", b"")
        )
    agreement = _continuous(coord)
    vendor, partner = Party("vendor"), Party("partner")
    epoch(coord, agreement, (vendor, partner), ({"a.example": 1}, {"a.example": 1}), wait=False)
    coord.revoke("partner", agreement["agreement_id"], "done")
    assert count(coord, "standing_tokens") == 0
    with pytest.raises(FailedPrecondition, match="revoked"):
        send(coord, agreement, vendor, {"a.example": 1, "b.example": 1})


def test_one_release_per_epoch_and_nothing_opened_by_a_refusal(tmp_path):
    coord, _ = coordinator(tmp_path)
    agreement = agree(coord, ("customer",), epoch_seconds=366 * 86400, min_set_size=1, min_count=1)
    vendor, partner = Party("vendor"), Party("partner")
    epoch(coord, agreement, (vendor, partner), ({"a.example": 1}, {"a.example": 1}), wait=False)
    before = snapshot(coord)
    with pytest.raises(FailedPrecondition, match="the next run can start at"):
        send(coord, agreement, vendor, {"a.example": 1, "b.example": 1})
    assert snapshot(coord) == before


def test_a_changed_secret_voids_both_sides_and_fails_the_run_that_collects_changes(tmp_path):
    coord, agreement, (vendor, partner) = _world(tmp_path)
    sets = ({"a.example": 1, "b.example": 2}, {"a.example": 1, "b.example": 1})
    epoch(coord, agreement, (vendor, partner), sets, wait=False)
    next_epoch()
    partner_run = send(coord, agreement, partner, {**sets[1], "c.example": 1})["run_id"]  # a change, collecting
    vendor.secret = new_secret()
    run_id = send(coord, agreement, vendor, sets[0], full=True)["run_id"]
    assert run_id != partner_run
    assert coord.status("vendor", agreement["agreement_id"], partner_run)["state"] == "failed"
    assert coord.status("partner", agreement["agreement_id"])["standing_run_id"] == ""
    assert count(coord, "standing_tokens") == 0
    partner.base = ""  # its client sees no standing run and sends everything
    send(coord, agreement, partner, {**sets[1], "c.example": 1})
    for p in (vendor, partner):
        reblind(coord, agreement, p, run_id)
    assert result(coord, run_id) == truth(sets[0], {**sets[1], "c.example": 1})


def test_continual_dp_charges_the_tree_levels_and_stops_at_the_horizon(tmp_path):
    """Releases 1..t cost loss_after(t) together (O(log t) levels of epsilon); past the horizon no run opens."""
    coord, agreement, (vendor, partner) = _world(tmp_path, dp_epsilon=1.0, dp_horizon=4)
    sets = ({f"d{i}.example": 1 for i in range(30)}, {f"d{i}.example": 3 for i in range(10, 40)})
    spent = []
    for t in range(1, 5):
        run_id = epoch(coord, agreement, (vendor, partner), sets, wait=t > 1)
        release = coord.overlap("vendor", agreement["agreement_id"], run_id)
        body = json.loads(coord.store.runs.result_json(run_id))
        assert body["dp"]["release"] == t and body["dp"]["horizon"] == 4
        spent.append(coord.store.releases.epsilon_spent(agreement["agreement_id"], "vendor"))
        assert release["dp"]["budget"] == 1.0
    assert spent == pytest.approx([loss_after(t, 1.0, 4) for t in range(1, 5)])
    assert spent[-1] == pytest.approx(1.0)
    # Each dyadic block [k*2^l + 1, (k+1)*2^l] some prefix [1, t] is cut into, drawn once and kept.
    used = set()
    for t in range(1, 5):
        start = 1
        while start <= t:
            level = max(lv for lv in range(4) if (start - 1) % 2**lv == 0 and start - 1 + 2**lv <= t)
            used.add((level, (start - 1) // 2**level))
            start += 2**level
    stored = {(r["level"], r["idx"]) for r in coord.store.rows("SELECT level, idx FROM dp_tree_nodes")}
    assert stored == used == {(0, 0), (1, 0), (0, 2), (2, 0)}
    next_epoch()
    with pytest.raises(FailedPrecondition, match="horizon"):
        send(coord, agreement, vendor, sets[0])


def test_under_dp_an_account_enters_and_leaves_the_stream_once(tmp_path, monkeypatch):
    """The churn attack (add a guess, remove it, add it again ...) would spend the partner's protection once per
    flip: under DP a token that left a side and comes back is dropped (its account stands and counts in the
    set size, but never matches again), audited; a secret change (which would give the same accounts new
    tokens) is refused before anything changes; and the noise is calibrated for the budget of events per key."""
    from cleanroom.coordinator import standing
    from cleanroom.coordinator.continual import node_scale
    from cleanroom.coordinator.noise import sensitivity

    monkeypatch.setattr(standing, "_clock", lambda: time.time() + 10**9)
    coord, agreement, (vendor, partner) = _world(tmp_path, dp_epsilon=1.0, dp_horizon=8)
    base = {f"d{i}.example": 1 for i in range(20)}
    theirs = {**base, "guess.example": 1}  # the partner holds the guess
    first = epoch(coord, agreement, (vendor, partner), ({**base, "guess.example": 1}, theirs), wait=False)
    scale = node_scale(1.0, 8, standing.EVENTS_PER_KEY * sensitivity(2, 2))
    assert json.loads(coord.store.runs.result_json(first))["dp"]["scale"] == scale
    assert coord.store.standing.counts(agreement["agreement_id"])["pairs"] == 21
    epoch(coord, agreement, (vendor, partner), (base, theirs), wait=False)  # the guess leaves
    assert count(coord, "dp_spent_tokens", "WHERE party = 'vendor'") == 1
    back = epoch(coord, agreement, (vendor, partner), ({**base, "guess.example": 1}, theirs), wait=False)  # ... and back
    assert coord.status("vendor", agreement["agreement_id"], back)["state"] == "complete"
    held = coord.store.standing.counts(agreement["agreement_id"])
    assert held["pairs"] == 20 and held["accounts"] == 21 + 21  # the guess's account stands, unmatched
    assert json.loads(coord.store.runs.result_json(back))["accounts"] == {"vendor": 21, "partner": 21}
    dropped = coord.store.rows("SELECT details_json FROM audit_log WHERE action = 'dp.events_refused'")
    assert [json.loads(d["details_json"])["tokens_returning"] for d in dropped] == [1]
    assert count(coord, "audit_log", "WHERE action = 'protocol.violation'") == 0
    before = snapshot(coord)
    vendor.secret = new_secret()
    with pytest.raises(FailedPrecondition, match="binds each party to one secret"):
        send(coord, agreement, vendor, base, full=True)
    assert snapshot(coord) == before


def test_under_dp_a_key_that_moves_between_accounts_in_one_change_has_not_left(tmp_path):
    """With several keys per account, a changed key set is sent as the old account removed and a new one added
    in the same change: its keys' tokens never left the stream, so a later change may still carry them."""
    coord, agreement, (vendor, partner) = _world(tmp_path, dp_epsilon=1.0, dp_horizon=8)
    base = {f"d{i}.example": 1 for i in range(10)}
    epoch(coord, agreement, (vendor, partner), (base, base), wait=False)
    moved_label = vendor.labels.pop("d0.example")  # d0's account is removed, and d0 added under a new label
    removed = UploadChanges(vendor.base, vendor.tag, struct.pack("<I", moved_label), b"", b"")
    next_epoch()
    run_id = send(coord, agreement, vendor, base, changes=removed)["run_id"]
    send(coord, agreement, partner, base)
    for p in (vendor, partner):
        reblind(coord, agreement, p, run_id)
    assert coord.status("vendor", agreement["agreement_id"], run_id)["state"] == "complete"
    assert count(coord, "dp_spent_tokens") == 0
    assert count(coord, "standing_tokens", "WHERE party = 'vendor'") == 10
