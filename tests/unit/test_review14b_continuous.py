"""Second review of issue 14 (continuous agreements): what is still wrong after the first review's fixes.

In-process over a real DuckDB file, the parties played by the test as tests/unit/test_standing.py plays
them. Each test states the property a per-account DP guarantee needs and is marked strict xfail with the
finding, which is open (README, "What that does not bound yet"; issue 14's note): it fails as main stands
and must lose its marker once a per-token event budget at the coordinator fixes it.
"""

from __future__ import annotations

import struct
import time

import pytest

from cleanroom.coordinator import standing
from cleanroom.coordinator.store.records import UploadChanges
from cleanroom.errors import CleanroomError
from tests.unit.test_standing import _world, epoch, next_epoch, reblind, send


def _open(finding: str) -> pytest.MarkDecorator:
    """Fails as the branch stands (strict: once fixed it passes, and the marker must go)."""
    return pytest.mark.xfail(strict=True, raises=AssertionError, reason=finding)


def _one_epoch(coord, agreement, vendor, partner, sets, changes=None) -> str:
    """One run in a later epoch; returns its state ("refused" when a begin is refused)."""
    next_epoch()
    try:
        extra = {"changes": changes} if changes is not None else {}
        run_id = send(coord, agreement, vendor, sets[0], **extra)["run_id"]
        send(coord, agreement, partner, sets[1])
        for p in (vendor, partner):
            reblind(coord, agreement, p, run_id)
    except CleanroomError:
        return "refused"
    state = coord.status("vendor", agreement["agreement_id"], run_id)["state"]
    if state == "complete":
        for p in (vendor, partner):
            p.base = run_id
    return str(state)


MASK_FLIP = (
    "DP per account bypassed by population changes: standing.py _one_entry_each keeps a key to one entry and one "
    "exit, but a change of an account's population mask (set_masks, or a full upload with the same tokens) moves "
    "its match between cells with no token leaving: each flip is another event of the stream, uncharged, and "
    "EVENTS_PER_KEY = 2 no longer bounds them (the add-remove churn attack in another form)"
)


@_open(MASK_FLIP)
def test_under_dp_flipping_a_matched_accounts_population_is_not_an_unbounded_stream_of_events(tmp_path, monkeypatch):
    """The vendor holds a guess the partner may have, and moves it customer <-> prospect every epoch. If the
    partner has it, the (customer, *) and (prospect, *) cells change at every release; if not, nothing does.
    The noise is calibrated for two events per key (completion.EVENTS_PER_KEY): past the entry and one more
    change, a flip must be refused (or charged), as a second entry is."""
    monkeypatch.setattr(standing, "_clock", lambda: time.time() + 10**9)
    coord, agreement, (vendor, partner) = _world(tmp_path, dp_epsilon=1.0, dp_horizon=16)
    base = {f"d{i}.example": 1 for i in range(20)}
    theirs = {**base, "guess.example": 1}
    epoch(coord, agreement, (vendor, partner), ({**base, "guess.example": 1}, theirs), wait=False)
    states = [
        _one_epoch(coord, agreement, vendor, partner, ({**base, "guess.example": 2 if i % 2 == 0 else 1}, theirs))
        for i in range(6)
    ]
    assert states != ["complete"] * 6, "six population flips of one matched key, each released at no extra cost"


KEY_MOVE = (
    "DP per account bypassed by moving a key between accounts: spend_leaving keeps a key that leaves one label and "
    "arrives under another in the same change as 'not left' (c29f09b), so a party can move a guessed key between an "
    "account in one population and an account in another every epoch; each move is an event, uncharged"
)


@_open(KEY_MOVE)
def test_under_dp_moving_a_key_between_accounts_every_epoch_is_not_free(tmp_path, monkeypatch):
    """The honest case c29f09b allows (a key moving when an account's key set changes) used as an oracle: the
    guess is removed under its label and added under a new one with the other population, every epoch."""
    monkeypatch.setattr(standing, "_clock", lambda: time.time() + 10**9)
    coord, agreement, (vendor, partner) = _world(tmp_path, dp_epsilon=1.0, dp_horizon=16)
    base = {f"d{i}.example": 1 for i in range(20)}
    theirs = {**base, "guess.example": 1}
    epoch(coord, agreement, (vendor, partner), ({**base, "guess.example": 1}, theirs), wait=False)
    states = []
    for i in range(6):
        label = vendor.labels.pop("guess.example")
        vendor.masks.pop("guess.example")
        move = UploadChanges(vendor.base, vendor.tag, struct.pack("<I", label), b"", b"")
        mask = 2 if i % 2 == 0 else 1
        states.append(_one_epoch(coord, agreement, vendor, partner, ({**base, "guess.example": mask}, theirs), move))
    assert states != ["complete"] * 6, "six moves of one matched key between populations, each released at no extra cost"
