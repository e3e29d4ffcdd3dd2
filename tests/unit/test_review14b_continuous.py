"""Second review of issue 14 (continuous agreements): population flips and key moves are events too.

In-process over a real DuckDB file, the parties played by the test as tests/unit/test_standing.py plays
them. A party that flips its own guessed account between populations every epoch, or moves the guessed
key between two of its accounts, changes two cells exactly when the partner holds that account: under DP
each such move spends the partner's protection. Each key has a budget of standing.EVENTS_PER_KEY events
(an entry, two moves, an exit; the noise is calibrated for it): moves past it do not happen.
"""

from __future__ import annotations

import json
import struct
import time

from cleanroom.coordinator import standing
from cleanroom.coordinator.store.records import UploadChanges
from tests.inprocess import count
from tests.standing_parties import _world, epoch, next_epoch, reblind, send


def _one_epoch(coord, agreement, vendor, partner, sets, changes=None) -> str:
    """One run in a later epoch; returns its state."""
    next_epoch()
    extra = {"changes": changes} if changes is not None else {}
    run_id = send(coord, agreement, vendor, sets[0], **extra)["run_id"]
    send(coord, agreement, partner, sets[1])
    for p in (vendor, partner):
        reblind(coord, agreement, p, run_id)
    state = coord.status("vendor", agreement["agreement_id"], run_id)["state"]
    for p in (vendor, partner):
        p.base = run_id
    return str(state)


def _refused(coord) -> list[dict]:
    return [json.loads(r["details_json"]) for r in coord.store.rows(
        "SELECT details_json FROM audit_log WHERE action = 'dp.events_refused' ORDER BY seq")]  # fmt: skip


def test_under_dp_a_matched_accounts_population_flips_at_most_twice(tmp_path, monkeypatch):
    """The vendor moves a guess the partner holds customer <-> prospect every epoch: after the entry and two
    moves its account stays where it stood (the flips are refused, audited), so the cells stop telling."""
    monkeypatch.setattr(standing, "_clock", lambda: time.time() + 10**9)
    coord, agreement, (vendor, partner) = _world(tmp_path, dp_epsilon=1.0, dp_horizon=16)
    base = {f"d{i}.example": 1 for i in range(20)}
    theirs = {**base, "guess.example": 1}
    epoch(coord, agreement, (vendor, partner), ({**base, "guess.example": 1}, theirs), wait=False)
    label = vendor.labels["guess.example"]
    stood = []
    for i in range(6):
        mask = 2 if i % 2 == 0 else 1
        assert _one_epoch(coord, agreement, vendor, partner, ({**base, "guess.example": mask}, theirs)) == "complete"
        stood.append(coord.store.row(
            "SELECT populations FROM standing_accounts WHERE party = 'vendor' AND label = ?", [label])["populations"])  # fmt: skip
    assert stood == [2, 1, 1, 1, 1, 1]  # two moves happen; the third and later do not
    assert [r["moves_over_budget"] for r in _refused(coord)] == [1, 1, 1, 1]


def test_under_dp_a_key_moves_between_accounts_at_most_twice(tmp_path, monkeypatch):
    """The guess is removed under its label and added under a new one with the other population, every epoch:
    after two moves the key is dropped (its new account stands, unmatched) and never enters again."""
    monkeypatch.setattr(standing, "_clock", lambda: time.time() + 10**9)
    coord, agreement, (vendor, partner) = _world(tmp_path, dp_epsilon=1.0, dp_horizon=16)
    base = {f"d{i}.example": 1 for i in range(20)}
    theirs = {**base, "guess.example": 1}
    epoch(coord, agreement, (vendor, partner), ({**base, "guess.example": 1}, theirs), wait=False)
    pairs = []
    for i in range(6):
        label = vendor.labels.pop("guess.example")
        vendor.masks.pop("guess.example")
        move = UploadChanges(vendor.base, vendor.tag, struct.pack("<I", label), b"", b"")
        mask = 2 if i % 2 == 0 else 1
        assert _one_epoch(coord, agreement, vendor, partner, ({**base, "guess.example": mask}, theirs), move) == "complete"
        pairs.append(count(coord, "standing_pairs"))
    assert pairs == [21, 21, 20, 20, 20, 20]  # matched through two moves, then never again
    assert [r["tokens_over_budget"] for r in _refused(coord)] == [1, 1, 1, 1]
