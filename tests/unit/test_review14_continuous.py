"""Review of issue 14 (continuous agreements): attacks on the coordinator's standing state, in-process over a
real DuckDB file, with the parties played by the test as tests/unit/test_standing.py plays them.

Each test states a property the design promises (DESIGN.md "Continuous agreements", continual.py's
docstring) and fails on the branch as reviewed; the report names the fix each one asks for.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cleanroom.coordinator import standing
from cleanroom.coordinator.store.records import REBLINDED
from cleanroom.errors import FailedPrecondition
from cleanroom.psi import blind, hash_to_points, new_secret
from cleanroom_client.protocol.prepare import hash_context  # the client's own context, never retyped
from tests.inprocess import agree, coordinator, count, snapshot
from tests.standing_parties import Party, _begin_commit, epoch, reblind, send

REPO = Path(__file__).resolve().parents[2]


def _open(finding: str) -> pytest.MarkDecorator:
    """Fails as the branch stands (strict: once fixed it passes, and the marker must go)."""
    return pytest.mark.xfail(strict=True, raises=AssertionError, reason=finding)


def _later_epochs(monkeypatch) -> None:
    """Every run lands in a later epoch than the last completion (no waiting for the clock)."""
    monkeypatch.setattr(standing, "_clock", lambda: time.time() + 10**9)


def _nodes(coord, agreement: dict) -> dict[tuple[int, int], list[int]]:
    rows = coord.store.rows("SELECT level, idx, noise FROM dp_tree_nodes WHERE agreement_id = ?", [agreement["agreement_id"]])
    return {(r["level"], r["idx"]): json.loads(r["noise"]) for r in rows}


def test_a_party_changing_its_secret_never_redraws_the_noise_of_a_released_tree_node(tmp_path, monkeypatch):
    """continual.py: node noise is "drawn once ... and must be stored before the release is shown: a redrawn
    node would let a viewer average it away". A secret change (any party may announce one: the tag is
    not checked) purges dp_tree_nodes with the standing tokens, while the stream's position (seq) and the
    viewers' ledger go on: release 3 then redraws node (1, 0), which release 2 already showed, and the
    ledger charges release 3 only loss_after(3) - loss_after(2) = 0 for it."""
    _later_epochs(monkeypatch)
    coord, _ = coordinator(tmp_path)
    agreement = agree(coord, ("customer",), epoch_seconds=3600, min_set_size=1, min_count=1, dp_epsilon=1.0, dp_horizon=8)
    vendor, partner = Party("vendor"), Party("partner")
    sets = ({f"d{i}.example": 1 for i in range(40)}, {f"d{i}.example": 1 for i in range(20, 60)})
    for _ in range(2):
        run_id = epoch(coord, agreement, (vendor, partner), sets, wait=False)
        coord.overlap("vendor", agreement["agreement_id"], run_id)
    shown = _nodes(coord, agreement)
    assert (1, 0) in shown  # release 2 is exact(2) + noise of node (1, 0)

    honest = copy.deepcopy(vendor)
    vendor.secret = new_secret()  # or a malicious vendor announcing any other 64-hex tag
    before = snapshot(coord)
    with pytest.raises(FailedPrecondition, match="binds each party to one secret"):  # refused under DP, nothing changed
        send(coord, agreement, vendor, sets[0], full=True)
    assert snapshot(coord) == before
    vendor = honest
    run_id = epoch(coord, agreement, (vendor, partner), sets, wait=False)
    coord.overlap("vendor", agreement["agreement_id"], run_id)

    after = _nodes(coord, agreement)
    assert after[(1, 0)] == shown[(1, 0)], "node (1, 0) was redrawn for release 3 after release 2 showed it"


def test_a_refused_full_upload_with_a_new_secret_leaves_everything_as_it_was(tmp_path):
    """Uploads._standing_ready purges both sides' standing tokens (and the DP tree) and fails the collecting
    run before check_opening refuses the begin for the epoch: a refusal must change nothing (as
    test_standing's test_one_release_per_epoch_and_nothing_opened_by_a_refusal holds for a change)."""
    coord, _ = coordinator(tmp_path)
    agreement = agree(coord, ("customer",), epoch_seconds=366 * 86400, min_set_size=1, min_count=1)
    vendor, partner = Party("vendor"), Party("partner")
    epoch(coord, agreement, (vendor, partner), ({"a.example": 1}, {"a.example": 1}), wait=False)
    before = snapshot(coord)
    vendor.secret = new_secret()
    with pytest.raises(Exception, match="the next run can start at"):
        send(coord, agreement, vendor, {"a.example": 1, "b.example": 1}, full=True)
    after = snapshot(coord)
    changed = [t for t in before if t != "audit_log" and after[t] != before[t]]
    assert changed == [], f"a refused begin changed {changed}"
    assert count(coord, "standing_tokens", "WHERE party = 'partner'") == 1


def test_a_reblinder_that_hands_back_an_old_token_does_not_get_the_honest_uploader_named(tmp_path, monkeypatch):
    """The partner re-blinds the vendor's added point c.example as the vendor's *old* point for a.example
    (it holds those from the first run's re-blinding). The token then repeats one standing on the vendor's
    side and completion fails the run with RepeatedTokens naming the *vendor* as the violator. The
    coordinator cannot tell this from a vendor re-adding a.example, so it must not name the uploader alone.
    (With the client's canaries, 2% pairs and at least 32, one substituted point among n added escapes
    them with probability n / (n + 2 * max(32, 0.02 n)): 96% at n = 5,000. This test plays the
    substitution without canaries, as test_standing's parties upload.)"""
    _later_epochs(monkeypatch)
    coord, _ = coordinator(tmp_path)
    agreement = agree(coord, ("customer",), epoch_seconds=3600, min_set_size=1, min_count=1)
    vendor, partner = Party("vendor"), Party("partner")
    sets = ({"a.example": 1, "b.example": 1}, {"a.example": 1, "b.example": 1, "c.example": 1})
    epoch(coord, agreement, (vendor, partner), sets, wait=False)

    honest_vendor_set = {**sets[0], "c.example": 1}
    run_id = send(coord, agreement, vendor, honest_vendor_set)["run_id"]  # an honest change: adds c.example
    send(coord, agreement, partner, sets[1])  # an honest change: nothing
    reblind(coord, agreement, vendor, run_id)
    # The malicious partner's "re-blinding" of the vendor's one added point.
    status = coord.status("partner", agreement["agreement_id"], run_id)
    context = hash_context(agreement["agreement_id"], "domain")
    old_point = blind(vendor.secret, hash_to_points(["a.example"], context), workers=1)  # seen in run 1
    _begin_commit(
        coord,
        "partner",
        agreement,
        REBLINDED,
        blind(partner.secret, old_point, workers=1),
        b"",
        b"",
        run_id=run_id,
        of_upload=status["peer_upload_id"],
    )
    violations = [
        json.loads(v["details_json"])["party"]
        for v in coord.store.rows("SELECT details_json FROM audit_log WHERE action = 'protocol.violation'")
    ]
    assert "vendor" not in violations, "the honest uploader was named as the violator for its partner's re-blinding"


_LABEL_SCENARIO = """
import resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
sys.path.insert(0, {repo!r})
from tests.standing_parties import Party, epoch, result, truth, _continuous
from tests.inprocess import coordinator
import time
from cleanroom.coordinator import standing
standing._clock = lambda: time.time() + 10**9  # every run in a later epoch, without waiting for one
coord, _ = coordinator(Path({tmp!r}))
agreement = _continuous(coord)
vendor, partner = Party("vendor"), Party("partner")
sets = ({{"a.example": 1, "b.example": 2}}, {{"a.example": 1, "b.example": 1, "c.example": 2}})
epoch(coord, agreement, (vendor, partner), sets, wait=False)
vendor.next_label = 2**32 - 3  # any label a party likes: a change's added labels are not bounded
nxt = ({{**sets[0], "c.example": 2, "d.example": 1}}, sets[1])
run_id = epoch(coord, agreement, (vendor, partner), nxt)
assert result(coord, run_id) == truth(*nxt)
print("ok")
"""


def test_a_huge_label_costs_the_coordinator_no_memory(tmp_path):
    """A party may label added accounts up to 2**32 - 1: nothing at the coordinator may be sized by a label's
    value. As reviewed, Standing.apply sized a mask array by the largest label (np.zeros(max + 1) uint16:
    8 GiB for 2**32 - 1, which passes there only because calloc is lazy) and overlap.components sizes a
    Python list by it when pairs repeat (multi-key agreements: list(range(2**32)), 32 GiB of pointers, then
    4 billion ints). Under a 3 GiB address-space limit the same scenario must still release the truth;
    as reviewed it dies with MemoryError inside the completion (a real host is OOM-killed, then again at
    every restart when the ready run is settled)."""
    code = _LABEL_SCENARIO.format(limit=3 * 2**30, repo=str(REPO), tmp=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
