"""Nothing wedges (issue 13, finding 2): a run whose uploads are all in always ends, complete or failed.

Before, a coordinator stopped between the last commit and the completion, or a vendor upload whose deal
references repeat (found only at completion), left the run "collecting" forever: no result, no new run,
the points never deleted. In-process over a real DuckDB file; the stop is played by a completion that
never runs, then a new Coordinator over the same file, as a restarted process opens it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from test_attribution_wire import DEALS, DOMAINS, _own, _reblind, _touches, agree

from cleanroom.attribution.recordio import encode_deals, encode_touches
from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.store import Store
from cleanroom.psi import new_secret

from inprocess import coordinator

PARTNER = "partner-a"


def _all_uploads_in(coord: Coordinator, agreement: dict, deals=DEALS) -> str:
    """Vendor deals and partner touches uploaded and re-blinded by both: the run's four commits."""
    secrets = {"vendor": new_secret(), PARTNER: new_secret()}
    run_id = _own(coord, "vendor", agreement, secrets["vendor"], DOMAINS, encode_deals(deals).tobytes())["run_id"]
    rows = _touches(PARTNER)
    accounts = sorted({d for d, _, _ in rows})
    touches = encode_touches([accounts.index(d) for d, _, _ in rows], [r for _, r, _ in rows], [d for *_, d in rows])
    _own(coord, PARTNER, agreement, secrets[PARTNER], accounts, touches.tobytes())
    for party in ("vendor", PARTNER):
        _reblind(coord, party, agreement, secrets[party], run_id)
    return run_id


def _points_left(coord: Coordinator, run_id: str) -> int:
    return coord.store.row(
        "SELECT count(*) AS n FROM chunk_points p JOIN uploads u USING (upload_id) WHERE u.run_id = ?",
        [run_id],
    )["n"]


def _actions(coord: Coordinator, run_id: str) -> list[str]:
    rows = coord.store.rows("SELECT action, details_json FROM audit_log ORDER BY seq")
    return [r["action"] for r in rows if json.loads(r["details_json"]).get("run_id") == run_id]


@pytest.fixture
def coord(tmp_path: Path):
    coord, _ = coordinator(tmp_path)
    return coord


def test_repeated_deal_references_fail_the_run_with_the_reason_and_free_the_agreement(coord):
    agreement = agree(coord, PARTNER)
    twice = [*DEALS[:-1], replace(DEALS[-1], ref=DEALS[0].ref)]  # the last deal reuses the first one's reference
    run_id = _all_uploads_in(coord, agreement, twice)
    status = coord.status("vendor", agreement["agreement_id"], run_id)
    assert status["state"] == "failed" and "deal references repeat" in status["failure"]
    assert status["waiting_for"] == []
    assert _points_left(coord, run_id) == 0
    assert _actions(coord, run_id)[-2:] == ["run.failed", "points.deleted"]
    assert coord.store.rows("SELECT * FROM releases WHERE run_id = ?", [run_id]) == []
    # the agreement is free again: a good upload starts and completes a new run
    again = _all_uploads_in(coord, agreement)
    assert again != run_id and coord.status("vendor", agreement["agreement_id"], again)["state"] == "complete"


def test_a_run_whose_completion_never_ran_completes_when_the_coordinator_starts(coord, monkeypatch):
    agreement = agree(coord, PARTNER)
    with monkeypatch.context() as stopped:  # the process dies after the last commit, before completing the run
        stopped.setattr(coord.completion, "complete_if_ready", lambda run_id: None)
        run_id = _all_uploads_in(coord, agreement)
    assert coord.status("vendor", agreement["agreement_id"], run_id)["state"] == "collecting"
    path, signer = coord.store.path, coord.store.signer
    coord.store.close()
    restarted = Coordinator(Store(path, signer))  # as `cleanroom coordinator serve` opens the same data dir
    assert restarted.resume() == [run_id]
    assert restarted.status("vendor", agreement["agreement_id"], run_id)["state"] == "complete"
    assert restarted.resume() == []  # idempotent: nothing left to complete


def test_a_repeated_commit_completes_a_run_left_collecting(coord, monkeypatch):
    agreement = agree(coord, PARTNER)
    with monkeypatch.context() as stopped:
        stopped.setattr(coord.completion, "complete_if_ready", lambda run_id: None)
        run_id = _all_uploads_in(coord, agreement)
    last = coord.store.rows("SELECT upload_id, party FROM uploads WHERE run_id = ? ORDER BY committed_at DESC", [run_id])[0]
    receipt = coord.commit_upload(last["party"], last["upload_id"])  # the client retries the commit it saw fail
    assert receipt["run_id"] == run_id
    assert coord.status("vendor", agreement["agreement_id"], run_id)["state"] == "complete"
